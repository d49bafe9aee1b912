import type { MediaStorage } from '../../application/ports/media-storage.js';
import type { Config } from '../../config.js';
import { DiskMediaStorage } from './disk-media-storage.js';
import { S3MediaStorage } from './s3-media-storage.js';
import { parseMediaStorageUrl } from './storage-url.js';

/** The media storage MEDIA_STORAGE_URL names: a folder on the local disk (`file:`) or an S3-compatible bucket (`s3://`). */
export function mediaStorageFromConfig(config: Pick<Config, 'MEDIA_STORAGE_URL'>): MediaStorage {
  const location = parseMediaStorageUrl(config.MEDIA_STORAGE_URL);
  return location.kind === 'disk' ? new DiskMediaStorage(location.root) : new S3MediaStorage(location);
}

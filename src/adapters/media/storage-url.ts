import { fileURLToPath } from 'node:url';
import { isMediaStorageKey } from '../../application/ports/media-storage.js';

/**
 * MEDIA_STORAGE_URL, read:
 * - `file:./data/media` (relative to the working folder), `file:/var/lib/media`
 *   or `file:///var/lib/media`: the local disk;
 * - `s3://ACCESS_KEY:SECRET@host[:port]/bucket[/prefix]?region=us-east-1&path_style=true&tls=false`:
 *   S3 or an S3-compatible store (MinIO, Ceph, R2, OSS, COS…). `region`
 *   defaults to us-east-1; `path_style=true` addresses `host/bucket/key`
 *   (what most self-hosted stores want) instead of `bucket.host/key`; `tls`
 *   defaults to true (https). Credentials percent-encoded where they hold
 *   `/`, `+`, `:` or `@`.
 */
export type MediaStorageLocation =
  | { kind: 'disk'; root: string }
  | {
      kind: 's3';
      host: string;
      port: number | null;
      tls: boolean;
      bucket: string;
      /** key prefix inside the bucket, without slashes around it; '' for none */
      prefix: string;
      region: string;
      pathStyle: boolean;
      accessKeyId: string;
      secretAccessKey: string;
    };

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const REGION = /^[a-z0-9-]{1,64}$/;
const S3_PARAMS = new Set(['region', 'path_style', 'tls']);

export class MediaStorageUrlError extends Error {
  override readonly name = 'MediaStorageUrlError';
}

function flag(value: string | null, name: string, fallback: boolean): boolean {
  if (value === null) return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new MediaStorageUrlError(`${name} must be true or false`);
}

export function parseMediaStorageUrl(text: string): MediaStorageLocation {
  if (text.startsWith('file:')) {
    const root = text.startsWith('file://') ? fileURLToPath(text) : decodeURIComponent(text.slice('file:'.length));
    if (root.trim() === '') throw new MediaStorageUrlError('a file: URL needs a folder, e.g. file:./data/media');
    return { kind: 'disk', root };
  }
  if (!text.startsWith('s3://') || !URL.canParse(text)) throw new MediaStorageUrlError('must be a file: URL (file:./data/media) or an s3:// URL');
  const url = new URL(text);
  const accessKeyId = decodeURIComponent(url.username);
  const secretAccessKey = decodeURIComponent(url.password);
  if (!accessKeyId || !secretAccessKey) throw new MediaStorageUrlError('an s3:// URL needs the access key and secret: s3://ACCESS:SECRET@host/bucket');
  if (!url.hostname) throw new MediaStorageUrlError('an s3:// URL needs a host');
  const [bucket = '', ...rest] = url.pathname.replace(/^\/+/, '').replace(/\/+$/, '').split('/');
  if (!BUCKET.test(bucket)) throw new MediaStorageUrlError('an s3:// URL needs a bucket name (3-63 of a-z 0-9 . -) as its first path segment');
  const prefix = rest.join('/');
  if (prefix !== '' && !isMediaStorageKey(prefix)) throw new MediaStorageUrlError('the key prefix after the bucket must be segments of A-Z a-z 0-9 . _ -');
  for (const name of url.searchParams.keys())
    if (!S3_PARAMS.has(name)) throw new MediaStorageUrlError(`unknown parameter ${name} (known: region, path_style, tls)`);
  const region = url.searchParams.get('region') ?? 'us-east-1';
  if (!REGION.test(region)) throw new MediaStorageUrlError('region must be a region name such as us-east-1');
  return {
    kind: 's3',
    host: url.hostname,
    port: url.port === '' ? null : Number(url.port),
    tls: flag(url.searchParams.get('tls'), 'tls', true),
    bucket,
    prefix,
    region,
    pathStyle: flag(url.searchParams.get('path_style'), 'path_style', false),
    accessKeyId,
    secretAccessKey,
  };
}

/** For config validation: the problem with the URL, or null. */
export function mediaStorageUrlProblem(text: string): string | null {
  try {
    parseMediaStorageUrl(text);
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

import type { MediaContentType } from './events.js';

/** Commands of one media item (stream `media-{mediaId}`); all carry `now`. */

/** The API has stored an upload's bytes (checked: type, magic number, size) and records it. */
export interface RecordMediaUpload {
  type: 'RecordMediaUpload';
  mediaId: string;
  ownerId: string;
  contentType: MediaContentType;
  sizeBytes: number;
  sha256: string;
  storageKey: string;
  width: number | null;
  height: number | null;
  now: string;
}

/** The owner deletes it (the bytes are removed from storage after). */
export interface DeleteMedia {
  type: 'DeleteMedia';
  mediaId: string;
  requestedBy: string;
  now: string;
}

export type MediaCommand = RecordMediaUpload | DeleteMedia;

import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';

/**
 * One uploaded image: stream `media-{mediaId}`, at most two events
 * (uploaded, deleted). The bytes live in media storage under `storageKey`
 * (src/application/ports/media-storage.ts), never in an event.
 */

/** The image types an upload may be. */
export const MEDIA_CONTENT_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'] as const;
export type MediaContentType = (typeof MEDIA_CONTENT_TYPES)[number];

export interface MediaUploadedData {
  mediaId: string;
  ownerId: string;
  contentType: MediaContentType;
  sizeBytes: number;
  /** of the bytes, hex: the download's ETag */
  sha256: string;
  /** where the bytes are in media storage */
  storageKey: string;
  /** pixels, as the image's header says; null when it does not say */
  width: number | null;
  height: number | null;
  uploadedAt: string;
}

export interface MediaDeletedData {
  mediaId: string;
  ownerId: string;
  storageKey: string;
  deletedAt: string;
}

export type MediaEvent = DomainEvent<'MediaUploaded', MediaUploadedData> | DomainEvent<'MediaDeleted', MediaDeletedData>;

export type MediaEventType = MediaEvent['type'];

// ---------------------------------------------------------------- decoding

const dimension = z.number().int().min(0).nullable();

/** The decode boundary of this aggregate's stored events (see core/event-codec.ts). */
export const mediaEvents = eventCodec<MediaEvent>({
  MediaUploaded: {
    schema: z.object({
      mediaId: z.string(),
      ownerId: z.string(),
      contentType: z.enum(MEDIA_CONTENT_TYPES),
      sizeBytes: z.number().int().min(0),
      sha256: z.string(),
      storageKey: z.string(),
      width: dimension,
      height: dimension,
      uploadedAt: z.string(),
    }),
  },
  MediaDeleted: { schema: z.object({ mediaId: z.string(), ownerId: z.string(), storageKey: z.string(), deletedAt: z.string() }) },
});

import { reaches } from './data-scope.js';
import { imageSize } from 'image-size';
import { createHash, randomUUID } from 'node:crypto';
import type { EventStore } from '../event-store/port.js';
import type { Position } from '../event-store/position.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { MAX_INT32 } from '../write-model/core/validate.js';
import { mediaAggregate } from '../write-model/media/decider.js';
import { MEDIA_CONTENT_TYPES, type MediaContentType } from '../write-model/media/events.js';
import type { KnownMedia } from '../write-model/media/state.js';
import type { MediaStorage } from './ports/media-storage.js';

/**
 * Uploaded images (POST/GET/DELETE /api/v1/media): the bytes go to media
 * storage first, then MediaUploaded records them on a stream of their own
 * (`media-{id}`, a fresh id). An upload whose record then fails leaves an
 * unreferenced object behind, never a record without bytes. A deletion
 * records MediaDeleted first, then removes the bytes (a failed removal is
 * retried by deleting again).
 */

export interface MediaDeps {
  store: EventStore;
  storage: MediaStorage;
  now: () => Date;
}

export interface Caller {
  /** the owner an upload is recorded under: the caller, or their organization */
  userId: string;
  context: CommandContext;
  /** whose media the caller's data scope reaches; default: the caller's own */
  ownerIds?: readonly string[];
}

/** Who reads an item: the owners their data scope reaches, or anyone's (content review: the access policy's platform.reviews.view). */
export interface MediaViewer {
  ownerIds: readonly string[];
  anyone: boolean;
}

export function isMediaContentType(value: string): value is MediaContentType {
  return (MEDIA_CONTENT_TYPES as readonly string[]).includes(value);
}

/** The image type the bytes' magic number says, or null when none of ours. */
export function sniffImageType(bytes: Buffer): MediaContentType | null {
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 6 && /^GIF8[79]a$/.test(bytes.subarray(0, 6).toString('latin1'))) return 'image/gif';
  if (bytes.length >= 12 && bytes.subarray(0, 4).toString('latin1') === 'RIFF' && bytes.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  return null;
}

/** A side the header gives, or null when it gives none: 0 (cut short) or more than any image has (PNG's bound, 2^31 − 1, what the read table's integer columns hold). */
const dimension = (value: number | undefined): number | null => (Number.isInteger(value) && value! >= 1 && value! <= MAX_INT32 ? value! : null);

/** Width and height from the image's header; null for a side it does not say (a truncated header, a size no image has). */
export function imageDimensions(bytes: Buffer): { width: number | null; height: number | null } {
  // image-size reads through a DataView over the whole ArrayBuffer beneath: a header cut short would read past the upload into
  // whatever shares it (a small Buffer lives in Node's shared pool, beside other requests' bytes). Alone in its own, it throws instead.
  const own = bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.length ? bytes : new Uint8Array(bytes);
  try {
    const { width, height } = imageSize(own);
    return { width: dimension(width), height: dimension(height) };
  } catch {
    return { width: null, height: null };
  }
}

/** Where an item's bytes are kept: sharded by the id's first characters, so no folder grows too large. */
export function mediaStorageKey(mediaId: string): string {
  return `media/${mediaId.slice(0, 2)}/${mediaId}`;
}

function bodyIssue(message: string, code: string, details: Record<string, unknown> = {}): DomainError {
  return new DomainError('VALIDATION_ERROR', message, { ...details, issues: [{ in: 'body', path: [], message, code }] });
}

export interface UploadedMedia {
  mediaId: string;
  contentType: MediaContentType;
  sizeBytes: number;
  sha256: string;
  width: number | null;
  height: number | null;
  uploadedAt: string;
  revision: bigint;
  position: Position | undefined;
}

/**
 * Checks and keeps an upload whose declared type is one of ours (the route
 * refuses others with 415): the bytes must be that type by their magic
 * number (VALIDATION_ERROR otherwise, details.detected) and not empty.
 */
export async function uploadMedia(deps: MediaDeps, caller: Caller, upload: { contentType: MediaContentType; bytes: Buffer }): Promise<UploadedMedia> {
  const { bytes, contentType } = upload;
  if (bytes.length === 0) throw bodyIssue('the upload is empty', 'too_small');
  const detected = sniffImageType(bytes);
  if (detected !== contentType) {
    throw bodyIssue(`the bytes are ${detected ?? 'not an image of a supported type'}, not ${contentType}`, 'content_mismatch', {
      declared: contentType,
      detected,
    });
  }
  const mediaId = randomUUID();
  const storageKey = mediaStorageKey(mediaId);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const { width, height } = imageDimensions(bytes);
  const now = deps.now().toISOString();
  await deps.storage.put(storageKey, bytes, contentType);
  const result = await handle(
    deps.store,
    mediaAggregate,
    mediaId,
    { type: 'RecordMediaUpload', mediaId, ownerId: caller.userId, contentType, sizeBytes: bytes.length, sha256, storageKey, width, height, now },
    { context: caller.context, expectedRevision: 'no_stream' },
  );
  return { mediaId, contentType, sizeBytes: bytes.length, sha256, width, height, uploadedAt: now, revision: result.revision, position: result.position };
}

/** A live item the viewer may see: of an owner in their scope, or anyone's for a reviewer; NOT_FOUND otherwise (unknown, deleted, someone else's). */
export async function visibleMedia(store: EventStore, viewer: MediaViewer, mediaId: string): Promise<KnownMedia> {
  const { state } = await load(store, mediaAggregate, mediaId);
  if (state.status !== 'active' || (!viewer.ownerIds.includes(state.ownerId) && !viewer.anyone)) {
    throw new DomainError('NOT_FOUND', 'media not found', { mediaId });
  }
  return state;
}

/** The item and its bytes; NOT_FOUND as visibleMedia, or when storage no longer holds the bytes. */
export async function readMedia(deps: Pick<MediaDeps, 'store' | 'storage'>, viewer: MediaViewer, mediaId: string) {
  const media = await visibleMedia(deps.store, viewer, mediaId);
  const bytes = await deps.storage.get(media.storageKey);
  if (!bytes) throw new DomainError('NOT_FOUND', 'media bytes are missing from storage', { mediaId });
  return { media, bytes };
}

/**
 * The owner deletes an item: recorded, then its bytes removed. A repeat removes the bytes again and answers NOT_FOUND.
 * expectedRevision: the caller's If-Match (the upload's revision), checked once the item is found.
 */
export async function deleteMedia(
  deps: MediaDeps,
  caller: Caller,
  mediaId: string,
  expectedRevision?: bigint,
): Promise<{ revision: bigint; position: Position | undefined }> {
  const { state } = await load(deps.store, mediaAggregate, mediaId);
  if (state.status === 'none' || !reaches(caller, state.ownerId)) throw new DomainError('NOT_FOUND', 'media not found', { mediaId });
  if (state.status === 'deleted') {
    await deps.storage.delete(state.storageKey);
    throw new DomainError('NOT_FOUND', 'media was deleted', { mediaId });
  }
  const result = await handle(
    deps.store,
    mediaAggregate,
    mediaId,
    { type: 'DeleteMedia', mediaId, requestedBy: state.ownerId, now: deps.now().toISOString() },
    { context: caller.context, ...(expectedRevision !== undefined ? { expectedRevision } : {}) },
  );
  await deps.storage.delete(state.storageKey);
  return { revision: result.revision, position: result.position };
}

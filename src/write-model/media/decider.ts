import type { Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, requireOneOf, requireText } from '../core/validate.js';
import type { DeleteMedia, MediaCommand, RecordMediaUpload } from './commands.js';
import { MEDIA_CONTENT_TYPES, mediaEvents, type MediaEvent } from './events.js';
import { initialState, type MediaState } from './state.js';

/**
 * One uploaded image: stream `media-{mediaId}`, at most two events.
 *
 * Rules (tests/unit/media.spec.test.ts):
 * - RecordMediaUpload: an image type of MEDIA_CONTENT_TYPES, a size of at
 *   least one byte, a sha256 of 64 hex digits, a storage key, dimensions
 *   null or whole numbers. A repeat of the same upload is a no-op; another
 *   upload under the same id is CONFLICT.
 * - DeleteMedia: owner only (NOT_FOUND for anyone else, as for an unknown
 *   id); a repeat is a no-op.
 */
export function mediaStream(mediaId: string): string {
  return `media-${mediaId}`;
}

type Event = MediaEvent;
type State = MediaState;

const SHA256 = /^[0-9a-f]{64}$/;

function dimension(value: unknown, field: string): number | null {
  if (value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw invalid(`${field} must be a whole number of pixels or null`, { field });
  return value;
}

function upload(command: RecordMediaUpload, state: State): Event[] {
  const mediaId = requireText(command.mediaId, 'mediaId');
  const ownerId = requireText(command.ownerId, 'ownerId');
  const contentType = requireOneOf(command.contentType, MEDIA_CONTENT_TYPES, 'contentType');
  if (!Number.isSafeInteger(command.sizeBytes) || command.sizeBytes < 1) throw invalid('sizeBytes must be at least 1', { field: 'sizeBytes' });
  if (typeof command.sha256 !== 'string' || !SHA256.test(command.sha256)) throw invalid('sha256 must be 64 hex digits', { field: 'sha256' });
  const storageKey = requireText(command.storageKey, 'storageKey');
  const width = dimension(command.width, 'width');
  const height = dimension(command.height, 'height');
  instant(command.now, 'now');
  if (state.status !== 'none') {
    const same = state.ownerId === ownerId && state.sha256 === command.sha256 && state.storageKey === storageKey && state.contentType === contentType;
    if (same) return [];
    throw new DomainError('CONFLICT', `media ${mediaId} already exists`, { mediaId });
  }
  return [
    {
      type: 'MediaUploaded',
      data: { mediaId, ownerId, contentType, sizeBytes: command.sizeBytes, sha256: command.sha256, storageKey, width, height, uploadedAt: command.now },
    },
  ];
}

function remove(command: DeleteMedia, state: State): Event[] {
  const mediaId = requireText(command.mediaId, 'mediaId');
  const requestedBy = requireText(command.requestedBy, 'requestedBy');
  instant(command.now, 'now');
  if (state.status === 'none' || state.ownerId !== requestedBy) throw new DomainError('NOT_FOUND', `media ${mediaId} not found`, { mediaId });
  if (state.status === 'deleted') return [];
  return [{ type: 'MediaDeleted', data: { mediaId, ownerId: state.ownerId, storageKey: state.storageKey, deletedAt: command.now } }];
}

function decide(command: MediaCommand, state: State): Event[] {
  switch (command.type) {
    case 'RecordMediaUpload':
      return upload(command, state);
    case 'DeleteMedia':
      return remove(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

/** O(1) per event; MediaDeleted on an empty state leaves it (only MediaUploaded can come first). */
function evolve(state: State, event: Event): State {
  if (event.type === 'MediaUploaded') return { ...event.data, status: 'active', deletedAt: null };
  if (state.status === 'none') return state;
  return { ...state, status: 'deleted', deletedAt: event.data.deletedAt };
}

export const mediaDecider: Decider<MediaState, MediaCommand, MediaEvent> = { initialState, decide, evolve };

/** The binding the command handler uses: stream `media-{mediaId}`, short (no snapshots). */
export const mediaAggregate: Aggregate<MediaState, MediaCommand, MediaEvent> = {
  name: 'media',
  streamName: mediaStream,
  decider: mediaDecider,
  events: mediaEvents,
};

import type { Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, requireText } from '../core/validate.js';
import type { DeleteCollectedContent, XiaohongshuContentCommand } from './commands.js';
import { xiaohongshuContentEvents, type XiaohongshuContentEvent } from './events.js';
import { initialState, type XiaohongshuContentState } from './state.js';

/**
 * The XiaohongshuContent aggregate: the owner's decisions about one collected
 * note. Only deletion for now.
 *
 * Rules (see also tests/unit/xiaohongshu-content.spec.test.ts):
 * - The stream is one owner's and one note's (the content id is derived
 *   from both by the application); a stream of another owner or note than
 *   the command names is CONFLICT.
 * - Delete needs the note among the owner's collected data (`collected`,
 *   what the read model showed): otherwise NOT_FOUND — the API's 404, the
 *   same as reading a note one does not have.
 * - Deletion is final: collecting the note again later does not bring it
 *   back (the read model keeps a tombstone). Deleting again is a no-op,
 *   whatever `collected` says.
 * - noteId is 24 hex characters.
 */

export function xiaohongshuContentStream(contentId: string): string {
  return `xiaohongshu_content-${contentId}`;
}

type Event = XiaohongshuContentEvent;
type State = XiaohongshuContentState;

const NOTE_ID = /^[0-9a-f]{24}$/;

function requireNoteId(value: unknown): string {
  if (typeof value !== 'string' || !NOTE_ID.test(value)) throw invalid('noteId must be a Xiaohongshu note id (24 hex)', { field: 'noteId', got: value });
  return value;
}

function remove(command: DeleteCollectedContent, state: State): Event[] {
  const contentId = requireText(command.contentId, 'contentId');
  const ownerId = requireText(command.ownerId, 'ownerId');
  const noteId = requireNoteId(command.noteId);
  if (typeof command.collected !== 'boolean') throw invalid('collected must be true or false', { field: 'collected' });
  instant(command.now, 'now');
  if (state.status === 'deleted') {
    if (state.ownerId !== ownerId || state.noteId !== noteId) {
      throw new DomainError('CONFLICT', `collected content ${state.contentId} is another owner's or note's`, { contentId: state.contentId });
    }
    return [];
  }
  if (!command.collected) throw new DomainError('NOT_FOUND', 'note not found', { noteId });
  return [{ type: 'CollectedContentDeleted', data: { contentId, ownerId, noteId, deletedAt: command.now } }];
}

function decide(command: XiaohongshuContentCommand, state: State): Event[] {
  switch (command.type) {
    case 'DeleteCollectedContent':
      return remove(command, state);
    default: {
      const unknown: never = command.type;
      throw invalid('unknown command', { type: unknown });
    }
  }
}

/** The only event marks the content deleted. */
function evolve(_state: State, event: Event): State {
  const d = event.data;
  return { status: 'deleted', contentId: d.contentId, ownerId: d.ownerId, noteId: d.noteId, deletedAt: d.deletedAt };
}

export const xiaohongshuContentDecider: Decider<XiaohongshuContentState, XiaohongshuContentCommand, XiaohongshuContentEvent> = {
  initialState,
  decide,
  evolve,
};

/** The binding the command handler uses: stream `xiaohongshu_content-{contentId}`, at most one event (no snapshots). */
export const xiaohongshuContentAggregate: Aggregate<XiaohongshuContentState, XiaohongshuContentCommand, XiaohongshuContentEvent> = {
  name: 'xiaohongshu_content',
  streamName: xiaohongshuContentStream,
  decider: xiaohongshuContentDecider,
  events: xiaohongshuContentEvents,
};

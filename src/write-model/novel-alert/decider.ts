import type { Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, requireOneOf, requireText } from '../core/validate.js';
import type { ChangeNovelAlert, CreateNovelAlert, DeleteNovelAlert, NovelAlertCommand } from './commands.js';
import { NOVEL_ALERT_KINDS, novelAlertEvents, type NovelAlertEvent, type NovelAlertKind, type NovelAlertRef } from './events.js';
import { initialState, type KnownAlert, type NovelAlertState } from './state.js';

/**
 * The NovelAlert aggregate: one alert rule on one Qidian novel.
 *
 * Rules (tests/unit/novel-alert.spec.test.ts):
 * - Create once: a stream that has a rule refuses another create (CONFLICT;
 *   the ids are random, so only a replayed command meets it). An owner's
 *   second alert with the same rule is refused before it gets here, by the
 *   rule's reservation (rule-reservation.ts).
 * - A rule is `update`, `completion` or `word_count_threshold`; the last
 *   needs `words` (a whole number from 1 to 1e9), the others have none
 *   (words given with them is a VALIDATION_ERROR).
 * - Owner only: change and delete name `requestedBy`; anyone else is
 *   PERMISSION_DENIED (an unknown rule NOT_FOUND first).
 * - Change names what changes; nothing changed is a no-op; a deleted rule is
 *   NOT_FOUND to a change.
 * - Delete is final; deleting again is a no-op.
 */

export function novelAlertStream(alertId: string): string {
  return `novel_alert-${alertId}`;
}

type Event = NovelAlertEvent;
type State = NovelAlertState;

const NOVEL_ID = /^\d{1,20}$/;
export const MAX_ALERT_WORDS = 1_000_000_000;

function requireNovelId(value: unknown): string {
  if (typeof value !== 'string' || !NOVEL_ID.test(value)) throw invalid('novelId must be a Qidian book id (digits)', { field: 'novelId', got: value });
  return value;
}

/** The words a kind needs: a whole number for word_count_threshold, null for the others. */
function wordsFor(kind: NovelAlertKind, words: unknown): number | null {
  if (kind !== 'word_count_threshold') {
    if (words !== null && words !== undefined) throw invalid(`a ${kind} alert has no words`, { field: 'words', kind });
    return null;
  }
  if (typeof words !== 'number' || !Number.isInteger(words) || words < 1 || words > MAX_ALERT_WORDS) {
    throw invalid(`words must be a whole number from 1 to ${MAX_ALERT_WORDS}`, { field: 'words', got: words });
  }
  return words;
}

function existing(state: State, alertId: string): KnownAlert {
  if (state.status === 'none') throw new DomainError('NOT_FOUND', `novel alert ${alertId} does not exist`, { alertId });
  return state;
}

function authorize(a: KnownAlert, requestedBy: unknown): void {
  if (typeof requestedBy !== 'string' || requestedBy !== a.userId) {
    throw new DomainError('PERMISSION_DENIED', `novel alert ${a.alertId} belongs to another user`, { alertId: a.alertId });
  }
}

function ref(a: KnownAlert): NovelAlertRef {
  return { alertId: a.alertId, userId: a.userId, novelId: a.novelId };
}

// ---------------------------------------------------------------- decide

function create(command: CreateNovelAlert, state: State): Event[] {
  const alertId = requireText(command.alertId, 'alertId');
  const userId = requireText(command.userId, 'userId');
  const novelId = requireNovelId(command.novelId);
  const kind = requireOneOf(command.kind, NOVEL_ALERT_KINDS, 'kind');
  const words = wordsFor(kind, command.words);
  instant(command.now, 'now');
  if (state.status !== 'none') throw new DomainError('CONFLICT', `novel alert ${state.alertId} exists`, { alertId: state.alertId });
  return [{ type: 'NovelAlertCreated', data: { alertId, userId, novelId, kind, words, createdAt: command.now } }];
}

/** The kind and words a change leaves a rule with; VALIDATION_ERROR as ChangeNovelAlert gives it (the application takes the rule first). */
export function ruleAfterChange(
  a: Pick<KnownAlert, 'kind' | 'words'>,
  change: Pick<ChangeNovelAlert, 'kind' | 'words'>,
): { kind: NovelAlertKind; words: number | null } {
  const kind = change.kind === undefined ? a.kind : requireOneOf(change.kind, NOVEL_ALERT_KINDS, 'kind');
  // a kind changed away from the threshold drops its words; to it, the words must be given
  const words = wordsFor(kind, change.words === undefined ? (kind === a.kind ? a.words : kind === 'word_count_threshold' ? undefined : null) : change.words);
  return { kind, words };
}

function change(command: ChangeNovelAlert, state: State): Event[] {
  const a = existing(state, command.alertId);
  authorize(a, command.requestedBy);
  instant(command.now, 'now');
  if (a.status === 'deleted') throw new DomainError('NOT_FOUND', `novel alert ${a.alertId} was deleted`, { alertId: a.alertId });
  const { kind, words } = ruleAfterChange(a, command);
  if (kind === a.kind && words === a.words) return [];
  return [{ type: 'NovelAlertChanged', data: { ...ref(a), kind, words, changedAt: command.now } }];
}

function remove(command: DeleteNovelAlert, state: State): Event[] {
  const a = existing(state, command.alertId);
  authorize(a, command.requestedBy);
  instant(command.now, 'now');
  if (a.status === 'deleted') return [];
  return [{ type: 'NovelAlertDeleted', data: { ...ref(a), deletedAt: command.now } }];
}

function decide(command: NovelAlertCommand, state: State): Event[] {
  switch (command.type) {
    case 'CreateNovelAlert':
      return create(command, state);
    case 'ChangeNovelAlert':
      return change(command, state);
    case 'DeleteNovelAlert':
      return remove(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

// ---------------------------------------------------------------- evolve

function evolve(state: State, event: Event): State {
  if (event.type === 'NovelAlertCreated') {
    const d = event.data;
    return {
      status: 'active',
      alertId: d.alertId,
      userId: d.userId,
      novelId: d.novelId,
      kind: d.kind,
      words: d.words,
      createdAt: d.createdAt,
      updatedAt: d.createdAt,
    };
  }
  if (state.status === 'none') return state;
  switch (event.type) {
    case 'NovelAlertChanged':
      return { ...state, kind: event.data.kind, words: event.data.words, updatedAt: event.data.changedAt };
    case 'NovelAlertDeleted':
      return { ...state, status: 'deleted', updatedAt: event.data.deletedAt };
  }
}

export const novelAlertDecider: Decider<NovelAlertState, NovelAlertCommand, NovelAlertEvent> = { initialState, decide, evolve };

/** The binding the command handler uses: stream `novel_alert-{alertId}`, short-lived (no snapshots). */
export const novelAlertAggregate: Aggregate<NovelAlertState, NovelAlertCommand, NovelAlertEvent> = {
  name: 'novel_alert',
  streamName: novelAlertStream,
  decider: novelAlertDecider,
  events: novelAlertEvents,
};

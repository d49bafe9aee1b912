import type { Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, requireText } from '../core/validate.js';
import type { NovelTrackingCommand, TrackNovel, UntrackNovel, UpdateNovelTracking } from './commands.js';
import { novelTrackingEvents, type NovelTrackingEvent, type NovelTrackingSettings, type TrackingRef } from './events.js';
import { initialState, type KnownTracking, type NovelTrackingState } from './state.js';
import { characterCount } from '../core/characters.js';

/**
 * The NovelTracking aggregate: one user following one Qidian novel, with the
 * owner's label and alert settings.
 *
 * Rules (see also tests/unit/novel-tracking.spec.test.ts):
 * - One tracking per (user, novel): the id is derived from both by the
 *   adapters. TrackNovel while tracking is CONFLICT ("already tracked", the
 *   API's 409) — a retried POST is the Idempotency-Key's business. A stream
 *   of another user or novel than the command names is CONFLICT too.
 * - Untrack is not final: TrackNovel on an untracked tracking starts it again
 *   (NovelTracked with `retracked: true`, the settings the command gives).
 * - Ownership: update and untrack name `requestedBy`; anyone but the owner is
 *   PERMISSION_DENIED (an unknown tracking is NOT_FOUND first).
 * - Update changes only what it names; nothing changed is a no-op. An
 *   untracked tracking is NOT_FOUND to an update (it is gone for the owner).
 * - Untrack twice: the second is a no-op.
 * - novelId is a Qidian book id (digits); title at most 500 characters;
 *   wordCountThreshold a whole number ≥ 1, or null.
 */

export function novelTrackingStream(trackingId: string): string {
  return `novel_tracking-${trackingId}`;
}

type Event = NovelTrackingEvent;
type State = NovelTrackingState;

const NOVEL_ID = /^\d{1,20}$/;
const MAX_TITLE = 500;

// ---------------------------------------------------------------- checks

function requireNovelId(value: unknown): string {
  if (typeof value !== 'string' || !NOVEL_ID.test(value)) throw invalid('novelId must be a Qidian book id (digits)', { field: 'novelId', got: value });
  return value;
}

function optionalTitle(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  const title = requireText(value, 'title').trim();
  if (characterCount(title) > MAX_TITLE) throw invalid(`title must be at most ${MAX_TITLE} characters`, { field: 'title', max: MAX_TITLE });
  return title;
}

function requireSettings(value: unknown): NovelTrackingSettings {
  const s = (typeof value === 'object' && value !== null ? value : undefined) as Partial<NovelTrackingSettings> | undefined;
  if (!s) throw invalid('settings must be an object', { field: 'settings' });
  for (const flag of ['notifyOnUpdate', 'notifyOnCompletion'] as const) {
    if (typeof s[flag] !== 'boolean') throw invalid(`settings.${flag} must be true or false`, { field: `settings.${flag}` });
  }
  const threshold = s.wordCountThreshold ?? null;
  if (threshold !== null && (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 1)) {
    throw invalid('settings.wordCountThreshold must be a whole number of at least 1, or null', { field: 'settings.wordCountThreshold', got: threshold });
  }
  // copied field by field: nothing else rides into the event
  return { notifyOnUpdate: s.notifyOnUpdate!, notifyOnCompletion: s.notifyOnCompletion!, wordCountThreshold: threshold };
}

function sameSettings(a: NovelTrackingSettings, b: NovelTrackingSettings): boolean {
  return a.notifyOnUpdate === b.notifyOnUpdate && a.notifyOnCompletion === b.notifyOnCompletion && a.wordCountThreshold === b.wordCountThreshold;
}

function existing(state: State, trackingId: string): KnownTracking {
  if (state.status === 'none') throw new DomainError('NOT_FOUND', `novel tracking ${trackingId} does not exist`, { trackingId });
  return state;
}

function authorize(t: KnownTracking, requestedBy: unknown): void {
  if (typeof requestedBy !== 'string' || requestedBy !== t.userId) {
    throw new DomainError('PERMISSION_DENIED', `novel tracking ${t.trackingId} belongs to another user`, { trackingId: t.trackingId });
  }
}

function ref(t: KnownTracking): TrackingRef {
  return { trackingId: t.trackingId, userId: t.userId, novelId: t.novelId };
}

// ---------------------------------------------------------------- decide

function track(command: TrackNovel, state: State): Event[] {
  const trackingId = requireText(command.trackingId, 'trackingId');
  const userId = requireText(command.userId, 'userId');
  const novelId = requireNovelId(command.novelId);
  const title = optionalTitle(command.title);
  const settings = requireSettings(command.settings);
  instant(command.now, 'now');
  if (state.status !== 'none') {
    if (state.userId !== userId || state.novelId !== novelId) {
      throw new DomainError('CONFLICT', `novel tracking ${state.trackingId} is another user's or novel's`, { trackingId: state.trackingId });
    }
    if (state.status === 'tracking') {
      throw new DomainError('CONFLICT', `novel ${novelId} is already tracked`, { trackingId: state.trackingId, novelId });
    }
  }
  return [{ type: 'NovelTracked', data: { trackingId, userId, novelId, title, settings, retracked: state.status === 'untracked', trackedAt: command.now } }];
}

function update(command: UpdateNovelTracking, state: State): Event[] {
  const t = existing(state, command.trackingId);
  authorize(t, command.requestedBy);
  const title = command.title === undefined ? t.title : optionalTitle(command.title);
  const settings = command.settings === undefined ? t.settings : requireSettings(command.settings);
  instant(command.now, 'now');
  if (t.status === 'untracked') throw new DomainError('NOT_FOUND', `novel tracking ${t.trackingId} was untracked`, { trackingId: t.trackingId });
  if (title === t.title && sameSettings(settings, t.settings)) return [];
  return [{ type: 'NovelTrackingUpdated', data: { ...ref(t), title, settings, updatedAt: command.now } }];
}

function untrack(command: UntrackNovel, state: State): Event[] {
  const t = existing(state, command.trackingId);
  authorize(t, command.requestedBy);
  instant(command.now, 'now');
  if (t.status === 'untracked') return [];
  return [{ type: 'NovelUntracked', data: { ...ref(t), untrackedAt: command.now } }];
}

function decide(command: NovelTrackingCommand, state: State): Event[] {
  switch (command.type) {
    case 'TrackNovel':
      return track(command, state);
    case 'UpdateNovelTracking':
      return update(command, state);
    case 'UntrackNovel':
      return untrack(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

// ---------------------------------------------------------------- evolve

/** Every event changes the state; only NovelTracked can come first (anything else on an empty state leaves it). */
function evolve(state: State, event: Event): State {
  if (event.type === 'NovelTracked') {
    const d = event.data;
    return {
      status: 'tracking',
      trackingId: d.trackingId,
      userId: d.userId,
      novelId: d.novelId,
      title: d.title,
      settings: d.settings,
      trackedAt: d.trackedAt,
      updatedAt: d.trackedAt,
      untrackedAt: null,
    };
  }
  if (state.status === 'none') return state;
  switch (event.type) {
    case 'NovelTrackingUpdated':
      return { ...state, title: event.data.title, settings: event.data.settings, updatedAt: event.data.updatedAt };
    case 'NovelUntracked':
      return { ...state, status: 'untracked', updatedAt: event.data.untrackedAt, untrackedAt: event.data.untrackedAt };
  }
}

export const novelTrackingDecider: Decider<NovelTrackingState, NovelTrackingCommand, NovelTrackingEvent> = {
  initialState,
  decide,
  evolve,
};

/** The binding the command handler uses: stream `novel_tracking-{trackingId}`, short-lived (no snapshots). */
export const novelTrackingAggregate: Aggregate<NovelTrackingState, NovelTrackingCommand, NovelTrackingEvent> = {
  name: 'novel_tracking',
  streamName: novelTrackingStream,
  decider: novelTrackingDecider,
  events: novelTrackingEvents,
};

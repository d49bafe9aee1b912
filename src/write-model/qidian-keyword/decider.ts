import type { Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { withoutInvisible } from '../core/invisible.js';
import { instant, invalid, requireText } from '../core/validate.js';
import type { KeywordWatchCommand, UnwatchKeyword, WatchKeyword } from './commands.js';
import { keywordWatchEvents, type KeywordWatchEvent } from './events.js';
import { initialState, type KeywordWatchState, type KnownWatch } from './state.js';

/**
 * The KeywordWatch aggregate: a user watching a Qidian search keyword (the
 * plan feature custom_keywords). Its watch list drives collection (each run
 * of the user's watch-list workflow searches every watched keyword) and
 * alerts (a book newly found for a keyword → a notification).
 *
 * Rules (tests/unit/qidian-keyword.spec.test.ts):
 * - One watch per (user, keyword as normalised): the id is derived from
 *   both. Watching while watching is CONFLICT (the API's 409); a stream of
 *   another user or keyword is CONFLICT too.
 * - Unwatch is not final: watching again starts it again (`rewatched`).
 * - Owner only: unwatch names `requestedBy` (PERMISSION_DENIED otherwise;
 *   an unknown watch NOT_FOUND first); unwatching twice is a no-op.
 * - A keyword is 1 to 30 characters after normalising, without control
 *   characters or `/`, `?`, `#`, `%`, `\` (it goes into a search URL path).
 */

export function keywordWatchStream(watchId: string): string {
  return `qidian_keyword-${watchId}`;
}

export const MAX_KEYWORD_LENGTH = 30;

/** NFKC, invisible characters dropped, trimmed, inner white space collapsed to one space, lower case. */
export function normalizeKeyword(raw: string): string {
  return withoutInvisible(raw.normalize('NFKC')).trim().replace(/\s+/g, ' ').toLowerCase();
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what a keyword may not hold
const FORBIDDEN = /[\u0000-\u001f\u007f/?#%\\]/;

function requireKeyword(value: unknown): string {
  const keyword = normalizeKeyword(requireText(value, 'keyword'));
  const length = [...keyword].length;
  if (length < 1 || length > MAX_KEYWORD_LENGTH)
    throw invalid(`keyword must be 1 to ${MAX_KEYWORD_LENGTH} characters`, { field: 'keyword', max: MAX_KEYWORD_LENGTH });
  if (FORBIDDEN.test(keyword)) throw invalid('keyword must not hold control characters or / ? # % \\', { field: 'keyword' });
  return keyword;
}

type Event = KeywordWatchEvent;
type State = KeywordWatchState;

function watch(command: WatchKeyword, state: State): Event[] {
  const watchId = requireText(command.watchId, 'watchId');
  const userId = requireText(command.userId, 'userId');
  const keyword = requireKeyword(command.keyword);
  instant(command.now, 'now');
  if (state.status !== 'none') {
    if (state.userId !== userId || state.keyword !== keyword) {
      throw new DomainError('CONFLICT', `keyword watch ${state.watchId} is another user's or keyword's`, { watchId: state.watchId });
    }
    if (state.status === 'watching') throw new DomainError('CONFLICT', `keyword ${keyword} is already watched`, { watchId: state.watchId, keyword });
  }
  return [{ type: 'KeywordWatched', data: { watchId, userId, keyword, rewatched: state.status === 'unwatched', watchedAt: command.now } }];
}

function existing(state: State, watchId: string): KnownWatch {
  if (state.status === 'none') throw new DomainError('NOT_FOUND', `keyword watch ${watchId} does not exist`, { watchId });
  return state;
}

function unwatch(command: UnwatchKeyword, state: State): Event[] {
  const w = existing(state, command.watchId);
  if (typeof command.requestedBy !== 'string' || command.requestedBy !== w.userId) {
    throw new DomainError('PERMISSION_DENIED', `keyword watch ${w.watchId} belongs to another user`, { watchId: w.watchId });
  }
  instant(command.now, 'now');
  if (w.status === 'unwatched') return [];
  return [{ type: 'KeywordUnwatched', data: { watchId: w.watchId, userId: w.userId, keyword: w.keyword, unwatchedAt: command.now } }];
}

function decide(command: KeywordWatchCommand, state: State): Event[] {
  switch (command.type) {
    case 'WatchKeyword':
      return watch(command, state);
    case 'UnwatchKeyword':
      return unwatch(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

function evolve(state: State, event: Event): State {
  if (event.type === 'KeywordWatched') {
    const d = event.data;
    return { status: 'watching', watchId: d.watchId, userId: d.userId, keyword: d.keyword, watchedAt: d.watchedAt, updatedAt: d.watchedAt };
  }
  if (state.status === 'none') return state;
  return { ...state, status: 'unwatched', updatedAt: event.data.unwatchedAt };
}

export const keywordWatchDecider: Decider<KeywordWatchState, KeywordWatchCommand, KeywordWatchEvent> = { initialState, decide, evolve };

/** The binding the command handler uses: stream `qidian_keyword-{watchId}`, short-lived (no snapshots). */
export const keywordWatchAggregate: Aggregate<KeywordWatchState, KeywordWatchCommand, KeywordWatchEvent> = {
  name: 'qidian_keyword',
  streamName: keywordWatchStream,
  decider: keywordWatchDecider,
  events: keywordWatchEvents,
};

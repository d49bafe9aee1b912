import type { EventStore } from '../event-store/port.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load, type HandleResult } from '../write-model/core/command-handler.js';
import { uuidFromName } from '../write-model/core/event-ids.js';
import { keywordWatchAggregate, normalizeKeyword, type KeywordWatchEvent, type KeywordWatchState } from '../write-model/qidian-keyword/index.js';

/**
 * Keyword watches (KeywordWatch aggregate, `qidian_keyword-{watchId}`): the
 * words a user watches on Qidian. The watch id is named after the user and
 * the keyword as normalised, so a user watches a word once (409 again). The
 * plan gate (custom_keywords) is checked by the routes before these run;
 * the watch-list workflow searches the watched keywords at each run and
 * pm-qidian-alerts tells about new books found for them.
 */

export interface KeywordCall {
  store: EventStore;
  userId: string;
  now: Date;
  context: CommandContext;
}

type Result = HandleResult<KeywordWatchState, KeywordWatchEvent>;

export function keywordWatchId(userId: string, keyword: string): string {
  return uuidFromName(`qidian_keyword:${userId}:${normalizeKeyword(keyword)}`);
}

export async function loadKeywordWatch(store: EventStore, watchId: string): Promise<{ state: KeywordWatchState; revision: bigint }> {
  return load(store, keywordWatchAggregate, watchId);
}

export async function watchKeyword(call: KeywordCall, keyword: string): Promise<Result & { watchId: string }> {
  const watchId = keywordWatchId(call.userId, keyword);
  const result = await handle(
    call.store,
    keywordWatchAggregate,
    watchId,
    { type: 'WatchKeyword', watchId, userId: call.userId, keyword, now: call.now.toISOString() },
    { context: call.context },
  );
  return { ...result, watchId };
}

export async function unwatchKeyword(call: KeywordCall, watchId: string, expectedRevision?: bigint): Promise<Result> {
  return handle(
    call.store,
    keywordWatchAggregate,
    watchId,
    { type: 'UnwatchKeyword', watchId, requestedBy: call.userId, now: call.now.toISOString() },
    { context: call.context, ...(expectedRevision !== undefined ? { expectedRevision } : {}) },
  );
}

import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';

/**
 * The KeywordWatch aggregate's events, stream `qidian_keyword-{watchId}`:
 * one user watching one Qidian search keyword. The watch id is name-based on
 * (user, keyword as normalised) — the application derives it — so a user
 * watches a keyword at most once at a time. A lifecycle stream (watched,
 * unwatched, watched again); what the searches find lives in the executions
 * that collected it. Times are ISO-8601 strings.
 */

export interface KeywordWatchRef {
  watchId: string;
  userId: string;
  /** as normalised (NFKC, trimmed, inner spaces collapsed, lower case) */
  keyword: string;
}

export interface KeywordWatchedData extends KeywordWatchRef {
  /** true when this watch was unwatched before (the stream goes on) */
  rewatched: boolean;
  watchedAt: string;
}

export interface KeywordUnwatchedData extends KeywordWatchRef {
  unwatchedAt: string;
}

export type KeywordWatchEvent = DomainEvent<'KeywordWatched', KeywordWatchedData> | DomainEvent<'KeywordUnwatched', KeywordUnwatchedData>;

export const KEYWORD_WATCH_EVENT_TYPES = ['KeywordWatched', 'KeywordUnwatched'] as const satisfies readonly KeywordWatchEvent['type'][];

const ref = { watchId: z.string(), userId: z.string(), keyword: z.string() };

/** The decode boundary of this aggregate's stored events (see core/event-codec.ts). */
export const keywordWatchEvents = eventCodec<KeywordWatchEvent>({
  KeywordWatched: { schema: z.object({ ...ref, rewatched: z.boolean(), watchedAt: z.string() }) },
  KeywordUnwatched: { schema: z.object({ ...ref, unwatchedAt: z.string() }) },
});

import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';

/**
 * The XiaohongshuContent aggregate's events, stream
 * `xiaohongshu_content-{contentId}`: what the owner decided about one
 * collected note. The content id is name-based on (owner, note id) — the
 * application derives it — so the stream is one owner's and one note's, and
 * never grows with collections (those stay in the executions' streams).
 * Times are ISO-8601 strings.
 */

export interface CollectedContentDeletedData {
  contentId: string;
  ownerId: string;
  /** the Xiaohongshu note id (24 hex) */
  noteId: string;
  deletedAt: string;
}

export type XiaohongshuContentEvent = DomainEvent<'CollectedContentDeleted', CollectedContentDeletedData>;

export const XIAOHONGSHU_CONTENT_EVENT_TYPES = ['CollectedContentDeleted'] as const satisfies readonly XiaohongshuContentEvent['type'][];

// ---------------------------------------------------------------- decoding

/** The decode boundary of this aggregate's stored events (see core/event-codec.ts). */
export const xiaohongshuContentEvents = eventCodec<XiaohongshuContentEvent>({
  CollectedContentDeleted: { schema: z.object({ contentId: z.string(), ownerId: z.string(), noteId: z.string(), deletedAt: z.string() }) },
});

import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';

/**
 * The NovelAlert aggregate's events, stream `novel_alert-{alertId}`: one
 * alert rule a user set on a novel they track. A short-lived lifecycle
 * stream (created, changed, deleted); what the rule fired lives in the
 * notifications it caused (one stream each), never here. Times are ISO-8601.
 */

/**
 * - `update`: a new chapter (the chapter count went up between two captures);
 * - `completion`: the status turned 完本 (serializing → completed);
 * - `word_count_threshold`: the word count reached `words`.
 */
export const NOVEL_ALERT_KINDS = ['update', 'completion', 'word_count_threshold'] as const;
export type NovelAlertKind = (typeof NOVEL_ALERT_KINDS)[number];

export interface NovelAlertRef {
  alertId: string;
  userId: string;
  /** the Qidian book id (digits) */
  novelId: string;
}

export interface NovelAlertCreatedData extends NovelAlertRef {
  kind: NovelAlertKind;
  /** the threshold of `word_count_threshold`; null for the other kinds */
  words: number | null;
  createdAt: string;
}

/** The rule after the change. */
export interface NovelAlertChangedData extends NovelAlertRef {
  kind: NovelAlertKind;
  words: number | null;
  changedAt: string;
}

/** Final: the stream takes nothing after it. */
export interface NovelAlertDeletedData extends NovelAlertRef {
  deletedAt: string;
}

export type NovelAlertEvent =
  | DomainEvent<'NovelAlertCreated', NovelAlertCreatedData>
  | DomainEvent<'NovelAlertChanged', NovelAlertChangedData>
  | DomainEvent<'NovelAlertDeleted', NovelAlertDeletedData>;

export const NOVEL_ALERT_EVENT_TYPES = ['NovelAlertCreated', 'NovelAlertChanged', 'NovelAlertDeleted'] as const satisfies readonly NovelAlertEvent['type'][];

// ---------------------------------------------------------------- decoding

const ref = { alertId: z.string(), userId: z.string(), novelId: z.string() };
const rule = { kind: z.enum(NOVEL_ALERT_KINDS), words: z.number().int().nullable() };

/** The decode boundary of this aggregate's stored events (see core/event-codec.ts). */
export const novelAlertEvents = eventCodec<NovelAlertEvent>({
  NovelAlertCreated: { schema: z.object({ ...ref, ...rule, createdAt: z.string() }) },
  NovelAlertChanged: { schema: z.object({ ...ref, ...rule, changedAt: z.string() }) },
  NovelAlertDeleted: { schema: z.object({ ...ref, deletedAt: z.string() }) },
});

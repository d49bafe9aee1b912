import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';
import { SMS_ENCODINGS, type SmsEncoding } from '../sms-message/segments.js';

/**
 * One SMS batch: the same text to up to MAX_BATCH_RECIPIENTS numbers, sent
 * only after the content review (automatic pre-review, then a human review
 * when the rules flag it). Stream `sms_batch-{batchId}`: the creation (its
 * recipients in chunks of RECIPIENTS_PER_EVENT, so no event grows past a few
 * tens of kilobytes and the whole creation stays one append well under
 * EventStoreDB's 1 MiB), the pre-review, the human decision, then sending
 * started (each recipient becomes an `sms_message-{id}` of its own) — or
 * rejected or cancelled. A dozen events at most beside the chunks; the
 * messages' progress is the read model's business.
 */

/** Most numbers in one batch. */
export const MAX_BATCH_RECIPIENTS = 10_000;
/** Numbers per SmsBatchRecipientsAdded (E.164, ≤ 16 characters each: ≤ ~20 KB of JSON). */
export const RECIPIENTS_PER_EVENT = 1000;
/** The furthest ahead a batch may be scheduled. */
export const MAX_SCHEDULE_AHEAD_DAYS = 90;

export const SMS_BATCH_STATUSES = ['pending_review', 'in_review', 'approved', 'sending', 'rejected', 'cancelled'] as const;
export type SmsBatchStatus = (typeof SMS_BATCH_STATUSES)[number];

export interface SmsBatchCreatedData {
  batchId: string;
  ownerId: string;
  /** the owner's organization when it was created; null: none */
  organizationId: string | null;
  text: string;
  /** the sender id the owner asked for (alphanumeric, up to 11, or a number) */
  senderId: string;
  encoding: SmsEncoding;
  /** segments of the text, per message */
  segments: number;
  /** distinct numbers, in the chunks that follow */
  recipientCount: number;
  chunkCount: number;
  /** numbers left out because they were invalid (skip_invalid) */
  invalidSkipped: number;
  /** duplicates of a number already listed, left out */
  duplicatesRemoved: number;
  /** null: as soon as it is approved */
  scheduledAt: string | null;
  createdAt: string;
}

export interface SmsBatchRecipientsAddedData {
  batchId: string;
  /** 0-based chunk number */
  chunk: number;
  /** the index (in the batch) of the first number here; a message's id is named after batch id and index */
  offset: number;
  /** E.164 */
  recipients: string[];
}

export interface SmsBatchPreReviewPassedData {
  batchId: string;
  ownerId: string;
  scheduledAt: string | null;
  passedAt: string;
}

export interface SmsBatchPreReviewFlaggedData {
  batchId: string;
  ownerId: string;
  hitCount: number;
  /** the human review it waits for (`review-{reviewId}`) */
  reviewId: string;
  flaggedAt: string;
}

export interface SmsBatchReviewDecidedData {
  batchId: string;
  ownerId: string;
  reviewId: string;
  reviewerId: string;
  /** required when rejected: the owner is told why */
  comment: string | null;
  scheduledAt: string | null;
  decidedAt: string;
}

export interface SmsBatchSendingStartedData {
  batchId: string;
  ownerId: string;
  organizationId: string | null;
  recipientCount: number;
  startedAt: string;
}

export interface SmsBatchCancelledData {
  batchId: string;
  ownerId: string;
  /** who cancelled it */
  by: string;
  /** its open human review, withdrawn with it; null: none */
  reviewId: string | null;
  cancelledAt: string;
}

export type SmsBatchEvent =
  | DomainEvent<'SmsBatchCreated', SmsBatchCreatedData>
  | DomainEvent<'SmsBatchRecipientsAdded', SmsBatchRecipientsAddedData>
  | DomainEvent<'SmsBatchPreReviewPassed', SmsBatchPreReviewPassedData>
  | DomainEvent<'SmsBatchPreReviewFlagged', SmsBatchPreReviewFlaggedData>
  | DomainEvent<'SmsBatchApproved', SmsBatchReviewDecidedData>
  | DomainEvent<'SmsBatchRejected', SmsBatchReviewDecidedData>
  | DomainEvent<'SmsBatchSendingStarted', SmsBatchSendingStartedData>
  | DomainEvent<'SmsBatchCancelled', SmsBatchCancelledData>;

export type SmsBatchEventType = SmsBatchEvent['type'];

// ---------------------------------------------------------------- decoding

const decided = z.object({
  batchId: z.string(),
  ownerId: z.string(),
  reviewId: z.string(),
  reviewerId: z.string(),
  comment: z.string().nullable(),
  scheduledAt: z.string().nullable(),
  decidedAt: z.string(),
});

/** The decode boundary of this aggregate's stored events (see core/event-codec.ts). */
export const smsBatchEvents = eventCodec<SmsBatchEvent>({
  SmsBatchCreated: {
    schema: z.object({
      batchId: z.string(),
      ownerId: z.string(),
      organizationId: z.string().nullable(),
      text: z.string(),
      senderId: z.string(),
      encoding: z.enum(SMS_ENCODINGS),
      segments: z.number().int(),
      recipientCount: z.number().int(),
      chunkCount: z.number().int(),
      invalidSkipped: z.number().int(),
      duplicatesRemoved: z.number().int(),
      scheduledAt: z.string().nullable(),
      createdAt: z.string(),
    }),
  },
  SmsBatchRecipientsAdded: {
    schema: z.object({ batchId: z.string(), chunk: z.number().int(), offset: z.number().int(), recipients: z.array(z.string()) }),
  },
  SmsBatchPreReviewPassed: { schema: z.object({ batchId: z.string(), ownerId: z.string(), scheduledAt: z.string().nullable(), passedAt: z.string() }) },
  SmsBatchPreReviewFlagged: {
    schema: z.object({ batchId: z.string(), ownerId: z.string(), hitCount: z.number().int(), reviewId: z.string(), flaggedAt: z.string() }),
  },
  SmsBatchApproved: { schema: decided },
  SmsBatchRejected: { schema: decided },
  SmsBatchSendingStarted: {
    schema: z.object({
      batchId: z.string(),
      ownerId: z.string(),
      organizationId: z.string().nullable(),
      recipientCount: z.number().int(),
      startedAt: z.string(),
    }),
  },
  SmsBatchCancelled: {
    schema: z.object({ batchId: z.string(), ownerId: z.string(), by: z.string(), reviewId: z.string().nullable(), cancelledAt: z.string() }),
  },
});

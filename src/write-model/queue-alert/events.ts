import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';

/**
 * A BullMQ queue's blockage episodes detected on one UTC day, stream
 * `queue_alert-{queue}_{YYYYMMDD}`: the blockage detector
 * (src/application/queue-blockage.ts) records an episode once when a queue's
 * waiting jobs stop moving, and its end when they move again. The end goes
 * to the stream of the day the episode was detected, so an episode is one
 * stream's business however long it lasts. Every event names its queue and
 * day. Times are ISO-8601 strings.
 */

export interface QueueBlockageDetectedData {
  queue: string;
  /** YYYYMMDD (UTC) of detectedAt: the day stream it is in */
  day: string;
  /** since when the waiting jobs have not moved (no completion, no shrink) */
  blockedSince: string;
  waiting: number;
  /** the queue was paused when the blockage was detected */
  paused: boolean;
  /** age of the oldest waiting job in seconds; null when unknown */
  oldestWaitingSeconds: number | null;
  /** QUEUE_BLOCKAGE_SECONDS in force */
  thresholdSeconds: number;
  detectedAt: string;
}

export interface QueueBlockageClearedData {
  queue: string;
  /** the day stream of the episode (the day it was detected) */
  day: string;
  blockedSince: string;
  detectedAt: string;
  /** waiting jobs when it moved again */
  waiting: number;
  /** from blockedSince to clearedAt */
  blockedSeconds: number;
  clearedAt: string;
}

export type QueueAlertEvent = DomainEvent<'QueueBlockageDetected', QueueBlockageDetectedData> | DomainEvent<'QueueBlockageCleared', QueueBlockageClearedData>;

const count = z.number().int().nonnegative();

/** The decode boundary of the queue alert day streams (see core/event-codec.ts). */
export const queueAlertEvents = eventCodec<QueueAlertEvent>({
  QueueBlockageDetected: {
    version: 1,
    schema: z.object({
      queue: z.string(),
      day: z.string(),
      blockedSince: z.string(),
      waiting: count,
      paused: z.boolean(),
      oldestWaitingSeconds: count.nullable(),
      thresholdSeconds: count,
      detectedAt: z.string(),
    }),
  },
  QueueBlockageCleared: {
    version: 1,
    schema: z.object({
      queue: z.string(),
      day: z.string(),
      blockedSince: z.string(),
      detectedAt: z.string(),
      waiting: count,
      blockedSeconds: count,
      clearedAt: z.string(),
    }),
  },
});

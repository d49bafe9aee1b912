import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';

/**
 * Operators' manual interventions on one BullMQ queue on one UTC day, stream
 * `queue_intervention-{queue}_{YYYYMMDD}`: the audit of who paused,
 * resumed, retried, promoted or removed what (from the admin API, the
 * console or the CLI). Every event names the queue, the day and the
 * operator (a user id, or `cli:<os user>`). Times are ISO-8601 strings.
 */

interface Intervention {
  queue: string;
  /** YYYYMMDD (UTC) of `at` */
  day: string;
  operator: string;
  at: string;
}

export type QueuePausedData = Intervention;
export type QueueResumedData = Intervention;
export interface FailedJobsRetriedData extends Intervention {
  /** the failed jobs moved back to waiting */
  count: number;
}
export interface JobRemovedData extends Intervention {
  jobId: string;
  /** the state the job was removed from (waiting, delayed, failed, …) */
  state: string;
}
export interface JobPromotedData extends Intervention {
  jobId: string;
}
export interface JobRetriedData extends Intervention {
  jobId: string;
}

export type QueueInterventionEvent =
  | DomainEvent<'QueuePaused', QueuePausedData>
  | DomainEvent<'QueueResumed', QueueResumedData>
  | DomainEvent<'FailedJobsRetried', FailedJobsRetriedData>
  | DomainEvent<'JobRemoved', JobRemovedData>
  | DomainEvent<'JobPromoted', JobPromotedData>
  | DomainEvent<'JobRetried', JobRetriedData>;

const base = { queue: z.string(), day: z.string(), operator: z.string(), at: z.string() };

/** The decode boundary of the intervention day streams (see core/event-codec.ts). */
export const queueInterventionEvents = eventCodec<QueueInterventionEvent>({
  QueuePaused: { version: 1, schema: z.object(base) },
  QueueResumed: { version: 1, schema: z.object(base) },
  FailedJobsRetried: { version: 1, schema: z.object({ ...base, count: z.number().int().nonnegative() }) },
  JobRemoved: { version: 1, schema: z.object({ ...base, jobId: z.string(), state: z.string() }) },
  JobPromoted: { version: 1, schema: z.object({ ...base, jobId: z.string() }) },
  JobRetried: { version: 1, schema: z.object({ ...base, jobId: z.string() }) },
});

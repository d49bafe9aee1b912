import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';
import {
  DAILY_COUNTER_FEATURES,
  PLAN_CODES,
  RESOURCE_LIMIT_FEATURES,
  SERVICES,
  type DailyCounterFeature,
  type PlanCode,
  type QuotaFeature,
} from '../subscription/plans.js';
import type { SubscriptionRef } from '../subscription/events.js';

/**
 * The daily usage of one subscription, stream
 * `subscription_usage-{userId}_{service}_{YYYYMMDD}` (the quota day in the
 * configured time zone). It lives one day: the next day is another stream.
 * Every event names its subscription, plan and day, so projections read
 * them from `$all` without knowing the stream.
 */

/** The plan in force when the fact was decided, and which of its plan changes it was (see QuotaTerms). */
interface UnderPlan {
  plan: PlanCode;
  planChange: number;
}

export interface UsageRecordedData extends SubscriptionRef, UnderPlan {
  feature: DailyCounterFeature;
  amount: number;
  /** YYYY-MM-DD */
  day: string;
  /** the day's total for the feature, this use included */
  usedToday: number;
  /** null: unlimited */
  limit: number | null;
  recordedAt: string;
}

/**
 * A request that would have gone over a limit, recorded the first time per
 * feature and day under a plan (later attempts that day are refused without
 * an event; a plan change that takes effect makes the next one a new fact).
 * The caller answers 429 with `feature`, `limit` and `resetsAt`.
 */
export interface QuotaExceededData extends SubscriptionRef, UnderPlan {
  feature: QuotaFeature;
  kind: 'daily_counter' | 'resource_limit';
  limit: number;
  /** usedToday (daily counter) or inUse (resource limit) before the request */
  used: number;
  /** the amount asked for (1 for a resource) */
  requested: number;
  /** the resource that could not be reserved; null for a daily counter */
  resourceId: string | null;
  day: string;
  resetsAt: string;
  exceededAt: string;
}

export type SubscriptionUsageEvent = DomainEvent<'UsageRecorded', UsageRecordedData> | DomainEvent<'QuotaExceeded', QuotaExceededData>;

export const SUBSCRIPTION_USAGE_EVENT_TYPES = ['UsageRecorded', 'QuotaExceeded'] as const satisfies readonly SubscriptionUsageEvent['type'][];

// ---------------------------------------------------------------- decoding

const underPlan = {
  subscriptionId: z.string(),
  userId: z.string(),
  service: z.enum(SERVICES),
  plan: z.enum(PLAN_CODES),
  planChange: z.number().int().nonnegative(),
};

/** The decode boundary of the daily usage streams (see core/event-codec.ts). */
export const subscriptionUsageEvents = eventCodec<SubscriptionUsageEvent>({
  UsageRecorded: {
    schema: z.object({
      ...underPlan,
      feature: z.enum(DAILY_COUNTER_FEATURES),
      amount: z.number().int().positive(),
      day: z.string(),
      usedToday: z.number().int().nonnegative(),
      limit: z.number().int().nullable(),
      recordedAt: z.string(),
    }),
  },
  QuotaExceeded: {
    schema: z.object({
      ...underPlan,
      feature: z.enum([...DAILY_COUNTER_FEATURES, ...RESOURCE_LIMIT_FEATURES]),
      kind: z.enum(['daily_counter', 'resource_limit']),
      limit: z.number().int(),
      used: z.number().int(),
      requested: z.number().int(),
      resourceId: z.string().nullable(),
      day: z.string(),
      resetsAt: z.string(),
      exceededAt: z.string(),
    }),
  },
});

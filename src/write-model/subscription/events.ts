import type { DomainEvent } from '../core/decider.js';
import type { DailyCounterFeature, PaidPlanCode, PlanCode, QuotaFeature, ResourceFeature, Service } from './plans.js';

/**
 * The Subscription aggregate's events (DESIGN §5), stream
 * `subscription-{userId}_{service}`. Times are ISO-8601 strings; days are
 * `YYYY-MM-DD` in the configured time zone (DESIGN §7). Every event names
 * its subscription, user and service, so a projection never has to look
 * anything up.
 */
export interface SubscriptionRef {
  subscriptionId: string;
  userId: string;
  service: Service;
}

/** A resource feature held beyond what a plan allows. */
export interface OverLimit {
  feature: ResourceFeature;
  inUse: number;
  /** 0 when the feature is not in the plan */
  limit: number;
}

export interface SubscriptionStartedData extends SubscriptionRef {
  plan: PlanCode;
  /** = startedAt */
  periodStart: string;
  /** null for the free plan, which never expires */
  periodEnd: string | null;
  startedAt: string;
}

/**
 * Effective at once. With an order the paid period starts now; without one
 * (an operator's grant) the period is kept unless a new end was given.
 * Clears a pending downgrade (even a prepaid one: its refund is a payments
 * matter) and a cancellation.
 */
export interface SubscriptionUpgradedData extends SubscriptionRef {
  fromPlan: PlanCode;
  toPlan: PaidPlanCode;
  orderId: string | null;
  /** the period after the upgrade */
  periodStart: string;
  periodEnd: string;
  previousPeriodEnd: string | null;
  upgradedAt: string;
}

/**
 * Scheduled for the end of the current period (`effectiveAt`); the plan in
 * force does not change until SubscriptionExpired. With an order, the lower
 * plan's next period (effectiveAt → nextPeriodEnd) is already paid for.
 * Replaces an earlier pending downgrade and clears a cancellation.
 */
export interface SubscriptionDowngradedData extends SubscriptionRef {
  fromPlan: PaidPlanCode;
  toPlan: PlanCode;
  effectiveAt: string;
  orderId: string | null;
  nextPeriodEnd: string | null;
  requestedAt: string;
}

/** The current plan paid for another period. Clears a pending downgrade and a cancellation. */
export interface SubscriptionRenewedData extends SubscriptionRef {
  plan: PaidPlanCode;
  orderId: string;
  previousPeriodEnd: string;
  periodEnd: string;
  renewedAt: string;
}

/** Cancelled at the end of the period (`effectiveAt`): then it falls back to free. Clears an unpaid pending downgrade. */
export interface SubscriptionCancelledData extends SubscriptionRef {
  plan: PaidPlanCode;
  effectiveAt: string;
  cancelledAt: string;
}

/**
 * The paid period ended. The subscription continues on `fallbackPlan`: the
 * pending downgrade's plan when its next period was paid for (or when it is
 * free), otherwise free.
 */
export interface SubscriptionExpiredData extends SubscriptionRef {
  fromPlan: PaidPlanCode;
  fallbackPlan: PlanCode;
  expiredPeriodEnd: string;
  /** the period of the fallback plan: starts where the expired one ended; no end for free */
  periodStart: string;
  periodEnd: string | null;
  /** the order that paid for the fallback plan's period, when it is a paid plan */
  orderId: string | null;
  /** a downgrade to a paid plan that was scheduled but never paid for, dropped in favour of free */
  abandonedDowngrade: PaidPlanCode | null;
  /** resources now held beyond the fallback plan's limits (nothing is released automatically) */
  overLimit: OverLimit[];
  expiredAt: string;
}

export interface UsageRecordedData extends SubscriptionRef {
  plan: PlanCode;
  feature: DailyCounterFeature;
  amount: number;
  day: string;
  /** the day's total for the feature, this use included */
  usedToday: number;
  /** null: unlimited */
  limit: number | null;
  recordedAt: string;
}

/**
 * A request that would have gone over a limit, recorded the first time per
 * feature and day (later attempts that day are refused without an event).
 * The caller answers 429 with `feature`, `limit` and `resetsAt`.
 */
export interface QuotaExceededData extends SubscriptionRef {
  plan: PlanCode;
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

export interface ResourceReservedData extends SubscriptionRef {
  plan: PlanCode;
  feature: ResourceFeature;
  resourceId: string;
  /** reservations of the feature, this one included */
  inUse: number;
  /** null: unlimited */
  limit: number | null;
  reservedAt: string;
}

export interface ResourceReleasedData extends SubscriptionRef {
  plan: PlanCode;
  feature: ResourceFeature;
  resourceId: string;
  /** reservations of the feature left */
  inUse: number;
  releasedAt: string;
}

export type SubscriptionEvent =
  | DomainEvent<'SubscriptionStarted', SubscriptionStartedData>
  | DomainEvent<'SubscriptionUpgraded', SubscriptionUpgradedData>
  | DomainEvent<'SubscriptionDowngraded', SubscriptionDowngradedData>
  | DomainEvent<'SubscriptionRenewed', SubscriptionRenewedData>
  | DomainEvent<'SubscriptionCancelled', SubscriptionCancelledData>
  | DomainEvent<'SubscriptionExpired', SubscriptionExpiredData>
  | DomainEvent<'UsageRecorded', UsageRecordedData>
  | DomainEvent<'QuotaExceeded', QuotaExceededData>
  | DomainEvent<'ResourceReserved', ResourceReservedData>
  | DomainEvent<'ResourceReleased', ResourceReleasedData>;

export type SubscriptionEventType = SubscriptionEvent['type'];

export const SUBSCRIPTION_EVENT_TYPES: readonly SubscriptionEventType[] = [
  'SubscriptionStarted',
  'SubscriptionUpgraded',
  'SubscriptionDowngraded',
  'SubscriptionRenewed',
  'SubscriptionCancelled',
  'SubscriptionExpired',
  'UsageRecorded',
  'QuotaExceeded',
  'ResourceReserved',
  'ResourceReleased',
];

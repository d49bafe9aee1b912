import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';
import { PLAN_CODES, RESOURCE_LIMIT_FEATURES, SERVICES, type PaidPlanCode, type PlanCode, type ResourceFeature, type Service } from './plans.js';

/**
 * The Subscription aggregate's events, stream
 * `subscription-{userId}_{service}`: the lifecycle only (plan, period,
 * reservations of resources). Daily usage and going over a limit live in the
 * day's stream (subscription-usage/). Times are ISO-8601 strings. Every
 * event names its subscription, user and service, so a projection never has
 * to look anything up.
 */
export interface SubscriptionRef {
  subscriptionId: string;
  /** the holder's id: the user's, or the organization's when `holderKind` is organization */
  userId: string;
  service: Service;
  /**
   * organization: the subscription an organization holds for its members
   * (stream `subscription-{organizationId}_{service}`); absent: a user's own
   * (every event before organizations had plans)
   */
  holderKind?: 'organization';
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
  /** set when a paid downgrade stays pending: its paid period, moved to follow this one, ends then */
  pendingDowngradePeriodEnd?: string;
}

/**
 * Scheduled for the end of the current period (`effectiveAt`); the plan in
 * force does not change until SubscriptionExpired. With an order, the lower
 * plan's next period (effectiveAt → nextPeriodEnd) is already paid for.
 * Replaces an earlier unpaid pending downgrade (never a paid one) and clears a cancellation.
 */
export interface SubscriptionDowngradedData extends SubscriptionRef {
  fromPlan: PaidPlanCode;
  toPlan: PlanCode;
  effectiveAt: string;
  orderId: string | null;
  nextPeriodEnd: string | null;
  requestedAt: string;
}

/** The current plan paid for another period. Clears a cancellation and an unpaid pending downgrade (a paid one stays, moved: `pendingDowngradePeriodEnd`). */
export interface SubscriptionRenewedData extends SubscriptionRef {
  plan: PaidPlanCode;
  orderId: string;
  previousPeriodEnd: string;
  periodEnd: string;
  renewedAt: string;
  /** set when a paid downgrade stays pending: its paid period, moved back by the renewal, ends then */
  pendingDowngradePeriodEnd?: string;
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
  /** set when the period ended early because this order (the one that paid for it) was refunded in full */
  refundedOrderId?: string | null;
}

/**
 * Automatic renewal turned on (`provider`, `channel`: what the renewal
 * orders are placed with) or off (both null). Cancelling and falling back to
 * free turn it off too (SubscriptionCancelled, SubscriptionExpired to free).
 */
export interface AutoRenewChangedData extends SubscriptionRef {
  enabled: boolean;
  provider: 'alipay' | 'wechat' | null;
  channel: 'page' | 'wap' | 'native' | null;
  changedAt: string;
}

/**
 * Before the paid period ends (SUBSCRIPTION_RENEWAL_LEAD_DAYS), with
 * automatic renewal on: an order for another period of the plan was placed
 * with the provider (`payUrl` / `codeUrl`); paying it renews the
 * subscription (SubscriptionRenewed). The user is reminded to pay it.
 */
export interface SubscriptionRenewalOrderedData extends SubscriptionRef {
  plan: PaidPlanCode;
  /** the end of the period this order renews */
  periodEnd: string;
  orderId: string;
  provider: 'alipay' | 'wechat';
  channel: 'page' | 'wap' | 'native';
  amountFen: number;
  payUrl: string | null;
  codeUrl: string | null;
  /** the order can be paid until then (the period's end) */
  orderExpiresAt: string;
  orderedAt: string;
}

/**
 * Before the paid period ends, without automatic renewal (or when the
 * renewal order could not be placed): the user is reminded that it ends and
 * what follows (`fallbackPlan`).
 */
export interface SubscriptionExpiryRemindedData extends SubscriptionRef {
  plan: PaidPlanCode;
  periodEnd: string;
  fallbackPlan: PlanCode;
  reason: 'auto_renew_off' | 'cancelled' | 'downgrade' | 'renewal_not_placed';
  remindedAt: string;
}

/**
 * The order that paid a pending downgrade's next period was refunded in
 * full: the downgrade stays pending, unpaid (at the period's end a paid
 * plan nobody paid for falls back to free, as for any unpaid downgrade).
 */
export interface SubscriptionDowngradeRefundedData extends SubscriptionRef {
  plan: PaidPlanCode;
  orderId: string;
  /** the end of the period in force, when the downgrade is due */
  effectiveAt: string;
  refundedAt: string;
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
  | DomainEvent<'AutoRenewChanged', AutoRenewChangedData>
  | DomainEvent<'SubscriptionRenewalOrdered', SubscriptionRenewalOrderedData>
  | DomainEvent<'SubscriptionExpiryReminded', SubscriptionExpiryRemindedData>
  | DomainEvent<'SubscriptionDowngradeRefunded', SubscriptionDowngradeRefundedData>
  | DomainEvent<'ResourceReserved', ResourceReservedData>
  | DomainEvent<'ResourceReleased', ResourceReleasedData>;

export type SubscriptionEventType = SubscriptionEvent['type'];

export const SUBSCRIPTION_EVENT_TYPES = [
  'SubscriptionStarted',
  'SubscriptionUpgraded',
  'SubscriptionDowngraded',
  'SubscriptionRenewed',
  'SubscriptionCancelled',
  'SubscriptionExpired',
  'AutoRenewChanged',
  'SubscriptionRenewalOrdered',
  'SubscriptionExpiryReminded',
  'SubscriptionDowngradeRefunded',
  'ResourceReserved',
  'ResourceReleased',
] as const satisfies readonly SubscriptionEventType[];

// ---------------------------------------------------------------- decoding

const ref = { subscriptionId: z.string(), userId: z.string(), service: z.enum(SERVICES), holderKind: z.literal('organization').optional() };
const planCode = z.enum(PLAN_CODES);
const paidPlan = z.enum(['basic', 'pro', 'enterprise']);
const resourceFeature = z.enum(RESOURCE_LIMIT_FEATURES);

/** The decode boundary of the subscription streams (see core/event-codec.ts). */
export const subscriptionEvents = eventCodec<SubscriptionEvent>({
  SubscriptionStarted: {
    schema: z.object({ ...ref, plan: planCode, periodStart: z.string(), periodEnd: z.string().nullable(), startedAt: z.string() }),
  },
  SubscriptionUpgraded: {
    schema: z.object({
      ...ref,
      fromPlan: planCode,
      toPlan: paidPlan,
      orderId: z.string().nullable(),
      periodStart: z.string(),
      periodEnd: z.string(),
      previousPeriodEnd: z.string().nullable(),
      upgradedAt: z.string(),
      pendingDowngradePeriodEnd: z.string().optional(),
    }),
  },
  SubscriptionDowngraded: {
    schema: z.object({
      ...ref,
      fromPlan: paidPlan,
      toPlan: planCode,
      effectiveAt: z.string(),
      orderId: z.string().nullable(),
      nextPeriodEnd: z.string().nullable(),
      requestedAt: z.string(),
    }),
  },
  SubscriptionRenewed: {
    schema: z.object({
      ...ref,
      plan: paidPlan,
      orderId: z.string(),
      previousPeriodEnd: z.string(),
      periodEnd: z.string(),
      renewedAt: z.string(),
      pendingDowngradePeriodEnd: z.string().optional(),
    }),
  },
  SubscriptionCancelled: { schema: z.object({ ...ref, plan: paidPlan, effectiveAt: z.string(), cancelledAt: z.string() }) },
  SubscriptionExpired: {
    schema: z.object({
      ...ref,
      fromPlan: paidPlan,
      fallbackPlan: planCode,
      expiredPeriodEnd: z.string(),
      periodStart: z.string(),
      periodEnd: z.string().nullable(),
      orderId: z.string().nullable(),
      abandonedDowngrade: paidPlan.nullable(),
      overLimit: z.array(z.object({ feature: resourceFeature, inUse: z.number().int(), limit: z.number().int() })),
      expiredAt: z.string(),
      refundedOrderId: z.string().nullable().optional(),
    }),
  },
  AutoRenewChanged: {
    schema: z.object({
      ...ref,
      enabled: z.boolean(),
      provider: z.enum(['alipay', 'wechat']).nullable(),
      channel: z.enum(['page', 'wap', 'native']).nullable(),
      changedAt: z.string(),
    }),
  },
  SubscriptionRenewalOrdered: {
    schema: z.object({
      ...ref,
      plan: paidPlan,
      periodEnd: z.string(),
      orderId: z.string(),
      provider: z.enum(['alipay', 'wechat']),
      channel: z.enum(['page', 'wap', 'native']),
      amountFen: z.number().int(),
      payUrl: z.string().nullable(),
      codeUrl: z.string().nullable(),
      orderExpiresAt: z.string(),
      orderedAt: z.string(),
    }),
  },
  SubscriptionDowngradeRefunded: {
    schema: z.object({ ...ref, plan: paidPlan, orderId: z.string(), effectiveAt: z.string(), refundedAt: z.string() }),
  },
  SubscriptionExpiryReminded: {
    schema: z.object({
      ...ref,
      plan: paidPlan,
      periodEnd: z.string(),
      fallbackPlan: planCode,
      reason: z.enum(['auto_renew_off', 'cancelled', 'downgrade', 'renewal_not_placed']),
      remindedAt: z.string(),
    }),
  },
  ResourceReserved: {
    schema: z.object({
      ...ref,
      plan: planCode,
      feature: resourceFeature,
      resourceId: z.string(),
      inUse: z.number().int(),
      limit: z.number().int().nullable(),
      reservedAt: z.string(),
    }),
  },
  ResourceReleased: {
    schema: z.object({ ...ref, plan: planCode, feature: resourceFeature, resourceId: z.string(), inUse: z.number().int(), releasedAt: z.string() }),
  },
});

import type { PlanCode, ResourceFeature, Service } from './plans.js';

/**
 * Commands of the Subscription aggregate (stream
 * `subscription-{userId}_{service}`). Every one carries `now` (ISO-8601):
 * each records a time or compares against the period's end.
 */

/** Open the stream. Every user starts on free (on UserRegistered). */
export interface StartSubscription {
  type: 'StartSubscription';
  subscriptionId: string;
  /** the holder's id: a user's, or an organization's (with holderKind organization) */
  userId: string;
  /** organization: the subscription an organization's members share; absent or user: a user's own */
  holderKind?: 'user' | 'organization';
  service: Service;
  plan: PlanCode;
  /** required for a paid plan (after `now`); null or absent for free */
  periodEnd?: string | null;
  now: string;
}

/**
 * Move to another plan: higher = upgrade at once, lower = downgrade at the
 * end of the period. `orderId` is the paid order it comes from (a repeat of
 * the same order is a no-op); `periodEnd` is the end of the period it paid for.
 */
export interface ChangePlan {
  type: 'ChangePlan';
  plan: PlanCode;
  orderId?: string;
  periodEnd?: string;
  /** when the paying order was placed: an upgrade ordered before the plan in force was last paid for is refused */
  orderedAt?: string;
  now: string;
}

/** The current plan was paid for another period (a no-op for an order already applied). */
export interface RenewSubscription {
  type: 'RenewSubscription';
  orderId: string;
  periodEnd: string;
  now: string;
}

/** Cancel at the end of the period. */
export interface CancelSubscription {
  type: 'CancelSubscription';
  now: string;
}

/** Sent by the expiry scheduler once `now >= periodEnd`. */
export interface ExpireSubscription {
  type: 'ExpireSubscription';
  now: string;
}

/**
 * The order that paid for the plan in force was refunded in full: the paid
 * period ends now and the subscription falls back to free (sent by the
 * pm-plan-on-refund process manager). The order that paid a pending
 * downgrade's next period leaves that downgrade pending, unpaid. An order
 * that paid for nothing in force (an earlier period, another plan) changes
 * nothing.
 */
export interface RevokePaidPlan {
  type: 'RevokePaidPlan';
  orderId: string;
  now: string;
}

/** The payment providers a renewal order can be placed with (the payment-order vocabulary, repeated: no dependency on it). */
export const RENEWAL_PROVIDERS = ['alipay', 'wechat'] as const;
export type RenewalProvider = (typeof RENEWAL_PROVIDERS)[number];
export const RENEWAL_CHANNELS = ['page', 'wap', 'native'] as const;
export type RenewalChannel = (typeof RENEWAL_CHANNELS)[number];

/**
 * Turn automatic renewal of the paid plan on (with the provider and channel
 * its renewal orders are placed with) or off.
 */
export interface SetAutoRenew {
  type: 'SetAutoRenew';
  enabled: boolean;
  /** required when enabling */
  provider?: RenewalProvider;
  channel?: RenewalChannel;
  now: string;
}

/**
 * Sent by the renewal deadline (SUBSCRIPTION_RENEWAL_LEAD_DAYS before the
 * period ends) once the renewal order for the period ending at `periodEnd`
 * was placed with the provider: the user is reminded to pay it.
 */
export interface RecordRenewalOrder {
  type: 'RecordRenewalOrder';
  periodEnd: string;
  orderId: string;
  provider: RenewalProvider;
  channel: RenewalChannel;
  amountFen: number;
  payUrl: string | null;
  codeUrl: string | null;
  orderExpiresAt: string;
  now: string;
}

export const EXPIRY_REMINDER_REASONS = ['auto_renew_off', 'cancelled', 'downgrade', 'renewal_not_placed'] as const;
export type ExpiryReminderReason = (typeof EXPIRY_REMINDER_REASONS)[number];

/** Sent by the renewal deadline when the period ending at `periodEnd` is not renewed automatically: the user is reminded it ends. */
export interface RemindExpiry {
  type: 'RemindExpiry';
  periodEnd: string;
  reason: ExpiryReminderReason;
  now: string;
}

/** Hold one unit of a resource limit (an account, a workflow, a tracked novel, an alert). */
export interface ReserveResource {
  type: 'ReserveResource';
  feature: ResourceFeature;
  resourceId: string;
  /** the quota day (YYYY-MM-DD) a refusal is recorded for, and when it ends (the 429's resets_at) */
  day: string;
  resetsAt: string;
  now: string;
}

export interface ReleaseResource {
  type: 'ReleaseResource';
  feature: ResourceFeature;
  resourceId: string;
  now: string;
}

export type SubscriptionCommand =
  | StartSubscription
  | ChangePlan
  | RenewSubscription
  | CancelSubscription
  | ExpireSubscription
  | RevokePaidPlan
  | SetAutoRenew
  | RecordRenewalOrder
  | RemindExpiry
  | ReserveResource
  | ReleaseResource;

export type SubscriptionCommandType = SubscriptionCommand['type'];

import type { IdSet } from '../core/id-set.js';
import type { PaidPlanCode, PlanCode, ResourceFeature, Service } from './plans.js';

/** A downgrade waiting for the end of the period. */
export interface PendingDowngrade {
  plan: PlanCode;
  /** the order that paid the lower plan's next period; null: not paid (yet) */
  orderId: string | null;
  /** the end of that paid next period; null when unpaid */
  periodEnd: string | null;
}

/** The resources held of one feature. */
export interface Held {
  count: number;
  ids: IdSet;
}

export interface NoSubscription {
  status: 'none';
}

/** Plain JSON (the subscription is snapshotted); the fold updates it in place. */
export interface ActiveSubscription {
  /**
   * Once started a subscription stays active: an ended paid period falls
   * back to a lower plan (SubscriptionExpired), it never closes the stream.
   */
  status: 'active';
  subscriptionId: string;
  /** the holder's id: the user's, or the organization's when `holderKind` is organization */
  userId: string;
  /** set for an organization's subscription (its members share it); absent: a user's own */
  holderKind?: 'organization';
  service: Service;
  /** the plan of SubscriptionStarted (for recognising a repeated start) */
  startedWith: PlanCode;
  /** the plan in force */
  plan: PlanCode;
  /** plan changes that took effect (upgrades, expiries): a daily usage stream's "already exceeded" holds for one */
  planChange: number;
  periodStart: string;
  /** null exactly when the plan is free */
  periodEnd: string | null;
  /** cancelled: falls back to free at periodEnd */
  cancelAtPeriodEnd: boolean;
  pendingDowngrade: PendingDowngrade | null;
  /** orders already applied (upgrade, renewal, paid downgrade): a repeat is a no-op */
  appliedOrders: IdSet;
  /** the orders that paid for the plan in force (its upgrade and renewals since): a full refund of one ends it */
  planOrders: IdSet;
  /** when an order was last applied (a paid upgrade, renewal or downgrade); absent: never */
  lastPaidAt?: string;
  /** automatic renewal: the provider and channel renewal orders are placed with; null: off (always off on free) */
  autoRenew: { provider: 'alipay' | 'wechat'; channel: 'page' | 'wap' | 'native' } | null;
  /** the period end the renewal deadline already acted on (a renewal order or an expiry reminder): once per period */
  remindedFor: string | null;
  /** resource ids held per resource feature */
  reservations: Partial<Record<ResourceFeature, Held>>;
}

export type SubscriptionState = NoSubscription | ActiveSubscription;

export function initialState(): SubscriptionState {
  return { status: 'none' };
}

export function isPaidPlan(plan: PlanCode): plan is PaidPlanCode {
  return plan !== 'free';
}

/** How many of a resource the subscription holds. */
export function inUse(state: ActiveSubscription, feature: ResourceFeature): number {
  return state.reservations[feature]?.count ?? 0;
}

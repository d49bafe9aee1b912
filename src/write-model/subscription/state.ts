import type { DailyCounterFeature, PaidPlanCode, PlanCode, QuotaFeature, ResourceFeature, Service } from './plans.js';

/** A downgrade waiting for the end of the period. */
export interface PendingDowngrade {
  plan: PlanCode;
  /** the order that paid the lower plan's next period; null: not paid (yet) */
  orderId: string | null;
  /** the end of that paid next period; null when unpaid */
  periodEnd: string | null;
}

export interface NoSubscription {
  status: 'none';
}

export interface ActiveSubscription {
  /**
   * Once started a subscription stays active: an ended paid period falls
   * back to a lower plan (SubscriptionExpired), it never closes the stream.
   */
  status: 'active';
  subscriptionId: string;
  userId: string;
  service: Service;
  /** the plan of SubscriptionStarted (for recognising a repeated start) */
  startedWith: PlanCode;
  /** the plan in force */
  plan: PlanCode;
  periodStart: string;
  /** null exactly when the plan is free */
  periodEnd: string | null;
  /** cancelled: falls back to free at periodEnd */
  cancelAtPeriodEnd: boolean;
  pendingDowngrade: PendingDowngrade | null;
  /** orders already applied (upgrade, renewal, paid downgrade): a repeat is a no-op */
  appliedOrders: string[];
  /** daily counters of the latest day seen; an earlier day is gone */
  usage: { day: string; counts: Partial<Record<DailyCounterFeature, number>> } | null;
  /** features that recorded QuotaExceeded on `day` (cleared by a plan change) */
  exceeded: { day: string; features: QuotaFeature[] } | null;
  /** resource ids held per resource feature, in reservation order */
  reservations: Partial<Record<ResourceFeature, string[]>>;
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
  return state.reservations[feature]?.length ?? 0;
}

/** How much of a daily counter was used on `day` (0 for a day the state no longer or not yet tracks). */
export function usedOn(state: ActiveSubscription, feature: DailyCounterFeature, day: string): number {
  return state.usage?.day === day ? (state.usage.counts[feature] ?? 0) : 0;
}

import type { DailyCounterFeature, QuotaFeature, Service } from '../subscription/plans.js';

export interface NoUsage {
  status: 'none';
}

/** One subscription's day: its counters and which features went over (plain JSON: it is snapshotted). */
export interface DayUsage {
  status: 'open';
  subscriptionId: string;
  userId: string;
  service: Service;
  day: string;
  /** the day's total per daily counter */
  counts: Partial<Record<DailyCounterFeature, number>>;
  /** per feature, the highest planChange under which QuotaExceeded was recorded today */
  exceeded: Partial<Record<QuotaFeature, number>>;
}

export type SubscriptionUsageState = NoUsage | DayUsage;

export function initialState(): SubscriptionUsageState {
  return { status: 'none' };
}

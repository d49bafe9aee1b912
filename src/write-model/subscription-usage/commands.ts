import type { DailyCounterFeature, ResourceFeature } from '../subscription/plans.js';
import type { QuotaTerms } from '../subscription/quota-terms.js';

export type { QuotaTerms };

/** Count a use of a daily counter on `day` (the caller's quota day, the stream's day). */
export interface ConsumeQuota {
  type: 'ConsumeQuota';
  subscription: QuotaTerms;
  feature: DailyCounterFeature;
  amount: number;
  /** YYYY-MM-DD */
  day: string;
  /** when the next day starts (ISO-8601) */
  resetsAt: string;
  now: string;
}

/**
 * Record a reservation the subscription refused at a resource limit (the
 * subscription decided it; this stream keeps the once-a-day record).
 */
export interface RecordQuotaExceeded {
  type: 'RecordQuotaExceeded';
  subscription: QuotaTerms;
  feature: ResourceFeature;
  limit: number;
  /** the resources held when it was refused */
  used: number;
  resourceId: string;
  day: string;
  resetsAt: string;
  now: string;
}

export type SubscriptionUsageCommand = ConsumeQuota | RecordQuotaExceeded;

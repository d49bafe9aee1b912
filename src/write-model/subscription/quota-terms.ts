import { DomainError } from '../core/domain-error.js';
import type { PlanCode, Service } from './plans.js';
import type { SubscriptionState } from './state.js';

/**
 * What a quota decision on a daily usage stream needs of the subscription,
 * read once from the subscription's stream.
 */
export interface QuotaTerms {
  subscriptionId: string;
  userId: string;
  service: Service;
  /** the plan in force */
  plan: PlanCode;
  /**
   * How many plan changes took effect before this plan (upgrades, expiries):
   * "already exceeded today" holds for one plan change, so going over the
   * new plan's limit the same day is recorded again.
   */
  planChange: number;
}

/** The terms of a started subscription; NOT_FOUND before it is started. */
export function quotaTermsOf(state: SubscriptionState): QuotaTerms {
  if (state.status === 'none') throw new DomainError('NOT_FOUND', 'no subscription to this service');
  return { subscriptionId: state.subscriptionId, userId: state.userId, service: state.service, plan: state.plan, planChange: state.planChange };
}

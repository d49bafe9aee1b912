import { DomainError } from '../core/domain-error.js';
import type { QuotaTerms } from './quota-terms.js';
import type { ResourceFeature } from './plans.js';

/** A reservation refused at a resource limit: what the day's usage stream records of it. */
export interface ResourceOverrun {
  subscription: QuotaTerms;
  feature: ResourceFeature;
  limit: number;
  /** held when refused */
  used: number;
  resourceId: string;
  day: string;
  resetsAt: string;
  now: string;
}

/**
 * QUOTA_EXCEEDED for a resource limit. The subscription records nothing (its
 * stream keeps the lifecycle only): the caller records the refusal once a
 * day in the day's usage stream (RecordQuotaExceeded) from `overrun`.
 * A held resource does not come back at a time (only when one is released,
 * or with a higher plan), so the refusal names no reset time (`resetsAt`
 * null: no Retry-After either); the day's reset is the usage stream's.
 */
export class ResourceLimitReached extends DomainError {
  constructor(readonly overrun: ResourceOverrun) {
    super('QUOTA_EXCEEDED', `${overrun.used} held of the ${overrun.feature} quota of ${overrun.limit}: release one, or move to a higher plan`, {
      feature: overrun.feature,
      limit: overrun.limit,
      resetsAt: null,
      used: overrun.used,
    });
  }
}

import fc from 'fast-check';
import type { PlanCode } from '../../../src/write-model/subscription/plans.js';
import { subscriptionUsageAggregate, type SubscriptionUsageCommand } from '../../../src/write-model/subscription-usage/index.js';
import { historySource, sequence } from './harness.js';

/** One subscription's day: uses and refusals under plans that change during the day. */
export const subscriptionUsageHistories = historySource(
  subscriptionUsageAggregate,
  sequence(
    fc.record({
      kind: fc.constantFrom('consume', 'consume', 'consume', 'refused'),
      plan: fc.constantFrom<PlanCode>('free', 'basic', 'enterprise'),
      planChange: fc.integer({ min: 0, max: 3 }),
      amount: fc.integer({ min: 1, max: 40 }),
      day: fc.constantFrom('2026-01-01', '2026-01-01', '2026-01-01', '2026-01-02'),
    }),
    (c, now): SubscriptionUsageCommand => {
      const subscription = { subscriptionId: 's1', userId: 'u1', service: 'xiaohongshu' as const, plan: c.plan, planChange: c.planChange };
      const resetsAt = `${c.day}T16:00:00.000Z`;
      return c.kind === 'consume'
        ? { type: 'ConsumeQuota', subscription, feature: 'daily_api_calls', amount: c.amount, day: c.day, resetsAt, now }
        : { type: 'RecordQuotaExceeded', subscription, feature: 'account_limit', limit: 1, used: 1, resourceId: `acc-${c.amount}`, day: c.day, resetsAt, now };
    },
  ),
);

import fc from 'fast-check';
import { subscriptionAggregate, type SubscriptionCommand } from '../../../src/write-model/subscription/index.js';
import { historySource, sequence } from './harness.js';

const later = (now: string, minutes: number) => new Date(Date.parse(now) + minutes * 60_000).toISOString();

/** Lifecycle and reservations of one subscription: plan changes, renewals, expiries, resources held and given back. */
export const subscriptionHistories = historySource(
  subscriptionAggregate,
  sequence(
    fc.record({
      kind: fc.constantFrom('start', 'change', 'renew', 'cancel', 'expire', 'reserve', 'reserve', 'release'),
      plan: fc.constantFrom('free', 'basic', 'pro', 'enterprise'),
      order: fc.option(fc.constantFrom('o1', 'o2', 'o3', 'o4'), { nil: undefined }),
      minutes: fc.integer({ min: 30, max: 3000 }),
      feature: fc.constantFrom('account_limit', 'automation_workflows'),
      resource: fc.constantFrom('r1', 'r2', 'r3', '__proto__', 'constructor'),
    }),
    (c, now): SubscriptionCommand => {
      switch (c.kind) {
        case 'start':
          return c.plan === 'free'
            ? { type: 'StartSubscription', subscriptionId: 's1', userId: 'u1', service: 'xiaohongshu', plan: 'free', now }
            : { type: 'StartSubscription', subscriptionId: 's1', userId: 'u1', service: 'xiaohongshu', plan: c.plan, periodEnd: later(now, c.minutes), now };
        case 'change':
          return { type: 'ChangePlan', plan: c.plan, ...(c.order ? { orderId: c.order, periodEnd: later(now, c.minutes * 10) } : {}), now };
        case 'renew':
          return { type: 'RenewSubscription', orderId: c.order ?? 'o5', periodEnd: later(now, c.minutes * 10), now };
        case 'cancel':
          return { type: 'CancelSubscription', now };
        case 'expire':
          return { type: 'ExpireSubscription', now };
        case 'reserve':
          return { type: 'ReserveResource', feature: c.feature, resourceId: c.resource, day: now.slice(0, 10), resetsAt: later(now, 60), now };
        case 'release':
          return { type: 'ReleaseResource', feature: c.feature, resourceId: c.resource, now };
      }
    },
  ),
);

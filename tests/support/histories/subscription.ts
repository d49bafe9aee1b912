import fc from 'fast-check';
import { subscriptionAggregate, type SubscriptionCommand, type SubscriptionState } from '../../../src/write-model/subscription/index.js';
import { historySource, sequence } from './harness.js';

const later = (now: string, minutes: number) => new Date(Date.parse(now) + minutes * 60_000).toISOString();

/** The current period end of the history so far (the renewal deadline's commands name it), or a time that is none. */
const periodEndOf = (state: SubscriptionState, now: string): string =>
  state.status === 'active' && state.periodEnd !== null ? state.periodEnd : later(now, 60);

/** Lifecycle and reservations of one subscription: plan changes, renewals, expiries, resources held and given back. */
export const subscriptionHistories = historySource(
  subscriptionAggregate,
  sequence(
    fc.record({
      kind: fc.constantFrom('start', 'change', 'renew', 'cancel', 'expire', 'reserve', 'reserve', 'release', 'auto_renew', 'renewal_order', 'remind'),
      enabled: fc.boolean(),
      provider: fc.constantFrom('alipay', 'wechat'),
      channel: fc.constantFrom('page', 'wap', 'native'),
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
        case 'auto_renew':
          return { type: 'SetAutoRenew', enabled: c.enabled, provider: c.provider, channel: c.channel, now };
        case 'renewal_order':
          // periodEnd: filled in from the history so far (withPeriodEnds)
          return {
            type: 'RecordRenewalOrder',
            periodEnd: '',
            orderId: c.order ?? 'r1',
            provider: c.provider,
            channel: c.channel,
            amountFen: 9990,
            payUrl: c.enabled ? 'https://pay.example/x' : null,
            codeUrl: c.enabled ? null : 'weixin://wxpay/x',
            orderExpiresAt: later(now, 60),
            now,
          };
        case 'remind':
          return { type: 'RemindExpiry', periodEnd: '', reason: c.enabled ? 'auto_renew_off' : 'cancelled', now };
      }
    },
  ).map(withPeriodEnds),
);

/** The renewal deadline's commands name the period they are for: the current one of the history so far. */
function withPeriodEnds(commands: SubscriptionCommand[]): SubscriptionCommand[] {
  const { decider } = subscriptionAggregate;
  let state = decider.initialState();
  return commands.map((command) => {
    const resolved: SubscriptionCommand =
      command.type === 'RecordRenewalOrder' || command.type === 'RemindExpiry' ? { ...command, periodEnd: periodEndOf(state, command.now) } : command;
    try {
      for (const event of decider.decide(resolved, state)) state = decider.evolve(state, event);
    } catch {
      // refused: skipped, as decideAll does
    }
    return resolved;
  });
}

import { expect } from 'chai';
import { fold } from '../../src/write-model/core/decider.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { paymentOrderDecider, paymentOrderEvents, type CreatePaymentOrder, type PaymentOrderEvent } from '../../src/write-model/payment-order/index.js';
import {
  subscriptionDecider,
  subscriptionEvents,
  type SubscriptionCommand,
  type SubscriptionEvent,
  type SubscriptionRef,
} from '../../src/write-model/subscription/index.js';
import { commandsForPayment, holderIdOf } from '../../src/process-managers/plan-on-payment.js';
import { subscriptionUsageDecider, type SubscriptionUsageCommand } from '../../src/write-model/subscription-usage/index.js';
import { deciderSpec } from '../support/decider-spec.js';

/** Organization-held subscriptions: the holder kind on the Subscription aggregate and on plan orders. */

const subscriptions = deciderSpec(subscriptionDecider);
const orders = deciderSpec(paymentOrderDecider);
const is = (code: string) => (e: DomainError) => e.code === code;

const T0 = '2026-03-01T08:00:00.000Z';
const MID = '2026-03-20T08:00:00.000Z';
const ORG: SubscriptionRef = { subscriptionId: 'sub-org', userId: 'org-1', service: 'xiaohongshu', holderKind: 'organization' };
const OWN: SubscriptionRef = { subscriptionId: 'sub-own', userId: 'user-1', service: 'xiaohongshu' };

const startOrg: SubscriptionCommand = { type: 'StartSubscription', ...ORG, plan: 'free', now: T0 };
const orgStarted: SubscriptionEvent = { type: 'SubscriptionStarted', data: { ...ORG, plan: 'free', periodStart: T0, periodEnd: null, startedAt: T0 } };

describe('Organization-held subscriptions (decider)', () => {
  it("starts an organization's subscription: the event names the holder kind, userId is the organization", () => {
    subscriptions.given([]).when(startOrg).then([orgStarted]);
  });

  it("a user's own start (holderKind absent or user) leaves the field out, as before", () => {
    const own: SubscriptionEvent = { type: 'SubscriptionStarted', data: { ...OWN, plan: 'free', periodStart: T0, periodEnd: null, startedAt: T0 } };
    subscriptions
      .given([])
      .when({ type: 'StartSubscription', ...OWN, plan: 'free', now: T0 })
      .then([own]);
    subscriptions
      .given([])
      .when({ type: 'StartSubscription', ...OWN, holderKind: 'user', plan: 'free', now: T0 })
      .then([own]);
  });

  it('refuses an unknown holder kind (VALIDATION_ERROR)', () => {
    subscriptions
      .given([])
      .when({ ...startOrg, holderKind: 'team' as never })
      .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'holderKind');
  });

  it('a repeated start of the organization subscription is a no-op', () => {
    subscriptions.given([orgStarted]).when(startOrg).then([]);
  });

  it('every later event of the organization subscription carries the holder kind', () => {
    subscriptions
      .given([orgStarted])
      .when({ type: 'ReserveResource', feature: 'account_limit', resourceId: 'acct-1', day: '2026-03-20', resetsAt: '2026-03-20T16:00:00.000Z', now: MID })
      .then([
        {
          type: 'ResourceReserved',
          data: { ...ORG, plan: 'free', feature: 'account_limit', resourceId: 'acct-1', inUse: 1, limit: 1, reservedAt: MID },
        },
      ]);
    const state = fold(subscriptionDecider, [orgStarted]);
    expect(state.status === 'active' && state.holderKind).to.equal('organization');
  });

  it('decodes events from before (no holderKind) unchanged, and the new field', () => {
    const old = { type: 'SubscriptionStarted', data: { ...OWN, plan: 'free', periodStart: T0, periodEnd: null, startedAt: T0 } };
    expect(subscriptionEvents.decode(JSON.parse(JSON.stringify(old)))).to.deep.equal(old);
    expect(subscriptionEvents.decode(JSON.parse(JSON.stringify(orgStarted)))).to.deep.equal(orgStarted);
  });
});

describe("Quota refusals name the plan that counted (an organization's for its members)", () => {
  it('the refusal after the recorded QuotaExceeded names the plan and subscription', () => {
    const terms = { subscriptionId: 'sub-org', userId: 'org-1', service: 'xiaohongshu' as const, plan: 'free' as const, planChange: 0 };
    const use = (amount: number): SubscriptionUsageCommand => ({
      type: 'ConsumeQuota',
      subscription: terms,
      feature: 'daily_api_calls',
      amount,
      day: '2026-03-20',
      resetsAt: '2026-03-20T16:00:00.000Z',
      now: MID,
    });
    let state = subscriptionUsageDecider.initialState();
    for (const amount of [50, 1]) {
      for (const event of subscriptionUsageDecider.decide(use(amount), state)) state = subscriptionUsageDecider.evolve(state, event);
    }
    expect(() => subscriptionUsageDecider.decide(use(1), state))
      .to.throw(DomainError)
      .that.satisfies((e: DomainError) => e.code === 'QUOTA_EXCEEDED' && e.details.plan === 'free' && e.details.subscriptionId === 'sub-org');
  });
});

describe('Plan orders for an organization (decider and pm-plan-on-payment)', () => {
  const EXPIRES = '2026-03-01T10:30:00.000Z';
  const create: CreatePaymentOrder = {
    type: 'CreatePaymentOrder',
    orderId: 'ord-1',
    userId: 'user-1',
    organizationId: 'org-1',
    service: 'xiaohongshu',
    plan: 'pro',
    billingCycle: 'monthly',
    amountFen: 9900,
    provider: 'alipay',
    expiresAt: EXPIRES,
    now: T0,
  };
  const created: PaymentOrderEvent = {
    type: 'PaymentOrderCreated',
    data: {
      orderId: 'ord-1',
      userId: 'user-1',
      organizationId: 'org-1',
      service: 'xiaohongshu',
      plan: 'pro',
      billingCycle: 'monthly',
      amountFen: 9900,
      provider: 'alipay',
      status: 'pending',
      expiresAt: EXPIRES,
      createdAt: T0,
    },
  };

  it('records the organization the plan is bought for, and the payment names it', () => {
    orders.given([]).when(create).then([created]);
    const paidAt = '2026-03-01T10:05:00.000Z';
    const [succeeded] = paymentOrderDecider.decide(
      { type: 'ConfirmPayment', orderId: 'ord-1', provider: 'alipay', providerTradeNo: 'T1', paidAmountFen: 9900, paidAt, now: paidAt },
      fold(paymentOrderDecider, [created]),
    );
    expect(succeeded?.type).to.equal('PaymentSucceeded');
    expect(succeeded?.type === 'PaymentSucceeded' && succeeded.data.organizationId).to.equal('org-1');
    expect(paymentOrderEvents.decode(JSON.parse(JSON.stringify(created)))).to.deep.equal(created);
  });

  it('a retried order for the user instead of the organization is other terms (CONFLICT); an empty organization id is refused', () => {
    const { organizationId: _dropped, ...forUser } = create;
    orders.given([created]).when(forUser).thenThrows<DomainError>(DomainError, is('CONFLICT'));
    orders
      .given([])
      .when({ ...create, organizationId: ' ' })
      .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'organizationId');
  });

  it("a paid order for an organization starts (if needed) and upgrades the organization's subscription", () => {
    const paid = {
      orderId: 'ord-1',
      userId: 'user-1',
      organizationId: 'org-1',
      service: 'xiaohongshu' as const,
      plan: 'pro' as const,
      billingCycle: 'monthly' as const,
      amountFen: 9900,
      provider: 'alipay' as const,
      providerTradeNo: 'T1',
      paidAt: MID,
    };
    expect(holderIdOf(paid)).to.equal('org-1');
    expect(holderIdOf({ userId: 'user-1' })).to.equal('user-1');
    const [start, change] = commandsForPayment(paid, subscriptionDecider.initialState());
    expect(start).to.include({ type: 'StartSubscription', userId: 'org-1', holderKind: 'organization', service: 'xiaohongshu', plan: 'free' });
    expect(change).to.include({ type: 'ChangePlan', plan: 'pro', orderId: 'ord-1' });
  });
});

import { expect } from 'chai';
import { fold } from '../../src/write-model/core/decider.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  renewalDue,
  subscriptionDecider,
  type ActiveSubscription,
  type RecordRenewalOrder,
  type RemindExpiry,
  type SetAutoRenew,
  type SubscriptionEvent,
  type SubscriptionRef,
  type SubscriptionState,
} from '../../src/write-model/subscription/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(subscriptionDecider);

const XHS: SubscriptionRef = { subscriptionId: 'sub-1', userId: 'user-1', service: 'xiaohongshu' };

const T0 = '2026-03-01T08:00:00.000Z'; // registered
const T1 = '2026-03-05T08:00:00.000Z'; // paid for pro
const MID = '2026-03-20T08:00:00.000Z';
const LEAD_AT = '2026-04-02T08:00:00.000Z'; // three days before the end
const END = '2026-04-05T08:00:00.000Z';
const END2 = '2026-05-05T08:00:00.000Z';
const LEAD_MS = 3 * 24 * 3600_000;

const is = (code: string) => (e: DomainError) => e.code === code;

const started = (): SubscriptionEvent => ({ type: 'SubscriptionStarted', data: { ...XHS, plan: 'free', periodStart: T0, periodEnd: null, startedAt: T0 } });
const upgraded = (): SubscriptionEvent => ({
  type: 'SubscriptionUpgraded',
  data: { ...XHS, fromPlan: 'free', toPlan: 'pro', orderId: 'order-1', periodStart: T1, periodEnd: END, previousPeriodEnd: null, upgradedAt: T1 },
});
const onPro = (): SubscriptionEvent[] => [started(), upgraded()];
const autoRenewOn = (provider: 'alipay' | 'wechat' = 'alipay', channel: 'page' | 'wap' | 'native' = 'page', at = MID): SubscriptionEvent => ({
  type: 'AutoRenewChanged',
  data: { ...XHS, enabled: true, provider, channel, changedAt: at },
});
const autoRenewOff = (at = MID): SubscriptionEvent => ({
  type: 'AutoRenewChanged',
  data: { ...XHS, enabled: false, provider: null, channel: null, changedAt: at },
});
const cancelled = (): SubscriptionEvent => ({ type: 'SubscriptionCancelled', data: { ...XHS, plan: 'pro', effectiveAt: END, cancelledAt: MID } });
const renewed = (): SubscriptionEvent => ({
  type: 'SubscriptionRenewed',
  data: { ...XHS, plan: 'pro', orderId: 'order-2', previousPeriodEnd: END, periodEnd: END2, renewedAt: LEAD_AT },
});
const expiredToFree = (): SubscriptionEvent => ({
  type: 'SubscriptionExpired',
  data: {
    ...XHS,
    fromPlan: 'pro',
    fallbackPlan: 'free',
    expiredPeriodEnd: END,
    periodStart: END,
    periodEnd: null,
    orderId: null,
    abandonedDowngrade: null,
    overLimit: [],
    expiredAt: END,
  },
});

const enable = (extra: Partial<SetAutoRenew> = {}): SetAutoRenew => ({
  type: 'SetAutoRenew',
  enabled: true,
  provider: 'alipay',
  channel: 'page',
  now: MID,
  ...extra,
});
const disable = (extra: Partial<SetAutoRenew> = {}): SetAutoRenew => ({ type: 'SetAutoRenew', enabled: false, now: MID, ...extra });

const recordOrder = (extra: Partial<RecordRenewalOrder> = {}): RecordRenewalOrder => ({
  type: 'RecordRenewalOrder',
  periodEnd: END,
  orderId: 'renewal-1',
  provider: 'alipay',
  channel: 'page',
  amountFen: 9990,
  payUrl: 'https://gateway.example/pay?x=1',
  codeUrl: null,
  orderExpiresAt: END,
  now: LEAD_AT,
  ...extra,
});
const renewalOrdered = (): SubscriptionEvent => ({
  type: 'SubscriptionRenewalOrdered',
  data: {
    ...XHS,
    plan: 'pro',
    periodEnd: END,
    orderId: 'renewal-1',
    provider: 'alipay',
    channel: 'page',
    amountFen: 9990,
    payUrl: 'https://gateway.example/pay?x=1',
    codeUrl: null,
    orderExpiresAt: END,
    orderedAt: LEAD_AT,
  },
});
const remind = (extra: Partial<RemindExpiry> = {}): RemindExpiry => ({
  type: 'RemindExpiry',
  periodEnd: END,
  reason: 'auto_renew_off',
  now: LEAD_AT,
  ...extra,
});
const reminded = (
  reason: 'auto_renew_off' | 'cancelled' | 'downgrade' | 'renewal_not_placed' = 'auto_renew_off',
  fallbackPlan: 'free' | 'basic' = 'free',
): SubscriptionEvent => ({
  type: 'SubscriptionExpiryReminded',
  data: { ...XHS, plan: 'pro', periodEnd: END, fallbackPlan, reason, remindedAt: LEAD_AT },
});

function stateAfter(history: SubscriptionEvent[]): ActiveSubscription {
  const state: SubscriptionState = fold(subscriptionDecider, history);
  if (state.status !== 'active') throw new Error('expected an active subscription');
  return state;
}

describe('Subscription aggregate: automatic renewal and reminders', () => {
  describe('SetAutoRenew', () => {
    it('turns it on for a paid plan, with the provider and channel renewal orders are placed with', () => {
      spec.given(onPro()).when(enable()).then([autoRenewOn()]);
      spec
        .given(onPro())
        .when(enable())
        .thenState({ ...stateAfter(onPro()), autoRenew: { provider: 'alipay', channel: 'page' } });
    });

    it('is a no-op when already on with the same provider and channel; another provider is a change', () => {
      spec
        .given([...onPro(), autoRenewOn()])
        .when(enable())
        .then([]);
      spec
        .given([...onPro(), autoRenewOn()])
        .when(enable({ provider: 'wechat', channel: 'native' }))
        .then([autoRenewOn('wechat', 'native')]);
    });

    it('turns it off; off again is a no-op', () => {
      spec
        .given([...onPro(), autoRenewOn()])
        .when(disable())
        .then([autoRenewOff()]);
      spec
        .given([...onPro(), autoRenewOn()])
        .when(disable())
        .thenState({ ...stateAfter(onPro()), autoRenew: null });
      spec.given(onPro()).when(disable()).then([]);
      spec.given([started()]).when(disable()).then([]);
    });

    it('refuses to turn it on for the free plan (422: it never ends) and for a cancelled subscription (409)', () => {
      spec
        .given([started()])
        .when(enable())
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && (e.details as { code?: string }).code === 'PAID_PLAN_REQUIRED');
      spec
        .given([...onPro(), cancelled()])
        .when(enable())
        .thenThrows<DomainError>(DomainError, is('CONFLICT'));
    });

    it('needs a started subscription, a provider and a channel it knows', () => {
      spec.given([]).when(enable()).thenThrows<DomainError>(DomainError, is('NOT_FOUND'));
      spec
        .given(onPro())
        .when(enable({ provider: undefined }))
        .thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
      spec
        .given(onPro())
        .when(enable({ provider: 'paypal' as never }))
        .thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
      spec
        .given(onPro())
        .when(enable({ channel: 'qr' as never }))
        .thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
    });

    it('stays on through a renewal; cancelling and falling back to free turn it off', () => {
      expect(stateAfter([...onPro(), autoRenewOn(), renewed()]).autoRenew).to.deep.equal({ provider: 'alipay', channel: 'page' });
      expect(stateAfter([...onPro(), autoRenewOn(), cancelled()]).autoRenew).to.equal(null);
      expect(stateAfter([...onPro(), autoRenewOn(), expiredToFree()]).autoRenew).to.equal(null);
    });
  });

  describe('renewalDue (what the renewal deadline does)', () => {
    const at = (iso: string) => new Date(iso);

    it('renews with automatic renewal on, reminds without, within the lead before the end only', () => {
      expect(renewalDue(stateAfter([...onPro(), autoRenewOn()]), at(LEAD_AT), LEAD_MS)).to.deep.equal({ action: 'renew', periodEnd: END });
      expect(renewalDue(stateAfter(onPro()), at(LEAD_AT), LEAD_MS)).to.deep.equal({ action: 'remind', periodEnd: END, reason: 'auto_renew_off' });
      expect(renewalDue(stateAfter(onPro()), at(MID), LEAD_MS), 'too early').to.equal(null);
      expect(renewalDue(stateAfter(onPro()), at(END), LEAD_MS), 'at the end: the expiry takes over').to.equal(null);
    });

    it('reminds a cancelled subscription or one with a downgrade pending, whatever automatic renewal says', () => {
      expect(renewalDue(stateAfter([...onPro(), cancelled()]), at(LEAD_AT), LEAD_MS)).to.deep.equal({ action: 'remind', periodEnd: END, reason: 'cancelled' });
      const downgraded: SubscriptionEvent = {
        type: 'SubscriptionDowngraded',
        data: { ...XHS, fromPlan: 'pro', toPlan: 'basic', effectiveAt: END, orderId: null, nextPeriodEnd: null, requestedAt: MID },
      };
      expect(renewalDue(stateAfter([...onPro(), autoRenewOn(), downgraded]), at(LEAD_AT), LEAD_MS)).to.deep.equal({
        action: 'remind',
        periodEnd: END,
        reason: 'downgrade',
      });
    });

    it('has nothing to do on free, once done for the period, or for a period renewed meanwhile', () => {
      expect(renewalDue(stateAfter([started()]), at(LEAD_AT), LEAD_MS)).to.equal(null);
      expect(renewalDue(stateAfter([...onPro(), autoRenewOn(), renewalOrdered()]), at(LEAD_AT), LEAD_MS)).to.equal(null);
      expect(renewalDue(stateAfter([...onPro(), reminded()]), at(LEAD_AT), LEAD_MS)).to.equal(null);
      expect(renewalDue(stateAfter([...onPro(), renewed()]), at(LEAD_AT), LEAD_MS), 'the new period is far from its end').to.equal(null);
    });
  });

  describe('RecordRenewalOrder', () => {
    it('records the renewal order placed for the period (once per period end)', () => {
      spec
        .given([...onPro(), autoRenewOn()])
        .when(recordOrder())
        .then([renewalOrdered()]);
      spec
        .given([...onPro(), autoRenewOn()])
        .when(recordOrder())
        .thenState({ ...stateAfter([...onPro(), autoRenewOn()]), remindedFor: END });
      spec
        .given([...onPro(), autoRenewOn(), renewalOrdered()])
        .when(recordOrder({ orderId: 'renewal-2' }))
        .then([]);
      spec
        .given([...onPro(), reminded()])
        .when(recordOrder())
        .then([]);
    });

    it('is a no-op at or after the end (late) and on free; a period end that is not the current one is a CONFLICT (superseded)', () => {
      spec
        .given([...onPro(), autoRenewOn()])
        .when(recordOrder({ now: END }))
        .then([]);
      spec
        .given([...onPro(), autoRenewOn(), expiredToFree()])
        .when(recordOrder())
        .then([]);
      spec
        .given([...onPro(), autoRenewOn(), renewed()])
        .when(recordOrder())
        .thenThrows<DomainError>(DomainError, is('CONFLICT'));
    });

    it('a renewed period can be reminded of again at its own end', () => {
      spec
        .given([...onPro(), autoRenewOn(), renewalOrdered(), renewed()])
        .when(recordOrder({ periodEnd: END2, orderId: 'renewal-3', now: '2026-05-02T08:00:00.000Z' }))
        .then([
          {
            type: 'SubscriptionRenewalOrdered',
            data: { ...(renewalOrdered().data as object), periodEnd: END2, orderId: 'renewal-3', orderedAt: '2026-05-02T08:00:00.000Z' } as never,
          },
        ]);
    });

    it('validates what it records', () => {
      spec
        .given(onPro())
        .when(recordOrder({ orderId: '' }))
        .thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
      spec
        .given(onPro())
        .when(recordOrder({ amountFen: 0 }))
        .thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
      spec
        .given(onPro())
        .when(recordOrder({ periodEnd: 'soon' }))
        .thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
      spec.given([]).when(recordOrder()).thenThrows<DomainError>(DomainError, is('NOT_FOUND'));
    });
  });

  describe('RemindExpiry', () => {
    it('reminds that the period ends and what follows (free, or the paid downgrade)', () => {
      spec.given(onPro()).when(remind()).then([reminded()]);
      spec
        .given([...onPro(), cancelled()])
        .when(remind({ reason: 'cancelled' }))
        .then([reminded('cancelled')]);
      const paidDowngrade: SubscriptionEvent = {
        type: 'SubscriptionDowngraded',
        data: { ...XHS, fromPlan: 'pro', toPlan: 'basic', effectiveAt: END, orderId: 'order-b', nextPeriodEnd: END2, requestedAt: MID },
      };
      spec
        .given([...onPro(), paidDowngrade])
        .when(remind({ reason: 'downgrade' }))
        .then([reminded('downgrade', 'basic')]);
    });

    it('once per period end; late → no-op; superseded → CONFLICT', () => {
      spec
        .given([...onPro(), reminded()])
        .when(remind())
        .then([]);
      spec
        .given(onPro())
        .when(remind({ now: END }))
        .then([]);
      spec
        .given([...onPro(), renewed()])
        .when(remind())
        .thenThrows<DomainError>(DomainError, is('CONFLICT'));
      spec
        .given(onPro())
        .when(remind({ reason: 'because' as never }))
        .thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
    });
  });
});

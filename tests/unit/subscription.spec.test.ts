import { expect } from 'chai';
import { fold } from '../../src/write-model/core/decider.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  subscriptionDecider,
  subscriptionStream,
  type ActiveSubscription,
  type ChangePlan,
  type ReserveResource,
  type SubscriptionCommand,
  type SubscriptionEvent,
  type SubscriptionRef,
  type SubscriptionState,
} from '../../src/write-model/subscription/index.js';
import { ResourceLimitReached } from '../../src/write-model/subscription/quota-refusal.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(subscriptionDecider);

const XHS: SubscriptionRef = { subscriptionId: 'sub-1', userId: 'user-1', service: 'xiaohongshu' };
const QD: SubscriptionRef = { subscriptionId: 'sub-2', userId: 'user-1', service: 'qidian' };

// times
const T0 = '2026-03-01T08:00:00.000Z'; // registered
const T1 = '2026-03-05T08:00:00.000Z'; // paid for pro
const MID = '2026-03-20T08:00:00.000Z'; // during the paid period
const END = '2026-04-05T08:00:00.000Z'; // end of the paid period
const AFTER = '2026-04-05T08:00:01.000Z';
const END2 = '2026-05-05T08:00:00.000Z'; // end of the next period

// days (Asia/Shanghai, computed by the caller)
const DAY1 = '2026-03-20';
const RESETS1 = '2026-03-20T16:00:00.000Z';
const DAY2 = '2026-03-21';
const RESETS2 = '2026-03-21T16:00:00.000Z';

const is = (code: string) => (e: DomainError) => e.code === code;

// ---------------------------------------------------------------- event builders

function started(ref: SubscriptionRef = XHS): SubscriptionEvent {
  return { type: 'SubscriptionStarted', data: { ...ref, plan: 'free', periodStart: T0, periodEnd: null, startedAt: T0 } };
}

function upgraded(
  toPlan: 'basic' | 'pro' | 'enterprise' = 'pro',
  fromPlan: 'free' | 'basic' | 'pro' = 'free',
  orderId = 'order-1',
  ref: SubscriptionRef = XHS,
): SubscriptionEvent {
  return {
    type: 'SubscriptionUpgraded',
    data: {
      ...ref,
      fromPlan,
      toPlan,
      orderId,
      periodStart: T1,
      periodEnd: END,
      previousPeriodEnd: fromPlan === 'free' ? null : END,
      upgradedAt: T1,
    },
  };
}

/** free → pro, paid by order-1, period T1 → END */
const onPro = (ref: SubscriptionRef = XHS): SubscriptionEvent[] => [started(ref), upgraded('pro', 'free', 'order-1', ref)];

function downgraded(toPlan: 'free' | 'basic', paid?: { orderId: string; nextPeriodEnd: string }): SubscriptionEvent {
  return {
    type: 'SubscriptionDowngraded',
    data: {
      ...XHS,
      fromPlan: 'pro',
      toPlan,
      effectiveAt: END,
      orderId: paid?.orderId ?? null,
      nextPeriodEnd: paid?.nextPeriodEnd ?? null,
      requestedAt: MID,
    },
  };
}

function cancelled(): SubscriptionEvent {
  return { type: 'SubscriptionCancelled', data: { ...XHS, plan: 'pro', effectiveAt: END, cancelledAt: MID } };
}

function reserved(
  resourceId: string,
  inUse: number,
  limit: number | null,
  feature: 'account_limit' | 'automation_workflows' | 'novel_tracking_limit' = 'account_limit',
  plan: 'free' | 'pro' = 'free',
  ref: SubscriptionRef = XHS,
): SubscriptionEvent {
  return { type: 'ResourceReserved', data: { ...ref, plan, feature, resourceId, inUse, limit, reservedAt: MID } };
}

// ---------------------------------------------------------------- command builders

const reserve = (resourceId: string, feature: ReserveResource['feature'] = 'account_limit', day = DAY1, resetsAt = RESETS1): ReserveResource => ({
  type: 'ReserveResource',
  feature,
  resourceId,
  day,
  resetsAt,
  now: MID,
});

const changePlan = (plan: ChangePlan['plan'], extra: Partial<ChangePlan> = {}): ChangePlan => ({ type: 'ChangePlan', plan, now: MID, ...extra });

function stateAfter(history: SubscriptionEvent[]): ActiveSubscription {
  const state: SubscriptionState = fold(subscriptionDecider, history);
  if (state.status !== 'active') throw new Error('expected an active subscription');
  return state;
}

// ---------------------------------------------------------------- specs

describe('Subscription aggregate', () => {
  it('names its stream subscription-{userId}_{service}', () => {
    expect(subscriptionStream('user-1', 'qidian')).to.equal('subscription-user-1_qidian');
  });

  describe('StartSubscription', () => {
    const startFree: SubscriptionCommand = { type: 'StartSubscription', ...XHS, plan: 'free', now: T0 };

    it('starts the free plan, which has no period end', () => {
      spec.given([]).when(startFree).then([started()]);
    });

    it('starts a paid plan with its period', () => {
      spec
        .given([])
        .when({ type: 'StartSubscription', ...QD, plan: 'basic', periodEnd: END, now: T1 })
        .then([{ type: 'SubscriptionStarted', data: { ...QD, plan: 'basic', periodStart: T1, periodEnd: END, startedAt: T1 } }]);
    });

    it('leaves the state active on free, with nothing used or held', () => {
      const state = stateAfter([started()]);
      expect(state).to.include({ status: 'active', plan: 'free', periodEnd: null, cancelAtPeriodEnd: false, pendingDowngrade: null });
      expect(state.reservations).to.deep.equal({});
      expect(state.planChange).to.equal(0);
    });

    it('is a no-op when repeated with the plan it started with, even after an upgrade', () => {
      spec.given([started()]).when(startFree).then([]);
      spec.given(onPro()).when(startFree).then([]);
    });

    it('refuses a start with another plan once started', () => {
      spec
        .given([started()])
        .when({ type: 'StartSubscription', ...XHS, plan: 'pro', periodEnd: END, now: T1 })
        .thenThrows<DomainError>(DomainError, is('CONFLICT'));
    });

    it('refuses a paid plan without a period end, or one that has passed', () => {
      spec
        .given([])
        .when({ type: 'StartSubscription', ...XHS, plan: 'pro', now: T0 })
        .thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
      spec
        .given([])
        .when({ type: 'StartSubscription', ...XHS, plan: 'pro', periodEnd: T0, now: T1 })
        .thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
    });

    it('refuses a period end for the free plan', () => {
      spec
        .given([])
        .when({ type: 'StartSubscription', ...XHS, plan: 'free', periodEnd: END, now: T0 })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'periodEnd');
    });

    it('refuses an unknown service or plan, an empty user, a time without a zone', () => {
      const bad = [
        { ...startFree, service: 'douyin' },
        { ...startFree, plan: 'gold' },
        { ...startFree, userId: '' },
        { ...startFree, now: '2026-03-01 08:00' },
      ] as unknown as SubscriptionCommand[];
      for (const command of bad) spec.given([]).when(command).thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
    });
  });

  describe('ChangePlan', () => {
    it('needs a started subscription', () => {
      spec
        .given([])
        .when(changePlan('pro', { orderId: 'order-1', periodEnd: END }))
        .thenThrows<DomainError>(DomainError, is('NOT_FOUND'));
    });

    it('upgrades at once; a paid order starts a new period now', () => {
      spec
        .given([started()])
        .when(changePlan('pro', { orderId: 'order-1', periodEnd: END, now: T1 }))
        .then([upgraded('pro', 'free', 'order-1')]);
      spec
        .given([started(), upgraded('basic', 'free', 'order-1')])
        .when(changePlan('enterprise', { orderId: 'order-2', periodEnd: END2 }))
        .then([
          {
            type: 'SubscriptionUpgraded',
            data: {
              ...XHS,
              fromPlan: 'basic',
              toPlan: 'enterprise',
              orderId: 'order-2',
              periodStart: MID,
              periodEnd: END2,
              previousPeriodEnd: END,
              upgradedAt: MID,
            },
          },
        ]);
    });

    it('puts the higher plan in force at once', () => {
      const state = stateAfter(onPro());
      expect(state).to.include({ plan: 'pro', periodStart: T1, periodEnd: END });
      expect(state.appliedOrders).to.deep.equal({ 'order-1': true });
      expect(state.planChange).to.equal(1);
    });

    it('upgrades without an order (an operator grant) keeping the period', () => {
      spec
        .given([started(), upgraded('basic', 'free', 'order-1')])
        .when(changePlan('pro'))
        .then([
          {
            type: 'SubscriptionUpgraded',
            data: { ...XHS, fromPlan: 'basic', toPlan: 'pro', orderId: null, periodStart: T1, periodEnd: END, previousPeriodEnd: END, upgradedAt: MID },
          },
        ]);
    });

    it('refuses an upgrade from free without a period end, and a paid upgrade without the period it paid for', () => {
      spec.given([started()]).when(changePlan('pro')).thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
      spec
        .given([started()])
        .when(changePlan('pro', { orderId: 'order-1' }))
        .thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
      spec
        .given([started()])
        .when(changePlan('pro', { orderId: 'order-1', periodEnd: T0 }))
        .thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
    });

    it('clears a pending downgrade and a cancellation on upgrade', () => {
      const history = [...onPro(), downgraded('basic')];
      spec
        .given(history)
        .when(changePlan('enterprise', { orderId: 'order-2', periodEnd: END2 }))
        .thenState({
          ...stateAfter(history),
          plan: 'enterprise',
          periodStart: MID,
          periodEnd: END2,
          pendingDowngrade: null,
          appliedOrders: { 'order-1': true, 'order-2': true },
          planOrders: { 'order-2': true },
          planChange: 2,
          lastPaidAt: MID,
        });
      const state = stateAfter([...onPro(), cancelled(), upgraded('enterprise', 'pro', 'order-2')]);
      expect(state.cancelAtPeriodEnd).to.equal(false);
    });

    it('refuses an upgrade ordered before the plan in force was last paid for, while that paid period runs (paid_since_order)', () => {
      const BEFORE_T1 = '2026-03-04T08:00:00.000Z';
      const paidSince = (e: DomainError) => e.code === 'CONFLICT' && e.details.reason === 'paid_since_order' && e.details.lastPaidAt === T1;
      // two checkouts: pro (order-1, paid at T1) and enterprise (order-2, ordered before T1, paid at MID)
      spec
        .given(onPro())
        .when(changePlan('enterprise', { orderId: 'order-2', periodEnd: END2, orderedAt: BEFORE_T1 }))
        .thenThrows<DomainError>(DomainError, paidSince);
      // a renewal paid after the order was placed counts as well
      const renewed: SubscriptionEvent = {
        type: 'SubscriptionRenewed',
        data: { ...XHS, plan: 'pro', orderId: 'order-3', previousPeriodEnd: END, periodEnd: END2, renewedAt: MID },
      };
      spec
        .given([...onPro(), renewed])
        .when(changePlan('enterprise', { orderId: 'order-2', periodEnd: END2, orderedAt: T1, now: '2026-03-21T08:00:00.000Z' }))
        .thenThrows<DomainError>(DomainError, (e: DomainError) => e.code === 'CONFLICT' && e.details.reason === 'paid_since_order');
    });

    it('upgrades with an order placed after the last payment, or once that paid period has ended, or with no order time (older payments)', () => {
      const upgradedAt = (orderedAt: string | undefined, now = MID) =>
        spec.given(onPro()).when(changePlan('enterprise', { orderId: 'order-2', periodEnd: END2, now, ...(orderedAt === undefined ? {} : { orderedAt }) }));
      const event = (now: string, previousPeriodEnd = END): SubscriptionEvent => ({
        type: 'SubscriptionUpgraded',
        data: { ...XHS, fromPlan: 'pro', toPlan: 'enterprise', orderId: 'order-2', periodStart: now, periodEnd: END2, previousPeriodEnd, upgradedAt: now },
      });
      upgradedAt('2026-03-10T08:00:00.000Z').then([event(MID)]);
      upgradedAt(undefined).then([event(MID)]);
      // ordered before T1 but paid after pro's period ended (nothing left of it to lose)
      upgradedAt('2026-03-04T08:00:00.000Z', AFTER).then([event(AFTER)]);
      expect(stateAfter(onPro()).lastPaidAt, 'the paid upgrade is the last payment').to.equal(T1);
      expect(stateAfter([started()]).lastPaidAt, 'never paid').to.equal(undefined);
    });

    it('keeps a paid pending downgrade on upgrade, its paid period moved to follow the new one', () => {
      // pro until END, basic paid for END → END2 (a month); enterprise bought at MID until END2
      const paidDown = downgraded('basic', { orderId: 'order-2', nextPeriodEnd: END2 });
      const history = [...onPro(), paidDown];
      const moved = new Date(Date.parse(END2) + (Date.parse(END2) - Date.parse(END))).toISOString();
      spec
        .given(history)
        .when(changePlan('enterprise', { orderId: 'order-3', periodEnd: END2 }))
        .then([
          {
            type: 'SubscriptionUpgraded',
            data: {
              ...XHS,
              fromPlan: 'pro',
              toPlan: 'enterprise',
              orderId: 'order-3',
              periodStart: MID,
              periodEnd: END2,
              previousPeriodEnd: END,
              upgradedAt: MID,
              pendingDowngradePeriodEnd: moved,
            },
          },
        ]);
      spec
        .given(history)
        .when(changePlan('enterprise', { orderId: 'order-3', periodEnd: END2 }))
        .thenState({
          ...stateAfter(history),
          plan: 'enterprise',
          periodStart: MID,
          periodEnd: END2,
          pendingDowngrade: { plan: 'basic', orderId: 'order-2', periodEnd: moved },
          appliedOrders: { 'order-1': true, 'order-2': true, 'order-3': true },
          planOrders: { 'order-3': true },
          planChange: 2,
        });
    });

    it('is a no-op for an order already applied, and for the same plan', () => {
      spec
        .given(onPro())
        .when(changePlan('pro', { orderId: 'order-1', periodEnd: END, now: T1 }))
        .then([]);
      spec
        .given(onPro())
        .when(changePlan('enterprise', { orderId: 'order-1', periodEnd: END }))
        .then([]);
      spec.given(onPro()).when(changePlan('pro')).then([]);
      spec.given([started()]).when(changePlan('free')).then([]);
    });

    it('refuses a new order for the current plan (that is a renewal)', () => {
      spec
        .given(onPro())
        .when(changePlan('pro', { orderId: 'order-2', periodEnd: END2 }))
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'CONFLICT' && e.details.orderId === 'order-2');
    });

    it('downgrades at the end of the period, keeping the current plan until then', () => {
      spec
        .given(onPro())
        .when(changePlan('basic'))
        .then([downgraded('basic')]);
      spec
        .given(onPro())
        .when(changePlan('basic'))
        .thenState({ ...stateAfter(onPro()), plan: 'pro', pendingDowngrade: { plan: 'basic', orderId: null, periodEnd: null } });
    });

    it('records a paid downgrade with the next period it paid for', () => {
      spec
        .given(onPro())
        .when(changePlan('basic', { orderId: 'order-2', periodEnd: END2 }))
        .then([downgraded('basic', { orderId: 'order-2', nextPeriodEnd: END2 })]);
    });

    it('is a no-op for the pending downgrade again, and for a downgrade to free once cancelled', () => {
      spec
        .given([...onPro(), downgraded('basic')])
        .when(changePlan('basic'))
        .then([]);
      spec
        .given([...onPro(), cancelled()])
        .when(changePlan('free'))
        .then([]);
    });

    it('replaces a pending downgrade and clears a cancellation', () => {
      spec
        .given([...onPro(), downgraded('basic')])
        .when(changePlan('free'))
        .then([downgraded('free')]);
      spec
        .given([...onPro(), cancelled()])
        .when(changePlan('basic'))
        .thenState({ ...stateAfter(onPro()), cancelAtPeriodEnd: false, pendingDowngrade: { plan: 'basic', orderId: null, periodEnd: null } });
    });

    it('refuses any other downgrade while a paid one is pending (its order would pay for nothing)', () => {
      const history = [...onPro(), downgraded('basic', { orderId: 'order-2', nextPeriodEnd: END2 })];
      spec
        .given(history)
        .when(changePlan('free'))
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'CONFLICT' && e.details.pendingOrderId === 'order-2' && e.details.plan === 'free');
      spec
        .given(history)
        .when(changePlan('basic', { orderId: 'order-3', periodEnd: END2 }))
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'CONFLICT' && e.details.orderId === 'order-3' && e.details.pendingDowngrade === 'basic');
      // asking for the downgrade that is pending changes nothing
      spec.given(history).when(changePlan('basic')).then([]);
    });

    it('refuses a downgrade while more resources are held than the lower plan allows', () => {
      const held = [
        reserved('acc-1', 1, 20, 'account_limit', 'pro'),
        reserved('acc-2', 2, 20, 'account_limit', 'pro'),
        reserved('wf-1', 1, 10, 'automation_workflows', 'pro'),
        reserved('wf-2', 2, 10, 'automation_workflows', 'pro'),
      ];
      spec
        .given([...onPro(), ...held])
        .when(changePlan('free'))
        .thenThrows<DomainError>(
          DomainError,
          (e) =>
            e.code === 'CONFLICT' &&
            JSON.stringify(e.details.violations) ===
              JSON.stringify([
                { feature: 'account_limit', inUse: 2, limit: 1 },
                { feature: 'automation_workflows', inUse: 2, limit: 1 },
              ]),
        );
      // basic allows 5 accounts and 3 workflows
      spec
        .given([...onPro(), ...held])
        .when(changePlan('basic'))
        .then([downgraded('basic')]);
    });

    it('refuses an order for free, a period end without an order, a paid next period that does not follow on', () => {
      spec
        .given(onPro())
        .when(changePlan('free', { orderId: 'order-2', periodEnd: END2 }))
        .thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
      spec
        .given(onPro())
        .when(changePlan('basic', { periodEnd: END2 }))
        .thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
      spec
        .given(onPro())
        .when(changePlan('basic', { orderId: 'order-2', periodEnd: END }))
        .thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
      spec
        .given(onPro())
        .when(changePlan('basic', { orderId: 'order-2' }))
        .thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
    });

    it('refuses an unknown plan', () => {
      spec
        .given(onPro())
        .when(changePlan('platinum' as ChangePlan['plan']))
        .thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
    });
  });

  describe('RenewSubscription', () => {
    const renew: SubscriptionCommand = { type: 'RenewSubscription', orderId: 'order-2', periodEnd: END2, now: MID };
    const renewed: SubscriptionEvent = {
      type: 'SubscriptionRenewed',
      data: { ...XHS, plan: 'pro', orderId: 'order-2', previousPeriodEnd: END, periodEnd: END2, renewedAt: MID },
    };

    it('extends the paid period', () => {
      spec.given(onPro()).when(renew).then([renewed]);
      spec
        .given(onPro())
        .when(renew)
        .thenState({
          ...stateAfter(onPro()),
          periodEnd: END2,
          appliedOrders: { 'order-1': true, 'order-2': true },
          planOrders: { 'order-1': true, 'order-2': true },
          lastPaidAt: MID,
        });
      expect(stateAfter([...onPro(), renewed]).planChange, 'a renewal changes no plan').to.equal(1);
    });

    it('renews a period that ended but has not been expired yet', () => {
      spec
        .given(onPro())
        .when({ ...renew, now: AFTER })
        .then([{ ...renewed, data: { ...renewed.data, renewedAt: AFTER } } as SubscriptionEvent]);
    });

    it('is a no-op for an order already applied (renewal or upgrade)', () => {
      spec
        .given([...onPro(), renewed])
        .when(renew)
        .then([]);
      spec
        .given(onPro())
        .when({ ...renew, orderId: 'order-1' })
        .then([]);
    });

    it('clears a cancellation and an unpaid pending downgrade', () => {
      const s1 = stateAfter([...onPro(), cancelled(), renewed]);
      expect(s1.cancelAtPeriodEnd).to.equal(false);
      const s2 = stateAfter([...onPro(), downgraded('basic'), renewed]);
      expect(s2.pendingDowngrade).to.equal(null);
    });

    it('keeps a paid pending downgrade, its paid period moved back by the renewal', () => {
      const history = [...onPro(), downgraded('basic', { orderId: 'order-3', nextPeriodEnd: END2 })];
      const moved = new Date(Date.parse(END2) + (Date.parse(END2) - Date.parse(END))).toISOString();
      const kept = { ...renewed, data: { ...renewed.data, pendingDowngradePeriodEnd: moved } } as SubscriptionEvent;
      spec.given(history).when(renew).then([kept]);
      const state = stateAfter([...history, kept]);
      expect(state.pendingDowngrade).to.deep.equal({ plan: 'basic', orderId: 'order-3', periodEnd: moved });
      // at the renewed period's end the paid basic period follows, as long as it was paid for
      spec
        .given([...history, kept])
        .when({ type: 'ExpireSubscription', now: END2 })
        .then([
          {
            type: 'SubscriptionExpired',
            data: {
              ...XHS,
              fromPlan: 'pro',
              fallbackPlan: 'basic',
              expiredPeriodEnd: END2,
              periodStart: END2,
              periodEnd: moved,
              orderId: 'order-3',
              abandonedDowngrade: null,
              overLimit: [],
              expiredAt: END2,
            },
          },
        ]);
    });

    it('refuses to renew the free plan', () => {
      spec.given([started()]).when(renew).thenThrows<DomainError>(DomainError, is('CONFLICT'));
    });

    it('refuses a period end that does not extend the period', () => {
      spec
        .given(onPro())
        .when({ ...renew, periodEnd: END })
        .thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
      spec
        .given(onPro())
        .when({ ...renew, periodEnd: 'next month' })
        .thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
    });

    it('needs a started subscription and an order', () => {
      spec.given([]).when(renew).thenThrows<DomainError>(DomainError, is('NOT_FOUND'));
      spec
        .given(onPro())
        .when({ ...renew, orderId: '' })
        .thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
    });
  });

  describe('CancelSubscription', () => {
    const cancel: SubscriptionCommand = { type: 'CancelSubscription', now: MID };

    it('cancels at the end of the period', () => {
      spec.given(onPro()).when(cancel).then([cancelled()]);
      spec
        .given(onPro())
        .when(cancel)
        .thenState({ ...stateAfter(onPro()), plan: 'pro', cancelAtPeriodEnd: true });
    });

    it('is a no-op when already cancelled', () => {
      spec
        .given([...onPro(), cancelled()])
        .when(cancel)
        .then([]);
    });

    it('drops an unpaid pending downgrade', () => {
      spec
        .given([...onPro(), downgraded('basic')])
        .when(cancel)
        .thenState({ ...stateAfter(onPro()), cancelAtPeriodEnd: true, pendingDowngrade: null });
    });

    it('refuses while a downgrade with a paid next period is pending', () => {
      spec
        .given([...onPro(), downgraded('basic', { orderId: 'order-2', nextPeriodEnd: END2 })])
        .when(cancel)
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'CONFLICT' && e.details.orderId === 'order-2');
    });

    it('refuses to cancel the free plan', () => {
      spec.given([started()]).when(cancel).thenThrows<DomainError>(DomainError, is('CONFLICT'));
    });

    it('needs a started subscription', () => {
      spec.given([]).when(cancel).thenThrows<DomainError>(DomainError, is('NOT_FOUND'));
    });
  });

  describe('ExpireSubscription', () => {
    const expire: SubscriptionCommand = { type: 'ExpireSubscription', now: END };

    function expired(over: Partial<Extract<SubscriptionEvent, { type: 'SubscriptionExpired' }>['data']> = {}): SubscriptionEvent {
      return {
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
          ...over,
        },
      };
    }

    it('falls back to free once the period has ended', () => {
      spec.given(onPro()).when(expire).then([expired()]);
      spec
        .given(onPro())
        .when({ ...expire, now: AFTER })
        .then([expired({ expiredAt: AFTER })]);
      spec
        .given(onPro())
        .when(expire)
        .thenState({ ...stateAfter(onPro()), plan: 'free', planChange: 2, periodStart: END, periodEnd: null, planOrders: {} });
    });

    it('falls back to free when cancelled', () => {
      spec
        .given([...onPro(), cancelled()])
        .when(expire)
        .then([expired()]);
    });

    it('applies a pending downgrade whose next period was paid', () => {
      const history = [...onPro(), downgraded('basic', { orderId: 'order-2', nextPeriodEnd: END2 })];
      spec
        .given(history)
        .when(expire)
        .then([expired({ fallbackPlan: 'basic', periodEnd: END2, orderId: 'order-2' })]);
      spec
        .given(history)
        .when(expire)
        .thenState({
          ...stateAfter(history),
          plan: 'basic',
          planChange: 2,
          periodStart: END,
          periodEnd: END2,
          pendingDowngrade: null,
          planOrders: { 'order-2': true },
        });
    });

    it('applies a pending downgrade to free', () => {
      spec
        .given([...onPro(), downgraded('free')])
        .when(expire)
        .then([expired()]);
    });

    it('falls back to free, not to a lower paid plan nobody paid for', () => {
      spec
        .given([...onPro(), downgraded('basic')])
        .when(expire)
        .then([expired({ abandonedDowngrade: 'basic' })]);
    });

    it('lists the resources held beyond the fallback plan without refusing', () => {
      const held = [reserved('acc-1', 1, 20, 'account_limit', 'pro'), reserved('acc-2', 2, 20, 'account_limit', 'pro')];
      spec
        .given([...onPro(), ...held])
        .when(expire)
        .then([expired({ overLimit: [{ feature: 'account_limit', inUse: 2, limit: 1 }] })]);
    });

    it('counts a plan change (the daily usage streams record going over the new limit again)', () => {
      expect(stateAfter([...onPro(), expired()]).planChange).to.equal(2);
      expect(stateAfter([...onPro(), cancelled()]).planChange, 'a cancellation changes no plan yet').to.equal(1);
      expect(stateAfter([...onPro(), downgraded('basic')]).planChange, 'nor does a scheduled downgrade').to.equal(1);
    });

    it('refuses before the end of the period', () => {
      spec
        .given(onPro())
        .when({ ...expire, now: MID })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'CONFLICT' && e.details.periodEnd === END);
    });

    it('refuses to expire the free plan', () => {
      spec.given([started()]).when(expire).thenThrows<DomainError>(DomainError, is('CONFLICT'));
    });

    it('needs a started subscription', () => {
      spec.given([]).when(expire).thenThrows<DomainError>(DomainError, is('NOT_FOUND'));
    });
  });

  describe('RevokePaidPlan (an order refunded in full)', () => {
    const revoke = (orderId: string, now = MID): SubscriptionCommand => ({ type: 'RevokePaidPlan', orderId, now });
    const revoked = (over: Record<string, unknown> = {}): SubscriptionEvent =>
      ({
        type: 'SubscriptionExpired',
        data: {
          ...XHS,
          fromPlan: 'pro',
          fallbackPlan: 'free',
          expiredPeriodEnd: END,
          periodStart: MID,
          periodEnd: null,
          orderId: null,
          abandonedDowngrade: null,
          overLimit: [],
          expiredAt: MID,
          refundedOrderId: 'order-1',
          ...over,
        },
      }) as SubscriptionEvent;

    it('ends the paid period now when the order paid for the plan in force, back to free', () => {
      spec.given(onPro()).when(revoke('order-1')).then([revoked()]);
      spec
        .given(onPro())
        .when(revoke('order-1'))
        .thenState({ ...stateAfter(onPro()), plan: 'free', planChange: 2, periodStart: MID, periodEnd: null, planOrders: {} });
    });

    it('a renewal order pays for the plan in force too', () => {
      const renewed: SubscriptionEvent = {
        type: 'SubscriptionRenewed',
        data: { ...XHS, plan: 'pro', orderId: 'order-2', previousPeriodEnd: END, periodEnd: '2026-05-05T08:00:00.000Z', renewedAt: MID },
      };
      spec
        .given([...onPro(), renewed])
        .when(revoke('order-2'))
        .then([revoked({ refundedOrderId: 'order-2', expiredPeriodEnd: '2026-05-05T08:00:00.000Z' })]);
    });

    it('is a no-op for an order that pays for nothing in force, a repeat, or the free plan', () => {
      spec.given(onPro()).when(revoke('order-9')).then([]);
      spec
        .given([...onPro(), revoked()])
        .when(revoke('order-1'))
        .then([]);
      spec.given([started()]).when(revoke('order-1')).then([]);
      // the plan bought by order-1 has expired since: order-1 no longer pays for anything
      const lapsed = [
        ...onPro(),
        {
          type: 'SubscriptionExpired',
          data: { ...(revoked().data as object), periodStart: END, expiredAt: END, refundedOrderId: undefined },
        } as SubscriptionEvent,
      ];
      spec.given(lapsed).when(revoke('order-1')).then([]);
    });

    it('drops a pending paid downgrade (its order is refunded on its own)', () => {
      const history = [...onPro(), downgraded('basic', { orderId: 'order-2', nextPeriodEnd: '2026-05-05T08:00:00.000Z' })];
      spec
        .given(history)
        .when(revoke('order-1'))
        .then([revoked({ abandonedDowngrade: 'basic' })]);
    });

    it("the refund of a pending downgrade's paid period leaves it pending, unpaid: back to free at the end, and replaceable", () => {
      const history = [...onPro(), downgraded('basic', { orderId: 'order-2', nextPeriodEnd: END2 })];
      const refunded: SubscriptionEvent = {
        type: 'SubscriptionDowngradeRefunded',
        data: { ...XHS, plan: 'basic', orderId: 'order-2', effectiveAt: END, refundedAt: MID },
      };
      spec.given(history).when(revoke('order-2')).then([refunded]);
      spec
        .given(history)
        .when(revoke('order-2'))
        .thenState({ ...stateAfter(history), pendingDowngrade: { plan: 'basic', orderId: null, periodEnd: null } });
      // a repeat finds it unpaid: nothing
      spec
        .given([...history, refunded])
        .when(revoke('order-2'))
        .then([]);
      // the plan in force stays; at its end nobody paid for basic: free
      spec
        .given([...history, refunded])
        .when({ type: 'ExpireSubscription', now: END })
        .then([
          {
            type: 'SubscriptionExpired',
            data: {
              ...XHS,
              fromPlan: 'pro',
              fallbackPlan: 'free',
              expiredPeriodEnd: END,
              periodStart: END,
              periodEnd: null,
              orderId: null,
              abandonedDowngrade: 'basic',
              overLimit: [],
              expiredAt: END,
            },
          },
        ]);
      // what the paid one blocked is allowed again
      spec
        .given([...history, refunded])
        .when(changePlan('free'))
        .then([downgraded('free')]);
    });

    it('needs a started subscription', () => {
      spec.given([]).when(revoke('order-1')).thenThrows<DomainError>(DomainError, is('NOT_FOUND'));
    });
  });

  describe('ReserveResource', () => {
    /** the refusal at the limit: nothing appended here, the overrun for the day's usage stream */
    const refusedAt =
      (resourceId: string, over: { used?: number; limit?: number; plan?: 'free' | 'pro'; planChange?: number; day?: string; resetsAt?: string } = {}) =>
      (e: ResourceLimitReached) =>
        e.code === 'QUOTA_EXCEEDED' &&
        JSON.stringify(e.details) ===
          // a held resource comes back when one is released, not at a time: no reset is named (the usage stream's day is in the overrun)
          JSON.stringify({ feature: 'account_limit', limit: over.limit ?? 1, resetsAt: null, used: over.used ?? 1 }) &&
        JSON.stringify(e.overrun) ===
          JSON.stringify({
            subscription: { ...XHS, plan: over.plan ?? 'free', planChange: over.planChange ?? 0 },
            feature: 'account_limit',
            limit: over.limit ?? 1,
            used: over.used ?? 1,
            resourceId,
            day: over.day ?? DAY1,
            resetsAt: over.resetsAt ?? RESETS1,
            now: MID,
          });

    it('reserves within the limit', () => {
      spec
        .given([started()])
        .when(reserve('acc-1'))
        .then([reserved('acc-1', 1, 1)]);
      spec
        .given([started(QD)])
        .when(reserve('novel-1', 'novel_tracking_limit'))
        .then([reserved('novel-1', 1, 10, 'novel_tracking_limit', 'free', QD)]);
      spec
        .given([started()])
        .when(reserve('acc-1'))
        .thenState({ ...stateAfter([started()]), reservations: { account_limit: { count: 1, ids: { 'acc-1': true } } } });
    });

    it('is a no-op for a resource already reserved, even at the limit', () => {
      spec
        .given([started(), reserved('acc-1', 1, 1)])
        .when(reserve('acc-1'))
        .then([]);
    });

    it("refuses at the limit with the overrun the day's usage stream records (nothing appended here)", () => {
      const history = [started(), reserved('acc-1', 1, 1)];
      spec.given(history).when(reserve('acc-2')).thenThrows<ResourceLimitReached>(ResourceLimitReached, refusedAt('acc-2'));
      spec
        .given(history)
        .when(reserve('acc-3', 'account_limit', DAY2, RESETS2))
        .thenThrows<ResourceLimitReached>(ResourceLimitReached, refusedAt('acc-3', { day: DAY2, resetsAt: RESETS2 }));
    });

    it('reserves again once one is released', () => {
      const history: SubscriptionEvent[] = [
        started(),
        reserved('acc-1', 1, 1),
        { type: 'ResourceReleased', data: { ...XHS, plan: 'free', feature: 'account_limit', resourceId: 'acc-1', inUse: 0, releasedAt: MID } },
      ];
      spec
        .given(history)
        .when(reserve('acc-2'))
        .then([reserved('acc-2', 1, 1)]);
    });

    it('reserves without a limit on an unlimited plan', () => {
      const history = [started(), upgraded('enterprise', 'free', 'order-1')];
      spec
        .given(history)
        .when(reserve('wf-1', 'automation_workflows'))
        .then([
          {
            type: 'ResourceReserved',
            data: { ...XHS, plan: 'enterprise', feature: 'automation_workflows', resourceId: 'wf-1', inUse: 1, limit: null, reservedAt: MID },
          },
        ]);
    });

    it('refuses new reservations while over the limit after falling back', () => {
      const history: SubscriptionEvent[] = [
        ...onPro(),
        reserved('acc-1', 1, 20, 'account_limit', 'pro'),
        reserved('acc-2', 2, 20, 'account_limit', 'pro'),
        {
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
            overLimit: [{ feature: 'account_limit', inUse: 2, limit: 1 }],
            expiredAt: END,
          },
        },
      ];
      spec
        .given(history)
        .when(reserve('acc-3'))
        .thenThrows<ResourceLimitReached>(ResourceLimitReached, refusedAt('acc-3', { used: 2, planChange: 2 }));
    });

    it('refuses a feature not in the plan (xiaohongshu tracks no novels)', () => {
      spec
        .given([started()])
        .when(reserve('novel-1', 'novel_tracking_limit'))
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'PERMISSION_DENIED' && e.details.feature === 'novel_tracking_limit');
    });

    it('refuses a feature that is not a resource limit, an empty resource id, a bad day', () => {
      const bad = [
        reserve('x', 'daily_api_calls' as ReserveResource['feature']),
        reserve(''),
        reserve('acc-1', 'account_limit', '20260320'),
      ] as SubscriptionCommand[];
      for (const command of bad) spec.given([started()]).when(command).thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
    });

    it('needs a started subscription', () => {
      spec.given([]).when(reserve('acc-1')).thenThrows<DomainError>(DomainError, is('NOT_FOUND'));
    });
  });

  describe('ReleaseResource', () => {
    const release = (resourceId: string): SubscriptionCommand => ({ type: 'ReleaseResource', feature: 'account_limit', resourceId, now: MID });

    it('releases a reserved resource', () => {
      const history = [started(), reserved('acc-1', 1, 1)];
      spec
        .given(history)
        .when(release('acc-1'))
        .then([{ type: 'ResourceReleased', data: { ...XHS, plan: 'free', feature: 'account_limit', resourceId: 'acc-1', inUse: 0, releasedAt: MID } }]);
      spec
        .given(history)
        .when(release('acc-1'))
        .thenState({ ...stateAfter([started()]), reservations: { account_limit: { count: 0, ids: {} } } });
    });

    it('is a no-op for a resource not reserved', () => {
      spec.given([started()]).when(release('acc-1')).then([]);
      spec
        .given([
          started(),
          reserved('acc-1', 1, 1),
          { type: 'ResourceReleased', data: { ...XHS, plan: 'free', feature: 'account_limit', resourceId: 'acc-1', inUse: 0, releasedAt: MID } },
        ])
        .when(release('acc-1'))
        .then([]);
    });

    it('refuses a feature that is not a resource limit', () => {
      spec
        .given([started()])
        .when({ type: 'ReleaseResource', feature: 'daily_api_calls' as 'account_limit', resourceId: 'acc-1', now: MID })
        .thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
    });

    it('needs a started subscription', () => {
      spec.given([]).when(release('acc-1')).thenThrows<DomainError>(DomainError, is('NOT_FOUND'));
    });
  });

  describe('evolve', () => {
    it('ignores events before SubscriptionStarted (a stream cannot have them)', () => {
      expect(fold(subscriptionDecider, [reserved('acc-1', 1, 1)])).to.deep.equal({ status: 'none' });
    });

    it('counts a resource once however often its reservation is folded, and releases only what is held', () => {
      const release: SubscriptionEvent = {
        type: 'ResourceReleased',
        data: { ...XHS, plan: 'free', feature: 'account_limit', resourceId: 'acc-9', inUse: 0, releasedAt: MID },
      };
      const state = stateAfter([started(), reserved('acc-1', 1, 1), reserved('acc-1', 1, 1), release]);
      expect(state.reservations).to.deep.equal({ account_limit: { count: 1, ids: { 'acc-1': true } } });
    });

    it('holds any resource id, __proto__ included, as plain JSON', () => {
      const state = stateAfter([started(), reserved('__proto__', 1, 1)]);
      expect(JSON.parse(JSON.stringify(state.reservations))).to.deep.equal({ account_limit: { count: 1, ids: { ['__proto__']: true } } });
      spec
        .given([started(), reserved('__proto__', 1, 1)])
        .when(reserve('__proto__'))
        .then([]);
    });

    it('updates the state it is given in place, leaving the events as they were', () => {
      const history = [started(), upgraded('pro', 'free', 'order-1'), reserved('acc-1', 1, 20, 'account_limit', 'pro')];
      const copy = JSON.parse(JSON.stringify(history)) as SubscriptionEvent[];
      const state = stateAfter(history);
      const again = subscriptionDecider.evolve(state, reserved('acc-2', 2, 20, 'account_limit', 'pro'));
      expect(again).to.equal(state);
      expect(history).to.deep.equal(copy);
    });
  });
});

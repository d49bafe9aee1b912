import { expect } from 'chai';
import { fold } from '../../src/write-model/core/decider.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import type { PlanCode } from '../../src/write-model/subscription/plans.js';
import type { QuotaTerms } from '../../src/write-model/subscription/quota-terms.js';
import {
  dailyUsageId,
  subscriptionUsageAggregate,
  subscriptionUsageDecider,
  subscriptionUsageStream,
  type ConsumeQuota,
  type RecordQuotaExceeded,
  type SubscriptionUsageCommand,
  type SubscriptionUsageEvent,
} from '../../src/write-model/subscription-usage/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(subscriptionUsageDecider);

const MID = '2026-03-20T08:00:00.000Z';
const LATER = '2026-03-20T09:00:00.000Z';
// days (Asia/Shanghai, computed by the caller)
const DAY1 = '2026-03-20';
const RESETS1 = '2026-03-20T16:00:00.000Z';
const DAY2 = '2026-03-21';
const RESETS2 = '2026-03-21T16:00:00.000Z';

const REF = { subscriptionId: 'sub-1', userId: 'user-1', service: 'xiaohongshu' } as const;
const LIMITS: Record<PlanCode, number | null> = { free: 50, basic: 500, pro: 5000, enterprise: null };

const is = (code: string) => (e: DomainError) => e.code === code;

/** The subscription's terms: free as started, or a later plan after `planChange` changes. */
function terms(plan: PlanCode = 'free', planChange = 0): QuotaTerms {
  return { ...REF, plan, planChange };
}

// ---------------------------------------------------------------- builders

const consume = (amount: number, t: QuotaTerms = terms(), day = DAY1, resetsAt = RESETS1): ConsumeQuota => ({
  type: 'ConsumeQuota',
  subscription: t,
  feature: 'daily_api_calls',
  amount,
  day,
  resetsAt,
  now: MID,
});

function used(usedToday: number, t: QuotaTerms = terms(), amount = usedToday, day = DAY1): SubscriptionUsageEvent {
  return {
    type: 'UsageRecorded',
    data: { ...t, feature: 'daily_api_calls', amount, day, usedToday, limit: LIMITS[t.plan], recordedAt: MID },
  };
}

function callsExceeded(usedBefore: number, requested: number, t: QuotaTerms = terms(), day = DAY1, resetsAt = RESETS1): SubscriptionUsageEvent {
  return {
    type: 'QuotaExceeded',
    data: {
      ...t,
      feature: 'daily_api_calls',
      kind: 'daily_counter',
      limit: LIMITS[t.plan]!,
      used: usedBefore,
      requested,
      resourceId: null,
      day,
      resetsAt,
      exceededAt: MID,
    },
  };
}

const refused = (resourceId: string, t: QuotaTerms = terms(), day = DAY1, resetsAt = RESETS1): RecordQuotaExceeded => ({
  type: 'RecordQuotaExceeded',
  subscription: t,
  feature: 'account_limit',
  limit: t.plan === 'free' ? 1 : 5,
  used: t.plan === 'free' ? 1 : 5,
  resourceId,
  day,
  resetsAt,
  now: LATER,
});

function accountsExceeded(resourceId: string, t: QuotaTerms = terms()): SubscriptionUsageEvent {
  const limit = t.plan === 'free' ? 1 : 5;
  return {
    type: 'QuotaExceeded',
    data: {
      ...t,
      feature: 'account_limit',
      kind: 'resource_limit',
      limit,
      used: limit,
      requested: 1,
      resourceId,
      day: DAY1,
      resetsAt: RESETS1,
      exceededAt: LATER,
    },
  };
}

// ---------------------------------------------------------------- specs

describe("SubscriptionUsage aggregate (a subscription's day)", () => {
  it('names its stream subscription_usage-{userId}_{service}_{YYYYMMDD}', () => {
    expect(subscriptionUsageStream(dailyUsageId('user-1', 'xiaohongshu', DAY1))).to.equal('subscription_usage-user-1_xiaohongshu_20260320');
    expect(subscriptionUsageAggregate.streamName(dailyUsageId('u', 'qidian', DAY2))).to.equal('subscription_usage-u_qidian_20260321');
    expect(subscriptionUsageAggregate.snapshot).to.deep.equal({ version: 1, every: 50 });
  });

  describe('ConsumeQuota', () => {
    it("records usage within the daily limit, the day's total in the event", () => {
      spec
        .given([])
        .when(consume(10))
        .then([used(10)]);
      spec
        .given([used(40)])
        .when(consume(10))
        .then([used(50, terms(), 10)]);
    });

    it("keeps the day's count in the state", () => {
      spec
        .given([used(40)])
        .when(consume(10))
        .thenState({ status: 'open', ...REF, day: DAY1, counts: { daily_api_calls: 50 }, exceeded: {} });
    });

    it('records QuotaExceeded the first time the feature goes over on the day (all or nothing)', () => {
      spec
        .given([used(45)])
        .when(consume(10))
        .then([callsExceeded(45, 10)]);
      spec
        .given([])
        .when(consume(51))
        .then([callsExceeded(0, 51)]);
    });

    it('then refuses further attempts that day without an event', () => {
      spec
        .given([used(45), callsExceeded(45, 10)])
        .when(consume(10))
        .thenThrows<DomainError>(
          DomainError,
          (e) =>
            e.code === 'QUOTA_EXCEEDED' &&
            e.details.feature === 'daily_api_calls' &&
            e.details.limit === 50 &&
            e.details.resetsAt === RESETS1 &&
            e.details.used === 45 &&
            e.details.requested === 10 &&
            e.details.remaining === 5 &&
            e.message === '10 daily_api_calls asked for, 5 of the quota of 50 left',
        );
    });

    it('still records a smaller use that fits', () => {
      spec
        .given([used(45), callsExceeded(45, 10)])
        .when(consume(5))
        .then([used(50, terms(), 5)]);
    });

    it('starts each day from zero (each day is its own stream)', () => {
      spec
        .given([])
        .when(consume(1, terms(), DAY2, RESETS2))
        .then([used(1, terms(), 1, DAY2)]);
    });

    it('records usage of an unlimited feature (-1) without a limit', () => {
      const enterprise = terms('enterprise', 1);
      spec
        .given([used(100000, enterprise)])
        .when(consume(500, enterprise))
        .then([used(100500, enterprise, 500)]);
    });

    it("counts against the new plan's limit after a plan change that day, recording a new excess", () => {
      const basic = terms('basic', 1);
      const history = [used(45), callsExceeded(45, 10)];
      spec
        .given(history)
        .when(consume(10, basic))
        .then([used(55, basic, 10)]);
      spec
        .given(history)
        .when(consume(500, basic))
        .then([callsExceeded(45, 500, basic)]);
      spec
        .given([...history, callsExceeded(45, 500, basic)])
        .when(consume(500, basic))
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'QUOTA_EXCEEDED' && e.details.limit === 500);
    });

    it('refuses a use decided on the plan before a change whose excess is already recorded (a stale read)', () => {
      spec
        .given([used(45), callsExceeded(45, 500, terms('basic', 1))])
        .when(consume(10, terms('free', 0)))
        .thenThrows<DomainError>(DomainError, is('QUOTA_EXCEEDED'));
    });

    it('refuses a feature not in the plan (qidian has no daily counter)', () => {
      spec
        .given([])
        .when(consume(1, { ...terms(), service: 'qidian' }))
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'PERMISSION_DENIED' && e.details.feature === 'daily_api_calls');
    });

    it("refuses a use for another day, user or service than the stream's", () => {
      spec
        .given([used(1)])
        .when(consume(1, terms(), DAY2, RESETS2))
        .thenThrows<DomainError>(DomainError, is('CONFLICT'));
      spec
        .given([used(1)])
        .when(consume(1, { ...terms(), userId: 'user-2' }))
        .thenThrows<DomainError>(DomainError, is('CONFLICT'));
      spec
        .given([callsExceeded(50, 1)])
        .when(consume(1, { ...terms(), service: 'qidian' }))
        .thenThrows<DomainError>(DomainError, is('CONFLICT'));
    });

    it('refuses a feature that is not a daily counter, a bad amount, a bad day, bad terms', () => {
      const bad = [
        { ...consume(1), feature: 'account_limit' },
        { ...consume(1), feature: 'anything' },
        consume(0),
        consume(-3),
        consume(1.5),
        consume(1, terms(), '2026-3-20'),
        consume(1, terms(), DAY1, 'tomorrow'),
        { ...consume(1), now: '2026-03-20 08:00' },
        consume(1, { ...terms(), plan: 'gold' as PlanCode }),
        consume(1, { ...terms(), planChange: -1 }),
        consume(1, { ...terms(), subscriptionId: '' }),
        { ...consume(1), subscription: undefined },
      ] as unknown as SubscriptionUsageCommand[];
      for (const command of bad) spec.given([]).when(command).thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
    });
  });

  describe('RecordQuotaExceeded (a reservation refused at a resource limit)', () => {
    it('records the refusal the first time on the day', () => {
      spec
        .given([])
        .when(refused('acc-2'))
        .then([accountsExceeded('acc-2')]);
    });

    it('is a no-op for later refusals that day under the same plan', () => {
      spec
        .given([accountsExceeded('acc-2')])
        .when(refused('acc-3'))
        .then([]);
    });

    it('records again after a plan change that day', () => {
      const basic = terms('basic', 1);
      spec
        .given([accountsExceeded('acc-2')])
        .when(refused('acc-3', basic))
        .then([accountsExceeded('acc-3', basic)]);
    });

    it('keeps daily counters and resource limits apart', () => {
      spec
        .given([used(50), callsExceeded(50, 1)])
        .when(refused('acc-2'))
        .then([accountsExceeded('acc-2')]);
      spec
        .given([accountsExceeded('acc-2')])
        .when(consume(51))
        .then([callsExceeded(0, 51)]);
    });

    it("refuses another day than the stream's, a feature that is not a resource limit, bad counts", () => {
      spec
        .given([accountsExceeded('acc-2')])
        .when(refused('acc-3', terms(), DAY2, RESETS2))
        .thenThrows<DomainError>(DomainError, is('CONFLICT'));
      const bad = [
        { ...refused('acc-2'), feature: 'daily_api_calls' },
        { ...refused('acc-2'), resourceId: '' },
        { ...refused('acc-2'), limit: -1 },
        { ...refused('acc-2'), used: 1.5 },
        refused('acc-2', terms(), '20260320'),
      ] as unknown as SubscriptionUsageCommand[];
      for (const command of bad) spec.given([]).when(command).thenThrows<DomainError>(DomainError, is('VALIDATION_ERROR'));
    });
  });

  describe('evolve', () => {
    it('opens the day with whichever event comes first', () => {
      expect(fold(subscriptionUsageDecider, [accountsExceeded('acc-2')])).to.deep.equal({
        status: 'open',
        ...REF,
        day: DAY1,
        counts: {},
        exceeded: { account_limit: 0 },
      });
    });

    it('keeps the highest plan change an excess was recorded under', () => {
      const state = fold(subscriptionUsageDecider, [callsExceeded(45, 500, terms('basic', 2)), callsExceeded(45, 10, terms('free', 0))]);
      expect(state).to.deep.include({ exceeded: { daily_api_calls: 2 } });
    });

    it('updates the state it is given in place, leaving the events as they were', () => {
      const history = [used(10), used(20, terms(), 10)];
      const copy = JSON.parse(JSON.stringify(history)) as SubscriptionUsageEvent[];
      const state = fold(subscriptionUsageDecider, history);
      expect(subscriptionUsageDecider.evolve(state, used(30, terms(), 10))).to.equal(state);
      expect(history).to.deep.equal(copy);
    });
  });
});

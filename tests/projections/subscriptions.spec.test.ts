import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { subscriptionsProjection } from '../../src/projections/subscriptions.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { projectionSpec, recorded } from '../support/projection-spec.js';

/** One batch, every event alone, and pairs: a row's events folded in one batch or split across batches leave the same rows. */
const BATCH_SIZES = [500, 1, 2];

describe('subscriptions-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const at = (day: number, minute = 0) => new Date(Date.UTC(2026, 11, day, 0, minute)).toISOString();
  const ROW = [
    'user_id',
    'service',
    'plan',
    'status',
    'period_start',
    'period_end',
    'pending_downgrade',
    'pending_downgrade_at',
    'cancel_at_period_end',
    'cancelled_at',
    'last_expired_at',
    'started_at',
    'updated_at',
    'last_revision',
  ];

  const subscription = () => {
    const userId = randomUUID();
    const subscriptionId = `${userId}_xiaohongshu`;
    const ref = { subscriptionId, userId, service: 'xiaohongshu' };
    const e = (type: string, data: Record<string, unknown>) => recorded(`subscription-${subscriptionId}`, type, { ...ref, ...data });
    const u = (day: string, type: string, data: Record<string, unknown>) =>
      recorded(`subscription_usage-${subscriptionId}_${day.replaceAll('-', '')}`, type, { ...ref, plan: 'pro', planChange: 1, day, ...data });
    return {
      subscriptionId,
      userId,
      started: () => e('SubscriptionStarted', { plan: 'free', periodStart: at(1), periodEnd: null, startedAt: at(1) }),
      upgraded: () =>
        e('SubscriptionUpgraded', {
          fromPlan: 'free',
          toPlan: 'pro',
          orderId: 'o1',
          periodStart: at(2),
          periodEnd: at(30),
          previousPeriodEnd: null,
          upgradedAt: at(2),
        }),
      downgraded: () =>
        e('SubscriptionDowngraded', { fromPlan: 'pro', toPlan: 'basic', effectiveAt: at(30), orderId: null, nextPeriodEnd: null, requestedAt: at(3) }),
      renewed: () => e('SubscriptionRenewed', { plan: 'pro', orderId: 'o2', previousPeriodEnd: at(30), periodEnd: at(31), renewedAt: at(4) }),
      cancelled: () => e('SubscriptionCancelled', { plan: 'pro', effectiveAt: at(31), cancelledAt: at(5) }),
      expired: () =>
        e('SubscriptionExpired', {
          fromPlan: 'pro',
          fallbackPlan: 'free',
          expiredPeriodEnd: at(31),
          periodStart: at(31),
          periodEnd: null,
          orderId: null,
          abandonedDowngrade: null,
          overLimit: [],
          expiredAt: at(31, 1),
        }),
      reserved: (resourceId: string, minute: number) =>
        e('ResourceReserved', { plan: 'pro', feature: 'account_limit', resourceId, inUse: 1, limit: 5, reservedAt: at(2, minute) }),
      released: (resourceId: string, minute: number) =>
        e('ResourceReleased', { plan: 'pro', feature: 'account_limit', resourceId, inUse: 0, releasedAt: at(2, minute) }),
      used: (day: string, usedToday: number, minute: number, limit: number | null = 100) =>
        u(day, 'UsageRecorded', {
          feature: 'daily_api_calls',
          amount: 1,
          usedToday,
          limit,
          recordedAt: `${day}T01:${String(minute).padStart(2, '0')}:00.000Z`,
        }),
      refused: (day: string, used: number, minute: number, limit = 100) =>
        u(day, 'QuotaExceeded', {
          feature: 'daily_api_calls',
          kind: 'daily_counter',
          limit,
          used,
          requested: 1,
          resourceId: null,
          day,
          resetsAt: `${day}T16:00:00.000Z`,
          exceededAt: `${day}T01:${String(minute).padStart(2, '0')}:00.000Z`,
        }),
    };
  };

  it('applies every lifecycle event, in one batch or split across batches', async () => {
    const s = subscription();
    const events = [s.started(), s.upgraded(), s.downgraded(), s.renewed(), s.cancelled(), s.expired()];
    const base = { user_id: s.userId, service: 'xiaohongshu', started_at: at(1) };
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, subscriptionsProjection, { batchSize })
        .given(events)
        .then('subscriptions', { where: { id: s.subscriptionId }, columns: ROW }, [
          {
            ...base,
            plan: 'free',
            status: 'active',
            period_start: at(31),
            period_end: null,
            pending_downgrade: null,
            pending_downgrade_at: null,
            cancel_at_period_end: false,
            cancelled_at: null,
            last_expired_at: at(31, 1),
            updated_at: at(31, 1),
            last_revision: '5',
          },
        ]);
    }
    // up to the cancellation: the pending downgrade is gone, the subscription ends with its period
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, subscriptionsProjection, { batchSize })
        .given(events.slice(0, 5))
        .then(
          'subscriptions',
          {
            where: { id: s.subscriptionId },
            columns: ['plan', 'status', 'period_end', 'pending_downgrade', 'cancel_at_period_end', 'cancelled_at', 'updated_at', 'last_revision'],
          },
          [
            {
              plan: 'pro',
              status: 'cancelled',
              period_end: at(31),
              pending_downgrade: null,
              cancel_at_period_end: true,
              cancelled_at: at(5),
              updated_at: at(5),
              last_revision: '4',
            },
          ],
        );
    }
    // up to the downgrade: pending
    await projectionSpec(knex, subscriptionsProjection)
      .given(events.slice(0, 3))
      .then('subscriptions', { where: { id: s.subscriptionId }, columns: ['plan', 'pending_downgrade', 'pending_downgrade_at', 'last_revision'] }, [
        { plan: 'pro', pending_downgrade: 'basic', pending_downgrade_at: at(30), last_revision: '2' },
      ]);
  });

  it('a paid downgrade kept by a renewal or an upgrade stays pending, due at the new period end', async () => {
    const s = subscription();
    const ref = { subscriptionId: s.subscriptionId, userId: s.userId, service: 'xiaohongshu' };
    const e = (type: string, data: Record<string, unknown>) => recorded(`subscription-${s.subscriptionId}`, type, { ...ref, ...data });
    // revisions follow the order the events are made in
    const before = [s.started(), s.upgraded()];
    const paidDown = e('SubscriptionDowngraded', {
      fromPlan: 'pro',
      toPlan: 'basic',
      effectiveAt: at(30),
      orderId: 'o2',
      nextPeriodEnd: at(31),
      requestedAt: at(3),
    });
    const renewed = e('SubscriptionRenewed', {
      plan: 'pro',
      orderId: 'o3',
      previousPeriodEnd: at(30),
      periodEnd: at(31),
      renewedAt: at(4),
      pendingDowngradePeriodEnd: new Date(Date.UTC(2027, 0, 1)).toISOString(),
    });
    const upgraded = e('SubscriptionUpgraded', {
      fromPlan: 'pro',
      toPlan: 'enterprise',
      orderId: 'o4',
      periodStart: at(5),
      periodEnd: at(31, 30),
      previousPeriodEnd: at(31),
      upgradedAt: at(5),
      pendingDowngradePeriodEnd: new Date(Date.UTC(2027, 0, 1, 0, 30)).toISOString(),
    });
    const columns = ['plan', 'period_end', 'pending_downgrade', 'pending_downgrade_at', 'last_revision'];
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, subscriptionsProjection, { batchSize })
        .given([...before, paidDown, renewed])
        .then('subscriptions', { where: { id: s.subscriptionId }, columns }, [
          { plan: 'pro', period_end: at(31), pending_downgrade: 'basic', pending_downgrade_at: at(31), last_revision: '3' },
        ]);
      await projectionSpec(knex, subscriptionsProjection, { batchSize })
        .given([...before, paidDown, renewed, upgraded])
        .then('subscriptions', { where: { id: s.subscriptionId }, columns }, [
          { plan: 'enterprise', period_end: at(31, 30), pending_downgrade: 'basic', pending_downgrade_at: at(31, 30), last_revision: '4' },
        ]);
    }
  });

  it('automatic renewal: on with its provider, the renewal order until the period changes; off again when cancelled or back on free', async () => {
    const s = subscription();
    const ref = { subscriptionId: s.subscriptionId, userId: s.userId, service: 'xiaohongshu' };
    const e = (type: string, data: Record<string, unknown>) => recorded(`subscription-${s.subscriptionId}`, type, { ...ref, ...data });
    const autoRenew = e('AutoRenewChanged', { enabled: true, provider: 'wechat', channel: 'native', changedAt: at(3) });
    const ordered = e('SubscriptionRenewalOrdered', {
      plan: 'pro',
      periodEnd: at(30),
      orderId: 'renewal-1',
      provider: 'wechat',
      channel: 'native',
      amountFen: 12990,
      payUrl: null,
      codeUrl: 'weixin://wxpay/x',
      orderExpiresAt: at(30),
      orderedAt: at(27),
    });
    const reminded = e('SubscriptionExpiryReminded', { plan: 'pro', periodEnd: at(31), fallbackPlan: 'free', reason: 'cancelled', remindedAt: at(28) });
    const columns = ['auto_renew', 'auto_renew_provider', 'auto_renew_channel', 'renewal_order_id', 'updated_at', 'last_revision'];
    // one stream's events in the order given (revisions 0, 1, …)
    const inOrder = (...events: ReturnType<typeof recorded>[]) => events.map((event, i) => ({ ...event, revision: BigInt(i) }));
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, subscriptionsProjection, { batchSize })
        .given(inOrder(s.started(), s.upgraded(), autoRenew, ordered))
        .then('subscriptions', { where: { id: s.subscriptionId }, columns }, [
          {
            auto_renew: true,
            auto_renew_provider: 'wechat',
            auto_renew_channel: 'native',
            renewal_order_id: 'renewal-1',
            updated_at: at(27),
            last_revision: '3',
          },
        ]);
      // renewed: the order is done with, automatic renewal stays on
      await projectionSpec(knex, subscriptionsProjection, { batchSize })
        .given(inOrder(s.started(), s.upgraded(), autoRenew, ordered, s.renewed()))
        .then('subscriptions', { where: { id: s.subscriptionId }, columns: ['auto_renew', 'renewal_order_id', 'period_end', 'last_revision'] }, [
          { auto_renew: true, renewal_order_id: null, period_end: at(31), last_revision: '4' },
        ]);
      // cancelled: off; reminded: only the revision moves; expired to free: off
      await projectionSpec(knex, subscriptionsProjection, { batchSize })
        .given(inOrder(s.started(), s.upgraded(), autoRenew, s.cancelled(), reminded))
        .then('subscriptions', { where: { id: s.subscriptionId }, columns }, [
          { auto_renew: false, auto_renew_provider: null, auto_renew_channel: null, renewal_order_id: null, updated_at: at(28), last_revision: '4' },
        ]);
      await projectionSpec(knex, subscriptionsProjection, { batchSize })
        .given(inOrder(s.started(), s.upgraded(), autoRenew, ordered, s.expired()))
        .then('subscriptions', { where: { id: s.subscriptionId }, columns: ['plan', 'auto_renew', 'auto_renew_provider', 'renewal_order_id'] }, [
          { plan: 'free', auto_renew: false, auto_renew_provider: null, renewal_order_id: null },
        ]);
    }
  });

  it('keeps the reservations held now: reserved, released, reserved again; each moves the revision', async () => {
    const s = subscription();
    const events = [s.started(), s.reserved('r1', 1), s.reserved('r2', 2), s.released('r1', 3), s.reserved('r1', 4), s.released('r2', 5), s.reserved('r3', 6)];
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, subscriptionsProjection, { batchSize })
        .given(events)
        .thenAll([
          {
            table: 'subscription_reservations',
            query: { where: { subscription_id: s.subscriptionId }, columns: ['feature', 'resource_id', 'user_id', 'reserved_at'] },
            expected: [
              { feature: 'account_limit', resource_id: 'r1', user_id: s.userId, reserved_at: at(2, 4) },
              { feature: 'account_limit', resource_id: 'r3', user_id: s.userId, reserved_at: at(2, 6) },
            ],
          },
          {
            table: 'subscriptions',
            query: { where: { id: s.subscriptionId }, columns: ['plan', 'updated_at', 'last_revision'] },
            expected: [{ plan: 'free', updated_at: at(2, 6), last_revision: '6' }],
          },
        ]);
    }
  });

  it('counts a day: the largest total, the latest limit and time, the first refusal; days apart', async () => {
    const s = subscription();
    const events = [
      s.started(),
      s.used('2026-12-01', 1, 1),
      s.used('2026-12-01', 2, 2, 50),
      s.refused('2026-12-01', 2, 3, 2),
      s.used('2026-12-01', 3, 4, 200),
      s.refused('2026-12-01', 3, 5, 3),
      // a day that starts with a refusal (a resource limit's row appears only then): its count stays the refusal's
      s.refused('2026-12-02', 7, 1, 7),
      s.used('2026-12-02', 4, 2, 10),
    ];
    const usage = async (tx: Knex.Transaction) =>
      (
        await tx.raw(
          `SELECT day::text AS day, user_id, service, feature, used, "limit", exceeded_at, updated_at FROM feature_usage_stats WHERE subscription_id = ? ORDER BY day`,
          [s.subscriptionId],
        )
      ).rows;
    const common = { user_id: s.userId, service: 'xiaohongshu', feature: 'daily_api_calls' };
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, subscriptionsProjection, { batchSize })
        .given(events)
        .thenQuery(usage, [
          {
            day: '2026-12-01',
            ...common,
            used: 3,
            limit: 3,
            exceeded_at: new Date('2026-12-01T01:03:00.000Z'),
            updated_at: new Date('2026-12-01T01:05:00.000Z'),
          },
          {
            day: '2026-12-02',
            ...common,
            used: 7,
            limit: 10,
            exceeded_at: new Date('2026-12-02T01:01:00.000Z'),
            updated_at: new Date('2026-12-02T01:02:00.000Z'),
          },
        ]);
    }
  });

  it("a day with refusals only keeps the first refusal's count and time, and the last limit", async () => {
    const s = subscription();
    const events = [s.started(), s.refused('2026-12-03', 5, 1, 5), s.refused('2026-12-03', 6, 2, 6)];
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, subscriptionsProjection, { batchSize })
        .given(events)
        .thenQuery(
          async (tx) =>
            (await tx.raw(`SELECT used, "limit", exceeded_at, updated_at FROM feature_usage_stats WHERE subscription_id = ?`, [s.subscriptionId])).rows,
          [{ used: 5, limit: 6, exceeded_at: new Date('2026-12-03T01:01:00.000Z'), updated_at: new Date('2026-12-03T01:02:00.000Z') }],
        );
    }
  });

  it('an older lifecycle event redelivered after later ones does not move the row back, nor a reservation', async () => {
    const s = subscription();
    const started = s.started();
    const upgraded = s.upgraded();
    const reserved = s.reserved('r1', 1);
    const released = s.released('r1', 2);
    const cancelled = s.cancelled();
    const events = [started, upgraded, reserved, released, cancelled, upgraded, reserved, started];
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, subscriptionsProjection, { batchSize })
        .given(events)
        .thenAll([
          {
            table: 'subscriptions',
            query: { where: { id: s.subscriptionId }, columns: ['plan', 'status', 'updated_at', 'last_revision'] },
            expected: [{ plan: 'pro', status: 'cancelled', updated_at: at(5), last_revision: '4' }],
          },
          { table: 'subscription_reservations', query: { where: { subscription_id: s.subscriptionId }, columns: ['resource_id'] }, expected: [] },
        ]);
    }
  });
});

import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import type { Position } from '../../src/event-store/position.js';
import { findSubscription, listSubscriptions } from '../../src/read-api/subscriptions.js';
import { createSubscriptionsProjection, SUBSCRIPTIONS_PROJECTION, subscriptionsProjection } from '../../src/projections/subscriptions.js';
import { resetCheckpoint, waitForCheckpoint } from '../../src/consumers/checkpoints.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import type { Consumer } from '../../src/consumers/consumer.js';
import { consumeQuota, releaseResource, reserveResource, type QuotaCall } from '../../src/application/subscription-quotas.js';
import type { RecordedEvent } from '../../src/event-store/port.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  subscriptionAggregate,
  subscriptionKey,
  subscriptionStream,
  type ResourceFeature,
  type SubscriptionCommand,
} from '../../src/write-model/subscription/index.js';
import { dailyUsageId, subscriptionUsageStream } from '../../src/write-model/subscription-usage/index.js';
import { testDatabaseUrl } from '../setup/test-env.js';

const DAY1 = '2026-03-01';
const DAY2 = '2026-03-02';
const at = (day: string, hhmm: string) => `${day}T${hhmm}:00.000Z`;

describe('subscriptions-v1 projection (subscriptions, feature_usage_stats, reservations)', function () {
  this.timeout(60_000);
  let knex: Knex;
  let store: PostgresEventStore;
  let name: string;
  const runners: ConsumerRunner[] = [];

  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 5 } });
    store = createPostgresEventStore({ connectionString: testDatabaseUrl, poolSize: 5 });
  });
  after(async () => {
    await store.close();
    await knex.destroy();
  });
  beforeEach(() => {
    // a checkpoint of its own: never contends with a projector running on this database
    name = `${SUBSCRIPTIONS_PROJECTION}-test-${randomUUID().slice(0, 8)}`;
  });
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop()));
    await knex('consumer_checkpoints').where({ consumer: name }).delete();
  });

  const runner = (consumer: Consumer) => {
    const r = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl }, consumer, { lockRetryMs: 50, minBackoffMs: 20, maxBackoffMs: 200 });
    runners.push(r);
    return r;
  };

  /** A lifecycle command, or a quota use through the application (daily usage streams, reservations). */
  type Step =
    | { command: SubscriptionCommand }
    | { consume: number; at: string }
    | { reserve: ResourceFeature; resourceId: string; at: string }
    | { release: ResourceFeature; resourceId: string; at: string };

  /** Runs the steps for one user; answers the position of the last event written (refusals included). */
  const send = async (userId: string, steps: Step[]): Promise<Position> => {
    const call = (iso: string): QuotaCall => ({ store, userId, service: 'xiaohongshu', now: new Date(iso), timeZone: 'Asia/Shanghai', context });
    for (const step of steps) {
      try {
        if ('command' in step) await handle(store, subscriptionAggregate, subscriptionKey(userId, 'xiaohongshu'), step.command, { context });
        else if ('consume' in step) await consumeQuota(call(step.at), 'daily_api_calls', step.consume);
        else if ('reserve' in step) await reserveResource(call(step.at), step.reserve, step.resourceId);
        else await releaseResource(call(step.at), step.release, step.resourceId);
      } catch (error) {
        if (!(error instanceof DomainError && error.code === 'QUOTA_EXCEEDED')) throw error;
      }
    }
    return (await eventsOf(userId)).at(-1)!.position;
  };

  /** The user's events in the subscription's stream and its days' streams, in $all order. */
  const eventsOf = async (userId: string): Promise<RecordedEvent[]> => {
    const streams = [
      subscriptionStream(userId, 'xiaohongshu'),
      ...[DAY1, DAY2].map((day) => subscriptionUsageStream(dailyUsageId(userId, 'xiaohongshu', day))),
    ];
    const all = (await Promise.all(streams.map((s) => store.readStream(s)))).flat();
    return all.sort((a, b) =>
      a.position.commit === b.position.commit ? Number(a.position.prepare - b.position.prepare) : Number(a.position.commit - b.position.commit),
    );
  };

  const scenario = (subscriptionId: string, userId: string): Step[] => [
    { command: { type: 'StartSubscription', subscriptionId, userId, service: 'xiaohongshu', plan: 'free', now: at(DAY1, '01:00') } },
    { consume: 30, at: at(DAY1, '02:00') },
    { consume: 15, at: at(DAY1, '03:00') },
    // over free's 50 a day: QuotaExceeded, recorded once
    { consume: 10, at: at(DAY1, '04:00') },
    { consume: 10, at: at(DAY1, '04:30') },
    { reserve: 'account_limit', resourceId: 'acc-1', at: at(DAY1, '05:00') },
    // free holds one account: refused (recorded once in the day's stream)
    { reserve: 'account_limit', resourceId: 'acc-2', at: at(DAY1, '06:00') },
    { reserve: 'account_limit', resourceId: 'acc-3', at: at(DAY1, '06:30') },
    { consume: 7, at: at(DAY2, '01:00') },
    { command: { type: 'ChangePlan', plan: 'pro', orderId: `order-${userId}`, periodEnd: '2026-04-02T02:00:00.000Z', now: at(DAY2, '02:00') } },
    { reserve: 'account_limit', resourceId: 'acc-2', at: at(DAY2, '03:00') },
    { reserve: 'automation_workflows', resourceId: 'wf-1', at: at(DAY2, '04:00') },
    { release: 'account_limit', resourceId: 'acc-1', at: at(DAY2, '05:00') },
    { consume: 100, at: at(DAY2, '06:00') },
    { command: { type: 'CancelSubscription', now: at(DAY2, '07:00') } },
  ];

  const snapshot = async (subscriptionId: string) => {
    const subscription = await knex('subscriptions').where({ id: subscriptionId }).first();
    const usage = await knex('feature_usage_stats')
      .where({ subscription_id: subscriptionId })
      .orderBy(['feature', 'day'])
      .select('feature', knex.raw(`to_char(day, 'YYYY-MM-DD') AS day`), 'used', 'limit', 'exceeded_at', 'user_id', 'service');
    const reservations = await knex('subscription_reservations')
      .where({ subscription_id: subscriptionId })
      .orderBy(['feature', 'resource_id'])
      .select('feature', 'resource_id', 'reserved_at');
    return { subscription, usage, reservations };
  };

  it("projects an organization's subscription with its holder: listed for the organization, not as a user's", async () => {
    const organizationId = randomUUID();
    const subscriptionId = randomUUID();
    await handle(
      store,
      subscriptionAggregate,
      subscriptionKey(organizationId, 'xiaohongshu'),
      {
        type: 'StartSubscription',
        subscriptionId,
        userId: organizationId,
        holderKind: 'organization',
        service: 'xiaohongshu',
        plan: 'free',
        now: at(DAY1, '01:00'),
      },
      { context },
    );
    const last = (await store.readStream(subscriptionStream(organizationId, 'xiaohongshu'))).at(-1)!.position;
    runner(createSubscriptionsProjection(name)).start();
    expect(await waitForCheckpoint(knex, name, last, 20_000), 'projection caught up').to.equal(true);
    expect(await knex('subscriptions').where({ id: subscriptionId }).first()).to.include({
      user_id: organizationId,
      holder_kind: 'organization',
      organization_id: organizationId,
      plan: 'free',
    });
    const page = { page: 1, per_page: 20 };
    const listed = await listSubscriptions(knex, { kind: 'organization', id: organizationId }, page);
    expect(listed.items.map((v) => [v.id, v.holder_kind, v.organization_id])).to.deep.equal([[subscriptionId, 'organization', organizationId]]);
    expect((await listSubscriptions(knex, { kind: 'user', id: organizationId }, page)).items).to.deep.equal([]);
    expect((await findSubscription(knex, subscriptionId))?.holder).to.deep.equal({ kind: 'organization', id: organizationId });
  });

  it('projects the subscription, its daily usage and its reservations, and a replay from the start changes nothing', async () => {
    const userId = randomUUID();
    const subscriptionId = randomUUID();
    const last = await send(userId, scenario(subscriptionId, userId));

    const first = runner(createSubscriptionsProjection(name));
    first.start();
    expect(await waitForCheckpoint(knex, name, last, 20_000), 'projection caught up').to.equal(true);

    const before = await snapshot(subscriptionId);
    expect(before.subscription).to.include({
      id: subscriptionId,
      stream_name: subscriptionStream(userId, 'xiaohongshu'),
      user_id: userId,
      service: 'xiaohongshu',
      plan: 'pro',
      status: 'cancelled',
      cancel_at_period_end: true,
      pending_downgrade: null,
      // the lifecycle only: Started, 3 reservations, the upgrade, a release, the cancellation
      last_revision: '6',
    });
    expect(before.subscription.period_start.toISOString()).to.equal(at(DAY2, '02:00'));
    expect(before.subscription.period_end.toISOString()).to.equal('2026-04-02T02:00:00.000Z');
    expect(before.subscription.cancelled_at.toISOString()).to.equal(at(DAY2, '07:00'));

    const rows = before.usage.map((r: any) => ({
      feature: r.feature,
      day: r.day,
      used: r.used,
      limit: r.limit,
      exceeded: r.exceeded_at?.toISOString() ?? null,
    }));
    expect(rows).to.deep.equal([
      // the refused reservation of day 1 (used = held then)
      { feature: 'account_limit', day: DAY1, used: 1, limit: 1, exceeded: at(DAY1, '06:00') },
      { feature: 'daily_api_calls', day: DAY1, used: 45, limit: 50, exceeded: at(DAY1, '04:00') },
      // 7 on free, then 100 on pro (5000 a day)
      { feature: 'daily_api_calls', day: DAY2, used: 107, limit: 5000, exceeded: null },
    ]);
    expect(before.usage.every((r: any) => r.user_id === userId && r.service === 'xiaohongshu')).to.equal(true);
    expect(before.reservations.map((r: any) => [r.feature, r.resource_id])).to.deep.equal([
      ['account_limit', 'acc-2'],
      ['automation_workflows', 'wf-1'],
    ]);

    // replay everything from the start: every event is delivered again
    await first.stop();
    await resetCheckpoint(knex, name);
    const second = runner(createSubscriptionsProjection(name));
    second.start();
    expect(await waitForCheckpoint(knex, name, last, 20_000), 'replay caught up').to.equal(true);
    expect(await snapshot(subscriptionId)).to.deep.equal(before);
  });

  it('ignores events delivered again after later ones (the revision guard), also within one transaction', async () => {
    const userId = randomUUID();
    const subscriptionId = randomUUID();
    await send(userId, scenario(subscriptionId, userId));
    const events = await eventsOf(userId);
    expect(events.map((e) => e.type)).to.deep.equal([
      'SubscriptionStarted',
      'UsageRecorded',
      'UsageRecorded',
      'QuotaExceeded',
      'ResourceReserved',
      'QuotaExceeded',
      'UsageRecorded',
      'SubscriptionUpgraded',
      'ResourceReserved',
      'ResourceReserved',
      'ResourceReleased',
      'UsageRecorded',
      'SubscriptionCancelled',
    ]);

    const consumer = createSubscriptionsProjection(name);
    await knex.transaction(async (tx) => consumer.handle(events, { tx }));
    const once = await snapshot(subscriptionId);
    expect(once.subscription).to.include({ plan: 'pro', status: 'cancelled', last_revision: '6' });
    expect(once.reservations.map((r: any) => r.resource_id)).to.deep.equal(['acc-2', 'wf-1']);

    // an old batch again (Started, usage on free, the reservation of acc-1 since released):
    // without the guard the plan would go back to free, the status to active and acc-1 would be held again
    await knex.transaction(async (tx) => consumer.handle(events.slice(0, 5), { tx }));
    expect(await snapshot(subscriptionId)).to.deep.equal(once);
    // the whole batch twice in one transaction, and overlapping batches
    await knex.transaction(async (tx) => {
      await consumer.handle(events, { tx });
      await consumer.handle(events.slice(3, 9), { tx });
      await consumer.handle(events.slice(7), { tx });
    });
    expect(await snapshot(subscriptionId)).to.deep.equal(once);
  });

  it('is named subscriptions-v1 and reads the subscription and usage events from $all, whatever their stream', () => {
    expect(subscriptionsProjection.name).to.equal('subscriptions-v1');
    expect(subscriptionsProjection.filter).to.deep.equal({
      eventTypes: [
        'SubscriptionStarted',
        'SubscriptionUpgraded',
        'SubscriptionDowngraded',
        'SubscriptionRenewed',
        'SubscriptionCancelled',
        'SubscriptionExpired',
        'AutoRenewChanged',
        'SubscriptionRenewalOrdered',
        'SubscriptionExpiryReminded',
        'SubscriptionDowngradeRefunded',
        'ResourceReserved',
        'ResourceReleased',
        'UsageRecorded',
        'QuotaExceeded',
      ],
    });
  });
});

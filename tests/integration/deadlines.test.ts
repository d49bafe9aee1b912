import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { up as createDeadlinesTable } from '../../migrations/20261123000500_deadlines.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { StreamNotFoundError } from '../../src/event-store/errors.js';
import { createExpirySchedule, DeadlineSweeper, expiryActions, type DeadlineAction } from '../../src/process-managers/index.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { paymentOrderAggregate, paymentStream } from '../../src/write-model/payment-order/decider.js';
import { subscriptionAggregate, subscriptionKey, subscriptionStream } from '../../src/write-model/subscription/index.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';

const silent = { info() {}, warn() {}, error() {} };
const GRACE_MS = 10 * 60_000;
const APPLICATION_NAME = `deadlines-test-${randomUUID().slice(0, 8)}`;

describe('deadlines: period ends and order expiries, scheduled from events and swept', function () {
  this.timeout(60_000);
  let knex: Knex;
  let store: PostgresEventStore;
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  const names: string[] = [];
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(async () => {
    // the event store and the deadlines table in a schema of their own: no other test's deadlines are swept here
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    // this file's sessions carry a name of their own: only they are counted where transactions are watched
    const storeUrl = new URL(iso.connectionString);
    storeUrl.searchParams.set('application_name', APPLICATION_NAME);
    store = createPostgresEventStore({ connectionString: storeUrl.toString(), poolSize: 5 });
    knex = knexFactory({
      client: 'pg',
      connection: { connectionString: testDatabaseUrl, application_name: APPLICATION_NAME },
      searchPath: [iso.schema, 'public'],
      pool: { min: 0, max: 5 },
    });
    await createDeadlinesTable(knex);
  });
  after(async () => {
    await knex('consumer_checkpoints').whereIn('consumer', names).delete();
    await store.close();
    await knex.destroy();
    await iso.drop();
  });

  const scheduleName = `pm-deadlines-test-${randomUUID().slice(0, 8)}`;
  names.push(scheduleName);
  const runScheduleToHead = () =>
    runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, createExpirySchedule({ paymentGraceMs: GRACE_MS }, scheduleName));

  const sweeper = (actions = expiryActions(store)) => new DeadlineSweeper({ knex, actions, logger: silent, intervalMs: 1_000, retryBaseMs: 60_000 });

  async function types(stream: string): Promise<string[]> {
    try {
      return (await store.readStream(stream)).map((e) => e.type);
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
  }

  async function paidSubscription(periodEnd: string): Promise<string> {
    const userId = randomUUID();
    const stream = subscriptionStream(userId, 'xiaohongshu');
    await handle(
      store,
      subscriptionAggregate,
      subscriptionKey(userId, 'xiaohongshu'),
      {
        type: 'StartSubscription',
        subscriptionId: randomUUID(),
        userId,
        service: 'xiaohongshu',
        plan: 'pro',
        periodEnd,
        now: '2026-01-01T00:00:00.000Z',
      },
      { context },
    );
    return stream;
  }

  async function order(expiresAt: string): Promise<string> {
    const orderId = randomUUID();
    await handle(
      store,
      paymentOrderAggregate,
      orderId,
      {
        type: 'CreatePaymentOrder',
        orderId,
        userId: randomUUID(),
        service: 'qidian',
        plan: 'basic',
        billingCycle: 'monthly',
        amountFen: 1990,
        provider: 'alipay',
        expiresAt,
        now: '2026-02-01T00:00:00.000Z',
      },
      { context },
    );
    return orderId;
  }

  const deadlineOf = (key: string) => knex('deadlines').where({ key }).first();

  it('expires a paid subscription at its period end, caused by the event that set the period, and then forgets the deadline', async () => {
    const stream = await paidSubscription('2026-02-01T00:00:00.000Z');
    await runScheduleToHead();
    const row = await deadlineOf(`subscription.expire:${stream}`);
    expect(row.due_at.toISOString()).to.equal('2026-02-01T00:00:00.000Z');

    // not yet due: nothing happens
    await sweeper().sweepOnce(new Date('2026-01-31T23:59:59.000Z'));
    expect(await types(stream)).to.deep.equal(['SubscriptionStarted']);

    await sweeper().sweepOnce(new Date('2026-02-01T00:00:05.000Z'));
    const events = await store.readStream(stream);
    expect(events.map((e) => e.type)).to.deep.equal(['SubscriptionStarted', 'SubscriptionExpired']);
    expect(events[1]!.data).to.include({ fallbackPlan: 'free', periodEnd: null });
    expect(events[1]!.metadata).to.include({ $causationId: events[0]!.id, $correlationId: context.correlationId, userId: 'pm:deadlines' });
    expect(await deadlineOf(`subscription.expire:${stream}`)).to.equal(undefined);

    // the schedule reads the expiry (free: no end) and keeps no row
    await runScheduleToHead();
    expect(await deadlineOf(`subscription.expire:${stream}`)).to.equal(undefined);
  });

  it('moves the deadline when the period is renewed, and a sweep at the old time changes nothing', async () => {
    const stream = await paidSubscription('2026-03-01T00:00:00.000Z');
    await handle(
      store,
      subscriptionAggregate,
      stream.replace(/^subscription-/, ''),
      { type: 'RenewSubscription', orderId: randomUUID(), periodEnd: '2026-04-01T00:00:00.000Z', now: '2026-02-20T00:00:00.000Z' },
      { context },
    );
    await runScheduleToHead();
    expect((await deadlineOf(`subscription.expire:${stream}`)).due_at.toISOString()).to.equal('2026-04-01T00:00:00.000Z');
    await sweeper().sweepOnce(new Date('2026-03-01T00:00:01.000Z'));
    expect(await types(stream)).to.deep.equal(['SubscriptionStarted', 'SubscriptionRenewed']);
    await sweeper().sweepOnce(new Date('2026-04-01T00:00:01.000Z'));
    expect(await types(stream)).to.deep.equal(['SubscriptionStarted', 'SubscriptionRenewed', 'SubscriptionExpired']);
  });

  it('closes an unpaid order after its expiry plus the grace period; a paid order has no deadline left', async () => {
    const unpaid = await order('2026-02-01T00:30:00.000Z');
    const paid = await order('2026-02-01T00:30:00.000Z');
    await handle(
      store,
      paymentOrderAggregate,
      paid,
      {
        type: 'ConfirmPayment',
        orderId: paid,
        provider: 'alipay',
        providerTradeNo: 'T1',
        paidAmountFen: 1990,
        paidAt: '2026-02-01T00:10:00.000Z',
        now: '2026-02-01T00:10:01.000Z',
      },
      { context },
    );
    await runScheduleToHead();
    expect((await deadlineOf(`payment_order.expire:${paymentStream(unpaid)}`)).due_at.toISOString()).to.equal('2026-02-01T00:40:00.000Z');
    expect(await deadlineOf(`payment_order.expire:${paymentStream(paid)}`)).to.equal(undefined);

    // within the grace period a late notification could still confirm it: not closed
    await sweeper().sweepOnce(new Date('2026-02-01T00:35:00.000Z'));
    expect(await types(paymentStream(unpaid))).to.deep.equal(['PaymentOrderCreated']);
    await sweeper().sweepOnce(new Date('2026-02-01T00:40:00.000Z'));
    expect(await types(paymentStream(unpaid))).to.deep.equal(['PaymentOrderCreated', 'PaymentOrderExpired']);
    expect(await types(paymentStream(paid))).to.deep.equal(['PaymentOrderCreated', 'PaymentSucceeded']);
  });

  it('two sweepers at once expire a subscription once', async () => {
    const streams = await Promise.all(Array.from({ length: 6 }, () => paidSubscription('2026-05-01T00:00:00.000Z')));
    await runScheduleToHead();
    const at = new Date('2026-05-01T00:00:01.000Z');
    const handled = await Promise.all([sweeper().sweepOnce(at), sweeper().sweepOnce(at), sweeper().sweepOnce(at)]);
    expect(handled.reduce((a, b) => a + b, 0)).to.equal(6);
    for (const stream of streams) expect(await types(stream)).to.deep.equal(['SubscriptionStarted', 'SubscriptionExpired']);
  });

  it('a failing action postpones the deadline with back-off and keeps its due time; the next attempt does it', async () => {
    const stream = await paidSubscription('2026-06-01T00:00:00.000Z');
    await runScheduleToHead();
    const failing: Record<string, DeadlineAction> = {
      'subscription.expire': async () => {
        throw new Error('store unavailable');
      },
      'payment_order.expire': async () => {},
    };
    const at = new Date('2026-06-01T00:00:01.000Z');
    expect(await sweeper(failing as never).sweepOnce(at)).to.equal(1);
    const row = await deadlineOf(`subscription.expire:${stream}`);
    expect(row).to.include({ attempts: 1, last_error: 'store unavailable' });
    expect(row.due_at.toISOString()).to.equal('2026-06-01T00:00:00.000Z');
    expect(row.retry_at.toISOString()).to.equal('2026-06-01T00:01:01.000Z');

    // before retry_at it is not tried again; after, the real action runs
    expect(await sweeper().sweepOnce(new Date('2026-06-01T00:00:30.000Z'))).to.equal(0);
    expect(await sweeper().sweepOnce(new Date('2026-06-01T00:01:02.000Z'))).to.equal(1);
    expect(await types(stream)).to.deep.equal(['SubscriptionStarted', 'SubscriptionExpired']);
  });

  it('runs the commands outside any transaction: nothing holds a transaction id while an action runs', async () => {
    await paidSubscription('2026-07-01T00:00:00.000Z');
    await runScheduleToHead();
    const held: number[] = [];
    const real = expiryActions(store);
    const watching: Record<string, DeadlineAction> = {
      'subscription.expire': async (deadline, now, ctx) => {
        const { rows } = await knex.raw<{ rows: { n: number }[] }>(
          // this file's sessions only: the suite's other work in the same database may hold a transaction id meanwhile
          'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = ? AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()',
          [APPLICATION_NAME],
        );
        held.push(rows[0]!.n);
        await real['subscription.expire'](deadline, now, ctx);
      },
      'payment_order.expire': real['payment_order.expire'],
    };
    expect(await sweeper(watching as never).sweepOnce(new Date('2026-07-01T00:00:01.000Z'))).to.equal(1);
    expect(held).to.deep.equal([0]);
  });

  it('a deadline claimed by a sweeper that died is taken again once its lease ends', async () => {
    const stream = await paidSubscription('2026-08-01T00:00:00.000Z');
    await runScheduleToHead();
    const at = new Date('2026-08-01T00:00:01.000Z');
    const { claimDueDeadlines } = await import('../../src/process-managers/deadlines/deadline-table.js');
    expect(await claimDueDeadlines(knex, at, 10, 60_000)).to.have.length(1); // …and never completes it
    expect(await sweeper().sweepOnce(new Date(at.getTime() + 30_000)), 'within the lease').to.equal(0);
    expect(await sweeper().sweepOnce(new Date(at.getTime() + 61_000)), 'after the lease').to.equal(1);
    expect(await types(stream)).to.deep.equal(['SubscriptionStarted', 'SubscriptionExpired']);
  });
});

import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { up as createDeadlinesTable } from '../../migrations/20261123000500_deadlines.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { paymentProvidersFromConfig } from '../../src/adapters/payments/from-config.js';
import { StreamNotFoundError } from '../../src/event-store/errors.js';
import { createExpirySchedule, DeadlineSweeper, expiryActions, renewalOrderId } from '../../src/process-managers/index.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { paymentStream } from '../../src/write-model/payment-order/decider.js';
import { subscriptionAggregate, subscriptionKey, subscriptionStream } from '../../src/write-model/subscription/index.js';
import { generateMerchant, generateProviderKeys, platformEnv, registrationOf } from '../../sandbox/payment-provider/keys.js';
import { startPaymentSandbox, type PaymentSandbox } from '../../sandbox/payment-provider/server.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';

const silent = { info() {}, warn() {}, error() {} };
const DAY = 24 * 3600_000;
const LEAD_MS = 3 * DAY;

/**
 * The `subscription.renewal` deadline: scheduled from the period-setting
 * events LEAD before the period ends, run by the sweeper's action against
 * the payment sandbox (a real Alipay / WeChat Pay stand-in): a renewal order
 * placed once and recorded (automatic renewal on), an expiry reminder
 * otherwise; early, late and superseded runs change nothing.
 */
describe('deadlines: renewal orders and expiry reminders before a paid period ends', function () {
  this.timeout(60_000);
  let knex: Knex;
  let store: PostgresEventStore;
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  let sandbox: PaymentSandbox;
  let actions: ReturnType<typeof expiryActions>;
  const names: string[] = [];
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(async () => {
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 5 });
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, searchPath: [iso.schema, 'public'], pool: { min: 0, max: 5 } });
    await createDeadlinesTable(knex);
    const merchant = generateMerchant();
    const keys = generateProviderKeys();
    sandbox = await startPaymentSandbox({ merchant: registrationOf(merchant), keys, timeScale: 0.0005 });
    const config = testConfig({
      ...platformEnv({ merchant, keys, sandboxUrl: sandbox.url, notifyBaseUrl: 'http://collector-api.test' }),
      PAYMENT_PROVIDER_TIMEOUT_MS: '2000',
    });
    actions = expiryActions(store, { renewals: { providers: paymentProvidersFromConfig(config), leadMs: LEAD_MS, logger: silent } });
  });
  after(async () => {
    await knex('consumer_checkpoints').whereIn('consumer', names).delete();
    await sandbox?.stop();
    await store.close();
    await knex.destroy();
    await iso.drop();
  });

  const scheduleName = `pm-deadlines-renewal-test-${randomUUID().slice(0, 8)}`;
  names.push(scheduleName);
  const runScheduleToHead = () =>
    runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, createExpirySchedule({ paymentGraceMs: 0, renewalLeadMs: LEAD_MS }, scheduleName));
  const sweeper = () => new DeadlineSweeper({ knex, actions, logger: silent, intervalMs: 1_000, retryBaseMs: 60_000 });
  const deadlineOf = (key: string) => knex('deadlines').where({ key }).first();

  async function types(stream: string): Promise<string[]> {
    try {
      return (await store.readStream(stream)).map((e) => e.type);
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
  }

  /** a pro subscription paid until `periodEnd`; automatic renewal with `autoRenew` */
  async function paidSubscription(periodEnd: Date, autoRenew?: { provider: 'alipay' | 'wechat'; channel: 'page' | 'native' }) {
    const userId = randomUUID();
    const subscriptionId = randomUUID();
    const key = subscriptionKey(userId, 'xiaohongshu');
    const now = new Date(periodEnd.getTime() - 30 * DAY).toISOString();
    await handle(
      store,
      subscriptionAggregate,
      key,
      { type: 'StartSubscription', subscriptionId, userId, service: 'xiaohongshu', plan: 'pro', periodEnd: periodEnd.toISOString(), now },
      { context },
    );
    if (autoRenew) await handle(store, subscriptionAggregate, key, { type: 'SetAutoRenew', enabled: true, ...autoRenew, now }, { context });
    return { userId, subscriptionId, key, stream: subscriptionStream(userId, 'xiaohongshu') };
  }

  const periodEnd = (days: number) => new Date(Math.floor((Date.now() + days * DAY) / 1000) * 1000);

  it('schedules the renewal deadline LEAD before the period end, beside the expiry', async () => {
    const end = periodEnd(20);
    const { stream } = await paidSubscription(end);
    await runScheduleToHead();
    expect((await deadlineOf(`subscription.renewal:${stream}`)).due_at.toISOString()).to.equal(new Date(end.getTime() - LEAD_MS).toISOString());
    expect((await deadlineOf(`subscription.expire:${stream}`)).due_at.toISOString()).to.equal(end.toISOString());
  });

  it('automatic renewal on: a renewal order placed once with the provider (Alipay), recorded on the subscription; a run again adds nothing', async () => {
    const end = periodEnd(10);
    const s = await paidSubscription(end, { provider: 'alipay', channel: 'page' });
    await runScheduleToHead();
    // before the lead: not due
    expect(await sweeper().sweepOnce(new Date(end.getTime() - LEAD_MS - 1_000))).to.equal(0);
    const at = new Date(end.getTime() - LEAD_MS + 1_000);
    expect(await sweeper().sweepOnce(at)).to.be.greaterThan(0);

    const orderId = renewalOrderId(s.subscriptionId, end.toISOString(), 0);
    const order = await store.readStream(paymentStream(orderId));
    expect(order.map((e) => e.type)).to.deep.equal(['PaymentOrderCreated', 'PaymentOrderPlaced']);
    expect(order[0]!.data).to.include({
      userId: s.userId,
      service: 'xiaohongshu',
      plan: 'pro',
      billingCycle: 'monthly',
      amountFen: 12990,
      provider: 'alipay',
      expiresAt: end.toISOString(),
    });
    expect(order[0]!.metadata).to.include({ userId: 'pm:deadlines' });
    const events = await store.readStream(s.stream);
    expect(events.map((e) => e.type)).to.deep.equal(['SubscriptionStarted', 'AutoRenewChanged', 'SubscriptionRenewalOrdered']);
    const ordered = events[2]!.data as Record<string, unknown>;
    expect(ordered).to.include({ orderId, periodEnd: end.toISOString(), provider: 'alipay', channel: 'page', amountFen: 12990, codeUrl: null });
    expect(String(ordered.payUrl).startsWith(`${sandbox.alipayGatewayUrl}?`)).to.equal(true);
    expect(await deadlineOf(`subscription.renewal:${s.stream}`)).to.equal(undefined);

    // the action run again (a sweep that crashed before completing the row): the same order, nothing appended
    const deadline = {
      key: `subscription.renewal:${s.stream}`,
      kind: 'subscription.renewal' as const,
      subjectId: s.stream,
      dueAt: new Date(end.getTime() - LEAD_MS).toISOString(),
      attempts: 0,
      causeEventId: randomUUID(),
      correlationId: randomUUID(),
    };
    await actions['subscription.renewal'](deadline, new Date(at.getTime() + 5_000), context);
    expect(await types(paymentStream(orderId))).to.deep.equal(['PaymentOrderCreated', 'PaymentOrderPlaced']);
    expect(await types(s.stream)).to.have.length(3);
    expect(await types(paymentStream(renewalOrderId(s.subscriptionId, end.toISOString(), 1)))).to.deep.equal([]);
  });

  it('automatic renewal off: an expiry reminder only, no order', async () => {
    const end = periodEnd(11);
    const s = await paidSubscription(end);
    await runScheduleToHead();
    await sweeper().sweepOnce(new Date(end.getTime() - LEAD_MS + 1_000));
    const events = await store.readStream(s.stream);
    expect(events.map((e) => e.type)).to.deep.equal(['SubscriptionStarted', 'SubscriptionExpiryReminded']);
    expect(events[1]!.data).to.include({ plan: 'pro', periodEnd: end.toISOString(), fallbackPlan: 'free', reason: 'auto_renew_off' });
    expect(await types(paymentStream(renewalOrderId(s.subscriptionId, end.toISOString(), 0)))).to.deep.equal([]);
  });

  it('renewed meanwhile: the deadline moves to the new period, and a run at the old time changes nothing (superseded); late is a no-op', async () => {
    const end = periodEnd(12);
    const s = await paidSubscription(end);
    const newEnd = new Date(end.getTime() + 30 * DAY);
    await handle(
      store,
      subscriptionAggregate,
      s.key,
      { type: 'RenewSubscription', orderId: randomUUID(), periodEnd: newEnd.toISOString(), now: new Date(end.getTime() - 5 * DAY).toISOString() },
      { context },
    );
    await runScheduleToHead();
    expect((await deadlineOf(`subscription.renewal:${s.stream}`)).due_at.toISOString()).to.equal(new Date(newEnd.getTime() - LEAD_MS).toISOString());
    expect(await sweeper().sweepOnce(new Date(end.getTime() - LEAD_MS + 1_000))).to.equal(0);
    // the action run at the old time anyway (a row claimed before it moved): too early for the new period
    const stale = {
      key: `subscription.renewal:${s.stream}`,
      kind: 'subscription.renewal' as const,
      subjectId: s.stream,
      dueAt: new Date(end.getTime() - LEAD_MS).toISOString(),
      attempts: 0,
      causeEventId: randomUUID(),
      correlationId: randomUUID(),
    };
    await actions['subscription.renewal'](stale, new Date(end.getTime() - LEAD_MS + 1_000), context);
    // after the new end: late, the expiry takes over
    await actions['subscription.renewal'](stale, new Date(newEnd.getTime() + 1_000), context);
    expect(await types(s.stream)).to.deep.equal(['SubscriptionStarted', 'SubscriptionRenewed']);
  });

  it('a cancelled subscription is reminded (reason cancelled) and never ordered', async () => {
    const end = periodEnd(13);
    const s = await paidSubscription(end, { provider: 'alipay', channel: 'page' });
    await handle(store, subscriptionAggregate, s.key, { type: 'CancelSubscription', now: new Date(end.getTime() - 20 * DAY).toISOString() }, { context });
    await runScheduleToHead();
    await sweeper().sweepOnce(new Date(end.getTime() - LEAD_MS + 1_000));
    const events = await store.readStream(s.stream);
    expect(events.map((e) => e.type)).to.deep.equal(['SubscriptionStarted', 'AutoRenewChanged', 'SubscriptionCancelled', 'SubscriptionExpiryReminded']);
    expect(events[3]!.data).to.include({ reason: 'cancelled' });
  });

  it('the provider unavailable: the order is recorded failed and the deadline retried with back-off; the retry places the next order (WeChat Pay)', async () => {
    const end = periodEnd(14);
    const s = await paidSubscription(end, { provider: 'wechat', channel: 'native' });
    await runScheduleToHead();
    const at = new Date(end.getTime() - LEAD_MS + 1_000);
    sandbox.faults.unavailable = true;
    try {
      await sweeper().sweepOnce(at);
    } finally {
      sandbox.faults.unavailable = false;
    }
    const first = renewalOrderId(s.subscriptionId, end.toISOString(), 0);
    expect(await types(paymentStream(first))).to.deep.equal(['PaymentOrderCreated', 'PaymentFailed']);
    const row = await deadlineOf(`subscription.renewal:${s.stream}`);
    expect(row.attempts).to.equal(1);
    expect(await types(s.stream)).to.deep.equal(['SubscriptionStarted', 'AutoRenewChanged']);

    await sweeper().sweepOnce(new Date(row.retry_at.getTime() + 1_000));
    const second = renewalOrderId(s.subscriptionId, end.toISOString(), 1);
    expect(await types(paymentStream(second))).to.deep.equal(['PaymentOrderCreated', 'PaymentOrderPlaced']);
    const events = await store.readStream(s.stream);
    expect(events.map((e) => e.type)).to.deep.equal(['SubscriptionStarted', 'AutoRenewChanged', 'SubscriptionRenewalOrdered']);
    expect(events[2]!.data).to.include({ orderId: second, provider: 'wechat', channel: 'native', payUrl: null });
    expect(String((events[2]!.data as { codeUrl: string }).codeUrl)).to.match(/^weixin:\/\/wxpay\/bizpayurl\?pr=/);
  });

  it('without the provider configured here: reminded instead (renewal_not_placed)', async () => {
    const end = periodEnd(15);
    const s = await paidSubscription(end, { provider: 'alipay', channel: 'page' });
    await runScheduleToHead();
    const bare = expiryActions(store, { renewals: { providers: {}, leadMs: LEAD_MS } });
    await new DeadlineSweeper({ knex, actions: bare, logger: silent, intervalMs: 1_000 }).sweepOnce(new Date(end.getTime() - LEAD_MS + 1_000));
    const events = await store.readStream(s.stream);
    expect(events.map((e) => e.type)).to.deep.equal(['SubscriptionStarted', 'AutoRenewChanged', 'SubscriptionExpiryReminded']);
    expect(events[2]!.data).to.include({ reason: 'renewal_not_placed' });
  });
});

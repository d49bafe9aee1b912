import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { START } from '../../src/event-store/position.js';
import { StreamNotFoundError } from '../../src/event-store/errors.js';
import { addBillingCycle, createFreePlansOnRegistration, createPlanOnPayment, subscriptionIdFor } from '../../src/process-managers/index.js';
import { commandsForPayment } from '../../src/process-managers/plan-on-payment.js';
import { resetCheckpoint } from '../../src/consumers/checkpoints.js';
import type { Consumer } from '../../src/consumers/consumer.js';
import { handle, load } from '../../src/write-model/core/command-handler.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { fold } from '../../src/write-model/core/decider.js';
import { paymentOrderAggregate } from '../../src/write-model/payment-order/decider.js';
import type { PaymentSucceededData } from '../../src/write-model/payment-order/events.js';
import { subscriptionAggregate, subscriptionDecider, subscriptionKey, subscriptionStream } from '../../src/write-model/subscription/index.js';
import { userAggregate, userStream } from '../../src/write-model/user/decider.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';

describe('process managers: free plans on registration, plan on payment', function () {
  this.timeout(60_000);
  let knex: Knex;
  let store: PostgresEventStore;
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  const names: string[] = [];
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(async () => {
    // a schema of its own: "from the start" then means only this test's events
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 5 });
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 5 } });
  });
  after(async () => {
    await knex('consumer_checkpoints').whereIn('consumer', names).delete();
    await store.close();
    await knex.destroy();
    await iso.drop();
  });

  const uniqueName = (base: string) => {
    const name = `${base}-test-${randomUUID().slice(0, 8)}`;
    names.push(name);
    return name;
  };

  const runToHead = (consumer: Consumer) => runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, consumer);

  async function streamTypes(stream: string): Promise<string[]> {
    try {
      return (await store.readStream(stream)).map((e) => e.type);
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
  }

  async function register(userId: string): Promise<void> {
    await handle(
      store,
      userAggregate,
      userId,
      {
        type: 'RegisterUser',
        userId,
        email: `${userId}@example.test`,
        passwordHash: '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA',
        displayName: 'Ada',
        role: 'user',
        now: '2026-03-01T01:00:00.000Z',
      },
      { context },
    );
  }

  it('starts the free plan of both services exactly once, even when run twice from the start', async () => {
    const userId = randomUUID();
    await register(userId);
    const name = uniqueName('pm-free-plans-on-registration');
    const pm = createFreePlansOnRegistration({ store }, name);

    await runToHead(pm);
    await resetCheckpoint(knex, name, START);
    await runToHead(pm);

    for (const service of ['xiaohongshu', 'qidian'] as const) {
      const events = await store.readStream(subscriptionStream(userId, service));
      expect(events.map((e) => e.type)).to.deep.equal(['SubscriptionStarted']);
      const data = events[0]!.data as Record<string, unknown>;
      expect(data).to.include({ userId, service, plan: 'free', periodEnd: null, subscriptionId: subscriptionIdFor(userId, service) });
      // caused by the registration, done by the process manager
      const registered = (await store.readStream(userStream(userId)))[0]!;
      expect(events[0]!.metadata).to.include({ $causationId: registered.id, userId: `pm:${name}` });
    }
  });

  it('upgrades the plan on PaymentSucceeded, once; a second paid order for the same plan renews it', async () => {
    const userId = randomUUID();
    await register(userId);
    const freeName = uniqueName('pm-free-plans-on-registration');
    await runToHead(createFreePlansOnRegistration({ store }, freeName));

    const pay = async (orderId: string, paidAt: string) => {
      await handle(
        store,
        paymentOrderAggregate,
        orderId,
        {
          type: 'CreatePaymentOrder',
          orderId,
          userId,
          service: 'xiaohongshu',
          plan: 'pro',
          billingCycle: 'monthly',
          amountFen: 12990,
          provider: 'alipay',
          expiresAt: '2026-03-02T00:30:00.000Z',
          now: '2026-03-02T00:00:00.000Z',
        },
        { context },
      );
      await handle(
        store,
        paymentOrderAggregate,
        orderId,
        { type: 'ConfirmPayment', orderId, provider: 'alipay', providerTradeNo: `trade-${orderId}`, paidAmountFen: 12990, paidAt, now: paidAt },
        { context },
      );
    };
    const order1 = `order-${randomUUID()}`;
    await pay(order1, '2026-03-02T00:10:00.000Z');

    const name = uniqueName('pm-plan-on-payment');
    const pm = createPlanOnPayment({ store }, name);
    await runToHead(pm);
    await resetCheckpoint(knex, name, START);
    await runToHead(pm);

    const stream = subscriptionStream(userId, 'xiaohongshu');
    expect(await streamTypes(stream)).to.deep.equal(['SubscriptionStarted', 'SubscriptionUpgraded']);
    let { state } = await load(store, subscriptionAggregate, subscriptionKey(userId, 'xiaohongshu'));
    expect(state).to.include({ status: 'active', plan: 'pro', periodEnd: '2026-04-02T00:10:00.000Z' });
    // qidian untouched
    expect(await streamTypes(subscriptionStream(userId, 'qidian'))).to.deep.equal(['SubscriptionStarted']);

    // the same plan paid again: a renewal from the current period end
    const order2 = `order-${randomUUID()}`;
    await pay(order2, '2026-03-02T00:20:00.000Z');
    await resetCheckpoint(knex, name, START);
    await runToHead(pm);
    expect(await streamTypes(stream)).to.deep.equal(['SubscriptionStarted', 'SubscriptionUpgraded', 'SubscriptionRenewed']);
    ({ state } = await load(store, subscriptionAggregate, subscriptionKey(userId, 'xiaohongshu')));
    expect(state).to.include({ plan: 'pro', periodEnd: '2026-05-02T00:10:00.000Z' });
  });

  it("two upgrade orders placed together, both paid: the second would discard the first one's paid month, so it is refused (paid_since_order)", async () => {
    const userId = randomUUID();
    await register(userId);
    await runToHead(createFreePlansOnRegistration({ store }, uniqueName('pm-free-plans-on-registration')));
    const order = async (orderId: string, plan: 'pro' | 'enterprise', paidAt: string): Promise<PaymentSucceededData> => {
      const base = { orderId, provider: 'alipay' as const };
      await handle(
        store,
        paymentOrderAggregate,
        orderId,
        {
          type: 'CreatePaymentOrder',
          ...base,
          userId,
          service: 'xiaohongshu',
          plan,
          billingCycle: 'monthly',
          amountFen: 12990,
          expiresAt: '2026-03-02T00:30:00.000Z',
          now: '2026-03-02T00:00:00.000Z',
        },
        { context },
      );
      const { events } = await handle(
        store,
        paymentOrderAggregate,
        orderId,
        { type: 'ConfirmPayment', ...base, providerTradeNo: `trade-${orderId}`, paidAmountFen: 12990, paidAt, now: paidAt },
        { context },
      );
      const succeeded = events.find((e) => e.type === 'PaymentSucceeded');
      if (succeeded?.type !== 'PaymentSucceeded') throw new Error('not paid');
      return succeeded.data;
    };
    const pro = await order(`order-${randomUUID()}`, 'pro', '2026-03-02T00:10:00.000Z');
    const enterprise = await order(`order-${randomUUID()}`, 'enterprise', '2026-03-02T00:20:00.000Z');
    expect(enterprise.orderedAt, 'the payment says when its order was placed').to.equal('2026-03-02T00:00:00.000Z');

    const name = uniqueName('pm-plan-on-payment');
    const key = subscriptionKey(userId, 'xiaohongshu');
    // what pm-plan-on-payment does for each payment, in the order they were paid
    await handle(store, subscriptionAggregate, key, (state) => commandsForPayment(pro, state), { context: { ...context, actor: name } });
    const refused = await handle(store, subscriptionAggregate, key, (state) => commandsForPayment(enterprise, state), { context }).catch((e: unknown) => e);
    expect(refused).to.be.instanceOf(DomainError);
    expect(refused).to.deep.include({ code: 'CONFLICT' });
    expect((refused as DomainError).details).to.include({ reason: 'paid_since_order', orderId: enterprise.orderId, lastPaidAt: pro.paidAt });
    const { state } = await load(store, subscriptionAggregate, key);
    expect(state, 'pro stays, with the month its order paid for').to.include({ plan: 'pro', periodEnd: '2026-04-02T00:10:00.000Z' });
  });

  it('starts the subscription itself when the payment comes before the free-plans PM ran', async () => {
    const userId = randomUUID();
    const orderId = `order-${randomUUID()}`;
    await handle(
      store,
      paymentOrderAggregate,
      orderId,
      {
        type: 'CreatePaymentOrder',
        orderId,
        userId,
        service: 'qidian',
        plan: 'basic',
        billingCycle: 'yearly',
        amountFen: 29900,
        provider: 'wechat',
        expiresAt: '2026-03-02T00:30:00.000Z',
        now: '2026-03-02T00:00:00.000Z',
      },
      { context },
    );
    await handle(
      store,
      paymentOrderAggregate,
      orderId,
      {
        type: 'ConfirmPayment',
        orderId,
        provider: 'wechat',
        providerTradeNo: 't-1',
        paidAmountFen: 29900,
        paidAt: '2026-03-02T00:05:00.000Z',
        now: '2026-03-02T00:05:00.000Z',
      },
      { context },
    );
    await runToHead(createPlanOnPayment({ store }, uniqueName('pm-plan-on-payment')));
    const { state } = await load(store, subscriptionAggregate, subscriptionKey(userId, 'qidian'));
    expect(state).to.include({ status: 'active', plan: 'basic', periodEnd: '2027-03-02T00:05:00.000Z', subscriptionId: subscriptionIdFor(userId, 'qidian') });
    // the start and the upgrade in one append
    expect(await streamTypes(subscriptionStream(userId, 'qidian'))).to.deep.equal(['SubscriptionStarted', 'SubscriptionUpgraded']);
  });

  it('decides from the state the command handler read (again after a conflict), not from an earlier read', () => {
    const paid: PaymentSucceededData = {
      orderId: 'o-1',
      userId: 'u-1',
      service: 'xiaohongshu',
      plan: 'pro',
      billingCycle: 'monthly',
      amountFen: 12990,
      provider: 'alipay',
      providerTradeNo: 't-1',
      paidAt: '2026-03-02T00:05:00.000Z',
    };
    const ref = { subscriptionId: 's-1', userId: 'u-1', service: 'xiaohongshu' } as const;
    const none = subscriptionDecider.initialState();
    expect(commandsForPayment(paid, none).map((c) => c.type)).to.deep.equal(['StartSubscription', 'ChangePlan']);
    const free = fold(subscriptionDecider, [
      { type: 'SubscriptionStarted', data: { ...ref, plan: 'free', periodStart: paid.paidAt, periodEnd: null, startedAt: paid.paidAt } },
    ]);
    expect(commandsForPayment(paid, free)).to.deep.equal([
      { type: 'ChangePlan', plan: 'pro', orderId: 'o-1', periodEnd: '2026-04-02T00:05:00.000Z', now: paid.paidAt },
    ]);
    // someone upgraded to pro meanwhile: the same payment now renews
    const pro = fold(subscriptionDecider, [
      { type: 'SubscriptionStarted', data: { ...ref, plan: 'pro', periodStart: paid.paidAt, periodEnd: '2026-03-20T00:00:00.000Z', startedAt: paid.paidAt } },
    ]);
    expect(commandsForPayment(paid, pro)).to.deep.equal([
      { type: 'RenewSubscription', orderId: 'o-1', periodEnd: '2026-04-20T00:00:00.000Z', now: paid.paidAt },
    ]);
  });

  it('adds a calendar month, clamped to the month end', () => {
    expect(addBillingCycle('2026-01-31T10:00:00.000Z', 'monthly')).to.equal('2026-02-28T10:00:00.000Z');
    expect(addBillingCycle('2028-02-29T10:00:00.000Z', 'yearly')).to.equal('2029-02-28T10:00:00.000Z');
    expect(addBillingCycle('2026-12-15T00:00:00.000Z', 'monthly')).to.equal('2027-01-15T00:00:00.000Z');
  });
});

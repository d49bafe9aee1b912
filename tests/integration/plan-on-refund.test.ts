import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { createPlanOnPayment, createPlanOnRefund } from '../../src/process-managers/index.js';
import { resetCheckpoint } from '../../src/consumers/checkpoints.js';
import type { Consumer } from '../../src/consumers/consumer.js';
import { handle, load } from '../../src/write-model/core/command-handler.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { paymentOrderAggregate } from '../../src/write-model/payment-order/decider.js';
import { subscriptionAggregate, subscriptionKey, subscriptionStream } from '../../src/write-model/subscription/index.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';

describe('process manager: plan on refund (the reverse of plan on payment)', function () {
  this.timeout(60_000);
  let knex: Knex;
  let store: PostgresEventStore;
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  const names: string[] = [];
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(async () => {
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

  const consumer = (make: (name: string) => Consumer, base: string) => {
    const name = `${base}-test-${randomUUID().slice(0, 8)}`;
    names.push(name);
    return make(name);
  };
  const runToHead = (c: Consumer) => runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, c);

  async function paidOrder(userId: string, plan: 'basic' | 'pro', paidAt: string): Promise<string> {
    const orderId = randomUUID();
    const order = (command: object) => handle(store, paymentOrderAggregate, orderId, command as never, { context });
    await order({
      type: 'CreatePaymentOrder',
      orderId,
      userId,
      service: 'xiaohongshu',
      plan,
      billingCycle: 'monthly',
      amountFen: 3990,
      provider: 'alipay',
      expiresAt: '2026-03-01T02:00:00.000Z',
      // placed five minutes before it is paid: a later order is placed after an earlier one's payment
      now: new Date(Date.parse(paidAt) - 5 * 60_000).toISOString(),
    });
    await order({ type: 'ConfirmPayment', orderId, provider: 'alipay', providerTradeNo: `T${orderId}`, paidAmountFen: 3990, paidAt, now: paidAt });
    return orderId;
  }
  const refund = (orderId: string, refundId: string, amountFen: number) =>
    handle(
      store,
      paymentOrderAggregate,
      orderId,
      { type: 'RefundPayment', orderId, refundId, amountFen, reason: 'test', now: '2026-03-05T00:00:00.000Z' },
      { context },
    );
  const expiries = async (userId: string) =>
    (await store.readStream(subscriptionStream(userId, 'xiaohongshu'))).filter((e) => e.type === 'SubscriptionExpired');

  it('a full refund of the order in force ends the plan once, even when the reaction runs twice; a partial one changes nothing', async () => {
    const userId = randomUUID();
    const onPayment = consumer((n) => createPlanOnPayment({ store }, n), 'pm-plan-on-payment');
    const onRefund = consumer((n) => createPlanOnRefund({ store }, n), 'pm-plan-on-refund');
    const orderId = await paidOrder(userId, 'basic', '2026-03-01T01:10:00.000Z');
    await runToHead(onPayment);
    expect((await load(store, subscriptionAggregate, subscriptionKey(userId, 'xiaohongshu'))).state).to.include({ plan: 'basic' });

    await refund(orderId, 'rf-1', 990);
    await runToHead(onRefund);
    expect(await expiries(userId), 'a partial refund').to.have.length(0);

    await refund(orderId, 'rf-2', 3000);
    await runToHead(onRefund);
    // a redelivery: the same events handled again from the start
    await resetCheckpoint(knex, onRefund.name);
    await runToHead(onRefund);
    const expired = await expiries(userId);
    expect(expired).to.have.length(1);
    expect(expired[0]!.data).to.include({ fromPlan: 'basic', fallbackPlan: 'free', refundedOrderId: orderId, expiredAt: '2026-03-05T00:00:00.000Z' });
    expect(expired[0]!.metadata.userId).to.equal(`pm:${onRefund.name}`);
    expect((await load(store, subscriptionAggregate, subscriptionKey(userId, 'xiaohongshu'))).state).to.include({ plan: 'free', periodEnd: null });
  });

  it('a full refund of an order that no longer pays for the plan in force changes nothing', async () => {
    const userId = randomUUID();
    const onPayment = consumer((n) => createPlanOnPayment({ store }, n), 'pm-plan-on-payment');
    const onRefund = consumer((n) => createPlanOnRefund({ store }, n), 'pm-plan-on-refund');
    const basic = await paidOrder(userId, 'basic', '2026-03-01T01:10:00.000Z');
    await runToHead(onPayment);
    const pro = await paidOrder(userId, 'pro', '2026-03-01T01:20:00.000Z');
    await runToHead(onPayment);
    await refund(basic, 'rf-1', 3990);
    await runToHead(onRefund);
    expect(await expiries(userId)).to.have.length(0);
    expect((await load(store, subscriptionAggregate, subscriptionKey(userId, 'xiaohongshu'))).state).to.include({ plan: 'pro' });
    await refund(pro, 'rf-2', 3990);
    await runToHead(onRefund);
    expect(await expiries(userId)).to.have.length(1);
  });
});

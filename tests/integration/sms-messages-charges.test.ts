import { expect } from 'chai';
import { Redis } from 'ioredis';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { FixedWindowRateLimiter } from '../../src/adapters/rate-limit/fixed-window.js';
import { redisTurns } from '../../src/adapters/redis/turns.js';
import { EventStoreLedgerCharges } from '../../src/application/ledger/charges.js';
import { LedgerWriter } from '../../src/application/ledger/writer.js';
import type { ChargeResult, LedgerCharges } from '../../src/application/ports/ledger.js';
import { requestSms } from '../../src/application/sms.js';
import { SmsInsufficientBalanceError, smsRequestEventIds } from '../../src/application/sms/charges.js';
import { createSmsMessages } from '../../src/process-managers/sms-messages.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { ledgerPeriodId, ledgerStream } from '../../src/write-model/ledger/index.js';
import { smsMessageAggregate } from '../../src/write-model/sms-message/decider.js';
import { testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';
import { waitFor } from '../support/wait-for.js';

/**
 * pm-sms-messages charging single sends against the real ledger: a send the
 * API refused (the balance could not pay, SmsFailed written) is neither
 * charged nor queued by the process manager, even when a top-up landed
 * before it got to the request, or while the API was between its refused
 * charge and its SmsFailed; a pending one is charged once.
 */
describe('pm-sms-messages: charges of single sends', function () {
  this.timeout(60_000);
  let knex: Knex;
  let store: PostgresEventStore;
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  let redis: Redis;
  const names: string[] = [];
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  const TZ = 'Asia/Shanghai';
  const now = new Date();

  before(async () => {
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 5 });
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 5 } });
    redis = new Redis(testRedisUrl, { maxRetriesPerRequest: 1 });
  });
  after(async () => {
    await redis.quit();
    await knex('consumer_checkpoints').whereIn('consumer', names).delete();
    await store.close();
    await knex.destroy();
    await iso.drop();
  });

  async function requested(ownerId: string): Promise<string> {
    const messageId = randomUUID();
    await handle(
      store,
      smsMessageAggregate,
      messageId,
      {
        type: 'RequestSms',
        messageId,
        ownerId,
        to: '+8613800138000',
        country: 'CN',
        callingCode: '86',
        text: 'hello',
        organizationId: null,
        now: now.toISOString(),
      },
      { context, eventIds: smsRequestEventIds(messageId) },
    );
    return messageId;
  }

  /** A top-up of 1 yuan, posted. */
  async function topUp(writer: LedgerWriter, ownerId: string): Promise<void> {
    const deposited = await writer.submit({
      kind: 'deposit',
      holder: { kind: 'user', id: ownerId },
      orderId: randomUUID(),
      provider: 'test',
      amountCents: 100,
      reason: 'top-up',
      context,
    });
    expect(deposited.status).to.equal('posted');
  }

  /** A consumer name of this test's own (its checkpoint removed afterwards). */
  function pmName(): string {
    const name = `pm-sms-messages-test-${randomUUID().slice(0, 8)}`;
    names.push(name);
    return name;
  }

  it('a single send already failed for want of balance is not charged by a top-up that came after; a pending one is charged once', async () => {
    const ownerId = randomUUID();
    const writer = new LedgerWriter(store, { timeZone: TZ });
    const refused = await requested(ownerId);
    await handle(
      store,
      smsMessageAggregate,
      refused,
      { type: 'RecordSmsFailed', messageId: refused, code: 'insufficient_balance', reason: 'no balance', now: now.toISOString() },
      { context },
    );
    const pending = await requested(ownerId);
    // the top-up lands before the process manager gets to either request
    await topUp(writer, ownerId);
    const name = pmName();
    const pm = createSmsMessages({ store, ledger: new EventStoreLedgerCharges({ store, writer }) }, name);
    await runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, pm);

    const period = new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit' }).format(now);
    const charges = (await store.readStream(ledgerStream(ledgerPeriodId({ kind: 'user', id: ownerId }, period))))
      .filter((e) => e.type === 'ChargePosted')
      .map((e) => (e.data as { sourceStream: string }).sourceStream);
    expect(charges).to.deep.equal([`sms_message-${pending}`]);
  });

  const charged = async (ownerId: string) => {
    const period = new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit' }).format(new Date());
    return (await store.readStream(ledgerStream(ledgerPeriodId({ kind: 'user', id: ownerId }, period))))
      .filter((e) => e.type === 'ChargePosted')
      .map((e) => (e.data as { sourceStream: string }).sourceStream);
  };

  it('a top-up landing while the API is between its refused charge and its SmsFailed does not pay for the refused send', async () => {
    const ownerId = randomUUID();
    const writer = new LedgerWriter(store, { timeZone: TZ });
    const ledger = new EventStoreLedgerCharges({ store, writer });
    const turns = redisTurns(redis, `test:${randomUUID()}`);
    // the API's ledger answers as the real one, and holds its refusal until the test lets it go
    let refusedAt: string | null = null;
    let letGo!: () => void;
    const held = new Promise<void>((resolve) => {
      letGo = resolve;
    });
    const slowRefusals: LedgerCharges = {
      holderOf: (userId) => ledger.holderOf(userId),
      async charge(request): Promise<ChargeResult> {
        const result = await ledger.charge(request);
        if (!result.ok) {
          refusedAt = request.sourceStream;
          await held;
        }
        return result;
      },
    };
    const limits = new FixedWindowRateLimiter(redis, { prefix: `test:${randomUUID()}`, limit: 100, windowMs: 60_000 });
    const api = requestSms(
      { store, now: () => new Date(), limits, defaultRegion: 'CN', ledger: slowRefusals, chargeTurns: turns },
      { userId: ownerId, context },
      { to: '+8613800138000', text: 'hello' },
    ).then(
      () => 'sent',
      (error: unknown) => error,
    );
    await waitFor('the API refused', async () => refusedAt !== null);
    const message = refusedAt!;
    await topUp(writer, ownerId);
    const name = pmName();
    const pm = createSmsMessages({ store, ledger, chargeTurns: turns }, name);
    const pmRun = runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, pm);
    // without the turn, the process manager reads the send as pending now and charges it from the top-up
    const deadline = Date.now() + 1_500;
    while (Date.now() < deadline && (await charged(ownerId)).length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    letGo();
    expect(await api).to.be.instanceOf(SmsInsufficientBalanceError);
    await pmRun;

    expect(await charged(ownerId)).to.deep.equal([]);
    const events = (await store.readStream(message)).map((e) => e.type);
    expect(events).to.deep.equal(['SmsRequested', 'SmsFailed']);
  });
});

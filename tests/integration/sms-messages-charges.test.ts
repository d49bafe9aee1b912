import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { EventStoreLedgerCharges } from '../../src/application/ledger/charges.js';
import { LedgerWriter } from '../../src/application/ledger/writer.js';
import { smsRequestEventIds } from '../../src/application/sms/charges.js';
import { createSmsMessages } from '../../src/process-managers/sms-messages.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { ledgerPeriodId, ledgerStream } from '../../src/write-model/ledger/index.js';
import { smsMessageAggregate } from '../../src/write-model/sms-message/decider.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';

/**
 * pm-sms-messages charging single sends against the real ledger: a send the
 * API refused (the balance could not pay, SmsFailed written) is neither
 * charged nor queued by the process manager, even when a top-up landed
 * before it got to the request; a pending one is charged once.
 */
describe('pm-sms-messages: charges of single sends', function () {
  this.timeout(60_000);
  let knex: Knex;
  let store: PostgresEventStore;
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  const names: string[] = [];
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  const TZ = 'Asia/Shanghai';
  const now = new Date();

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

    const name = `pm-sms-messages-test-${randomUUID().slice(0, 8)}`;
    names.push(name);
    const pm = createSmsMessages({ store, ledger: new EventStoreLedgerCharges({ store, writer }) }, name);
    await runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, pm);

    const period = new Intl.DateTimeFormat('en-CA', { timeZone: TZ, year: 'numeric', month: '2-digit' }).format(now);
    const charges = (await store.readStream(ledgerStream(ledgerPeriodId({ kind: 'user', id: ownerId }, period))))
      .filter((e) => e.type === 'ChargePosted')
      .map((e) => (e.data as { sourceStream: string }).sourceStream);
    expect(charges).to.deep.equal([`sms_message-${pending}`]);
  });
});

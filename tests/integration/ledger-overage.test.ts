import { expect } from 'chai';
import type { Queue } from 'bullmq';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { createSecretBox } from '../../src/adapters/crypto/secret-box.js';
import { runMigrations } from '../../src/adapters/db/migrate.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { QueueFactory, QUEUE_NAMES, type ScrapeJobData } from '../../src/adapters/queue/queues.js';
import { ScrapeDispatcher } from '../../src/adapters/queue/scrape-dispatcher.js';
import { EventStoreLedgerCharges } from '../../src/application/ledger/charges.js';
import { changeLedgerSettings, overageCharger } from '../../src/application/ledger/overage.js';
import { LedgerWriter } from '../../src/application/ledger/writer.js';
import { registerProxy } from '../../src/application/proxies.js';
import { resetCheckpoint } from '../../src/consumers/checkpoints.js';
import { START } from '../../src/event-store/position.js';
import { createDispatchExecutions } from '../../src/process-managers/dispatch-executions.js';
import { createProxiesProjection } from '../../src/projections/proxies.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { ledgerPeriodId, ledgerStream } from '../../src/write-model/ledger/index.js';
import { platformAccountAggregate } from '../../src/write-model/platform-account/decider.js';
import { subscriptionAggregate, subscriptionKey } from '../../src/write-model/subscription/decider.js';
import { workflowExecutionAggregate, workflowExecutionEvents, workflowExecutionStream } from '../../src/write-model/workflow-execution/index.js';
import { testConfig, testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';
import { connectPlatformAccount } from '../support/platform-accounts.js';

/**
 * Runs past the daily quota, paid from the balance: pm-dispatch-executions
 * with the ledger's overage charger, in a schema of its own. Opted in and
 * covered, the run goes and is charged once (a redelivery from the start
 * charges nothing more); not covered, or not opted in, it is refused as ever.
 */
describe('overage: runs past the quota charged to the balance (pm-dispatch-executions + ledger)', function () {
  this.timeout(60_000);
  const config = testConfig();
  const secretBox = createSecretBox(config);
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  const schema = `ledger_overage_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
  let databaseUrl: string;
  let admin: Knex;
  let knex: Knex;
  let store: PostgresEventStore;
  let factory: QueueFactory;
  let queue: Queue<ScrapeJobData>;
  let dispatcher: ScrapeDispatcher;
  let writer: LedgerWriter;
  const pmName = 'pm-dispatch-executions-overage';

  before(async () => {
    admin = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 1 } });
    await admin.raw('CREATE SCHEMA ??', [schema]);
    const url = new URL(testDatabaseUrl);
    url.searchParams.set('options', `-c search_path=${schema}`);
    databaseUrl = url.toString();
    knex = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 5 } });
    await runMigrations(knex);
    store = createPostgresEventStore({ connectionString: databaseUrl, poolSize: 5 });
    factory = new QueueFactory({ redisUrl: testRedisUrl, prefix: `test-overage-${randomUUID()}` });
    queue = factory.queue<ScrapeJobData>(QUEUE_NAMES.scrape);
    dispatcher = new ScrapeDispatcher(queue, { retry: { attempts: 2, backoffMs: 100 } });
    writer = new LedgerWriter(store, { timeZone: config.QUOTA_TIME_ZONE });
    await registerProxy(
      { store, context, secretBox },
      { host: '127.0.0.1', port: 18091, protocol: 'http', username: 'u', password: 'secret-pw', registeredBy: 'admin' },
    );
    await runConsumerToHead(deps(), createProxiesProjection('proxies-v1-overage'));
  });
  after(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
    await store.close();
    await knex.destroy();
    await admin.raw('DROP SCHEMA ?? CASCADE', [schema]);
    await admin.destroy();
  });

  const deps = () => ({ store, knex, databaseUrl });
  const overage = () => overageCharger(store, new EventStoreLedgerCharges({ store, writer }));
  const runPm = (freshForMs?: number) =>
    runConsumerToHead(
      deps(),
      createDispatchExecutions(
        { store, dispatcher, timeZone: config.QUOTA_TIME_ZONE, overage: overage(), ...(freshForMs !== undefined ? { freshForMs } : {}) },
        pmName,
      ),
    );
  const now = () => new Date().toISOString();
  const types = async (executionId: string) => (await store.readStream(workflowExecutionStream(executionId))).map((e) => e.type);
  const charges = async (userId: string) => {
    const period = writer.periodAt(new Date());
    try {
      return (await store.readStream(ledgerStream(ledgerPeriodId({ kind: 'user', id: userId }, period)))).filter((e) => e.type === 'ChargePosted');
    } catch {
      return [];
    }
  };

  async function newUser(balanceCents: number, optIn: boolean): Promise<{ userId: string; accountId: string }> {
    const userId = randomUUID();
    const accountId = randomUUID();
    await handle(
      store,
      subscriptionAggregate,
      subscriptionKey(userId, 'xiaohongshu'),
      { type: 'StartSubscription', subscriptionId: randomUUID(), userId, service: 'xiaohongshu', plan: 'free', periodEnd: null, now: now() },
      { context },
    );
    await connectPlatformAccount(store, context, { accountId, ownerId: userId, credentials: secretBox.encrypt('a1=cookie', accountId), now: now() });
    await handle(
      store,
      platformAccountAggregate,
      accountId,
      { type: 'VerifyAccount', accountId, requestedBy: null, outcome: { ok: true, platformUserId: '5f0000000000000000000001', nickname: 'n' }, now: now() },
      { context },
    );
    const holder = { kind: 'user' as const, id: userId };
    if (balanceCents > 0)
      await writer.submit({ kind: 'deposit', holder, orderId: randomUUID(), provider: 'alipay', amountCents: balanceCents, reason: 'top-up', context });
    if (optIn) await changeLedgerSettings(store, holder, { overage: true, changedBy: userId, now: new Date(), context });
    return { userId, accountId };
  }

  async function request(ownerId: string, accountId: string): Promise<string> {
    const executionId = randomUUID();
    await handle(
      store,
      workflowExecutionAggregate,
      executionId,
      {
        type: 'RequestExecution',
        executionId,
        workflowId: randomUUID(),
        ownerId,
        platform: 'xiaohongshu',
        workflowType: 'xiaohongshu.notes',
        config: { mode: 'keyword', keyword: 'tea', maxItems: 20 },
        platformAccountId: accountId,
        trigger: 'manual',
        requestedBy: ownerId,
        now: now(),
      },
      { context },
    );
    return executionId;
  }

  it('opted in and covered: the run past the quota goes, charged once with the request as its source, even redelivered', async () => {
    const { userId, accountId } = await newUser(50, true);
    const runs = [
      await request(userId, accountId),
      await request(userId, accountId),
      await request(userId, accountId),
      await request(userId, accountId),
      await request(userId, accountId),
    ];
    await runPm();
    await resetCheckpoint(knex, pmName, START);
    await runPm(); // a redelivery of everything
    // 21 + 21 within the 50 calls; the next three past it: two paid (20 each of 50), the fifth refused
    expect(await types(runs[2]!)).to.deep.equal(['ExecutionRequested', 'ProxyAssigned']);
    expect(await types(runs[3]!)).to.deep.equal(['ExecutionRequested', 'ProxyAssigned']);
    const fifth = await store.readStream(workflowExecutionStream(runs[4]!));
    expect(fifth.map((e) => e.type)).to.deep.equal(['ExecutionRequested', 'ExecutionRejected']);
    const rejected = workflowExecutionEvents.decode(fifth[1]!);
    expect(rejected.type === 'ExecutionRejected' && rejected.data.details).to.deep.include({
      overage: { refused: 'insufficient_balance', amount_cents: 20, available_cents: 10 },
    });
    const posted = await charges(userId);
    expect(posted).to.have.length(2);
    const requests = await Promise.all([runs[2]!, runs[3]!].map(async (id) => (await store.readStream(workflowExecutionStream(id)))[0]!));
    expect(posted.map((e) => (e.data as { sourceEventId: string }).sourceEventId).sort()).to.deep.equal(requests.map((r) => r.id).sort());
    expect(posted[1]!.data).to.deep.include({ item: 'collection_run', amountCents: 20, balanceAfterCents: 10 });
    expect(await queue.getJob(runs[3]!)).to.not.equal(undefined);
  });

  it('the careful path (one by one) charges the same way; not opted in, a run past the quota is refused as ever', async () => {
    const paying = await newUser(100, true);
    const refusing = await newUser(100, false);
    const paid: string[] = [];
    const refused: string[] = [];
    for (let i = 0; i < 3; i++) {
      paid.push(await request(paying.userId, paying.accountId));
      refused.push(await request(refusing.userId, refusing.accountId));
    }
    await runPm(0); // every request older than 0 ms: one by one
    expect(await types(paid[2]!)).to.deep.equal(['ExecutionRequested', 'ProxyAssigned']);
    expect(await types(refused[2]!)).to.deep.equal(['ExecutionRequested', 'ExecutionRejected']);
    expect(await charges(paying.userId)).to.have.length(1);
    expect(await charges(refusing.userId)).to.have.length(0);
  });
});

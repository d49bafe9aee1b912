import { expect } from 'chai';
import { executionEventsOf } from '../support/execution-events.js';
import type { Queue, Worker } from 'bullmq';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { createSecretBox } from '../../src/adapters/crypto/secret-box.js';
import { runMigrations } from '../../src/adapters/db/migrate.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { QueueFactory, QUEUE_NAMES, type ScrapeJobData } from '../../src/adapters/queue/queues.js';
import { ScrapeDispatcher } from '../../src/adapters/queue/scrape-dispatcher.js';
import { recordHealthCheck, registerProxy } from '../../src/application/proxies.js';
import { START } from '../../src/event-store/position.js';
import { createDispatchExecutions } from '../../src/process-managers/dispatch-executions.js';
import { createProxyFailover, FAILOVER_INDEX_TABLE } from '../../src/process-managers/proxy-failover.js';
import { createProxiesProjection } from '../../src/projections/proxies.js';
import { resetCheckpoint } from '../../src/consumers/checkpoints.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { platformAccountAggregate } from '../../src/write-model/platform-account/decider.js';
import { proxyStream } from '../../src/write-model/proxy/index.js';
import { subscriptionAggregate, subscriptionKey } from '../../src/write-model/subscription/decider.js';
import { workflowExecutionAggregate, workflowExecutionStream, type WorkflowExecutionCommand } from '../../src/write-model/workflow-execution/index.js';
import { testConfig, testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';
import { connectPlatformAccount } from '../support/platform-accounts.js';

const item = (id: string) => ({ platformContentId: id, kind: 'xiaohongshu.note', data: { title: id } });

/**
 * pm-proxy-failover with the real dispatch PM before it, in a schema of its
 * own (so "healthy proxies" are this file's), and a BullMQ prefix of its own.
 * A worker is played by hand: it takes the job and sends the execution
 * commands a scraper would.
 */
describe('process manager: proxy failover (ProxyFailed → another proxy, job re-enqueued from the cursor)', function () {
  this.timeout(40_000);
  const config = testConfig();
  const secretBox = createSecretBox(config);
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  const schema = `pm_failover_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
  let databaseUrl: string;
  let admin: Knex;
  let knex: Knex;
  let store: PostgresEventStore;
  let factory: QueueFactory;
  let queue: Queue<ScrapeJobData>;
  let worker: Worker<ScrapeJobData>;
  let dispatcher: ScrapeDispatcher;
  const failoverName = 'pm-proxy-failover-test';
  let owner: string;
  let accountId: string;

  before(async () => {
    admin = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 1 } });
    await admin.raw('CREATE SCHEMA ??', [schema]);
    const url = new URL(testDatabaseUrl);
    url.searchParams.set('options', `-c search_path=${schema}`);
    databaseUrl = url.toString();
    knex = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 5 } });
    await runMigrations(knex);
    store = createPostgresEventStore({ connectionString: databaseUrl, poolSize: 5 });
    factory = new QueueFactory({ redisUrl: testRedisUrl, prefix: `test-failover-${randomUUID()}` });
    queue = factory.queue<ScrapeJobData>(QUEUE_NAMES.scrape);
    worker = factory.worker<ScrapeJobData>(QUEUE_NAMES.scrape, null as never, { autorun: false });
    dispatcher = new ScrapeDispatcher(queue, { retry: { attempts: 2, backoffMs: 100 } });

    owner = randomUUID();
    accountId = randomUUID();
    await handle(
      store,
      subscriptionAggregate,
      subscriptionKey(owner, 'xiaohongshu'),
      {
        type: 'StartSubscription',
        subscriptionId: randomUUID(),
        userId: owner,
        service: 'xiaohongshu',
        plan: 'free',
        periodEnd: null,
        now: now(),
      },
      { context },
    );
    await connectPlatformAccount(store, context, { accountId, ownerId: owner, credentials: secretBox.encrypt('a1=cookie', accountId), now: now() });
    await handle(
      store,
      platformAccountAggregate,
      accountId,
      {
        type: 'VerifyAccount',
        accountId,
        requestedBy: null,
        outcome: { ok: true, platformUserId: '5f0000000000000000000001', nickname: 'n' },
        now: now(),
      },
      { context },
    );
  });
  after(async () => {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
    await store.close();
    await knex.destroy();
    await admin.raw('DROP SCHEMA ?? CASCADE', [schema]);
    await admin.destroy();
  });

  function now(): string {
    return new Date().toISOString();
  }
  const deps = () => ({ store, knex, databaseUrl });
  const projectProxies = () => runConsumerToHead(deps(), createProxiesProjection('proxies-v1-test'));
  const runDispatch = () => runConsumerToHead(deps(), createDispatchExecutions({ store, dispatcher, timeZone: config.QUOTA_TIME_ZONE }, 'pm-dispatch-test'));
  const runFailover = () => runConsumerToHead(deps(), createProxyFailover({ store, dispatcher }, failoverName));

  const addProxy = async (port: number) =>
    (await registerProxy({ store, context, secretBox }, { host: '127.0.0.1', port, protocol: 'http', registeredBy: 'admin' })).proxyId;
  const failProxy = (proxyId: string) =>
    recordHealthCheck({ store, context, thresholds: { failure: 1, recovery: 1 } }, { proxyId, ok: false, error: 'connection refused' });
  const execute = async (executionId: string, ...commands: WorkflowExecutionCommand[]) => {
    const appended = [];
    for (const command of commands) appended.push(...(await handle(store, workflowExecutionAggregate, executionId, command, { context })).events);
    return appended;
  };

  /** Requested, dispatched (by the real PM), taken by a worker, started, one batch in. */
  async function runningExecution(cursor: string): Promise<string> {
    const executionId = randomUUID();
    await execute(executionId, {
      type: 'RequestExecution',
      executionId,
      workflowId: randomUUID(),
      ownerId: owner,
      platform: 'xiaohongshu',
      workflowType: 'xiaohongshu.notes',
      config: { mode: 'keyword', keyword: 'tea', maxItems: 5 },
      platformAccountId: accountId,
      trigger: 'manual',
      requestedBy: owner,
      now: now(),
    });
    await runDispatch();
    const taken = await worker.getNextJob(`token-${executionId}`);
    expect(taken?.id).to.equal(executionId);
    await execute(
      executionId,
      { type: 'StartExecution', executionId, workerId: 'w1', now: now() },
      { type: 'CollectItems', executionId, batchId: 'b1', items: [item('n1'), item('n2')], cursor, now: now() },
    );
    return executionId;
  }

  const proxyOf = async (executionId: string) => {
    return executionEventsOf(await store.readStream(workflowExecutionStream(executionId)), 'ProxyAssigned')
      .map((e) => e.data)
      .at(-1)!.proxyId;
  };

  it('moves a running execution from a failed proxy A to B: AssignProxy, a retry from the cursor, one job — and no item twice', async () => {
    const a = await addProxy(18181);
    await projectProxies();
    const executionId = await runningExecution('page-2');
    expect(await proxyOf(executionId)).to.equal(a);

    const b = await addProxy(18182);
    await failProxy(a);
    await projectProxies();
    await runFailover();
    await resetCheckpoint(knex, failoverName, START);
    await runFailover(); // a redelivery of everything

    const failed = (await store.readStream(proxyStream(a))).find((e) => e.type === 'ProxyFailed')!;
    const events = await store.readStream(workflowExecutionStream(executionId));
    expect(events.map((e) => e.type)).to.deep.equal([
      'ExecutionRequested',
      'ProxyAssigned',
      'ExecutionStarted',
      'ItemsCollected',
      'ProxyAssigned',
      'ExecutionRetried',
    ]);
    expect(events[4]!.data).to.deep.include({ proxyId: b, reason: 'proxy_failed', previous: { proxyId: a, leaseId: null } });
    expect(events[5]!.data).to.include({ attempt: 2, resumeFrom: 'page-2', reason: 'proxy_failed' });
    for (const e of events.slice(4)) expect(e.metadata).to.include({ $causationId: failed.id, userId: `pm:${failoverName}` });

    const jobs = (await queue.getJobs(['waiting', 'delayed', 'active', 'prioritized'])).filter((j) => j.data.executionId === executionId);
    expect(jobs.map((j) => j.id).sort()).to.deep.equal([executionId, `${executionId}.2`]); // the first is still active on A
    const moved = (await queue.getJob(`${executionId}.2`))!;
    expect(moved.data).to.deep.include({ cursor: 'page-2', proxyId: b, attempt: 2, reason: 'proxy_failed' });
    expect(await moved.getState()).to.equal('waiting');

    // a worker takes the moved job; the new attempt sends again what the dead one had sent, and more: only new items are recorded
    expect((await worker.getNextJob('token-attempt-2'))?.id).to.equal(`${executionId}.2`);
    const more = await execute(
      executionId,
      { type: 'StartExecution', executionId, workerId: 'w2', now: now() },
      { type: 'CollectItems', executionId, batchId: 'b1', items: [item('n1'), item('n2')], cursor: 'page-2', now: now() },
      { type: 'CollectItems', executionId, batchId: 'b2', items: [item('n2'), item('n3')], cursor: 'page-3', now: now() },
    );
    expect(more.map((e) => e.type)).to.deep.equal(['ExecutionStarted', 'ItemsCollected']);
    const batch = more[1]!;
    if (batch.type !== 'ItemsCollected') throw new Error(`expected ItemsCollected, got ${batch.type}`);
    const collected = batch.data;
    expect(collected.items.map((i) => i.platformContentId)).to.deep.equal(['n3']);
    expect(collected).to.include({ attempt: 2, itemCount: 3 });
    await execute(executionId, { type: 'CompleteExecution', executionId, now: now() });
  });

  it('with no healthy proxy left the job is re-enqueued with a delay and no proxy; finished executions are not touched', async () => {
    const first = (await knex(FAILOVER_INDEX_TABLE).where({ consumer: failoverName }).select('execution_id', 'proxy_id')) as {
      execution_id: string;
      proxy_id: string;
    }[];
    const b = first[0]!.proxy_id;
    const executionId = await runningExecution('page-9');
    expect(await proxyOf(executionId)).to.equal(b);

    await failProxy(b);
    await projectProxies();
    await runFailover();

    const events = await store.readStream(workflowExecutionStream(executionId));
    expect(events.map((e) => e.type)).to.deep.equal(['ExecutionRequested', 'ProxyAssigned', 'ExecutionStarted', 'ItemsCollected', 'ExecutionRetried']);
    const job = (await queue.getJob(`${executionId}.2`))!;
    expect(job.data).to.deep.include({ cursor: 'page-9', proxyId: null, attempt: 2 });
    expect(await job.getState()).to.equal('delayed');
    expect(job.opts.delay).to.equal(60_000);

    // the completed execution (moved to B in the first test) left the index and got no job
    const rows = (await knex(FAILOVER_INDEX_TABLE).where({ consumer: failoverName }).select('execution_id')) as { execution_id: string }[];
    expect(rows.map((r) => r.execution_id)).to.deep.equal([executionId]);
    expect(await queue.getJob(`${first[0]!.execution_id}.3`)).to.equal(undefined);
  });
});

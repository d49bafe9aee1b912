import { expect } from 'chai';
import type { Queue } from 'bullmq';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { createSecretBox } from '../../src/adapters/crypto/secret-box.js';
import { runMigrations } from '../../src/adapters/db/migrate.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { QueueFactory, QUEUE_NAMES, type ScrapeJobData } from '../../src/adapters/queue/queues.js';
import { ScrapeDispatcher } from '../../src/adapters/queue/scrape-dispatcher.js';
import { registerProxy, retireProxy } from '../../src/application/proxies.js';
import { START } from '../../src/event-store/position.js';
import { StreamNotFoundError } from '../../src/event-store/errors.js';
import { createDispatchExecutions } from '../../src/process-managers/dispatch-executions.js';
import { createProxiesProjection } from '../../src/projections/proxies.js';
import { resetCheckpoint } from '../../src/subscriptions/checkpoints.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handleCommand } from '../../src/write-model/core/command-handler.js';
import { platformAccountDecider, platformAccountStream } from '../../src/write-model/platform-account/decider.js';
import { subscriptionDecider, subscriptionStream } from '../../src/write-model/subscription/decider.js';
import { workflowExecutionDecider, workflowExecutionStream } from '../../src/write-model/workflow-execution/index.js';
import { testConfig, testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';

/**
 * pm-dispatch-executions against a schema of its own (event store, read
 * tables, checkpoints), so "every healthy proxy" and "from the start" mean
 * this file's only, and a BullMQ prefix of its own.
 */
describe('process manager: dispatch executions (ExecutionRequested → quota, proxy, scrape job)', function () {
  this.timeout(40_000);
  const config = testConfig();
  const secretBox = createSecretBox(config);
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  const schema = `pm_dispatch_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
  let databaseUrl: string;
  let admin: Knex;
  let knex: Knex;
  let store: PostgresEventStore;
  let factory: QueueFactory;
  let queue: Queue<ScrapeJobData>;
  let dispatcher: ScrapeDispatcher;
  const proxyIds: string[] = [];
  const pmName = 'pm-dispatch-executions-test';

  before(async () => {
    admin = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 1 } });
    await admin.raw('CREATE SCHEMA ??', [schema]);
    const url = new URL(testDatabaseUrl);
    url.searchParams.set('options', `-c search_path=${schema}`);
    databaseUrl = url.toString();
    knex = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 5 } });
    await runMigrations(knex);
    store = createPostgresEventStore({ connectionString: databaseUrl, poolSize: 5 });
    factory = new QueueFactory({ redisUrl: testRedisUrl, prefix: `test-dispatch-${randomUUID()}` });
    queue = factory.queue<ScrapeJobData>(QUEUE_NAMES.scrape);
    dispatcher = new ScrapeDispatcher(queue, { retry: { attempts: 2, backoffMs: 100 } });
    for (const port of [18081, 18082]) {
      const { proxyId } = await registerProxy({ store, context, secretBox }, { host: '127.0.0.1', port, protocol: 'http', username: 'u', password: 'secret-pw', registeredBy: 'admin' });
      proxyIds.push(proxyId);
    }
    await projectProxies();
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
  const projectProxies = () => runConsumerToHead(deps(), createProxiesProjection('proxies-v1-test'));
  const runPm = () => runConsumerToHead(deps(), createDispatchExecutions({ store, dispatcher, timeZone: config.QUOTA_TIME_ZONE }, pmName));
  const now = () => new Date().toISOString();


  async function types(stream: string): Promise<string[]> {
    try {
      return (await store.readStream(stream)).map((e) => e.type);
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
  }

  async function newUser(): Promise<{ userId: string; accountId: string }> {
    const userId = randomUUID();
    const accountId = randomUUID();
    await handleCommand(store, subscriptionStream(userId, 'xiaohongshu'), subscriptionDecider, {
      type: 'StartSubscription', subscriptionId: randomUUID(), userId, service: 'xiaohongshu', plan: 'free', periodEnd: null, now: now(),
    }, { context });
    await handleCommand(store, platformAccountStream(accountId), platformAccountDecider, {
      type: 'ConnectPlatformAccount', accountId, ownerId: userId, platform: 'xiaohongshu', platformUserId: null, displayName: 'main',
      credentials: secretBox.encrypt('a1=cookie', accountId), now: now(),
    }, { context });
    return { userId, accountId };
  }

  async function verify(accountId: string): Promise<void> {
    await handleCommand(store, platformAccountStream(accountId), platformAccountDecider, {
      type: 'VerifyAccount', accountId, requestedBy: null, outcome: { ok: true, platformUserId: '5f0000000000000000000001', nickname: 'n' }, now: now(),
    }, { context });
  }

  async function request(ownerId: string, input: { type: string; config: Record<string, unknown>; platform: string; accountId: string | null }): Promise<string> {
    const executionId = randomUUID();
    await handleCommand(store, workflowExecutionStream(executionId), workflowExecutionDecider, {
      type: 'RequestExecution', executionId, workflowId: randomUUID(), ownerId, platform: input.platform, workflowType: input.type,
      config: input.config, platformAccountId: input.accountId, trigger: 'manual', requestedBy: ownerId, now: now(),
    }, { context });
    return executionId;
  }

  const notes = (accountId: string | null) => ({ type: 'xiaohongshu.notes', platform: 'xiaohongshu', config: { mode: 'keyword', keyword: 'tea', maxItems: 20 }, accountId });

  it('accepts a run: quota counted once, proxy recorded, one job with the execution id — even run from the start twice', async () => {
    const { userId, accountId } = await newUser();
    await verify(accountId);
    const executionId = await request(userId, notes(accountId));

    await runPm();
    await resetCheckpoint(knex, pmName, START);
    await runPm();

    const usage = (await store.readStream(subscriptionStream(userId, 'xiaohongshu'))).filter((e) => e.type === 'UsageRecorded');
    expect(usage).to.have.length(1);
    // 20 notes: 1 search page + 20 detail calls
    expect(usage[0]!.data).to.include({ feature: 'daily_api_calls', amount: 21, usedToday: 21, limit: 50 });

    const events = await store.readStream(workflowExecutionStream(executionId));
    expect(events.map((e) => e.type)).to.deep.equal(['ExecutionRequested', 'ProxyAssigned']);
    const assigned = events[1]!;
    expect(assigned.data).to.include({ reason: 'initial', leaseId: null });
    expect(proxyIds).to.include((assigned.data as { proxyId: string }).proxyId);
    // caused by the request, done by the process manager
    expect(assigned.metadata).to.include({ $causationId: events[0]!.id, userId: `pm:${pmName}` });
    expect(usage[0]!.metadata).to.include({ $causationId: events[0]!.id });

    const jobs = (await queue.getJobs(['waiting', 'delayed', 'active', 'prioritized'])).filter((j) => j.data.executionId === executionId);
    expect(jobs.map((j) => j.id)).to.deep.equal([executionId]);
    expect(jobs[0]!.data).to.deep.include({ executionId, ownerId: userId, type: 'xiaohongshu.notes', platformAccountId: accountId, attempt: 1, cursor: null });
    expect(jobs[0]!.data.proxyId).to.equal((assigned.data as { proxyId: string }).proxyId);
    expect(await jobs[0]!.getState()).to.equal('waiting');
  });

  it('past the free plan\'s daily_api_calls: ExecutionRejected QUOTA_EXCEEDED, QuotaExceeded recorded once, no job', async () => {
    const { userId, accountId } = await newUser();
    await verify(accountId);
    const runs = [await request(userId, notes(accountId)), await request(userId, notes(accountId)), await request(userId, notes(accountId))];
    await runPm();
    await resetCheckpoint(knex, pmName, START);
    await runPm(); // a redelivery of everything

    // 21 + 21 = 42 of 50; a third run (63) is over
    expect(await types(workflowExecutionStream(runs[0]!))).to.deep.equal(['ExecutionRequested', 'ProxyAssigned']);
    expect(await types(workflowExecutionStream(runs[1]!))).to.deep.equal(['ExecutionRequested', 'ProxyAssigned']);
    const third = await store.readStream(workflowExecutionStream(runs[2]!));
    expect(third.map((e) => e.type)).to.deep.equal(['ExecutionRequested', 'ExecutionRejected']);
    expect(third[1]!.data).to.deep.include({ reason: 'QUOTA_EXCEEDED' });
    expect((third[1]!.data as { details: Record<string, unknown> }).details).to.include({ feature: 'daily_api_calls', limit: 50, used: 42 });

    const sub = (await store.readStream(subscriptionStream(userId, 'xiaohongshu'))).map((e) => e.type);
    expect(sub.filter((t) => t === 'UsageRecorded')).to.have.length(2);
    expect(sub.filter((t) => t === 'QuotaExceeded')).to.have.length(1);
    expect(await queue.getJob(runs[2]!)).to.equal(undefined);
    expect(await queue.getJob(runs[0]!)).to.not.equal(undefined);
  });

  it('a qidian ranking outside ranking_access is rejected PERMISSION_DENIED, with no job and no counter', async () => {
    const userId = randomUUID(); // no qidian subscription yet: the free plan applies
    const executionId = await request(userId, { type: 'qidian.rankings', platform: 'qidian', config: { rankings: ['热销榜', '收藏榜'] }, accountId: null });
    const allowed = await request(userId, { type: 'qidian.rankings', platform: 'qidian', config: { rankings: ['热销榜'] }, accountId: null });
    await runPm();

    const events = await store.readStream(workflowExecutionStream(executionId));
    expect(events.map((e) => e.type)).to.deep.equal(['ExecutionRequested', 'ExecutionRejected']);
    expect(events[1]!.data).to.deep.include({ reason: 'PERMISSION_DENIED' });
    expect((events[1]!.data as { details: Record<string, unknown> }).details).to.include({ feature: 'ranking_access', reason: 'ranking_not_in_plan' });
    expect(await queue.getJob(executionId)).to.equal(undefined);
    expect(await types(subscriptionStream(userId, 'qidian'))).to.deep.equal([]);
    // the ranking the plan has runs, without an account (public pages)
    expect(await types(workflowExecutionStream(allowed))).to.deep.equal(['ExecutionRequested', 'ProxyAssigned']);
    expect((await queue.getJob(allowed))?.data.platformAccountId).to.equal(null);
  });

  it('a run that needs an account and has none, or an unverified one, is rejected ACCOUNT_INVALID before any quota is spent', async () => {
    const { userId, accountId } = await newUser(); // connected, not verified: pending_verification
    const unverified = await request(userId, notes(accountId));
    const without = await request(userId, notes(null));
    await runPm();

    for (const [executionId, reason] of [[unverified, 'account_not_active'], [without, 'no_account']] as const) {
      const events = await store.readStream(workflowExecutionStream(executionId));
      expect(events.map((e) => e.type)).to.deep.equal(['ExecutionRequested', 'ExecutionRejected']);
      expect(events[1]!.data).to.deep.include({ reason: 'ACCOUNT_INVALID' });
      expect((events[1]!.data as { details: Record<string, unknown> }).details).to.include({ reason });
      expect(await queue.getJob(executionId)).to.equal(undefined);
    }
    expect((await types(subscriptionStream(userId, 'xiaohongshu'))).filter((t) => t === 'UsageRecorded')).to.deep.equal([]);
  });

  it('with no healthy proxy the run is still accepted and its job enqueued delayed, without a proxy', async () => {
    for (const proxyId of proxyIds) await retireProxy({ store, context }, { proxyId, by: 'admin' });
    await projectProxies();
    const { userId, accountId } = await newUser();
    await verify(accountId);
    const executionId = await request(userId, notes(accountId));
    await runPm();

    expect(await types(workflowExecutionStream(executionId))).to.deep.equal(['ExecutionRequested']);
    const job = await queue.getJob(executionId);
    expect(job, 'a job').to.not.equal(undefined);
    expect(await job!.getState()).to.equal('delayed');
    expect(job!.opts.delay).to.equal(60_000);
    expect(job!.data.proxyId).to.equal(null);
    // the quota was spent once, and a redelivery neither spends it again nor adds a job
    await resetCheckpoint(knex, pmName, START);
    await runPm();
    const usage = (await store.readStream(subscriptionStream(userId, 'xiaohongshu'))).filter((e) => e.type === 'UsageRecorded');
    expect(usage).to.have.length(1);
    expect((await queue.getJobs(['waiting', 'delayed'])).filter((j) => j.data.executionId === executionId)).to.have.length(1);
  });
});

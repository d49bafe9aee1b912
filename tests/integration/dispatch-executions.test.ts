import { expect } from 'chai';
import type { Queue } from 'bullmq';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { createSecretBox } from '../../src/adapters/crypto/secret-box.js';
import { runMigrations } from '../../src/adapters/db/migrate.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { QueueFactory, QUEUE_NAMES, type ScrapeJobData } from '../../src/adapters/queue/queues.js';
import { ScrapeDispatcher } from '../../src/adapters/queue/scrape-dispatcher.js';
import { claimMembership, createOrganization } from '../../src/application/organizations.js';
import { registerProxy, retireProxy } from '../../src/application/proxies.js';
import { quotaDay } from '../../src/application/quota-day.js';
import type { RecordedEvent } from '../../src/event-store/port.js';
import { START } from '../../src/event-store/position.js';
import { StreamNotFoundError } from '../../src/event-store/errors.js';
import { createDispatchExecutions } from '../../src/process-managers/dispatch-executions.js';
import { createProxiesProjection } from '../../src/projections/proxies.js';
import { resetCheckpoint } from '../../src/consumers/checkpoints.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { organizationAggregate } from '../../src/write-model/organization/decider.js';
import { platformAccountAggregate } from '../../src/write-model/platform-account/decider.js';
import { subscriptionAggregate, subscriptionKey } from '../../src/write-model/subscription/decider.js';
import { dailyUsageId, subscriptionUsageAggregate } from '../../src/write-model/subscription-usage/decider.js';
import { workflowExecutionAggregate, workflowExecutionEvents, workflowExecutionStream } from '../../src/write-model/workflow-execution/index.js';
import { testConfig, testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';
import { connectPlatformAccount } from '../support/platform-accounts.js';

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
      const { proxyId } = await registerProxy(
        { store, context, secretBox },
        { host: '127.0.0.1', port, protocol: 'http', username: 'u', password: 'secret-pw', registeredBy: 'admin' },
      );
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
  // what the PM counted today, in the day's usage stream
  // the execution's events as the PM wrote them, decoded
  const assignedTo = (event: RecordedEvent) => {
    const decoded = workflowExecutionEvents.decode(event);
    return decoded.type === 'ProxyAssigned' ? decoded.data.proxyId : null;
  };
  const rejection = (event: RecordedEvent) => {
    const decoded = workflowExecutionEvents.decode(event);
    if (decoded.type !== 'ExecutionRejected') throw new Error(`${decoded.type} is not a rejection`);
    return decoded.data;
  };
  const usageStream = (userId: string, service = 'xiaohongshu') =>
    subscriptionUsageAggregate.streamName(dailyUsageId(userId, service, quotaDay(new Date(), config.QUOTA_TIME_ZONE).day));
  const usageToday = async (userId: string) => {
    try {
      return await store.readStream(usageStream(userId));
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
  };

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
    await handle(
      store,
      subscriptionAggregate,
      subscriptionKey(userId, 'xiaohongshu'),
      {
        type: 'StartSubscription',
        subscriptionId: randomUUID(),
        userId,
        service: 'xiaohongshu',
        plan: 'free',
        periodEnd: null,
        now: now(),
      },
      { context },
    );
    await connectPlatformAccount(store, context, { accountId, ownerId: userId, credentials: secretBox.encrypt('a1=cookie', accountId), now: now() });
    return { userId, accountId };
  }

  async function verify(accountId: string): Promise<void> {
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
  }

  async function request(
    ownerId: string,
    input: { type: string; config: Record<string, unknown>; platform: string; accountId: string | null },
  ): Promise<string> {
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
        platform: input.platform,
        workflowType: input.type,
        config: input.config,
        platformAccountId: input.accountId,
        trigger: 'manual',
        requestedBy: ownerId,
        now: now(),
      },
      { context },
    );
    return executionId;
  }

  const notes = (accountId: string | null) => ({
    type: 'xiaohongshu.notes',
    platform: 'xiaohongshu',
    config: { mode: 'keyword', keyword: 'tea', maxItems: 20 },
    accountId,
  });

  it('accepts a run: quota counted once, proxy recorded, one job with the execution id — even run from the start twice', async () => {
    const { userId, accountId } = await newUser();
    await verify(accountId);
    const executionId = await request(userId, notes(accountId));

    await runPm();
    await resetCheckpoint(knex, pmName, START);
    await runPm();

    const usage = (await usageToday(userId)).filter((e) => e.type === 'UsageRecorded');
    expect(usage).to.have.length(1);
    // 20 notes: 1 search page + 20 detail calls
    expect(subscriptionUsageAggregate.events.decode(usage[0]!).data).to.include({ feature: 'daily_api_calls', amount: 21, usedToday: 21, limit: 50 });

    const events = await store.readStream(workflowExecutionStream(executionId));
    expect(events.map((e) => e.type)).to.deep.equal(['ExecutionRequested', 'ProxyAssigned']);
    const assigned = events[1]!;
    expect(assigned.data).to.include({ reason: 'initial', leaseId: null });
    expect(proxyIds).to.include(assignedTo(assigned));
    // caused by the request, done by the process manager
    expect(assigned.metadata).to.include({ $causationId: events[0]!.id, userId: `pm:${pmName}` });
    expect(usage[0]!.metadata).to.include({ $causationId: events[0]!.id });

    const jobs = (await queue.getJobs(['waiting', 'delayed', 'active', 'prioritized'])).filter((j) => j.data.executionId === executionId);
    expect(jobs.map((j) => j.id)).to.deep.equal([executionId]);
    expect(jobs[0]!.data).to.deep.include({ executionId, ownerId: userId, type: 'xiaohongshu.notes', platformAccountId: accountId, attempt: 1, cursor: null });
    expect(jobs[0]!.data.proxyId).to.equal(assignedTo(assigned));
    expect(await jobs[0]!.getState()).to.equal('waiting');
  });

  it("past the free plan's daily_api_calls: ExecutionRejected QUOTA_EXCEEDED, QuotaExceeded recorded once, no job", async () => {
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
    expect(rejection(third[1]!).details).to.include({ feature: 'daily_api_calls', limit: 50, used: 42 });

    const sub = (await usageToday(userId)).map((e) => e.type);
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
    expect(rejection(events[1]!).details).to.include({ feature: 'ranking_access', reason: 'ranking_not_in_plan' });
    expect(await queue.getJob(executionId)).to.equal(undefined);
    expect(await types(subscriptionAggregate.streamName(subscriptionKey(userId, 'qidian')))).to.deep.equal([]);
    expect(await types(usageStream(userId, 'qidian'))).to.deep.equal([]);
    // the ranking the plan has runs, without an account (public pages)
    expect(await types(workflowExecutionStream(allowed))).to.deep.equal(['ExecutionRequested', 'ProxyAssigned']);
    expect((await queue.getJob(allowed))?.data.platformAccountId).to.equal(null);
  });

  it('a run that needs an account and has none, or an unverified one, is rejected ACCOUNT_INVALID before any quota is spent', async () => {
    const { userId, accountId } = await newUser(); // connected, not verified: pending_verification
    const unverified = await request(userId, notes(accountId));
    const without = await request(userId, notes(null));
    await runPm();

    for (const [executionId, reason] of [
      [unverified, 'account_not_active'],
      [without, 'no_account'],
    ] as const) {
      const events = await store.readStream(workflowExecutionStream(executionId));
      expect(events.map((e) => e.type)).to.deep.equal(['ExecutionRequested', 'ExecutionRejected']);
      expect(events[1]!.data).to.deep.include({ reason: 'ACCOUNT_INVALID' });
      expect(rejection(events[1]!).details).to.include({ reason });
      expect(await queue.getJob(executionId)).to.equal(undefined);
    }
    expect((await usageToday(userId)).filter((e) => e.type === 'UsageRecorded')).to.deep.equal([]);
  });

  /** The real store, its stream reads and appends counted per stream. */
  function counting(): { counted: PostgresEventStore; reads: Map<string, number>; appends: Map<string, number[]> } {
    const reads = new Map<string, number>();
    const appends = new Map<string, number[]>();
    const counted = new Proxy(store, {
      get(target, key, receiver) {
        if (key === 'readStream') {
          return (stream: string, options?: Parameters<PostgresEventStore['readStream']>[1]) => {
            reads.set(stream, (reads.get(stream) ?? 0) + 1);
            return target.readStream(stream, options);
          };
        }
        if (key === 'readStreamFromSnapshot') {
          return (stream: string, version: number) => {
            reads.set(stream, (reads.get(stream) ?? 0) + 1);
            return target.readStreamFromSnapshot(stream, version);
          };
        }
        if (key === 'append') {
          return (stream: string, events: Parameters<PostgresEventStore['append']>[1], expected?: Parameters<PostgresEventStore['append']>[2]) => {
            appends.set(stream, [...(appends.get(stream) ?? []), events.length]);
            return target.append(stream, events, expected);
          };
        }
        const value: unknown = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    return { counted, reads, appends };
  }

  it("a batch reads the day's usage once per owner and appends the owner's uses together; executions, subscriptions and accounts are not read (its own index)", async () => {
    const { userId, accountId } = await newUser();
    await verify(accountId);
    const runs = [await request(userId, notes(accountId)), await request(userId, notes(accountId))];
    const { counted, reads, appends } = counting();
    await runConsumerToHead(deps(), createDispatchExecutions({ store: counted, dispatcher, timeZone: config.QUOTA_TIME_ZONE }, `${pmName}-reads`));

    for (const executionId of runs) {
      expect(await types(workflowExecutionStream(executionId))).to.deep.equal(['ExecutionRequested', 'ProxyAssigned']);
      expect(reads.get(workflowExecutionStream(executionId)), 'an execution is not read').to.equal(undefined);
      expect(appends.get(workflowExecutionStream(executionId))).to.deep.equal([1]);
      expect(await queue.getJob(executionId)).to.not.equal(undefined);
    }
    expect(reads.get(usageStream(userId))).to.equal(1);
    expect(appends.get(usageStream(userId)), 'both uses in one append').to.deep.equal([2]);
    expect(reads.get(subscriptionAggregate.streamName(subscriptionKey(userId, 'xiaohongshu')))).to.equal(undefined);
    expect(reads.get(platformAccountAggregate.streamName(accountId))).to.equal(undefined);
    const usage = (await usageToday(userId)).map((e) => subscriptionUsageAggregate.events.decode(e));
    expect(usage.map((e) => (e.type === 'UsageRecorded' ? e.data.usedToday : null))).to.deep.equal([21, 42]);
    expect((await usageToday(userId)).map((e) => e.metadata.$causationId)).to.deep.equal(
      await Promise.all(runs.map(async (id) => (await store.readStream(workflowExecutionStream(id)))[0]!.id)),
    );
  });

  it("members of an organization count on the organization's subscription: one batch, one append to its day, nothing on their own", async () => {
    const founder = await newUser();
    const member = await newUser();
    await Promise.all([verify(founder.accountId), verify(member.accountId)]);
    const { organizationId } = await createOrganization({ store }, { userId: founder.userId, name: 'Acme', context });
    const claim = await claimMembership(store, member.userId, organizationId, context);
    await handle(
      store,
      organizationAggregate,
      organizationId,
      { type: 'AddMember', userId: member.userId, roles: ['operator'], team: null, invitationId: null, now: now() },
      { context, conditions: [{ streamName: `organization_member-${member.userId}`, revision: claim }] },
    );
    await handle(
      store,
      subscriptionAggregate,
      subscriptionKey(organizationId, 'xiaohongshu'),
      {
        type: 'StartSubscription',
        subscriptionId: randomUUID(),
        userId: organizationId,
        holderKind: 'organization',
        service: 'xiaohongshu',
        plan: 'free',
        now: now(),
      },
      { context },
    );
    const runs = [
      await request(founder.userId, notes(founder.accountId)),
      await request(member.userId, notes(member.accountId)),
      await request(member.userId, notes(member.accountId)),
    ];
    const { counted, appends } = counting();
    await runConsumerToHead(deps(), createDispatchExecutions({ store: counted, dispatcher, timeZone: config.QUOTA_TIME_ZONE }, `${pmName}-org`));

    // 21 + 21 fit the organization's 50; the third (21 more) does not
    expect(await types(workflowExecutionStream(runs[0]!))).to.deep.equal(['ExecutionRequested', 'ProxyAssigned']);
    expect(await types(workflowExecutionStream(runs[1]!))).to.deep.equal(['ExecutionRequested', 'ProxyAssigned']);
    const third = (await store.readStream(workflowExecutionStream(runs[2]!))).at(-1)!;
    expect(third.data).to.deep.include({ reason: 'QUOTA_EXCEEDED' });
    expect(rejection(third).details).to.include({ feature: 'daily_api_calls', limit: 50, used: 42 });
    const usage = (await usageToday(organizationId)).map((e) => subscriptionUsageAggregate.events.decode(e));
    expect(usage.map((e) => [e.type, e.type === 'UsageRecorded' ? e.data.usedToday : e.data.used])).to.deep.equal([
      ['UsageRecorded', 21],
      ['UsageRecorded', 42],
      ['QuotaExceeded', 42],
    ]);
    expect(appends.get(usageStream(organizationId)), "the batch's uses of the organization in one append").to.deep.equal([3]);
    expect(await usageToday(founder.userId)).to.deep.equal([]);
    expect(await usageToday(member.userId)).to.deep.equal([]);
  });

  it('without a row in its index (it began before the manager read these events) a subscription and an account are loaded from their streams, once', async () => {
    const { userId, accountId } = await newUser();
    await verify(accountId);
    const name = `${pmName}-late`;
    // the manager starts after the subscription and the account were made
    await resetCheckpoint(knex, name, await store.headPosition());
    const executionId = await request(userId, notes(accountId));
    const { counted, reads } = counting();
    await runConsumerToHead(deps(), createDispatchExecutions({ store: counted, dispatcher, timeZone: config.QUOTA_TIME_ZONE }, name));

    expect(await types(workflowExecutionStream(executionId))).to.deep.equal(['ExecutionRequested', 'ProxyAssigned']);
    expect(reads.get(subscriptionAggregate.streamName(subscriptionKey(userId, 'xiaohongshu')))).to.equal(1);
    expect(reads.get(platformAccountAggregate.streamName(accountId))).to.equal(1);
    const rows = (await knex('pm_dispatch_subjects').where({ consumer: name }).orderBy('stream_name')) as {
      stream_name: string;
      revision: string;
      state: Record<string, unknown>;
    }[];
    expect(rows.map((r) => [r.stream_name, r.revision])).to.deep.equal(
      [
        [platformAccountAggregate.streamName(accountId), '1'],
        [subscriptionAggregate.streamName(subscriptionKey(userId, 'xiaohongshu')), '0'],
      ].sort((a, b) => (a[0]! < b[0]! ? -1 : 1)),
    );
    // the account's row has its status and owner, never its credentials
    const account = rows.find((r) => r.stream_name.startsWith('platform_account-'))!;
    expect(account.state).to.deep.equal({ status: 'active', accountId, ownerId: userId, platform: 'xiaohongshu' });
  });

  it('judges each request on the account as it stood then: invalidated between two requests of one batch, the first runs and the second is rejected', async () => {
    const { userId, accountId } = await newUser();
    await verify(accountId);
    const before = await request(userId, notes(accountId));
    await handle(
      store,
      platformAccountAggregate,
      accountId,
      { type: 'InvalidateAccount', accountId, requestedBy: null, reason: 'login_wall', now: now() },
      { context },
    );
    const after = await request(userId, notes(accountId));
    await runPm();

    expect(await types(workflowExecutionStream(before))).to.deep.equal(['ExecutionRequested', 'ProxyAssigned']);
    const rejected = await store.readStream(workflowExecutionStream(after));
    expect(rejected.map((e) => e.type)).to.deep.equal(['ExecutionRequested', 'ExecutionRejected']);
    expect(rejection(rejected[1]!)).to.deep.include({ reason: 'ACCOUNT_INVALID' });
    expect(rejection(rejected[1]!).details).to.include({ reason: 'account_not_active', status: 'invalid' });
    expect((await usageToday(userId)).filter((e) => e.type === 'UsageRecorded')).to.have.length(1);
  });

  it('a batch handed again after its appends (a crash before its checkpoint and its jobs) appends nothing twice, loses no job and adds none twice', async () => {
    const { userId, accountId } = await newUser();
    await verify(accountId);
    const runs: string[] = [];
    for (let i = 0; i < 4; i++) runs.push(await request(userId, notes(accountId)));
    const name = `${pmName}-crash`;
    const consumer = createDispatchExecutions({ store, dispatcher, timeZone: config.QUOTA_TIME_ZONE }, name);
    const requested = await Promise.all(runs.map(async (id) => (await store.readStream(workflowExecutionStream(id)))[0]!));
    // the first delivery saw only the first request; it appended, then died: its transaction (checkpoint, index) rolled back
    await knex
      .transaction(async (tx) => {
        await consumer.handle(requested.slice(0, 1), { tx });
        throw new Error('crash');
      })
      .catch((error: Error) => expect(error.message).to.equal('crash'));
    expect((await usageToday(userId)).map((e) => e.type)).to.deep.equal(['UsageRecorded']);
    // and its job never reached Redis
    await (await queue.getJob(runs[0]!))!.remove();

    // handed again with the rest: the first use is recorded, the others are not (counted one by one)
    await runConsumerToHead(deps(), consumer);
    await resetCheckpoint(knex, name, START);
    await runConsumerToHead(deps(), consumer);

    const usage = (await usageToday(userId)).map((e) => subscriptionUsageAggregate.events.decode(e));
    expect(usage.map((e) => e.type)).to.deep.equal(['UsageRecorded', 'UsageRecorded', 'QuotaExceeded']);
    for (const id of runs.slice(0, 2)) {
      expect(await types(workflowExecutionStream(id))).to.deep.equal(['ExecutionRequested', 'ProxyAssigned']);
      const jobs = (await queue.getJobs(['waiting', 'delayed'])).filter((j) => j.data.executionId === id);
      expect(jobs.map((j) => j.id)).to.deep.equal([id]);
      const assigned = (await store.readStream(workflowExecutionStream(id)))[1]!;
      expect(jobs[0]!.data.proxyId, 'the job names the proxy recorded').to.equal(assignedTo(assigned));
    }
    for (const id of runs.slice(2)) {
      expect(await types(workflowExecutionStream(id))).to.deep.equal(['ExecutionRequested', 'ExecutionRejected']);
      expect(await queue.getJob(id)).to.equal(undefined);
    }
  });

  it('many requests of one owner in a batch: the limit is never passed and QuotaExceeded is recorded once', async () => {
    const { userId, accountId } = await newUser();
    await verify(accountId);
    const small = (n: number) => ({ ...notes(accountId), config: { mode: 'keyword', keyword: 'tea', maxItems: n } });
    // 1 + n calls each: 21, 21, 6 (= 48), then 21 (over: QuotaExceeded), 2 (= 50, fits), 2 (over: refused, nothing recorded)
    const runs: string[] = [];
    for (const n of [20, 20, 5, 20, 1, 1]) runs.push(await request(userId, small(n)));
    await runPm();

    const outcome = await Promise.all(runs.map(async (id) => (await types(workflowExecutionStream(id)))[1]));
    expect(outcome).to.deep.equal(['ProxyAssigned', 'ProxyAssigned', 'ProxyAssigned', 'ExecutionRejected', 'ProxyAssigned', 'ExecutionRejected']);
    const usage = (await usageToday(userId)).map((e) => subscriptionUsageAggregate.events.decode(e));
    expect(usage.map((e) => e.type)).to.deep.equal(['UsageRecorded', 'UsageRecorded', 'UsageRecorded', 'QuotaExceeded', 'UsageRecorded']);
    const last = usage.at(-1)!;
    expect(last.type === 'UsageRecorded' && last.data.usedToday).to.equal(50);
  });

  it('an upgrade between two requests of one batch: the first is refused under the free plan, the next counted under the new one', async () => {
    const { userId, accountId } = await newUser();
    await verify(accountId);
    const runs = [await request(userId, notes(accountId)), await request(userId, notes(accountId)), await request(userId, notes(accountId))];
    await handle(
      store,
      subscriptionAggregate,
      subscriptionKey(userId, 'xiaohongshu'),
      {
        type: 'ChangePlan',
        plan: 'basic',
        orderId: randomUUID(),
        periodEnd: new Date(Date.now() + 30 * 86_400_000).toISOString(),
        now: now(),
      },
      { context },
    );
    runs.push(await request(userId, notes(accountId)));
    await runPm();

    const outcome = await Promise.all(runs.map(async (id) => (await types(workflowExecutionStream(id)))[1]));
    expect(outcome).to.deep.equal(['ProxyAssigned', 'ProxyAssigned', 'ExecutionRejected', 'ProxyAssigned']);
    const usage = (await usageToday(userId)).map((e) => subscriptionUsageAggregate.events.decode(e));
    expect(usage.map((e) => [e.type, e.data.plan, e.data.planChange])).to.deep.equal([
      ['UsageRecorded', 'free', 0],
      ['UsageRecorded', 'free', 0],
      ['QuotaExceeded', 'free', 0],
      ['UsageRecorded', 'basic', 1],
    ]);
    const last = usage.at(-1)!;
    expect(last.type === 'UsageRecorded' && last.data.usedToday).to.equal(63);
  });

  it('a replay days later spends no quota again: an accepted run is only enqueued again, an ended one left alone', async () => {
    const { userId, accountId } = await newUser();
    await verify(accountId);
    const accepted = await request(userId, notes(accountId));
    const ended = await request(userId, notes(accountId));
    await runPm();
    await handle(store, workflowExecutionAggregate, ended, { type: 'CancelExecution', executionId: ended, requestedBy: userId, now: now() }, { context });

    const later = new Date(Date.now() + 3 * 86_400_000);
    // the same consumer from the start (an operator's replay), its clock days ahead
    await resetCheckpoint(knex, pmName, START);
    await runConsumerToHead(deps(), createDispatchExecutions({ store, dispatcher, timeZone: config.QUOTA_TIME_ZONE, now: () => later }, pmName));
    const thatDay = subscriptionUsageAggregate.streamName(dailyUsageId(userId, 'xiaohongshu', quotaDay(later, config.QUOTA_TIME_ZONE).day));
    expect(await types(thatDay)).to.deep.equal([]);
    expect((await usageToday(userId)).filter((e) => e.type === 'UsageRecorded')).to.have.length(2);
    expect(await types(workflowExecutionStream(accepted))).to.deep.equal(['ExecutionRequested', 'ProxyAssigned']);
    expect(await types(workflowExecutionStream(ended))).to.deep.equal(['ExecutionRequested', 'ProxyAssigned', 'ExecutionCancelled']);
    expect(await queue.getJob(accepted)).to.not.equal(undefined);
  });

  it('a request cancelled before the process manager reached it is left alone: no quota, no proxy, no job', async () => {
    const { userId, accountId } = await newUser();
    await verify(accountId);
    const executionId = await request(userId, notes(accountId));
    await handle(store, workflowExecutionAggregate, executionId, { type: 'CancelExecution', executionId, requestedBy: userId, now: now() }, { context });
    await runPm();

    expect(await types(workflowExecutionStream(executionId))).to.deep.equal(['ExecutionRequested', 'ExecutionCancelled']);
    expect(await usageToday(userId)).to.deep.equal([]);
    expect(await queue.getJob(executionId)).to.equal(undefined);
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
    const usage = (await usageToday(userId)).filter((e) => e.type === 'UsageRecorded');
    expect(usage).to.have.length(1);
    expect((await queue.getJobs(['waiting', 'delayed'])).filter((j) => j.data.executionId === executionId)).to.have.length(1);
    // still waiting days later: a replay finds its use counted on the first day, and counts nothing on this one
    const later = new Date(Date.now() + 3 * 86_400_000);
    await resetCheckpoint(knex, pmName, START);
    await runConsumerToHead(deps(), createDispatchExecutions({ store, dispatcher, timeZone: config.QUOTA_TIME_ZONE, now: () => later }, pmName));
    expect(await types(subscriptionUsageAggregate.streamName(dailyUsageId(userId, 'xiaohongshu', quotaDay(later, config.QUOTA_TIME_ZONE).day)))).to.deep.equal(
      [],
    );
    expect((await usageToday(userId)).filter((e) => e.type === 'UsageRecorded')).to.have.length(1);
  });
});

import { expect } from 'chai';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { createPasswordHasher } from '../../src/adapters/crypto/password-hasher.js';
import { RedisBlockageBoard } from '../../src/adapters/queue/queue-alert-board.js';
import { BullMqQueueControl } from '../../src/adapters/queue/queue-control.js';
import { BullMqQueueStats } from '../../src/adapters/queue/queue-stats.js';
import { QueueFactory } from '../../src/adapters/queue/queues.js';
import { QueueBlockageWatch } from '../../src/application/queue-blockage-watch.js';
import { QueueInterventions } from '../../src/application/queue-interventions.js';
import { QueueMonitor, type QueueStatsSnapshot } from '../../src/application/queue-monitor.js';
import { registerUser } from '../../src/application/register-user.js';
import type { Consumer } from '../../src/consumers/consumer.js';
import { createQueueAlerts } from '../../src/process-managers/queue-alerts.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { userAggregate } from '../../src/write-model/user/decider.js';
import { queueAlertAggregate, queueAlertDayId } from '../../src/write-model/queue-alert/decider.js';
import { testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';
import { waitFor } from '../support/wait-for.js';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const today = () => new Date().toISOString().slice(0, 10).replaceAll('-', '');

/**
 * The queue monitor, the blockage detector and the interventions against
 * real Redis (BullMQ queues under a prefix of their own) and a Postgres
 * event store of their own; pm-queue-alerts to the admins' notifications.
 */
describe('queue monitor, blockage detector and interventions (Redis, BullMQ, Postgres)', function () {
  this.timeout(60_000);
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  let store: PostgresEventStore;
  let knex: Knex;
  let redis: Redis;
  let factory: QueueFactory;
  const opened: Array<{ close(): Promise<unknown> }> = [];
  const names = ['mail', 'scrape'];
  const consumerNames: string[] = [];
  const users: string[] = [];

  before(async () => {
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 5 });
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 5 } });
    redis = new Redis(testRedisUrl);
    factory = new QueueFactory({ redisUrl: testRedisUrl, prefix: `test-qmon-${randomUUID().slice(0, 8)}` });
  });
  after(async () => {
    for (const o of opened.reverse()) await o.close().catch(() => undefined);
    for (const name of names) {
      const q = new Queue(name, { connection: factory.connection('queue'), prefix: factory.prefix });
      await q.obliterate({ force: true }).catch(() => undefined);
      await q.close();
    }
    await knex('consumer_checkpoints').whereIn('consumer', consumerNames).delete();
    await knex('pm_queue_alert_admins').whereIn('user_id', users).delete();
    await redis.quit();
    await store?.close();
    await knex?.destroy();
    await iso?.drop();
  });

  const queue = (name: string) => {
    const q = new Queue(name, { connection: factory.connection('queue'), prefix: factory.prefix });
    opened.push(q);
    return q;
  };

  it('samples counts, the oldest waiting job and jobs in/out per second from the queue events', async () => {
    const mail = queue('mail');
    const reader = new BullMqQueueStats(factory, names);
    opened.push(reader);
    const monitor = new QueueMonitor({ reader, board: new RedisBlockageBoard(redis, factory.prefix), intervalMs: 250 });
    opened.push(monitor);
    const seen: QueueStatsSnapshot[] = [];
    const unsubscribe = monitor.subscribe((s) => seen.push(s));
    await waitFor('a first sample', () => seen.length > 0);

    const before = Date.now();
    await mail.add('m', { n: 1 });
    await mail.add('m', { n: 2 });
    await mail.add('m', { n: 3 }, { delay: 60_000 });
    await waitFor('the jobs in the stats', () => {
      const m = seen.at(-1)?.queues.find((q) => q.name === 'mail');
      return m?.waiting === 2 && m.delayed === 1;
    });
    const waitingNow = seen.at(-1)!.queues.find((q) => q.name === 'mail')!;
    expect(waitingNow.oldestWaitingSeconds).to.be.within(0, Math.ceil((Date.now() - before) / 1000) + 1);
    expect(
      seen.some((s) => (s.queues.find((q) => q.name === 'mail')?.addedPerSecond ?? 0) > 0),
      'jobs in per second',
    ).to.equal(true);
    expect(seen.at(-1)!.detector).to.deep.equal({ running: false, thresholdSeconds: null });

    // a worker finishes them (one fails): jobs out per second, and nothing waits any more
    const worker = new Worker(
      'mail',
      async (job) => {
        if (job.data.n === 2) throw new Error('refused');
      },
      { connection: factory.connection('worker'), prefix: factory.prefix },
    );
    opened.push(worker);
    await waitFor('the jobs done', () => {
      const m = seen.at(-1)?.queues.find((q) => q.name === 'mail');
      return m?.waiting === 0 && m.failed === 1;
    });
    await waitFor('the rates', () => seen.some((s) => (s.queues.find((q) => q.name === 'mail')?.completedPerSecond ?? 0) > 0));
    expect(seen.some((s) => (s.queues.find((q) => q.name === 'mail')?.failedPerSecond ?? 0) > 0)).to.equal(true);
    expect(seen.at(-1)!.queues.find((q) => q.name === 'mail')!.oldestWaitingSeconds).to.equal(null);
    await worker.close();

    // a snapshot is the latest sample; closing ends every subscription
    const snapshot = await monitor.snapshot();
    expect(snapshot.queues.map((q) => q.name)).to.deep.equal(names);
    unsubscribe();
    let ended = false;
    monitor.subscribe(
      () => undefined,
      () => {
        ended = true;
      },
    );
    expect(monitor.subscribers).to.equal(1);
    await monitor.close();
    expect(ended).to.equal(true);
    expect(monitor.subscribers).to.equal(0);
  });

  it('detects a queue whose jobs wait with no worker, once, publishes it, clears it when it moves, and a restarted detector takes the episode over', async () => {
    const scrape = queue('scrape');
    const board = new RedisBlockageBoard(redis, factory.prefix);
    const reader = new BullMqQueueStats(factory, names);
    opened.push(reader);
    const watch = new QueueBlockageWatch({ store, reader, board, thresholdSeconds: 1, intervalMs: 200, logger: silent });
    await scrape.add('s', { n: 1 }, { jobId: 'stuck-1' });
    await watch.start();
    opened.push({ close: () => watch.stop() });
    const stream = `queue_alert-scrape_${today()}`;
    await waitFor('the blockage recorded', async () => (await store.readStream(stream).catch(() => [])).length > 0, 10_000, 100);
    await waitFor('the board', async () => (await board.read())?.blocked.some((b) => b.queue === 'scrape') === true);
    const published = (await board.read())!;
    expect(published.thresholdSeconds).to.equal(1);
    expect(published.blocked.map((b) => b.queue)).to.deep.equal(['scrape']);
    // a while longer still blocked: still one detection (once per episode)
    await new Promise((resolve) => setTimeout(resolve, 1200));
    let events = await store.readStream(stream);
    expect(events.map((e) => e.type)).to.deep.equal(['QueueBlockageDetected']);
    expect(events[0]!.data).to.include({ queue: 'scrape', waiting: 1, paused: false, thresholdSeconds: 1 });
    expect(events[0]!.metadata).to.include({ userId: 'queue-blockage-detector' });
    await watch.stop();

    // another detector (a restart, or another projector took the lock) takes the open episode over: no second detection
    const successor = new QueueBlockageWatch({ store, reader, board, thresholdSeconds: 1, intervalMs: 200, logger: silent });
    await successor.start();
    opened.push({ close: () => successor.stop() });
    expect(successor.blocked().map((b) => b.queue)).to.deep.equal(['scrape']);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await store.readStream(stream)).map((e) => e.type)).to.deep.equal(['QueueBlockageDetected']);

    // the job goes (an operator removed it): the queue moved, the episode ends
    await (await scrape.getJob('stuck-1'))!.remove();
    await waitFor('the clearing', async () => (await store.readStream(stream)).length === 2, 10_000, 100);
    events = await store.readStream(stream);
    expect(events.map((e) => e.type)).to.deep.equal(['QueueBlockageDetected', 'QueueBlockageCleared']);
    expect(events[1]!.data).to.include({ queue: 'scrape', waiting: 0 });
    await waitFor('the board cleared', async () => (await board.read())?.blocked.length === 0);
    await successor.stop();
  });

  it('intervenes: pause, resume, retry failed, retry / promote / remove a job; 404 and 409; each recorded with the operator', async () => {
    const mail = queue('mail');
    await mail.obliterate({ force: true });
    const control = new BullMqQueueControl(factory, names);
    opened.push(control);
    const interventions = new QueueInterventions({ store, control, logger: silent });
    const ctx = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'u-admin' };

    expect(await interventions.pause('mail', 'u-admin', ctx)).to.include({ changed: true, event: 'QueuePaused' });
    expect(await mail.isPaused()).to.equal(true);
    expect(await interventions.pause('mail', 'u-admin', ctx)).to.include({ changed: false, event: null });
    expect(await interventions.resume('mail', 'u-admin', ctx)).to.include({ changed: true, event: 'QueueResumed' });
    expect(await mail.isPaused()).to.equal(false);
    expect(await interventions.resume('mail', 'u-admin', ctx)).to.include({ changed: false });
    expect(await interventions.retryFailed('mail', 'u-admin', ctx)).to.include({ changed: false, count: 0 });

    // two failed jobs, a delayed one, a waiting one
    await mail.add('m', { fail: true }, { jobId: 'f1' });
    await mail.add('m', { fail: true }, { jobId: 'f2' });
    const worker = new Worker(
      'mail',
      async () => {
        throw new Error('refused');
      },
      { connection: factory.connection('worker'), prefix: factory.prefix },
    );
    await waitFor('two failed', async () => (await mail.getFailedCount()) === 2);
    await worker.close();
    await mail.add('m', {}, { jobId: 'later', delay: 600_000 });
    await mail.add('m', {}, { jobId: 'ready' });

    const refused = async (work: Promise<unknown>, code: string) => {
      const error = await work.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error, code).to.be.instanceOf(DomainError);
      expect((error as DomainError).code).to.equal(code);
    };
    await refused(interventions.pause('nope', 'u-admin', ctx), 'NOT_FOUND');
    await refused(interventions.retryJob('mail', 'missing', 'u-admin', ctx), 'NOT_FOUND');
    await refused(interventions.retryJob('mail', 'ready', 'u-admin', ctx), 'CONFLICT');
    await refused(interventions.promoteJob('mail', 'f1', 'u-admin', ctx), 'CONFLICT');

    expect(await interventions.retryJob('mail', 'f1', 'u-admin', ctx)).to.include({ changed: true, event: 'JobRetried', previousState: 'failed' });
    expect(await mail.getJobState('f1')).to.equal('waiting');
    expect(await interventions.retryFailed('mail', 'u-admin', ctx)).to.include({ changed: true, count: 1, event: 'FailedJobsRetried' });
    await waitFor('f2 waiting', async () => (await mail.getJobState('f2')) === 'waiting');
    expect(await interventions.promoteJob('mail', 'later', 'u-admin', ctx)).to.include({ changed: true, event: 'JobPromoted' });
    expect(await mail.getJobState('later')).to.equal('waiting');
    expect(await interventions.removeJob('mail', 'ready', 'u-admin', ctx)).to.include({ changed: true, event: 'JobRemoved', previousState: 'waiting' });
    expect(await mail.getJob('ready')).to.equal(undefined);

    const events = await store.readStream(`queue_intervention-mail_${today()}`);
    expect(events.map((e) => e.type)).to.deep.equal(['QueuePaused', 'QueueResumed', 'JobRetried', 'FailedJobsRetried', 'JobPromoted', 'JobRemoved']);
    expect(events.every((e) => (e.data as { operator: string }).operator === 'u-admin')).to.equal(true);
    expect(events[3]!.data).to.include({ count: 1 });
    expect(events[5]!.data).to.include({ jobId: 'ready', state: 'waiting' });
    expect(events[0]!.metadata).to.include({ userId: 'u-admin' });
  });

  it('pm-queue-alerts: a detected blockage becomes a queue_blocked notification for each active admin, once', async () => {
    const passwordHasher = createPasswordHasher({ NODE_ENV: 'test' });
    const ctx = () => ({ correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' });
    const register = (role: 'admin' | 'user', name: string) =>
      registerUser(
        { store, passwordHasher },
        { email: `${name}-${randomUUID().slice(0, 6)}@example.test`, password: 'correct horse battery', displayName: name, role, context: ctx() },
      );
    const ada = await register('admin', 'ada');
    const bob = await register('admin', 'bob');
    const carl = await register('user', 'carl');
    // bob is suspended: no alert for him
    await handle(
      store,
      userAggregate,
      bob.userId,
      { type: 'SuspendUser', userId: bob.userId, reason: 'left', now: new Date().toISOString() },
      { context: ctx() },
    );

    // a detection after they registered (the one of the test before came first: no admin existed yet, nobody was told)
    const now = new Date();
    await handle(
      store,
      queueAlertAggregate,
      queueAlertDayId('mail', today()),
      {
        type: 'RecordQueueBlockage',
        queue: 'mail',
        day: today(),
        blockedSince: new Date(now.getTime() - 400_000).toISOString(),
        waiting: 4,
        paused: true,
        oldestWaitingSeconds: 500,
        thresholdSeconds: 300,
        now: now.toISOString(),
      },
      { context: ctx() },
    );
    const name = `pm-queue-alerts-test-${randomUUID().slice(0, 8)}`;
    consumerNames.push(name);
    const pm: Consumer = createQueueAlerts({ store, timeZone: 'Asia/Shanghai' }, name);
    await runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, pm);

    const sent = async () =>
      (await store.readAll({ maxCount: 10_000 }))
        .filter((e) => e.type === 'NotificationSent')
        .map((e) => e.data as { userId: string; kind: string; title: string; data: Record<string, unknown> });
    // (the pm's admin index is a table of the shared test database: only this test's users count)
    const mine = new Set([ada.userId, bob.userId, carl.userId]);
    const notes = (await sent()).filter((n) => mine.has(n.userId));
    expect(notes.map((n) => n.userId)).to.deep.equal([ada.userId]);
    expect(notes[0]).to.include({ kind: 'queue_blocked' });
    expect(notes[0]!.title).to.contain('Queue mail is blocked');
    expect(notes[0]!.data).to.include({ queue: 'mail', waiting: 4, paused: true });
    users.push(ada.userId, bob.userId, carl.userId);

    // a redelivery (the checkpoint reset) records nothing more
    await knex('consumer_checkpoints').where({ consumer: name }).delete();
    await runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, pm);
    expect((await sent()).filter((n) => mine.has(n.userId)).length).to.equal(1);
  });
});

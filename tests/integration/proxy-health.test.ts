import { httpProxyProber } from '../../src/adapters/proxies/prober.js';
import { expect } from 'chai';
import type { Queue } from 'bullmq';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { createSecretBox } from '../../src/adapters/crypto/secret-box.js';
import { runMigrations } from '../../src/adapters/db/migrate.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { createProxyHealthWorker, scheduleProxyHealth, unscheduleProxyHealth } from '../../src/adapters/queue/proxy-health-worker.js';
import { QueueFactory, QUEUE_NAMES, type ProxyHealthJobData } from '../../src/adapters/queue/queues.js';
import type { WorkerRuntime } from '../../src/adapters/queue/worker-runtime.js';
import { recordHealthCheck, registerProxy, reportProxyFailure, retireProxy } from '../../src/application/proxies.js';
import { CARRY_DAYS } from '../../src/application/proxy-observations.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import type { ProxyHealthReport } from '../../src/application/proxy-health.js';
import type { RecordedEvent } from '../../src/event-store/port.js';
import { createProxiesProjection } from '../../src/projections/proxies.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { proxyStream } from '../../src/write-model/proxy/index.js';
import { proxyHealthAggregate, proxyHealthDayId, proxyHealthEvents, proxyHealthStream, utcDay } from '../../src/write-model/proxy-health/index.js';
import { StreamNotFoundError } from '../../src/event-store/errors.js';
import { testConfig, testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';
import { startEchoTarget, type EchoTarget } from '../support/echo-target.js';
import { LocalProxies } from '../support/local-proxies.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The scheduled proxy health check end to end: a BullMQ job scheduler, the
 * proxy-health worker, real proxies on loopback that want credentials (the
 * sealed ones must be opened to pass), and an echo target that proves the
 * probes came through them. A schema of its own: "every proxy" is this file's.
 */
describe('proxy health checks (scheduled job → probes through real proxies → day streams of observations)', function () {
  this.timeout(40_000);
  const config = testConfig();
  const secretBox = createSecretBox(config);
  const threshold = config.PROXY_FAILURE_THRESHOLD;
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  const schema = `proxy_health_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
  let admin: Knex;
  let knex: Knex;
  let store: PostgresEventStore;
  let factory: QueueFactory;
  let queue: Queue<ProxyHealthJobData>;
  let worker: WorkerRuntime<ProxyHealthJobData, ProxyHealthReport> | undefined;
  let proxies: LocalProxies;
  let echo: EchoTarget;
  const ids: string[] = [];

  before(async () => {
    admin = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 1 } });
    await admin.raw('CREATE SCHEMA ??', [schema]);
    const url = new URL(testDatabaseUrl);
    url.searchParams.set('options', `-c search_path=${schema}`);
    knex = knexFactory({ client: 'pg', connection: url.toString(), pool: { min: 0, max: 5 } });
    await runMigrations(knex);
    store = createPostgresEventStore({ connectionString: url.toString(), poolSize: 5 });
    factory = new QueueFactory({ redisUrl: testRedisUrl, prefix: `test-proxy-health-${randomUUID()}` });
    queue = factory.queue<ProxyHealthJobData>(QUEUE_NAMES.proxyHealth);
    echo = await startEchoTarget();
    proxies = await LocalProxies.start(3, { username: 'probe-user', password: 'pr0xy-s3cret' });
    for (const p of proxies.proxies) {
      const { proxyId } = await registerProxy(
        { store, context, secretBox },
        { host: p.host, port: p.port, protocol: p.protocol, username: p.username, password: p.password, registeredBy: 'admin' },
      );
      ids.push(proxyId);
    }
    await runConsumerToHead({ store, knex, databaseUrl: url.toString() }, createProxiesProjection('proxies-v1-test'));
  });
  after(async () => {
    await worker?.stop({ timeoutMs: 5_000 });
    await queue.obliterate({ force: true });
    await queue.close();
    await proxies.stopAll();
    await echo.close();
    await store.close();
    await knex.destroy();
    await admin.raw('DROP SCHEMA ?? CASCADE', [schema]);
    await admin.destroy();
  });

  // the lifecycle (proxy-{id}) and the observations (proxy_health-{id}_{day}, whatever the days)
  const events = (proxyId: string): Promise<RecordedEvent[]> => store.readStream(proxyStream(proxyId));
  // (stream reads, not $all: $all shows an event only once no older transaction is still open on the server)
  const started = new Date();
  const checks = async (proxyId: string) => {
    const days = new Set<string>();
    for (let t = started.getTime() - 86_400_000; t <= Date.now() + 86_400_000; t += 3_600_000) days.add(utcDay(new Date(t)));
    const observed = [];
    for (const day of [...days].sort()) {
      const recorded = await store.readStream(proxyHealthStream(proxyHealthDayId(proxyId, day))).catch((error: unknown) => {
        if (error instanceof StreamNotFoundError) return [];
        throw error;
      });
      observed.push(...recorded.map((e) => proxyHealthEvents.decode(e).data));
    }
    return observed;
  };

  it('keeps one job scheduler, however often it is scheduled', async () => {
    await scheduleProxyHealth(queue, 60_000);
    await scheduleProxyHealth(queue, 300);
    const schedulers = await queue.getJobSchedulers();
    expect(schedulers).to.have.length(1);
    expect(schedulers[0]).to.include({ every: 300, name: 'proxy-health' });
  });

  it('probes every proxy through itself with its credentials: healthy ones stay healthy with latency; a killed one fails after the threshold', async () => {
    worker = createProxyHealthWorker({
      factory,
      deps: {
        store,
        knex,
        secretBox,
        thresholds: { failure: threshold, recovery: config.PROXY_RECOVERY_THRESHOLD },
        target: `${echo.origin}/robots.txt`,
        prober: httpProxyProber,
        timeoutMs: 2_000,
      },
    });
    await worker.start();

    // rounds run every 300 ms: each proxy gets an ok check with a latency
    await waitFor('a first round', async () => (await Promise.all(ids.map(checks))).every((c) => c.some((x) => x.ok)), 15_000);
    for (const id of ids) {
      const first = (await checks(id))[0]!;
      expect(first).to.include({ ok: true, source: 'probe' });
      expect(first.latencyMs).to.be.a('number').and.to.be.at.least(0);
    }
    // each proxy forwarded to the target, authenticated with the opened credentials
    for (const p of proxies.proxies) {
      expect(
        p.requests.some((r) => r.hostname === echo.host && r.port === echo.port && r.username === 'probe-user'),
        `proxy :${p.port} used`,
      ).to.equal(true);
      expect(p.refused).to.equal(0);
    }

    await proxies.kill(1);
    const dead = ids[1]!;
    await waitFor('the killed proxy failed', async () => (await events(dead)).some((e) => e.type === 'ProxyFailed'), 15_000);
    await unscheduleProxyHealth(queue);
    await worker.stop({ timeoutMs: 5_000 });

    // exactly `threshold` failed probes in a row, then ProxyFailed with the last of them (at its time)
    const lifecycle = await events(dead);
    expect(lifecycle.map((e) => e.type)).to.deep.equal(['ProxyRegistered', 'ProxyFailed']);
    const failed = lifecycle[1]!.data as { source: string; consecutiveFailures: number; failedAt: string };
    expect(failed).to.include({ source: 'probe', consecutiveFailures: threshold });
    const observed = await checks(dead);
    const upTo = observed.filter((c) => Date.parse(c.checkedAt) <= Date.parse(failed.failedAt));
    expect(upTo.at(-1)).to.include({ checkedAt: failed.failedAt, ok: false, consecutiveFailures: threshold });
    const before = upTo.map((c) => c.ok);
    expect(before.slice(-threshold)).to.deep.equal(Array(threshold).fill(false));
    expect(before.slice(0, -threshold).every((ok) => ok)).to.equal(true);
    // the proxy stream holds its lifecycle only
    for (const id of ids) expect((await events(id)).every((e) => e.type !== 'ProxyHealthChecked')).to.equal(true);

    for (const id of [ids[0]!, ids[2]!]) {
      const list = await checks(id);
      expect(list.length).to.be.at.least(threshold);
      expect(list.every((c) => c.ok && typeof c.latencyMs === 'number')).to.equal(true);
      expect((await events(id)).some((e) => e.type === 'ProxyFailed')).to.equal(false);
    }

    // the target saw only proxied probes: as many as the proxies forwarded to it
    const forwarded = proxies.proxies.flatMap((p) => p.requests).filter((r) => r.hostname === echo.host && r.port === echo.port).length;
    // (a tunnel the kill cut between the proxy's CONNECT and the target may be one short)
    expect(echo.requests.length).to.be.within(forwarded - 1, forwarded);
    expect(echo.requests.length).to.be.at.least(ids.length * threshold);
    expect(echo.requests.every((r) => r.url === '/robots.txt' && r.headers['user-agent'] === 'collector-proxy-probe/1')).to.equal(true);
    // no credential in clear in any event
    const lifecycles = (await Promise.all(ids.map(events))).flat().map((e) => [e.data, e.metadata]);
    const all = JSON.stringify([lifecycles, (await Promise.all(ids.map(checks))).flat()]);
    expect(all).to.not.include('pr0xy-s3cret');
  });

  it('counts failures and successes in a row across the day boundary, looks back over empty days, and makes a lost verdict good on a repeat', async () => {
    const { proxyId } = await registerProxy({ store, context, secretBox }, { host: '127.0.0.9', port: 9, protocol: 'http', registeredBy: 'admin' });
    const thresholds = { failure: 3, recovery: 2 };
    const at = (iso: string) => ({ store, context, thresholds, now: () => new Date(iso) });
    const probe = (iso: string, ok: boolean) => recordHealthCheck(at(iso), { proxyId, ok, latencyMs: ok ? 50 : null, error: ok ? null : 'timeout' });
    const day = async (yyyymmdd: string) => {
      try {
        return (await store.readStream(proxyHealthStream(proxyHealthDayId(proxyId, yyyymmdd)))).map((e) => proxyHealthEvents.decode(e).data);
      } catch {
        return [];
      }
    };
    const lifecycle = async () => (await events(proxyId)).map((e) => e.type);

    // two failures before midnight are not enough; the third, after it, fails the proxy
    expect(await probe('2026-05-01T23:50:00.000Z', false)).to.include({ recorded: true, failed: false });
    expect(await probe('2026-05-01T23:55:00.000Z', false)).to.include({ recorded: true, failed: false });
    const third = await probe('2026-05-02T00:00:00.000Z', false);
    expect(third).to.include({ recorded: true, failed: true });
    expect(third.state.status).to.equal('failed');
    expect((await day('20260502'))[0]).to.include({ consecutiveFailures: 3, day: '20260502' });

    // a job failure counts with the probes
    await reportProxyFailure(at('2026-05-02T00:01:00.000Z'), { proxyId, reason: 'HTTP 403', platform: 'xiaohongshu', jobId: 'job-1' });
    expect((await day('20260502')).at(-1)).to.include({ source: 'job', consecutiveFailures: 4, platform: 'xiaohongshu', jobId: 'job-1' });

    // one success, a day without any observation, then the second success recovers it
    expect(await probe('2026-05-02T00:05:00.000Z', true)).to.include({ recovered: false });
    const back = await probe('2026-05-04T00:00:00.000Z', true);
    expect(back).to.include({ recorded: true, recovered: true });
    expect((await day('20260504'))[0]).to.include({ consecutiveSuccesses: 2 });
    expect(await lifecycle()).to.deep.equal(['ProxyRegistered', 'ProxyFailed', 'ProxyRecovered']);

    // a repeat (same time) records nothing and decides nothing
    const repeat = await reportProxyFailure(at('2026-05-04T00:00:00.000Z'), { proxyId, reason: 'late' });
    expect(repeat).to.include({ recorded: false, failed: false, recovered: false, position: undefined });
    expect(await day('20260504')).to.have.length(1);

    // after more than CARRY_DAYS without observations the counts start again
    await probe('2026-05-10T08:00:00.000Z', false);
    await probe('2026-05-10T08:05:00.000Z', false);
    expect((await day('20260510')).map((c) => c.consecutiveFailures)).to.deep.equal([1, 2]);
    expect(CARRY_DAYS).to.be.below(14);
    await probe('2026-05-24T08:00:00.000Z', false);
    expect((await day('20260524'))[0]).to.include({ consecutiveFailures: 1 });

    // a crash between the two appends: the observation is in, the verdict not; the retry makes it good
    await handle(
      store,
      proxyHealthAggregate,
      proxyHealthDayId(proxyId, '20260524'),
      {
        type: 'RecordProxyObservation',
        proxyId,
        day: '20260524',
        source: 'probe',
        ok: false,
        latencyMs: null,
        error: 'timeout',
        carried: null,
        now: '2026-05-24T08:05:00.000Z',
      },
      { context },
    );
    await handle(
      store,
      proxyHealthAggregate,
      proxyHealthDayId(proxyId, '20260524'),
      {
        type: 'RecordProxyObservation',
        proxyId,
        day: '20260524',
        source: 'probe',
        ok: false,
        latencyMs: null,
        error: 'timeout',
        carried: null,
        now: '2026-05-24T08:10:00.000Z',
      },
      { context },
    );
    expect(await lifecycle()).to.deep.equal(['ProxyRegistered', 'ProxyFailed', 'ProxyRecovered']);
    const retried = await reportProxyFailure(at('2026-05-24T08:10:00.000Z'), { proxyId, reason: 'timeout' });
    expect(retried).to.include({ recorded: false, failed: true });
    expect(await lifecycle()).to.deep.equal(['ProxyRegistered', 'ProxyFailed', 'ProxyRecovered', 'ProxyFailed']);
    expect((await events(proxyId)).at(-1)!.data).to.include({ consecutiveFailures: 3, failedAt: '2026-05-24T08:10:00.000Z' });
  });

  it('refuses observations of an unknown proxy (NOT_FOUND) and a retired one (CONFLICT), recording nothing', async () => {
    const { proxyId } = await registerProxy({ store, context, secretBox }, { host: '127.0.0.10', port: 9, protocol: 'http', registeredBy: 'admin' });
    const deps = { store, context, now: () => new Date('2026-06-01T10:00:00.000Z') };
    await retireProxy(deps, { proxyId, by: 'admin' });
    for (const id of [proxyId, randomUUID()]) {
      const thrown = await recordHealthCheck(deps, { proxyId: id, ok: true, latencyMs: 5 }).catch((error: unknown) => error);
      expect(thrown).to.be.instanceOf(DomainError);
      expect((thrown as DomainError).code).to.equal(id === proxyId ? 'CONFLICT' : 'NOT_FOUND');
      expect(await store.readStream(proxyHealthStream(proxyHealthDayId(id, '20260601'))).catch((error: unknown) => error)).to.be.instanceOf(
        StreamNotFoundError,
      );
    }
  });
});

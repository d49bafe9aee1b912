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
import { registerProxy } from '../../src/application/proxies.js';
import type { ProxyHealthReport } from '../../src/application/proxy-health.js';
import type { RecordedEvent } from '../../src/event-store/port.js';
import { createProxiesProjection } from '../../src/projections/proxies.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { proxyStream } from '../../src/write-model/proxy/index.js';
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
describe('proxy health checks (scheduled job → probes through real proxies → RecordHealthCheck)', function () {
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
      const { proxyId } = await registerProxy({ store, context, secretBox }, { host: p.host, port: p.port, protocol: p.protocol, username: p.username, password: p.password, registeredBy: 'admin' });
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

  const events = (proxyId: string): Promise<RecordedEvent[]> => store.readStream(proxyStream(proxyId));
  const checks = async (proxyId: string) => (await events(proxyId)).filter((e) => e.type === 'ProxyHealthChecked').map((e) => e.data as { ok: boolean; latencyMs: number | null; source: string });

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
      expect(p.requests.some((r) => r.hostname === echo.host && r.port === echo.port && r.username === 'probe-user'), `proxy :${p.port} used`).to.equal(true);
      expect(p.refused).to.equal(0);
    }

    await proxies.kill(1);
    const dead = ids[1]!;
    await waitFor('the killed proxy failed', async () => (await events(dead)).some((e) => e.type === 'ProxyFailed'), 15_000);
    await unscheduleProxyHealth(queue);
    await worker.stop({ timeoutMs: 5_000 });

    // exactly `threshold` failed probes in a row, then ProxyFailed with the last of them
    const history = await events(dead);
    const failedAt = history.findIndex((e) => e.type === 'ProxyFailed');
    const before = history.slice(0, failedAt).filter((e) => e.type === 'ProxyHealthChecked').map((e) => (e.data as { ok: boolean }).ok);
    expect(before.slice(-threshold)).to.deep.equal(Array(threshold).fill(false));
    expect(before.slice(0, -threshold).every((ok) => ok)).to.equal(true);
    expect(history[failedAt]!.data).to.include({ source: 'probe', consecutiveFailures: threshold });

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
    const all = JSON.stringify((await Promise.all(ids.map(events))).flat().map((e) => [e.data, e.metadata]));
    expect(all).to.not.include('pr0xy-s3cret');
  });
});

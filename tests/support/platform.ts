import type { Container } from 'inversify';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { runMigrations } from '../../src/adapters/db/migrate.js';
import { ensureDatabase } from '../../src/adapters/db/ensure-database.js';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { createApiApp } from '../../src/api-app.js';
import { createAdmin } from '../../src/cli/create-admin.js';
import type { Config } from '../../src/config.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore, RecordedEvent } from '../../src/event-store/port.js';
import { buildProcessManagerWiring, deadlineActionsFromConfig } from '../../src/main/automation.js';
import { allProcessors, startWorker, type RunningWorker } from '../../src/main/worker.js';
import { DeadlineSweeper, processManagers } from '../../src/process-managers/index.js';
import { createProjections } from '../../src/projections/index.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import type { Consumer } from '../../src/consumers/consumer.js';
import { TOKENS } from '../../src/tokens.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { startFixtureSites, type FixtureSites } from './fixture-sites.js';
import { LocalProxies } from './local-proxies.js';

export interface Reply {
  status: number;
  text: string;
  body: any;
  headers: Headers;
}

export interface CallOptions {
  token?: string;
  /** sent as JSON */
  body?: unknown;
  /** a body sent as it is, with `type` (default application/octet-stream) */
  raw?: Buffer;
  type?: string;
  ifMatch?: string;
  /** more request headers (Accept, …) */
  headers?: Record<string, string>;
  /** 'manual': a redirect is the answer, not followed */
  redirect?: RequestRedirect;
}

export interface Platform {
  config: Config;
  container: Container;
  store: EventStore;
  knex: Knex;
  sites: FixtureSites;
  proxies: LocalProxies;
  url: string;
  call(method: string, path: string, options?: CallOptions): Promise<Reply>;
  /** registers (API), logs in, waits for the free plans */
  signUp(name: string): Promise<{ userId: string; token: string }>;
  adminToken(): Promise<string>;
  /** a worker process's pieces, in-process (the real startWorker with every queue); `delayMs` paces the scrapers (slow them to act mid-run) */
  startWorker(name?: string, options?: { delayMs?: readonly [number, number] }): Promise<RunningWorker>;
  /** the projector's consumers (projections + process managers) */
  startConsumers(): void;
  stopConsumers(): Promise<void>;
  /** the consumer with this name, stopped and started again (a crash-restart of one consumer) */
  restartConsumer(name: string): Promise<void>;
  events(stream: string): Promise<RecordedEvent[]>;
  stop(): Promise<void>;
}

/**
 * The whole platform in one test process, each piece the real code: a fresh
 * database (migrated), the API on a socket, every projection and process
 * manager under ConsumerRunner, the deadline sweeper, workers on a queue
 * prefix of their own, the fixture sites on 127.0.0.1 and real local proxies
 * with credentials. Nothing it creates is shared with other tests.
 */
export async function startPlatform(options: { proxies?: number; config?: Record<string, string> } = {}): Promise<Platform> {
  const id = randomUUID().replaceAll('-', '').slice(0, 10);
  const dbUrl = new URL(testDatabaseUrl);
  dbUrl.pathname = `/collector_e2e_${id}`;
  const databaseUrl = dbUrl.toString();
  await ensureDatabase(databaseUrl);
  const migrator = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 2 } });
  try {
    await runMigrations(migrator);
  } finally {
    await migrator.destroy();
  }

  const sites = await startFixtureSites();
  const proxies = await LocalProxies.start(options.proxies ?? 2, { username: `px-${id}`, password: `proxy-secret-${id}` });
  const config = testConfig({
    DATABASE_URL: databaseUrl,
    QUEUE_PREFIX: `e2e-${id}`,
    LOGIN_RATE_LIMIT_PER_IP: '100000',
    LOGIN_RATE_LIMIT_PER_ACCOUNT: '1000',
    XIAOHONGSHU_WEB_URL: sites.urls.xiaohongshuWeb,
    XIAOHONGSHU_API_URL: sites.urls.xiaohongshuApi,
    XIAOHONGSHU_CREATOR_URL: sites.urls.xiaohongshuCreator,
    QIDIAN_WEB_URL: sites.urls.qidianWeb,
    SCRAPE_BACKOFF_MS: '300',
    SCRAPE_MAX_ATTEMPTS: '4',
    PROXY_LEASE_TTL_MS: '4000',
    ACCOUNT_JOBS_PER_MINUTE: '1000',
    WORKER_CONCURRENCY: '2',
    DEADLINE_SWEEP_INTERVAL_MS: '200',
    // the health job probes once when a worker starts, then daily: through the proxies to the fixture sites
    PROXY_HEALTH_INTERVAL_MS: '86400000',
    PROXY_HEALTH_TARGET_URL: `${sites.urls.xiaohongshuWeb}/explore`,
    ...options.config,
  });
  const container = await buildContainer(config);
  const store = container.get(TOKENS.EventStore);
  const knex = container.get(TOKENS.Knex);
  const logger = container.get(TOKENS.Logger);
  const automation = buildProcessManagerWiring(container, config);
  const consumers: Consumer[] = [...createProjections({ timeZone: config.QUOTA_TIME_ZONE }), ...processManagers(automation.wiring)];
  const runners = new Map<string, ConsumerRunner>();
  const runnerFor = (consumer: Consumer) =>
    new ConsumerRunner({ store, knex, databaseUrl, logger }, consumer, { idleCheckpointMs: 100, lockRetryMs: 100, minBackoffMs: 50, maxBackoffMs: 500 });
  const sweeper = new DeadlineSweeper({
    knex,
    actions: deadlineActionsFromConfig(store, config, logger),
    logger,
    intervalMs: config.DEADLINE_SWEEP_INTERVAL_MS,
  });
  sweeper.start();
  const server: RunningServer = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
  const workers: RunningWorker[] = [];
  let admin: string | undefined;

  async function call(method: string, path: string, opts: CallOptions = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
    if (opts.ifMatch !== undefined) headers['If-Match'] = opts.ifMatch;
    let sent: BodyInit | undefined;
    if (opts.raw) {
      headers['Content-Type'] = opts.type ?? 'application/octet-stream';
      sent = new Uint8Array(opts.raw);
    } else if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      sent = JSON.stringify(opts.body);
    }
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers,
      ...(opts.redirect ? { redirect: opts.redirect } : {}),
      ...(sent !== undefined ? { body: sent } : {}),
    });
    const text = await res.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.status, text, body, headers: res.headers };
  }

  async function login(email: string, password: string): Promise<{ userId: string; token: string }> {
    const r = await call('POST', '/api/v1/auth/login', { body: { email, password } });
    if (r.status !== 200) throw new Error(`login failed: ${r.text}`);
    return { userId: r.body.data.user_id, token: r.body.data.access_token };
  }

  const platform: Platform = {
    config,
    container,
    store,
    knex,
    sites,
    proxies,
    url: server.url,
    call,
    async signUp(name) {
      const email = `${name}-${randomUUID()}@example.test`;
      const r = await call('POST', '/api/v1/auth/register', { body: { email, password: 'correct horse battery', display_name: name } });
      if (r.status !== 201) throw new Error(`register failed: ${r.text}`);
      const user = await login(email, 'correct horse battery');
      const deadline = Date.now() + 20_000;
      while ((await call('GET', '/api/v1/subscriptions', { token: user.token })).body?.data?.items?.length !== 2) {
        if (Date.now() > deadline) throw new Error(`${name}'s free plans never appeared`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // the profile comes from another read model than the plans: tests read it at once
      while ((await call('GET', '/api/v1/users/profile', { token: user.token })).status !== 200) {
        if (Date.now() > deadline) throw new Error(`${name}'s profile never appeared`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return user;
    },
    async adminToken() {
      if (admin) return admin;
      const email = `admin-${id}@example.test`;
      await createAdmin({ store, passwordHasher: container.get(TOKENS.PasswordHasher) }, { email, password: 'admin password 123' });
      admin = (await login(email, 'admin password 123')).token;
      return admin;
    },
    async startWorker(name = `worker-${workers.length + 1}`, workerOptions = {}) {
      const worker = await startWorker(container, {
        workerName: `${name}-${id}`,
        processors: allProcessors({
          scraperTuning: { delayMs: workerOptions.delayMs ?? [0, 0] },
          context: { allowHosts: ['127.0.0.1'] },
          lockDurationMs: 5_000,
          stalledIntervalMs: 2_000,
        }),
      });
      workers.push(worker);
      return worker;
    },
    startConsumers() {
      for (const consumer of consumers) {
        if (runners.has(consumer.name)) continue;
        const runner = runnerFor(consumer);
        runners.set(consumer.name, runner);
        runner.start();
      }
    },
    async stopConsumers() {
      await Promise.all([...runners.values()].map((r) => r.stop()));
      runners.clear();
    },
    async restartConsumer(name) {
      const consumer = consumers.find((c) => c.name === name);
      if (!consumer) throw new Error(`no consumer ${name}`);
      await runners.get(name)?.stop();
      const runner = runnerFor(consumer);
      runners.set(name, runner);
      runner.start();
    },
    async events(stream) {
      return store.readStream(stream).catch(() => []);
    },
    async stop() {
      await Promise.all(workers.splice(0).map((w) => w.stop({ timeoutMs: 2_000 })));
      await closeServer(server.server);
      await sweeper.stop();
      await platform.stopConsumers();
      await automation.close();
      // this run's queues and leases (everything under its QUEUE_PREFIX)
      const redis = container.get(TOKENS.Redis);
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${config.QUEUE_PREFIX}:*`, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
      await disposeContainer(container);
      await proxies.stopAll();
      await sites.close();
      const admin = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 1 } });
      try {
        await admin.raw(`DROP DATABASE IF EXISTS "collector_e2e_${id}" WITH (FORCE)`);
      } finally {
        await admin.destroy();
      }
    },
  };
  platform.startConsumers();
  return platform;
}

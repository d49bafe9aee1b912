import { expect } from 'chai';
import type { Container } from 'inversify';
import type { Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { createApp } from '../../src/adapters/http/app.js';
import { authenticate } from '../../src/adapters/http/authenticate.js';
import { createHttpApi } from '../../src/adapters/http/define-route.js';
import { quotaDay } from '../../src/application/quota-day.js';
import { authRouter } from '../../src/adapters/http/routes/auth.js';
import { subscriptionsRouter } from '../../src/adapters/http/routes/subscriptions.js';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { LOGIN_IP_PREFIX } from '../../src/adapters/rate-limit/login-rate-limit.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore } from '../../src/event-store/index.js';
import { createFreePlansOnRegistration } from '../../src/process-managers/index.js';
import { subscriptionsProjection } from '../../src/projections/subscriptions.js';
import { usersProjection } from '../../src/projections/users.js';
import { resetCheckpoint } from '../../src/consumers/checkpoints.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import { TOKENS } from '../../src/tokens.js';
import { subscriptionStream } from '../../src/write-model/subscription/decider.js';
import { dailyUsageId, subscriptionUsageStream } from '../../src/write-model/subscription-usage/decider.js';
import { TEST_IDEMPOTENCY_KEY, testConfig, testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';
import { BullMqMailOutbox } from '../../src/adapters/queue/mail-queue.js';
import { QUEUE_NAMES, QueueFactory } from '../../src/adapters/queue/queues.js';
import type { Queue } from 'bullmq';
import { waitFor } from '../support/wait-for.js';

interface Reply {
  res: Response;
  body: { success: boolean; data?: any; error?: { code: string; message: string; details: any } };
  text: string;
}

const LOCAL_IP_KEYS = ['127.0.0.1', '::ffff:127.0.0.1', '::1'].map((ip) => `${LOGIN_IP_PREFIX}:${ip}`);
const PASSWORD = 'correct horse battery';

describe('subscriptions API (e2e)', function () {
  this.timeout(60_000);
  let container: Container;
  let store: EventStore;
  let knex: Knex;
  let running: RunningServer;
  let resetQueue: Queue | undefined;
  const runners: ConsumerRunner[] = [];
  let pmName = '';

  before(async () => {
    const config = testConfig({ LOGIN_RATE_LIMIT_PER_IP: '10000' });
    container = await buildContainer(config);
    store = container.get(TOKENS.EventStore);
    knex = container.get(TOKENS.Knex);
    // the users and subscriptions projections and the free-plans PM, in-process (the projector's job in production)
    pmName = `pm-free-plans-on-registration-e2e-${randomUUID().slice(0, 8)}`;
    // from the head: this run's registrations only, not every user the test database ever saw
    await resetCheckpoint(knex, pmName, await store.headPosition());
    for (const consumer of [usersProjection, subscriptionsProjection, createFreePlansOnRegistration({ store }, pmName)]) {
      const runner = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl }, consumer, { idleCheckpointMs: 100, lockRetryMs: 100 });
      runner.start();
      runners.push(runner);
    }
    resetQueue = new QueueFactory({ redisUrl: testRedisUrl, prefix: `test-reset-${randomUUID().slice(0, 8)}` }).queue(QUEUE_NAMES.mail);
    const resetOutbox = new BullMqMailOutbox(resetQueue as never, { attempts: 1, backoffMs: 1_000 });
    // test-only wrapper: createApiApp's routers plus this one (until api-app.ts mounts subscriptionsRouter)
    const api = createHttpApi({ knex, authenticate: authenticate(container.get(TOKENS.AccessTokens)), idempotency: { hashKey: TEST_IDEMPOTENCY_KEY } });
    const routers = [
      authRouter(api, {
        store,
        redis: container.get(TOKENS.Redis),
        passwordHasher: container.get(TOKENS.PasswordHasher),
        accessTokens: container.get(TOKENS.AccessTokens),
        // the real outbox on a queue of this test's own (it signs users up and in; it never asks for a reset link)
        resetMail: { outbox: resetOutbox, secretBox: container.get(TOKENS.SecretBox) },
        config,
      }),
      subscriptionsRouter(api, { store, knex, timeZone: config.QUOTA_TIME_ZONE }),
    ];
    const app = createApp({
      logger: container.get(TOKENS.Logger),
      metrics: container.get(TOKENS.Metrics),
      knex,
      store,
      redis: container.get(TOKENS.Redis),
      api,
      routers,
    });
    running = await listen(app.callback(), '127.0.0.1', 0);
  });
  after(async () => {
    if (running) await closeServer(running.server);
    await resetQueue?.close();
    await Promise.all(runners.map((r) => r.stop()));
    if (container) {
      await container.get(TOKENS.Redis).del(...LOCAL_IP_KEYS);
      await knex('consumer_checkpoints').where({ consumer: pmName }).delete();
      await disposeContainer(container);
    }
  });

  async function call(method: string, path: string, options: { body?: unknown; token?: string } = {}): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    const res = await fetch(`${running.url}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
    const text = await res.text();
    return { res, body: JSON.parse(text), text };
  }

  async function signUp(): Promise<{ userId: string; token: string; position: string }> {
    const email = `subs-${randomUUID()}@example.test`;
    const registered = await call('POST', '/api/v1/auth/register', { body: { email, password: PASSWORD, display_name: 'Ada' } });
    expect(registered.res.status, registered.text).to.equal(201);
    // login reads the users read model: wait for the registration to be projected
    let loggedIn: Reply | undefined;
    await waitFor('login', async () => {
      loggedIn = await call('POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
      return loggedIn.res.status === 200;
    });
    return { userId: registered.body.data.user_id, token: loggedIn!.body.data.access_token, position: registered.body.data.position };
  }

  /** The caller's subscriptions, once the free-plans PM and the projection have both run. */
  async function freePlans(token: string): Promise<any[]> {
    let items: any[] = [];
    await waitFor('two free subscriptions', async () => {
      const list = await call('GET', '/api/v1/subscriptions', { token });
      expect(list.res.status, list.text).to.equal(200);
      items = list.body.data.items;
      return items.length === 2;
    });
    return items;
  }

  it('lists the free plans, counts usage to the limit, answers 429 and records QuotaExceeded once, keeps others out', async () => {
    const alice = await signUp();
    const items = await freePlans(alice.token);
    expect(items.map((s) => [s.service, s.plan, s.period_end])).to.deep.equal([
      ['qidian', 'free', null],
      ['xiaohongshu', 'free', null],
    ]);
    const xhs = items.find((s) => s.service === 'xiaohongshu');

    const one = await call('GET', `/api/v1/subscriptions/${xhs.id}`, { token: alice.token });
    expect(one.res.status, one.text).to.equal(200);
    expect(one.body.data).to.include({ id: xhs.id, plan: 'free', plan_name: '小红书免费版' });

    // 50 a day on free: 45 + 5 reach it
    const first = await call('POST', `/api/v1/subscriptions/${xhs.id}/consume`, { token: alice.token, body: { feature: 'daily_api_calls', amount: 45 } });
    expect(first.res.status, first.text).to.equal(200);
    expect(first.body.data).to.include({ used_today: 45, limit: 50, remaining: 5 });
    const second = await call('POST', `/api/v1/subscriptions/${xhs.id}/consume`, { token: alice.token, body: { feature: 'daily_api_calls', amount: 5 } });
    expect(second.body.data).to.include({ used_today: 50, remaining: 0 });
    const today = quotaDay(new Date(), 'Asia/Shanghai');
    expect(second.body.data).to.include({ day: today.day, resets_at: today.resetsAt });

    // over: 429 with feature, limit, resets_at; recorded once however often it is tried
    for (let i = 0; i < 2; i++) {
      const over = await call('POST', `/api/v1/subscriptions/${xhs.id}/consume`, { token: alice.token, body: { feature: 'daily_api_calls' } });
      expect(over.res.status, over.text).to.equal(429);
      expect(over.body.error?.code).to.equal('QUOTA_EXCEEDED');
      expect(over.body.error?.details).to.include({ feature: 'daily_api_calls', limit: 50, resets_at: today.resetsAt, requested: 1, remaining: 0 });
      expect(over.body.error?.message).to.equal('the daily_api_calls quota of 50 is used up');
      expect(Number(over.res.headers.get('Retry-After'))).to.be.greaterThan(0);
    }
    // in the day's usage stream; the subscription's own stream keeps its lifecycle only
    const types = (await store.readStream(subscriptionUsageStream(dailyUsageId(alice.userId, 'xiaohongshu', today.day)))).map((e) => e.type);
    expect(types).to.deep.equal(['UsageRecorded', 'UsageRecorded', 'QuotaExceeded']);
    expect((await store.readStream(subscriptionStream(alice.userId, 'xiaohongshu'))).map((e) => e.type)).to.deep.equal(['SubscriptionStarted']);

    // usage: used = limit today (after the projection caught up with the last write)
    let usage: Reply | undefined;
    await waitFor('usage projected', async () => {
      usage = await call('GET', `/api/v1/subscriptions/${xhs.id}/usage`, { token: alice.token });
      expect(usage.res.status, usage.text).to.equal(200);
      const daily = usage.body.data.features.find((f: any) => f.feature === 'daily_api_calls');
      return daily.exceeded_at !== null;
    });
    const daily = usage!.body.data.features.find((f: any) => f.feature === 'daily_api_calls');
    expect(daily).to.include({ kind: 'daily_counter', used: 50, limit: 50, remaining: 0 });
    expect(usage!.body.data.features.find((f: any) => f.feature === 'account_limit')).to.include({ used: 0, limit: 1 });
    expect(usage!.body.data.days).to.deep.equal([
      {
        day: today.day,
        features: [
          { feature: 'daily_api_calls', used: 50, limit: 50, exceeded_at: daily.exceeded_at },
          { feature: 'daily_publications', used: 0, limit: 5, exceeded_at: null },
        ],
      },
    ]);

    // another user: 404 for every route of this subscription
    const bob = await signUp();
    expect((await call('GET', `/api/v1/subscriptions/${xhs.id}`, { token: bob.token })).res.status).to.equal(404);
    expect((await call('GET', `/api/v1/subscriptions/${xhs.id}/usage`, { token: bob.token })).res.status).to.equal(404);
    const foreign = await call('POST', `/api/v1/subscriptions/${xhs.id}/consume`, { token: bob.token, body: { feature: 'daily_api_calls' } });
    expect(foreign.res.status).to.equal(404);
    expect((await call('DELETE', `/api/v1/subscriptions/${xhs.id}`, { token: bob.token })).res.status).to.equal(404);
    expect((await call('GET', '/api/v1/subscriptions', {})).res.status).to.equal(401);
  });

  it('refuses paid plans without a payment (422 PAYMENT_REQUIRED), keeps an existing free plan, cannot cancel free', async () => {
    const carol = await signUp();
    const items = await freePlans(carol.token);
    const qidian = items.find((s) => s.service === 'qidian');

    const upgrade = await call('PUT', `/api/v1/subscriptions/${qidian.id}`, { token: carol.token, body: { plan: 'pro' } });
    expect(upgrade.res.status, upgrade.text).to.equal(422);
    expect(upgrade.body.error?.details).to.include({ code: 'PAYMENT_REQUIRED', plan: 'pro' });

    const paidStart = await call('POST', '/api/v1/subscriptions', { token: carol.token, body: { service: 'qidian', plan: 'basic' } });
    expect(paidStart.res.status).to.equal(422);
    expect(paidStart.body.error?.details?.code).to.equal('PAYMENT_REQUIRED');

    const again = await call('POST', '/api/v1/subscriptions', { token: carol.token, body: { service: 'qidian', plan: 'free' } });
    expect(again.res.status, again.text).to.equal(200);
    expect(again.body.data).to.include({ id: qidian.id, started: false });

    const same = await call('PUT', `/api/v1/subscriptions/${qidian.id}`, { token: carol.token, body: { plan: 'free' } });
    expect(same.res.status, same.text).to.equal(200);

    const cancel = await call('DELETE', `/api/v1/subscriptions/${qidian.id}`, { token: carol.token });
    expect(cancel.res.status).to.equal(409);

    const notDaily = await call('POST', `/api/v1/subscriptions/${qidian.id}/consume`, { token: carol.token, body: { feature: 'daily_api_calls' } });
    expect(notDaily.res.status, notDaily.text).to.equal(403);
  });
});

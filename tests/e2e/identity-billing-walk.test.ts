import { expect } from 'chai';
import type { Container } from 'inversify';
import { createHash, randomUUID } from 'node:crypto';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { generateMerchant, platformEnv, registrationOf } from '../../sandbox/payment-provider/keys.js';
import { startPaymentSandbox, type PaymentSandbox } from '../../sandbox/payment-provider/server.js';
import { LOGIN_IP_PREFIX } from '../../src/adapters/rate-limit/login-rate-limit.js';
import { createApiApp } from '../../src/api-app.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore } from '../../src/event-store/index.js';
import { buildProcessManagerWiring } from '../../src/main/automation.js';
import { processManagers } from '../../src/process-managers/index.js';
import { createProjections } from '../../src/projections/index.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import { TOKENS } from '../../src/tokens.js';
import { quotaDay } from '../../src/application/quota-day.js';
import { subscriptionStream } from '../../src/write-model/subscription/decider.js';
import { dailyUsageId, subscriptionUsageStream } from '../../src/write-model/subscription-usage/decider.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { waitFor } from '../support/wait-for.js';

interface Reply {
  res: Response;
  text: string;
  body: any;
}

const LOCAL_IP_KEYS = ['127.0.0.1', '::ffff:127.0.0.1', '::1'].map((ip) => `${LOGIN_IP_PREFIX}:${ip}`);
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

/**
 * One user's whole way through identity and billing, against the production
 * app (createApiApp: every router) on a real socket, with every projection
 * and process manager the projector runs, in-process under their real names.
 */
describe('identity + billing walk (e2e, production app)', function () {
  this.timeout(120_000);
  // the providers: the payment sandbox (orders are placed with it; it pays and notifies like Alipay / WeChat Pay)
  const merchant = generateMerchant();
  let sandbox: PaymentSandbox;
  let container: Container;
  let store: EventStore;
  let running: RunningServer;
  const runners: ConsumerRunner[] = [];
  let automation: ReturnType<typeof buildProcessManagerWiring> | undefined;
  /** every response body, with the request that got it: checked for secrets at the end */
  const seen: { what: string; text: string }[] = [];

  before(async () => {
    sandbox = await startPaymentSandbox({ merchant: registrationOf(merchant), timeScale: 0.001 });
    const config = testConfig({
      LOGIN_RATE_LIMIT_PER_IP: '10000',
      ...platformEnv({ merchant, keys: sandbox.keys, sandboxUrl: sandbox.url, notifyBaseUrl: 'http://collector-api.test' }),
    });
    container = await buildContainer(config);
    store = container.get(TOKENS.EventStore);
    const knex = container.get(TOKENS.Knex);
    const logger = container.get(TOKENS.Logger);
    // what src/main/projector.ts runs, with the same names (and checkpoints)
    automation = buildProcessManagerWiring(container, config);
    for (const consumer of [...createProjections({ timeZone: config.QUOTA_TIME_ZONE }), ...processManagers({ ...automation.wiring, paymentGraceMs: 0 })]) {
      const runner = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl, logger }, consumer, { idleCheckpointMs: 100, lockRetryMs: 100 });
      runner.start();
      runners.push(runner);
    }
    running = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
    sandbox.resolve.set('collector-api.test', running.url);
  });
  after(async () => {
    await sandbox?.stop();
    if (running) await closeServer(running.server);
    await Promise.all(runners.map((r) => r.stop()));
    await automation?.close();
    if (container) {
      await container.get(TOKENS.Redis).del(...LOCAL_IP_KEYS);
      await disposeContainer(container);
    }
  });

  async function send(method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
    const res = await fetch(`${running.url}${path}`, { method, headers: init.headers ?? {}, body: init.body });
    const text = await res.text();
    seen.push({ what: `${method} ${path}`, text });
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { res, text, body };
  }

  function call(method: string, path: string, options: { body?: unknown; token?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    return send(method, path, { headers, ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) });
  }

  it('register → free plans → sessions → profile → quota → pay → upgraded → quota again', async () => {
    const email = `walk-${randomUUID()}@example.test`;
    const password = `walk password ${randomUUID()}`;
    const refreshTokens: string[] = [];

    // the catalogue: xiaohongshu's free and basic plans and their daily limits
    const catalogue = await call('GET', '/api/v1/services/xiaohongshu/plans');
    expect(catalogue.res.status, catalogue.text).to.equal(200);
    const planOf = (code: string) => catalogue.body.data.plans.find((p: any) => p.code === code);
    expect(planOf('free').features.daily_api_calls).to.equal(50);
    const basicLimit = planOf('basic').features.daily_api_calls as number;
    expect(basicLimit).to.be.greaterThan(50);

    // register
    const registered = await call('POST', '/api/v1/auth/register', { body: { email, password, display_name: 'Walker' } });
    expect(registered.res.status, registered.text).to.equal(201);
    const userId = registered.body.data.user_id as string;
    const registeredAt = registered.body.data.position as string;

    // login (the users read model is not needed: login reads the write side)
    const first = await call('POST', '/api/v1/auth/login', { body: { email, password } });
    expect(first.res.status, first.text).to.equal(200);
    expect(first.body.data.user_id).to.equal(userId);
    refreshTokens.push(first.body.data.refresh_token);

    // the free-plans PM started both free subscriptions (the list waits for the projection with after_position)
    let items: any[] = [];
    await waitFor(
      'both free subscriptions',
      async () => {
        const list = await call('GET', `/api/v1/subscriptions?after_position=${registeredAt}`, { token: first.body.data.access_token });
        expect(list.res.status, list.text).to.equal(200);
        items = list.body.data.items;
        return items.length === 2;
      },
      20_000,
      100,
    );
    expect(items.map((s) => [s.service, s.plan])).to.deep.equal([
      ['qidian', 'free'],
      ['xiaohongshu', 'free'],
    ]);
    const xhs = items.find((s) => s.service === 'xiaohongshu');

    // refresh rotates; the rotated-out token again is reuse: 401, and the session is ended
    const rotated = await call('POST', '/api/v1/auth/refresh', { body: { refresh_token: first.body.data.refresh_token } });
    expect(rotated.res.status, rotated.text).to.equal(200);
    expect(rotated.body.data.session_id).to.equal(first.body.data.session_id);
    expect(rotated.body.data.refresh_token).to.not.equal(first.body.data.refresh_token);
    refreshTokens.push(rotated.body.data.refresh_token);
    const reuse = await call('POST', '/api/v1/auth/refresh', { body: { refresh_token: first.body.data.refresh_token } });
    expect(reuse.res.status).to.equal(401);
    expect(reuse.body.error?.code).to.equal('UNAUTHENTICATED');
    const newest = await call('POST', '/api/v1/auth/refresh', { body: { refresh_token: rotated.body.data.refresh_token } });
    expect(newest.res.status, 'the whole session is revoked, the newest token too').to.equal(401);

    // login again: a new session; the old one shows as ended by reuse
    const again = await call('POST', '/api/v1/auth/login', { body: { email, password } });
    expect(again.res.status, again.text).to.equal(200);
    refreshTokens.push(again.body.data.refresh_token);
    const token = again.body.data.access_token as string;
    expect(again.body.data.session_id).to.not.equal(first.body.data.session_id);
    const sessions = await call('GET', `/api/v1/users/sessions?after_position=${again.body.data.position}`, { token });
    expect(sessions.res.status, sessions.text).to.equal(200);
    expect(sessions.body.data.items.find((s: any) => s.id === first.body.data.session_id)).to.include({ end_reason: 'refresh_token_reuse' });

    // profile update, read back after its position
    const update = await call('PUT', '/api/v1/users/profile', { token, body: { display_name: 'Walker II', timezone: 'Asia/Shanghai' } });
    expect(update.res.status, update.text).to.equal(200);
    const profile = await call('GET', `/api/v1/users/profile?after_position=${update.body.data.position}`, { token });
    expect(profile.res.status, profile.text).to.equal(200);
    expect(profile.body.data).to.include({ id: userId, display_name: 'Walker II', timezone: 'Asia/Shanghai', role: 'user' });

    // free: 50 a day, then 429 and QuotaExceeded in the day's usage stream
    const consume = (amount?: number) =>
      call('POST', `/api/v1/subscriptions/${xhs.id}/consume`, {
        token,
        body: amount === undefined ? { feature: 'daily_api_calls' } : { feature: 'daily_api_calls', amount },
      });
    const upTo = await consume(50);
    expect(upTo.res.status, upTo.text).to.equal(200);
    expect(upTo.body.data).to.include({ used_today: 50, limit: 50, remaining: 0 });
    const over = await consume();
    expect(over.res.status, over.text).to.equal(429);
    expect(over.body.error?.code).to.equal('QUOTA_EXCEEDED');
    expect(over.body.error?.details).to.include({ feature: 'daily_api_calls', limit: 50 });
    const stream = subscriptionStream(userId, 'xiaohongshu');
    const dayStream = subscriptionUsageStream(dailyUsageId(userId, 'xiaohongshu', quotaDay(new Date(), 'Asia/Shanghai').day));
    expect((await store.readStream(dayStream)).filter((e) => e.type === 'QuotaExceeded')).to.have.length(1);
    expect((await store.readStream(stream)).map((e) => e.type)).to.not.include('UsageRecorded');

    // pay for basic: an order placed with Alipay (the sandbox), the buyer pays, Alipay's signed notification comes back
    const order = await call('POST', '/api/v1/payments/orders', {
      token,
      body: { service: 'xiaohongshu', plan: 'basic', billing_cycle: 'monthly', provider: 'alipay' },
    });
    expect(order.res.status, order.text).to.equal(201);
    expect(order.body.data).to.include({ status: 'pending', plan: 'basic', service: 'xiaohongshu', amount_fen: planOf('basic').price_monthly_fen });
    const orderId = order.body.data.order_id as string;
    expect((await fetch(order.body.data.pay_url)).status, 'the cashier').to.equal(200);
    await sandbox.pay('alipay', orderId);
    const paid = await sandbox.waitForDelivery((d) => d.provider === 'alipay' && d.request.body.includes(orderId));
    expect(paid.status).to.equal(200);
    expect(paid.answer).to.equal('success');
    expect((await call('GET', `/api/v1/payments/orders/${orderId}`, { token })).body.data).to.include({ status: 'paid' });

    // the plan-on-payment PM upgrades the subscription (bounded poll)
    let upgraded: any;
    await waitFor(
      'the subscription on basic',
      async () => {
        const list = await call('GET', '/api/v1/subscriptions', { token });
        upgraded = list.body.data.items.find((s: any) => s.service === 'xiaohongshu');
        return upgraded?.plan === 'basic';
      },
      20_000,
      100,
    );
    expect(upgraded.id).to.equal(xhs.id);
    expect(upgraded.period_end).to.be.a('string');
    const types = (await store.readStream(stream)).map((e) => e.type);
    expect(types).to.include('SubscriptionUpgraded');

    // basic's higher limit: consuming works again, today's count carried over
    const more = await consume();
    expect(more.res.status, more.text).to.equal(200);
    expect(more.body.data).to.include({ used_today: 51, limit: basicLimit, remaining: basicLimit - 51 });

    // usage shows the new limit once the projection has caught up
    let daily: any;
    await waitFor(
      'usage with the basic limit',
      async () => {
        const usage = await call('GET', `/api/v1/subscriptions/${xhs.id}/usage`, { token });
        expect(usage.res.status, usage.text).to.equal(200);
        daily = usage.body.data.features.find((f: any) => f.feature === 'daily_api_calls');
        return daily?.limit === basicLimit && daily?.used === 51;
      },
      20_000,
      100,
    );
    expect(daily).to.include({ kind: 'daily_counter', used: 51, limit: basicLimit, remaining: basicLimit - 51 });

    // the other provider: Qidian pro paid through WeChat Pay (signed headers, encrypted resource)
    const qidianOrder = await call('POST', '/api/v1/payments/orders', {
      token,
      body: { service: 'qidian', plan: 'pro', billing_cycle: 'monthly', provider: 'wechat' },
    });
    expect(qidianOrder.res.status, qidianOrder.text).to.equal(201);
    expect(qidianOrder.body.data.code_url).to.match(/^weixin:/);
    await sandbox.pay('wechat', (qidianOrder.body.data.order_id as string).replaceAll('-', ''));
    const wechatPaid = await sandbox.waitForDelivery((d) => d.provider === 'wechat' && d.kind === 'TRANSACTION.SUCCESS');
    expect(wechatPaid.status, wechatPaid.answer).to.equal(200);
    expect(JSON.parse(wechatPaid.answer)).to.deep.equal({ code: 'SUCCESS' });
    await waitFor(
      'the qidian subscription on pro',
      async () => {
        const list = await call('GET', '/api/v1/subscriptions', { token });
        return list.body.data.items.find((s: any) => s.service === 'qidian')?.plan === 'pro';
      },
      20_000,
      100,
    );

    // secrets: never the password or a hash of anything; a refresh token only in the reply that issued it
    expect(seen.length).to.be.greaterThan(15);
    const everything = seen.map((s) => s.text).join('\n');
    expect(everything).to.not.include(password);
    expect(everything).to.not.include('$argon2');
    expect(everything).to.not.include(sha256(email));
    for (const refreshToken of refreshTokens) {
      expect(everything).to.not.include(sha256(refreshToken));
      const carriers = seen.filter((s) => s.text.includes(refreshToken)).map((s) => s.what);
      expect(carriers, 'a refresh token appears only where it was issued').to.have.length(1);
      expect(carriers[0]).to.be.oneOf(['POST /api/v1/auth/login', 'POST /api/v1/auth/refresh']);
    }
    for (const s of seen) expect(s.text, s.what).to.not.match(/password_hash|refresh_token_hash|"token_hash"/i);
  });
});

import { expect } from 'chai';
import type { Container } from 'inversify';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createApp } from '../../src/adapters/http/app.js';
import { authenticate } from '../../src/adapters/http/authenticate.js';
import { createHttpApi } from '../../src/adapters/http/define-route.js';
import { authRouter } from '../../src/adapters/http/routes/auth.js';
import { paymentsRouter } from '../../src/adapters/http/routes/payments.js';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { signAlipayParams } from '../../src/adapters/payments/alipay.js';
import { buildWechatNotification } from '../../src/adapters/payments/wechat.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore } from '../../src/event-store/index.js';
import { TOKENS } from '../../src/tokens.js';
import { TEST_IDEMPOTENCY_KEY, testConfig } from '../setup/test-env.js';
import { BullMqMailOutbox } from '../../src/adapters/queue/mail-queue.js';
import { QUEUE_NAMES, QueueFactory } from '../../src/adapters/queue/queues.js';
import { paymentProvidersFromConfig } from '../../src/adapters/payments/from-config.js';
import { generateMerchant, registrationOf } from '../../sandbox/payment-provider/keys.js';
import { startPaymentSandbox } from '../../sandbox/payment-provider/server.js';

const API_V3_KEY = 'e2e-api-v3-key-0123456789abcdefg'.slice(0, 32);

function rsaPair() {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

interface Reply {
  res: Response;
  text: string;
  body: any;
}

/**
 * createApiApp's wiring (auth for logging in) plus the payments router. Orders
 * are placed with the payment sandbox, which signs with the providers' keys
 * this test also forges notifications with. The clock can be moved forward (late payments).
 */
async function startPaymentsApi(keys: { alipay: ReturnType<typeof rsaPair>; wechat: ReturnType<typeof rsaPair> }) {
  const merchant = generateMerchant();
  merchant.alipay.appId = '2021000000000000';
  merchant.alipay.sellerId = '2088000000000000';
  merchant.wechat.mchId = '1900000001';
  merchant.wechat.appId = 'wx0000000000000001';
  merchant.wechat.apiV3Key = API_V3_KEY;
  const sandbox = await startPaymentSandbox({
    merchant: registrationOf(merchant),
    keys: {
      alipay: { publicKeyPem: keys.alipay.publicPem, privateKeyPem: keys.alipay.privatePem },
      wechatPlatform: { publicKeyPem: keys.wechat.publicPem, privateKeyPem: keys.wechat.privatePem },
      wechatPlatformSerial: 'TEST-PLATFORM-SERIAL',
    },
  });
  const config = testConfig({
    ALIPAY_GATEWAY_URL: sandbox.alipayGatewayUrl,
    ALIPAY_APP_PRIVATE_KEY: merchant.alipay.app.privateKeyPem,
    WECHAT_API_URL: sandbox.wechatApiUrl,
    WECHAT_MCH_PRIVATE_KEY: merchant.wechat.merchant.privateKeyPem,
    WECHAT_MCH_SERIAL: merchant.wechat.merchantSerial,
    ALIPAY_PUBLIC_KEY: keys.alipay.publicPem,
    ALIPAY_APP_ID: '2021000000000000',
    ALIPAY_SELLER_ID: '2088000000000000',
    WECHAT_PLATFORM_PUBLIC_KEY: keys.wechat.publicPem,
    WECHAT_PLATFORM_SERIAL: 'TEST-PLATFORM-SERIAL',
    WECHAT_MCH_ID: '1900000001',
    WECHAT_APP_ID: 'wx0000000000000001',
    WECHAT_API_V3_KEY: API_V3_KEY,
    PAYMENT_ORDER_TTL_MINUTES: '30',
  });
  const container: Container = await buildContainer(config);
  const store: EventStore = container.get(TOKENS.EventStore);
  const knex = container.get(TOKENS.Knex);
  const redis = container.get(TOKENS.Redis);
  const clock = { offsetMs: 0 };
  const resetQueue = new QueueFactory({ redisUrl: config.REDIS_URL, prefix: `test-reset-${randomUUID().slice(0, 8)}` }).queue(QUEUE_NAMES.mail);
  const resetOutbox = new BullMqMailOutbox(resetQueue as never, { attempts: 1, backoffMs: 1_000 });
  const api = createHttpApi({ knex, authenticate: authenticate(container.get(TOKENS.AccessTokens)), idempotency: { hashKey: TEST_IDEMPOTENCY_KEY } });
  const app = createApp({
    logger: container.get(TOKENS.Logger),
    metrics: container.get(TOKENS.Metrics),
    knex,
    store,
    redis,
    api,
    bodyLimitBytes: config.HTTP_BODY_LIMIT_BYTES,
    routers: [
      authRouter(api, {
        store,
        redis,
        passwordHasher: container.get(TOKENS.PasswordHasher),
        accessTokens: container.get(TOKENS.AccessTokens),
        // the real outbox on a queue of this test's own (it signs users up and in; it never asks for a reset link)
        resetMail: { outbox: resetOutbox, secretBox: container.get(TOKENS.SecretBox) },
        config,
      }),
      paymentsRouter(api, { store, knex, config, providers: paymentProvidersFromConfig(config), now: () => new Date(Date.now() + clock.offsetMs) }),
    ],
  });
  const running: RunningServer = await listen(app.callback(), '127.0.0.1', 0);
  const send = async (method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<Reply> => {
    const res = await fetch(`${running.url}${path}`, { method, headers: init.headers ?? {}, body: init.body });
    const text = await res.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { res, text, body };
  };
  return {
    store,
    clock,
    send,
    call(method: string, path: string, options: { body?: unknown; token?: string } = {}) {
      const headers: Record<string, string> = {};
      if (options.body !== undefined) headers['Content-Type'] = 'application/json';
      if (options.token) headers.Authorization = `Bearer ${options.token}`;
      return send(method, path, { headers, ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) });
    },
    async stop() {
      await resetQueue.close();
      await closeServer(running.server);
      await disposeContainer(container);
      await sandbox.stop();
    },
  };
}

describe('payments: orders and provider callbacks (e2e)', () => {
  const alipay = rsaPair();
  const wechat = rsaPair();
  const forger = rsaPair();
  let api: Awaited<ReturnType<typeof startPaymentsApi>>;
  let token: string;
  let otherToken: string;

  async function signUp(): Promise<string> {
    const email = `pay-${randomUUID()}@example.test`;
    const registered = await api.call('POST', '/api/v1/auth/register', { body: { email, password: 'correct horse battery', display_name: 'Payer' } });
    expect(registered.res.status, registered.text).to.equal(201);
    const loggedIn = await api.call('POST', '/api/v1/auth/login', { body: { email, password: 'correct horse battery' } });
    expect(loggedIn.res.status, loggedIn.text).to.equal(200);
    return loggedIn.body.data.access_token;
  }

  async function createOrder(provider: 'alipay' | 'wechat', plan = 'basic', service = 'xiaohongshu') {
    const created = await api.call('POST', '/api/v1/payments/orders', { token, body: { service, plan, billing_cycle: 'monthly', provider } });
    expect(created.res.status, created.text).to.equal(201);
    return created.body.data;
  }

  const order = (id: string, as = token) => api.call('GET', `/api/v1/payments/orders/${id}`, { token: as });

  function alipayCallback(params: Record<string, string>, key = alipay.privatePem) {
    return api.send('POST', '/api/v1/payments/callback/alipay', {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: new URLSearchParams(signAlipayParams(params, key)).toString(),
    });
  }

  const alipayParams = (orderId: string, total: string, tradeNo = `2024${Date.now()}${Math.floor(Math.random() * 1e6)}`) => ({
    app_id: '2021000000000000',
    seller_id: '2088000000000000',
    notify_id: randomUUID(),
    out_trade_no: orderId,
    trade_no: tradeNo,
    trade_status: 'TRADE_SUCCESS',
    total_amount: total,
    gmt_payment: '2024-05-01 12:30:00',
    subject: '小红书基础版',
  });

  const succeeded = async (orderId: string) => (await api.store.readStream(`payment-${orderId}`)).filter((e) => e.type === 'PaymentSucceeded');

  before(async () => {
    api = await startPaymentsApi({ alipay, wechat });
    token = await signUp();
    otherToken = await signUp();
  });
  after(async () => {
    await api?.stop();
  });

  it('creates an order priced from the catalogue; only its owner can read it', async () => {
    const created = await createOrder('alipay', 'pro', 'qidian');
    expect(created).to.include({
      status: 'pending',
      amount_fen: 8990,
      currency: 'CNY',
      provider: 'alipay',
      plan: 'pro',
      service: 'qidian',
      billing_cycle: 'monthly',
    });
    expect(created.order_id).to.match(/^[0-9a-f-]{36}$/);
    expect(created.pay_url).to.be.a('string').and.include(created.order_id);
    const minutes = (Date.parse(created.expires_at) - Date.now()) / 60_000;
    expect(minutes).to.be.within(29, 30.01);

    const mine = await order(created.order_id);
    expect(mine.res.status, mine.text).to.equal(200);
    expect(mine.body.data).to.include({ order_id: created.order_id, status: 'pending', amount_fen: 8990, paid_at: null });
    expect((await order(created.order_id, otherToken)).res.status).to.equal(404);
    expect((await order(randomUUID())).res.status).to.equal(404);
    expect((await api.call('GET', `/api/v1/payments/orders/${created.order_id}`)).res.status).to.equal(401);

    const free = await api.call('POST', '/api/v1/payments/orders', {
      token,
      body: { service: 'qidian', plan: 'free', billing_cycle: 'monthly', provider: 'alipay' },
    });
    expect(free.res.status).to.equal(422);
    const yearly = await api.call('POST', '/api/v1/payments/orders', {
      token,
      body: { service: 'qidian', plan: 'pro', billing_cycle: 'yearly', provider: 'alipay' },
    });
    expect(yearly.res.status).to.equal(422);
  });

  it('a signed Alipay notification pays the order; a repeat answers success and records nothing more', async () => {
    const created = await createOrder('alipay');
    const params = alipayParams(created.order_id, '39.90');
    const paid = await alipayCallback(params);
    expect(paid.res.status).to.equal(200);
    expect(paid.text).to.equal('success');

    const shown = await order(created.order_id);
    expect(shown.body.data).to.include({ status: 'paid', provider_trade_no: params.trade_no, paid_at: '2024-05-01T04:30:00.000Z' });

    const again = await alipayCallback(params);
    expect(again.text).to.equal('success');
    expect(await succeeded(created.order_id)).to.have.length(1);
  });

  it('forged, tampered or wrong-amount Alipay notifications answer failure and change nothing', async () => {
    const created = await createOrder('alipay');
    expect((await alipayCallback(alipayParams(created.order_id, '39.90'), forger.privatePem)).text).to.equal('failure');

    const signed = signAlipayParams(alipayParams(created.order_id, '39.90'), alipay.privatePem);
    const tampered = await api.send('POST', '/api/v1/payments/callback/alipay', {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...signed, total_amount: '0.01' }).toString(),
    });
    expect(tampered.text).to.equal('failure');

    expect((await alipayCallback(alipayParams(created.order_id, '0.01'))).text).to.equal('failure');
    // the right number settled in another currency
    expect((await alipayCallback({ ...alipayParams(created.order_id, '39.90'), trans_currency: 'USD' })).text).to.equal('failure');
    expect((await alipayCallback({ ...alipayParams(created.order_id, '39.90'), currency: 'HKD' })).text).to.equal('failure');
    expect((await alipayCallback(alipayParams(randomUUID(), '39.90'))).text).to.equal('failure');
    expect((await alipayCallback(alipayParams('not-an-order', '39.90'))).text).to.equal('failure');

    expect((await order(created.order_id)).body.data.status).to.equal('pending');
    expect(await succeeded(created.order_id)).to.have.length(0);
  });

  it('a notification for a WeChat order through Alipay, or arriving (and paid) after expiry, answers failure', async () => {
    const wechatOrder = await createOrder('wechat');
    expect((await alipayCallback(alipayParams(wechatOrder.order_id, '39.90'))).text).to.equal('failure');

    const created = await createOrder('alipay');
    api.clock.offsetMs = 31 * 60_000;
    try {
      const late = { ...alipayParams(created.order_id, '39.90'), gmt_payment: '' };
      expect((await alipayCallback(late)).text).to.equal('failure');
    } finally {
      api.clock.offsetMs = 0;
    }
    expect((await order(created.order_id)).body.data.status).to.equal('pending');
  });

  it('a signed, encrypted WeChat notification pays the order; replayed, forged and tampered ones are refused', async () => {
    const created = await createOrder('wechat', 'enterprise');
    const transaction = {
      mchid: '1900000001',
      appid: 'wx0000000000000001',
      out_trade_no: created.order_id,
      transaction_id: `4200${Date.now()}`,
      trade_state: 'SUCCESS',
      success_time: '2024-05-01T12:30:00+08:00',
      amount: { total: 39990, payer_total: 39990, currency: 'CNY' },
    };
    const post = (n: { body: string; headers: Record<string, string> }) =>
      api.send('POST', '/api/v1/payments/callback/wechat', { headers: { 'Content-Type': 'application/json', ...n.headers }, body: n.body });

    const replayed = buildWechatNotification({
      transaction,
      apiV3Key: API_V3_KEY,
      platformPrivateKeyPem: wechat.privatePem,
      timestamp: Math.floor(Date.now() / 1000) - 600,
    });
    const old = await post(replayed);
    expect(old.res.status).to.equal(401);
    expect(old.body).to.deep.include({ code: 'FAIL' });

    const forged = await post(buildWechatNotification({ transaction, apiV3Key: API_V3_KEY, platformPrivateKeyPem: forger.privatePem }));
    expect(forged.res.status).to.equal(401);

    const genuine = buildWechatNotification({ transaction, apiV3Key: API_V3_KEY, platformPrivateKeyPem: wechat.privatePem });
    // the same JSON re-serialised differs in bytes: the signature is over the raw body
    const reformatted = await post({ ...genuine, body: JSON.stringify(JSON.parse(genuine.body), null, 2) });
    expect(reformatted.res.status).to.equal(401);

    // the right number in another currency (or in none) is not what was charged
    for (const amount of [{ total: 39990, payer_total: 39990, currency: 'USD' }, { total: 39990 }]) {
      const foreign = await post(
        buildWechatNotification({ transaction: { ...transaction, amount }, apiV3Key: API_V3_KEY, platformPrivateKeyPem: wechat.privatePem }),
      );
      expect(foreign.res.status, JSON.stringify(amount)).to.equal(400);
      expect(foreign.body.code).to.equal('FAIL');
    }

    const wrongAmount = await post(
      buildWechatNotification({
        transaction: { ...transaction, amount: { total: 1, currency: 'CNY' } },
        apiV3Key: API_V3_KEY,
        platformPrivateKeyPem: wechat.privatePem,
      }),
    );
    expect(wrongAmount.res.status).to.equal(400);
    expect(wrongAmount.body.code).to.equal('FAIL');
    expect((await order(created.order_id)).body.data.status).to.equal('pending');

    const paid = await post(genuine);
    expect(paid.res.status, paid.text).to.equal(200);
    expect(paid.body).to.deep.equal({ code: 'SUCCESS' });
    expect((await order(created.order_id)).body.data).to.include({ status: 'paid', provider_trade_no: transaction.transaction_id });

    const repeat = await post(genuine);
    expect(repeat.body).to.deep.equal({ code: 'SUCCESS' });
    expect(await succeeded(created.order_id)).to.have.length(1);
  });

  it('genuinely signed notifications for another merchant, app or platform certificate are refused', async () => {
    const created = await createOrder('alipay');
    expect((await alipayCallback({ ...alipayParams(created.order_id, '39.90'), app_id: '2021999999999999' })).text).to.equal('failure');
    expect((await alipayCallback({ ...alipayParams(created.order_id, '39.90'), seller_id: '2088999999999999' })).text).to.equal('failure');
    expect((await order(created.order_id)).body.data.status).to.equal('pending');

    const wechatOrder = await createOrder('wechat');
    const transaction = {
      mchid: '1900000001',
      appid: 'wx0000000000000001',
      out_trade_no: wechatOrder.order_id,
      transaction_id: `4200${Date.now()}`,
      trade_state: 'SUCCESS',
      amount: { total: 3990, currency: 'CNY' },
    };
    const post = (n: { body: string; headers: Record<string, string> }) =>
      api.send('POST', '/api/v1/payments/callback/wechat', { headers: { 'Content-Type': 'application/json', ...n.headers }, body: n.body });
    const notify = (t: typeof transaction, serial?: string) =>
      post(buildWechatNotification({ transaction: t, apiV3Key: API_V3_KEY, platformPrivateKeyPem: wechat.privatePem, ...(serial ? { serial } : {}) }));

    const otherSerial = await notify(transaction, 'SOME-OTHER-SERIAL');
    expect(otherSerial.res.status).to.equal(401);
    expect(otherSerial.body).to.deep.include({ code: 'FAIL' });
    expect((await notify({ ...transaction, mchid: '1900000999' })).res.status).to.equal(403);
    expect((await notify({ ...transaction, appid: 'wx9999999999999999' })).res.status).to.equal(403);
    expect((await order(wechatOrder.order_id)).body.data.status).to.equal('pending');
    // and the genuine one still pays
    expect((await notify(transaction)).body).to.deep.equal({ code: 'SUCCESS' });
    expect((await order(wechatOrder.order_id)).body.data.status).to.equal('paid');
  });

  it("the OpenAPI document shows the callbacks answering in the providers' formats, not the envelope", async () => {
    const doc = (await api.send('GET', '/api/v1/openapi.json')).body;
    const alipayOp = doc.paths['/api/v1/payments/callback/alipay'].post;
    expect(Object.keys(alipayOp.requestBody.content)).to.deep.equal(['application/x-www-form-urlencoded']);
    // Alipay's answers are 200s; what the middleware refuses before the route is in the error envelope
    expect(Object.keys(alipayOp.responses)).to.deep.equal(['200', '415', '422']);
    expect(alipayOp.responses['200'].content['text/plain'].schema.enum).to.deep.equal(['success', 'failure']);
    expect(Object.keys(alipayOp.responses['415'].content)).to.deep.equal(['application/json']);
    const wechatOp = doc.paths['/api/v1/payments/callback/wechat'].post;
    expect(wechatOp.responses['200'].content['application/json'].schema.properties).to.have.keys(['code']);
    expect(wechatOp.responses['401'].content['application/json'].schema.properties).to.have.keys(['code', 'message']);
  });

  it('other routes still refuse non-JSON bodies (only the callbacks read raw bodies)', async () => {
    const form = await api.send('POST', '/api/v1/payments/orders', {
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Bearer ${token}` },
      body: 'service=qidian',
    });
    expect(form.res.status).to.equal(415);
  });
});

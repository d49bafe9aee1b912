import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { signAlipayParams } from '../../src/adapters/payments/alipay.js';
import { generateMerchant, generateProviderKeys, platformEnv, registrationOf } from '../../sandbox/payment-provider/keys.js';
import { startPaymentSandbox, type PaymentSandbox } from '../../sandbox/payment-provider/server.js';
import { startPlatform, type Platform } from '../support/platform.js';

/**
 * The README's "Subscriptions, quotas and payments" and the payment rows of
 * docs/http-api.md read claim by claim, as a new user with only the docs and
 * the OpenAPI document would try them: the whole platform over a socket
 * against the payment sandbox.
 */
describe('payments docs review (e2e, payment sandbox)', function () {
  this.timeout(120_000);
  const merchant = generateMerchant();
  const keys = generateProviderKeys();
  let sandbox: PaymentSandbox;
  let platform: Platform;
  let admin: string;

  before(async () => {
    sandbox = await startPaymentSandbox({ merchant: registrationOf(merchant), keys, timeScale: 0.0005, refundSettleMs: 300 });
    const env = platformEnv({ merchant, keys, sandboxUrl: sandbox.url, notifyBaseUrl: 'http://collector-api.test' });
    platform = await startPlatform({ proxies: 1, config: { ...env, PAYMENT_PROVIDER_TIMEOUT_MS: '3000' } });
    sandbox.resolve.set('collector-api.test', platform.url);
    platform.startConsumers();
    admin = await platform.adminToken();
  });
  after(async () => {
    await sandbox?.stop();
    await platform?.stop();
  });

  async function eventually<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: not in time (last: ${JSON.stringify(value)})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const subscription = async (token: string, service: string) =>
    ((await platform.call('GET', '/api/v1/subscriptions', { token })).body.data.items as { id: string; service: string; plan: string }[]).find(
      (s) => s.service === service,
    )!;
  const place = async (token: string, body: Record<string, unknown>) => {
    const r = await platform.call('POST', '/api/v1/payments/orders', { token, body: { billing_cycle: 'monthly', provider: 'alipay', ...body } });
    expect(r.status, r.text).to.equal(201);
    return r.body.data as { order_id: string; amount_fen: number; pay_url: string };
  };
  const orderEvents = async (id: string) => (await platform.events(`payment-${id}`)).map((e) => e.type);
  const paidOrder = async (token: string, service: string, plan: string) => {
    const placed = await place(token, { service, plan });
    await fetch(placed.pay_url);
    await sandbox.pay('alipay', placed.order_id);
    await eventually(
      'paid',
      async () => (await platform.call('GET', `/api/v1/payments/orders/${placed.order_id}`, { token })).body.data.status,
      (s) => s === 'paid',
    );
    return placed;
  };

  it('POST /payments/orders refuses bad input with 422 naming each field, and opens no order', async () => {
    const user = await platform.signUp('bad-orders');
    const bodies: Record<string, unknown>[] = [
      { service: 'xiaohongshu', plan: 'pro', billing_cycle: 'monthly', provider: 'alipay', amount_fen: 1 },
      { service: 'xiaohongshu', plan: 'free', billing_cycle: 'monthly', provider: 'alipay' },
      { service: 'xiaohongshu', plan: 'pro', billing_cycle: 'yearly', provider: 'alipay' },
      { service: 'xiaohongshu', plan: 5, billing_cycle: 'monthly', provider: 'alipay' },
      { service: 'nope', plan: 'pro', billing_cycle: 'monthly', provider: 'paypal' },
      { service: 'xiao\u0000hongshu', plan: 'pro', billing_cycle: 'monthly', provider: 'alipay' },
    ];
    for (const body of bodies) {
      const r = await platform.call('POST', '/api/v1/payments/orders', { token: user.token, body });
      expect(r.status, `${JSON.stringify(body)} ${r.text}`).to.equal(422);
      expect(r.body.error.code).to.equal('VALIDATION_ERROR');
      expect(r.body.error.details.issues).to.be.an('array').that.is.not.empty;
    }
    // a channel the provider lacks is a refusal past the schema: one issue naming `channel`
    const channel = await platform.call('POST', '/api/v1/payments/orders', {
      token: user.token,
      body: { service: 'xiaohongshu', plan: 'pro', billing_cycle: 'monthly', provider: 'wechat', channel: 'page' },
    });
    expect(channel.status, channel.text).to.equal(422);
    expect(channel.body.error.details.issues.map((i: { path: string[] }) => i.path.join('.'))).to.include('channel');
    const list = await platform.call('GET', '/api/v1/payments/orders', { token: user.token });
    expect(list.body.data.pagination.total, list.text).to.equal(0);
  });

  it('an order is priced from the catalogue; GET /orders/{id}: unknown or another user’s is 404, a malformed id 422', async () => {
    const owner = await platform.signUp('order-owner');
    const other = await platform.signUp('order-other');
    const plans = await platform.call('GET', '/api/v1/services/qidian/plans', { token: owner.token });
    expect(plans.status, plans.text).to.equal(200);
    const placed = await place(owner.token, { service: 'qidian', plan: 'basic' });
    const listed = JSON.stringify(plans.body.data);
    expect(listed).to.include(String(placed.amount_fen));
    expect((await platform.call('GET', `/api/v1/payments/orders/${placed.order_id}`, { token: owner.token })).status).to.equal(200);
    const foreign = await platform.call('GET', `/api/v1/payments/orders/${placed.order_id}`, { token: other.token });
    expect(foreign.status, foreign.text).to.equal(404);
    expect(foreign.body.error.code).to.equal('NOT_FOUND');
    const unknown = await platform.call('GET', `/api/v1/payments/orders/${randomUUID()}`, { token: owner.token });
    expect(unknown.status, unknown.text).to.equal(404);
    const malformed = await platform.call('GET', '/api/v1/payments/orders/not-an-id', { token: owner.token });
    expect(malformed.status, malformed.text).to.equal(422);
    // another user's billing history does not show it
    const history = await platform.call('GET', '/api/v1/payments/orders', { token: other.token });
    expect(history.body.data.items).to.have.length(0);
  });

  it('GET /payments/orders: bad paging and filters are 422; per_page above 100 is refused', async () => {
    const user = await platform.signUp('history-paging');
    for (const query of ['per_page=101', 'page=0', 'page=x', 'status=bogus', 'service=nope', 'status=pa%00id']) {
      const r = await platform.call('GET', `/api/v1/payments/orders?${query}`, { token: user.token });
      expect(r.status, `${query}: ${r.text}`).to.equal(422);
      expect(r.body.error.code).to.equal('VALIDATION_ERROR');
    }
    const ok = await platform.call('GET', '/api/v1/payments/orders?page=3&per_page=100', { token: user.token });
    expect(ok.status, ok.text).to.equal(200);
    expect(ok.body.data.pagination).to.include({ page: 3, per_page: 100, total: 0, has_next: false, has_prev: true });
  });

  it('POST /payments/orders repeated with the same Idempotency-Key answers the same order and places one', async () => {
    const user = await platform.signUp('order-idem');
    const key = randomUUID();
    const body = { service: 'xiaohongshu', plan: 'basic', billing_cycle: 'monthly', provider: 'alipay' };
    const headers = { 'Idempotency-Key': key };
    const first = await platform.call('POST', '/api/v1/payments/orders', { token: user.token, body, headers });
    expect(first.status, first.text).to.equal(201);
    const again = await platform.call('POST', '/api/v1/payments/orders', { token: user.token, body, headers });
    expect(again.status, again.text).to.equal(201);
    expect(again.headers.get('idempotent-replayed')).to.equal('true');
    expect(again.body.data.order_id).to.equal(first.body.data.order_id);
    const other = await platform.call('POST', '/api/v1/payments/orders', { token: user.token, body: { ...body, plan: 'pro' }, headers });
    expect(other.status, other.text).to.equal(422);
    expect(other.body.error.code).to.equal('IDEMPOTENCY_KEY_REUSED');
    const list = await platform.call('GET', `/api/v1/payments/orders?after_position=${first.body.data.position}`, { token: user.token });
    expect(list.body.data.pagination.total, list.text).to.equal(1);
  });

  it('concurrent upgrades of one subscription open one order, all answered with it', async () => {
    const user = await platform.signUp('upgrade-race');
    const sub = await subscription(user.token, 'xiaohongshu');
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => platform.call('PUT', `/api/v1/subscriptions/${sub.id}`, { token: user.token, body: { plan: 'pro' } })),
    );
    for (const a of answers) expect(a.status, a.text).to.equal(202);
    const ids = new Set(answers.map((a) => a.body.data.order_id));
    expect([...ids], 'order ids answered').to.have.length(1);
    const list = await platform.call('GET', '/api/v1/payments/orders', { token: user.token });
    expect(list.body.data.pagination.total, list.text).to.equal(1);
  });

  it('PUT /subscriptions/{id}: unknown or another user’s subscription is 404; plan and auto_renew misuse is 422 / 409', async () => {
    const user = await platform.signUp('sub-put');
    const other = await platform.signUp('sub-put-other');
    const sub = await subscription(user.token, 'qidian');
    const foreign = await platform.call('PUT', `/api/v1/subscriptions/${sub.id}`, { token: other.token, body: { plan: 'basic' } });
    expect(foreign.status, foreign.text).to.equal(404);
    const unknown = await platform.call('PUT', `/api/v1/subscriptions/${randomUUID()}`, { token: user.token, body: { plan: 'basic' } });
    expect(unknown.status, unknown.text).to.equal(404);
    const free = await platform.call('PUT', `/api/v1/subscriptions/${sub.id}`, { token: user.token, body: { auto_renew: true } });
    expect(free.status, free.text).to.equal(422);
    expect(free.body.error.details.code).to.equal('PAID_PLAN_REQUIRED');
    const both = await platform.call('PUT', `/api/v1/subscriptions/${sub.id}`, { token: user.token, body: { auto_renew: true, plan: 'pro' } });
    expect(both.status, both.text).to.equal(422);
    const empty = await platform.call('PUT', `/api/v1/subscriptions/${sub.id}`, { token: user.token, body: {} });
    expect(empty.status, empty.text).to.equal(422);
    const nul = await platform.call('PUT', `/api/v1/subscriptions/${sub.id}`, { token: user.token, body: { plan: 'pr\u0000o' } });
    expect(nul.status, nul.text).to.equal(422);
    expect(nul.body.error.details.issues[0].code).to.equal('invalid_text');
    // paid, then cancelled: auto_renew is 409
    await paidOrder(user.token, 'qidian', 'basic');
    await eventually(
      'basic',
      () => subscription(user.token, 'qidian'),
      (s) => s.plan === 'basic',
    );
    const cancel = await platform.call('DELETE', `/api/v1/subscriptions/${sub.id}`, { token: user.token });
    expect(cancel.status, cancel.text).to.equal(200);
    const renew = await platform.call('PUT', `/api/v1/subscriptions/${sub.id}`, { token: user.token, body: { auto_renew: true } });
    expect(renew.status, renew.text).to.equal(409);
  });

  it('a signed Alipay notification with a malformed out_trade_no or amount answers failure, never a 500, and records nothing', async () => {
    const user = await platform.signUp('alipay-edges');
    const placed = await place(user.token, { service: 'xiaohongshu', plan: 'basic' });
    const yuan = (placed.amount_fen / 100).toFixed(2);
    const base = {
      app_id: merchant.alipay.appId,
      seller_id: merchant.alipay.sellerId,
      trade_no: `2026${Date.now()}`,
      trade_status: 'TRADE_SUCCESS',
      total_amount: yuan,
      gmt_payment: '2026-12-01 10:00:00',
      notify_id: randomUUID(),
      out_trade_no: placed.order_id,
    };
    const send = (params: Record<string, string>) =>
      platform.call('POST', '/api/v1/payments/callback/alipay', {
        raw: Buffer.from(new URLSearchParams(signAlipayParams(params as never, keys.alipay.privateKeyPem) as never).toString()),
        type: 'application/x-www-form-urlencoded',
      });
    for (const params of [
      { ...base, out_trade_no: 'not-an-order' },
      { ...base, out_trade_no: randomUUID() },
      { ...base, total_amount: `${yuan}1` },
      { ...base, total_amount: '-1.00' },
      { ...base, total_amount: '1e9' },
      { ...base, total_amount: '' },
      { ...base, out_trade_no: `${placed.order_id}\u0000` },
    ]) {
      const r = await send(params);
      expect(r.status, `${JSON.stringify(params)} ${r.text}`).to.equal(200);
      expect(r.text, JSON.stringify(params)).to.equal('failure');
    }
    const garbage = await platform.call('POST', '/api/v1/payments/callback/alipay', {
      raw: Buffer.from('%%%&&&=='),
      type: 'application/x-www-form-urlencoded',
    });
    expect(garbage.status).to.equal(200);
    expect(garbage.text).to.equal('failure');
    expect(await orderEvents(placed.order_id)).to.not.include('PaymentSucceeded');
    // the exact amount pays it once
    expect((await send(base)).text).to.equal('success');
    expect((await send({ ...base, notify_id: randomUUID() })).text).to.equal('success');
    expect((await orderEvents(placed.order_id)).filter((t) => t === 'PaymentSucceeded')).to.have.length(1);
  });

  it('a WeChat notification without or with broken signature headers answers 401 {code: FAIL}, never a 500', async () => {
    const r = await platform.call('POST', '/api/v1/payments/callback/wechat', { raw: Buffer.from('{}'), type: 'application/json' });
    expect(r.status, r.text).to.equal(401);
    expect(r.body.code).to.equal('FAIL');
    const refund = await platform.call('POST', '/api/v1/payments/callback/wechat/refund', {
      raw: Buffer.from('not json'),
      type: 'application/json',
      headers: { 'Wechatpay-Timestamp': 'x', 'Wechatpay-Nonce': 'n', 'Wechatpay-Signature': '!!', 'Wechatpay-Serial': 'S' },
    });
    expect(refund.status, refund.text).to.equal(401);
    expect(refund.body.code).to.equal('FAIL');
  });

  it('refunds (admin): bad amounts 422, unpaid 409, unknown 404, users 403; concurrent full refunds give back the price once', async () => {
    const user = await platform.signUp('refund-edges');
    const unpaid = await place(user.token, { service: 'xiaohongshu', plan: 'basic' });
    const refund = (id: string, body: unknown, token = admin) => platform.call('POST', `/api/v1/admin/payments/orders/${id}/refund`, { token, body });
    expect((await refund(unpaid.order_id, { reason: 'x' }, user.token)).status).to.equal(403);
    expect((await refund(randomUUID(), { reason: 'x' })).status).to.equal(404);
    const notPaid = await refund(unpaid.order_id, { reason: 'x' });
    expect(notPaid.status, notPaid.text).to.equal(409);
    const paid = await paidOrder(user.token, 'qidian', 'pro');
    for (const body of [
      { reason: 'x', amount_fen: 0 },
      { reason: 'x', amount_fen: -1 },
      { reason: 'x', amount_fen: 1.5 },
      { reason: '   ' },
      { reason: 'x', amount_fen: '100' },
    ]) {
      const r = await refund(paid.order_id, body);
      expect(r.status, `${JSON.stringify(body)} ${r.text}`).to.equal(422);
    }
    const tooMuch = await refund(paid.order_id, { reason: 'x', amount_fen: paid.amount_fen + 1 });
    expect(tooMuch.status, tooMuch.text).to.equal(422);
    const answers = await Promise.all([refund(paid.order_id, { reason: 'race a' }), refund(paid.order_id, { reason: 'race b' })]);
    const refunded = answers.filter((a) => a.status === 201);
    expect(refunded, answers.map((a) => a.text).join('\n')).to.have.length(1);
    for (const a of answers.filter((x) => x.status !== 201)) expect(a.status, a.text).to.be.oneOf([409, 422]);
    const order = (await platform.call('GET', `/api/v1/payments/orders/${paid.order_id}`, { token: user.token })).body.data;
    expect(order.refunded_fen).to.equal(paid.amount_fen);
    const events = await platform.events(`payment-${paid.order_id}`);
    expect(events.filter((e) => e.type === 'RefundRequested')).to.have.length(1);
  });

  it('concurrent partial refunds cannot give back more than was paid', async () => {
    const user = await platform.signUp('refund-partial-race');
    const paid = await paidOrder(user.token, 'xiaohongshu', 'basic');
    const part = Math.ceil(paid.amount_fen * 0.6);
    const answers = await Promise.all(
      [1, 2, 3].map((n) =>
        platform.call('POST', `/api/v1/admin/payments/orders/${paid.order_id}/refund`, { token: admin, body: { amount_fen: part, reason: `part ${n}` } }),
      ),
    );
    expect(
      answers.filter((a) => a.status === 201),
      answers.map((a) => a.text).join('\n'),
    ).to.have.length(1);
    for (const a of answers.filter((x) => x.status !== 201)) expect(a.status, a.text).to.be.oneOf([409, 422]);
    const order = (await platform.call('GET', `/api/v1/payments/orders/${paid.order_id}`, { token: user.token })).body.data;
    expect(order.refunded_fen).to.equal(part);
    expect(order.status).to.equal('partially_refunded');
  });

  it('concurrent signed notifications of one payment record it once; another trade for the paid order is refused', async () => {
    const user = await platform.signUp('notify-race');
    const placed = await place(user.token, { service: 'qidian', plan: 'pro' });
    const params = (tradeNo: string) => ({
      app_id: merchant.alipay.appId,
      seller_id: merchant.alipay.sellerId,
      trade_no: tradeNo,
      trade_status: 'TRADE_SUCCESS',
      total_amount: (placed.amount_fen / 100).toFixed(2),
      gmt_payment: '2026-12-01 10:00:00',
      notify_id: randomUUID(),
      out_trade_no: placed.order_id,
    });
    const send = (p: Record<string, string>) =>
      platform.call('POST', '/api/v1/payments/callback/alipay', {
        raw: Buffer.from(new URLSearchParams(signAlipayParams(p as never, keys.alipay.privateKeyPem) as never).toString()),
        type: 'application/x-www-form-urlencoded',
      });
    const answers = await Promise.all(Array.from({ length: 5 }, () => send(params('2026120100001'))));
    for (const a of answers) expect(a.text).to.equal('success');
    expect((await orderEvents(placed.order_id)).filter((t) => t === 'PaymentSucceeded')).to.have.length(1);
    expect((await send(params('2026120100002'))).text).to.equal('failure');
    expect((await orderEvents(placed.order_id)).filter((t) => t === 'PaymentSucceeded')).to.have.length(1);
  });

  it('an upgrade with a channel its provider lacks is 422 naming channel and opens no order', async () => {
    const user = await platform.signUp('upgrade-channel');
    const sub = await subscription(user.token, 'xiaohongshu');
    const r = await platform.call('PUT', `/api/v1/subscriptions/${sub.id}`, { token: user.token, body: { plan: 'pro', provider: 'wechat', channel: 'wap' } });
    expect(r.status, r.text).to.equal(422);
    expect(r.body.error.details.issues.map((i: { path: string[] }) => i.path.join('.'))).to.include('channel');
    const list = await platform.call('GET', '/api/v1/payments/orders', { token: user.token });
    expect(list.body.data.pagination.total).to.equal(0);
  });

  it('every payment route the README names is in the OpenAPI document', async () => {
    const doc = (await platform.call('GET', '/api/v1/openapi.json')).body;
    for (const [path, method] of [
      ['/api/v1/services', 'get'],
      ['/api/v1/services/{service}/plans', 'get'],
      ['/api/v1/subscriptions', 'get'],
      ['/api/v1/subscriptions/{id}', 'put'],
      ['/api/v1/subscriptions/{id}', 'delete'],
      ['/api/v1/subscriptions/{id}/consume', 'post'],
      ['/api/v1/payments/orders', 'post'],
      ['/api/v1/payments/orders', 'get'],
      ['/api/v1/payments/orders/{id}', 'get'],
      ['/api/v1/payments/callback/alipay', 'post'],
      ['/api/v1/payments/callback/wechat', 'post'],
      ['/api/v1/payments/callback/wechat/refund', 'post'],
      ['/api/v1/admin/payments/orders/{id}/refund', 'post'],
    ] as const) {
      expect(doc.paths[path]?.[method], `${method} ${path}`).to.be.an('object');
    }
  });
});

import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { RunningWorker } from '../../src/main/worker.js';
import { generateMerchant, generateProviderKeys, platformEnv, registrationOf } from '../../sandbox/payment-provider/keys.js';
import { startPaymentSandbox, type PaymentSandbox } from '../../sandbox/payment-provider/server.js';
import { startPlatform, type Platform } from '../support/platform.js';

/**
 * Payments end to end over real sockets: the whole platform (API, projections,
 * process managers, the worker's reconcile job) against the payment sandbox
 * (sandbox/payment-provider), which verifies our signatures with our public
 * keys, signs with its own, and POSTs its notifications to the API through a
 * DNS stand-in (`collector-api.test` → the API's random port).
 */
describe('payments with the providers (e2e, payment sandbox)', function () {
  this.timeout(120_000);
  const merchant = generateMerchant();
  const keys = generateProviderKeys();
  let sandbox: PaymentSandbox;
  let platform: Platform;
  let admin: string;

  before(async () => {
    // the retry schedules shrunk 2000 times: Alipay's 4 minutes are 120 ms
    sandbox = await startPaymentSandbox({ merchant: registrationOf(merchant), keys, timeScale: 0.0005, refundSettleMs: 300 });
    const env = platformEnv({ merchant, keys, sandboxUrl: sandbox.url, notifyBaseUrl: 'http://collector-api.test' });
    platform = await startPlatform({
      proxies: 1,
      config: { ...env, PAYMENT_RECONCILE_INTERVAL_MS: '1000', PAYMENT_RECONCILE_MIN_AGE_SECONDS: '0', PAYMENT_PROVIDER_TIMEOUT_MS: '3000' },
    });
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
  const planOf = (token: string, service: string) =>
    eventually(
      `${service} plan`,
      () => subscription(token, service),
      () => true,
    );
  const waitForPlan = (token: string, service: string, plan: string) =>
    eventually(
      `${service} on ${plan}`,
      () => subscription(token, service),
      (s) => s.plan === plan,
    );
  const order = async (token: string, id: string) => (await platform.call('GET', `/api/v1/payments/orders/${id}`, { token })).body.data;
  const waitForStatus = (token: string, id: string, status: string) =>
    eventually(
      `order ${id} ${status}`,
      () => order(token, id),
      (o) => o.status === status,
    );
  const succeededCount = async (id: string) => (await platform.events(`payment-${id}`)).filter((e) => e.type === 'PaymentSucceeded').length;
  const place = async (token: string, body: Record<string, unknown>) => {
    const r = await platform.call('POST', '/api/v1/payments/orders', { token, body: { billing_cycle: 'monthly', ...body } });
    expect(r.status, r.text).to.equal(201);
    return r.body.data;
  };
  const wechatRef = (orderId: string) => orderId.replaceAll('-', '');

  it('Alipay: order → the buyer pays at the cashier → signed notification → subscription upgraded; a replayed notification is a no-op', async () => {
    const user = await platform.signUp('alipay-buyer');
    const placed = await place(user.token, { service: 'xiaohongshu', plan: 'basic', provider: 'alipay' });
    expect(placed).to.include({ status: 'pending', provider: 'alipay', channel: 'page', amount_fen: 3990, code_url: null });
    expect(placed.pay_url.startsWith(`${sandbox.alipayGatewayUrl}?`)).to.equal(true);
    const payUrl = new URL(placed.pay_url);
    expect(payUrl.searchParams.get('method')).to.equal('alipay.trade.page.pay');
    expect(payUrl.searchParams.get('notify_url')).to.equal('http://collector-api.test/api/v1/payments/callback/alipay');
    expect(JSON.parse(payUrl.searchParams.get('biz_content')!)).to.include({ out_trade_no: placed.order_id, total_amount: '39.90' });

    // the buyer's browser: the cashier, then its pay button
    const cashier = await fetch(placed.pay_url);
    expect(cashier.status).to.equal(200);
    const html = await cashier.text();
    expect(html).to.include('39.90');
    const pay = await fetch(`${sandbox.url}/sandbox/alipay/pay`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `out_trade_no=${placed.order_id}`,
    });
    expect(pay.status).to.equal(302);
    expect(pay.headers.get('location')).to.match(/\/billing\?.*out_trade_no=/);

    const delivered = await sandbox.waitForDelivery((d) => d.provider === 'alipay' && d.acknowledged && d.request.body.includes(placed.order_id));
    expect(delivered.answer).to.equal('success');
    const paid = await waitForStatus(user.token, placed.order_id, 'paid');
    expect(paid.provider_trade_no).to.equal(sandbox.trade('alipay', placed.order_id)!.tradeNo);
    expect(paid.pay_url, 'a paid order has nothing left to pay').to.equal(null);
    await waitForPlan(user.token, 'xiaohongshu', 'basic');

    // the same notification again (Alipay repeats until it reads success): success, nothing recorded
    const replay = await fetch(`${platform.url}/api/v1/payments/callback/alipay`, {
      method: 'POST',
      headers: delivered.request.headers,
      body: delivered.request.body,
    });
    expect(await replay.text()).to.equal('success');
    expect(await succeededCount(placed.order_id)).to.equal(1);
  });

  it('WeChat Pay: native order → code_url → the buyer scans and pays → encrypted notification → upgraded; replay is a no-op', async () => {
    const user = await platform.signUp('wechat-buyer');
    const placed = await place(user.token, { service: 'qidian', plan: 'pro', provider: 'wechat' });
    expect(placed).to.include({ provider: 'wechat', channel: 'native', pay_url: null, amount_fen: 8990 });
    expect(placed.code_url).to.match(/^weixin:\/\/wxpay\/bizpayurl\?pr=/);
    const token = new URL(placed.code_url.replace('weixin://', 'http://')).searchParams.get('pr');
    expect((await fetch(`${sandbox.url}/sandbox/wechat/scan/${token}`)).status).to.equal(200);
    const pay = await fetch(`${sandbox.url}/sandbox/wechat/pay`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `out_trade_no=${wechatRef(placed.order_id)}`,
    });
    expect(pay.status).to.equal(200);
    const delivered = await sandbox.waitForDelivery((d) => d.provider === 'wechat' && d.kind === 'TRANSACTION.SUCCESS' && d.acknowledged && d.status === 200);
    expect(JSON.parse(delivered.answer)).to.deep.equal({ code: 'SUCCESS' });
    await waitForStatus(user.token, placed.order_id, 'paid');
    await waitForPlan(user.token, 'qidian', 'pro');
    const replay = await fetch(`${platform.url}/api/v1/payments/callback/wechat`, {
      method: 'POST',
      headers: delivered.request.headers,
      body: delivered.request.body,
    });
    expect(replay.status).to.equal(200);
    expect(await succeededCount(placed.order_id)).to.equal(1);
  });

  it('a tampered notification is refused (the provider retries on its schedule); the genuine retry pays', async () => {
    const user = await platform.signUp('tampered');
    const placed = await place(user.token, { service: 'xiaohongshu', plan: 'pro', provider: 'alipay' });
    await fetch(placed.pay_url);
    sandbox.faults.tamperNotifications = true;
    try {
      await sandbox.pay('alipay', placed.order_id);
      const refused = await sandbox.waitForDelivery((d) => d.request.body.includes(placed.order_id) && d.attempt >= 2);
      expect(refused).to.include({ acknowledged: false, answer: 'failure' });
      expect((await order(user.token, placed.order_id)).status).to.equal('pending');
      expect(await succeededCount(placed.order_id)).to.equal(0);
    } finally {
      sandbox.faults.tamperNotifications = false;
    }
    // Alipay's next try (4m, 10m, 10m, 1h… shrunk) is genuine
    await sandbox.waitForDelivery((d) => d.request.body.includes(placed.order_id) && d.acknowledged);
    await waitForStatus(user.token, placed.order_id, 'paid');
    await waitForPlan(user.token, 'xiaohongshu', 'pro');
  });

  it('the reconcile job records a payment whose notification was lost; the late notification is then a no-op', async () => {
    const user = await platform.signUp('lost');
    const alipay = await place(user.token, { service: 'xiaohongshu', plan: 'basic', provider: 'alipay' });
    const wechat = await place(user.token, { service: 'qidian', plan: 'basic', provider: 'wechat' });
    await fetch(alipay.pay_url);
    sandbox.faults.dropNotifications = true;
    let worker: RunningWorker | undefined;
    try {
      await sandbox.pay('alipay', alipay.order_id);
      await sandbox.pay('wechat', wechatRef(wechat.order_id));
      await new Promise((r) => setTimeout(r, 300));
      expect((await order(user.token, alipay.order_id)).status).to.equal('pending');
      worker = await platform.startWorker('reconcile');
      await waitForStatus(user.token, alipay.order_id, 'paid');
      await waitForStatus(user.token, wechat.order_id, 'paid');
      const events = await platform.events(`payment-${alipay.order_id}`);
      const succeeded = events.find((e) => e.type === 'PaymentSucceeded')!;
      expect(succeeded.metadata.userId, 'recorded by the job').to.equal('job:payments-reconcile');
      await waitForPlan(user.token, 'xiaohongshu', 'basic');
      await waitForPlan(user.token, 'qidian', 'basic');
    } finally {
      sandbox.faults.dropNotifications = false;
      await worker?.stop({ timeoutMs: 3_000 });
    }
    sandbox.renotify('alipay', alipay.order_id);
    sandbox.renotify('wechat', wechatRef(wechat.order_id));
    await sandbox.waitForDelivery((d) => d.request.body.includes(alipay.order_id) && d.acknowledged);
    await sandbox.waitForDelivery(
      (d) => d.provider === 'wechat' && d.acknowledged && d.kind === 'TRANSACTION.SUCCESS' && d.at > new Date(Date.now() - 5_000).toISOString(),
    );
    expect(await succeededCount(alipay.order_id)).to.equal(1);
    expect(await succeededCount(wechat.order_id)).to.equal(1);
  });

  it('refunds (admin): a full refund ends the plan it bought (back to free); a partial one does not; WeChat settles by notification', async () => {
    const user = await platform.signUp('refunded');
    const alipay = await place(user.token, { service: 'xiaohongshu', plan: 'basic', provider: 'alipay' });
    await fetch(alipay.pay_url);
    await sandbox.pay('alipay', alipay.order_id);
    await waitForStatus(user.token, alipay.order_id, 'paid');
    await waitForPlan(user.token, 'xiaohongshu', 'basic');

    const path = `/api/v1/admin/payments/orders/${alipay.order_id}/refund`;
    expect((await platform.call('POST', path, { token: user.token, body: { reason: 'mine' } })).status, 'admins only').to.equal(403);
    const partial = await platform.call('POST', path, { token: admin, body: { amount_fen: 990, reason: 'goodwill' } });
    expect(partial.status, partial.text).to.equal(201);
    expect(partial.body.data).to.include({ state: 'refunded', amount_fen: 990 });
    expect(partial.body.data.order).to.include({ status: 'partially_refunded', refunded_fen: 990 });
    const tooMuch = await platform.call('POST', path, { token: admin, body: { amount_fen: 5000, reason: 'too much' } });
    expect(tooMuch.status).to.equal(422);
    const rest = await platform.call('POST', path, { token: admin, body: { reason: 'cancelled by support' } });
    expect(rest.status, rest.text).to.equal(201);
    expect(rest.body.data).to.include({ state: 'refunded', amount_fen: 3000 });
    expect(sandbox.trade('alipay', alipay.order_id)).to.include({ refundedFen: 3990, status: 'TRADE_CLOSED' });
    await waitForPlan(user.token, 'xiaohongshu', 'free');
    const expired = (await platform.events(`subscription-${user.userId}_xiaohongshu`)).filter((e) => e.type === 'SubscriptionExpired');
    expect(expired).to.have.length(1);
    expect(expired[0]!.data).to.include({ refundedOrderId: alipay.order_id, fallbackPlan: 'free' });
    // a refund of an order that is not paid
    const unpaid = await place(user.token, { service: 'xiaohongshu', plan: 'basic', provider: 'alipay' });
    expect((await platform.call('POST', `/api/v1/admin/payments/orders/${unpaid.order_id}/refund`, { token: admin, body: { reason: 'x' } })).status).to.equal(
      409,
    );
    expect((await platform.call('POST', `/api/v1/admin/payments/orders/${randomUUID()}/refund`, { token: admin, body: { reason: 'x' } })).status).to.equal(404);

    const wechat = await place(user.token, { service: 'qidian', plan: 'enterprise', provider: 'wechat' });
    await sandbox.pay('wechat', wechatRef(wechat.order_id));
    await waitForPlan(user.token, 'qidian', 'enterprise');
    const refund = await platform.call('POST', `/api/v1/admin/payments/orders/${wechat.order_id}/refund`, {
      token: admin,
      body: { reason: 'duplicate purchase' },
    });
    expect(refund.status, refund.text).to.equal(201);
    expect(refund.body.data).to.include({ state: 'pending', amount_fen: 29990 });
    expect(refund.body.data.order).to.include({ status: 'paid', refund_pending_fen: 29990 });
    await sandbox.waitForDelivery((d) => d.kind === 'REFUND.SUCCESS' && d.acknowledged);
    await waitForStatus(user.token, wechat.order_id, 'refunded');
    await waitForPlan(user.token, 'qidian', 'free');
  });

  it('billing history: my orders only, newest first, paged and filtered; no secrets', async () => {
    const user = await platform.signUp('history');
    const other = await platform.signUp('stranger');
    const first = await place(user.token, { service: 'xiaohongshu', plan: 'basic', provider: 'alipay' });
    const second = await place(user.token, { service: 'qidian', plan: 'basic', provider: 'wechat', channel: 'native' });
    const third = await place(user.token, { service: 'xiaohongshu', plan: 'pro', provider: 'alipay', channel: 'wap' });
    expect(new URL(third.pay_url).searchParams.get('method')).to.equal('alipay.trade.wap.pay');
    await place(other.token, { service: 'xiaohongshu', plan: 'basic', provider: 'alipay' });
    await fetch(first.pay_url);
    await sandbox.pay('alipay', first.order_id);
    await waitForStatus(user.token, first.order_id, 'paid');

    const page1 = await eventually(
      'history',
      () => platform.call('GET', '/api/v1/payments/orders?per_page=2', { token: user.token }),
      (r) => r.body?.data?.pagination?.total === 3,
    );
    expect(page1.body.data.pagination).to.deep.equal({ page: 1, per_page: 2, total: 3, total_pages: 2, has_next: true, has_prev: false });
    expect(page1.body.data.items.map((o: { order_id: string }) => o.order_id)).to.deep.equal([third.order_id, second.order_id]);
    const page2 = await platform.call('GET', '/api/v1/payments/orders?per_page=2&page=2', { token: user.token });
    expect(page2.body.data.items.map((o: { order_id: string }) => o.order_id)).to.deep.equal([first.order_id]);
    const paid = await eventually(
      'paid filter',
      () => platform.call('GET', '/api/v1/payments/orders?status=paid', { token: user.token }),
      (r) => r.body.data.items.length === 1,
    );
    expect(paid.body.data.items[0]).to.include({ order_id: first.order_id, status: 'paid', pay_url: null });
    const qidian = await platform.call('GET', '/api/v1/payments/orders?service=qidian', { token: user.token });
    expect(qidian.body.data.items.map((o: { order_id: string }) => o.order_id)).to.deep.equal([second.order_id]);
    expect(qidian.body.data.items[0].code_url).to.equal(second.code_url);
    expect((await platform.call('GET', '/api/v1/payments/orders?status=nope', { token: user.token })).status).to.equal(422);
    expect((await platform.call('GET', '/api/v1/payments/orders')).status).to.equal(401);
    const all = JSON.stringify([page1.body, page2.body, paid.body, qidian.body]);
    for (const secret of [merchant.wechat.apiV3Key, 'PRIVATE KEY', merchant.alipay.app.privateKeyPem.split('\n')[1]!]) expect(all).to.not.include(secret);
    const stranger = await platform.call('GET', '/api/v1/payments/orders', { token: other.token });
    expect(stranger.body.data.items.every((o: { order_id: string }) => ![first.order_id, second.order_id, third.order_id].includes(o.order_id))).to.equal(true);
  });

  it('PUT /subscriptions/{id} to a higher plan answers the checkout (202), the same one when asked again; paying it upgrades', async () => {
    const user = await platform.signUp('upgrader');
    const sub = await planOf(user.token, 'xiaohongshu');
    const put = await platform.call('PUT', `/api/v1/subscriptions/${sub.id}`, { token: user.token, body: { plan: 'pro' } });
    expect(put.status, put.text).to.equal(202);
    expect(put.body.data).to.include({ status: 'pending', plan: 'pro', provider: 'alipay', channel: 'page', amount_fen: 12990 });
    expect(put.body.data.pay_url.startsWith(sandbox.alipayGatewayUrl)).to.equal(true);
    // once the billing history has the order (read-your-writes on its position), asking again answers it
    expect((await platform.call('GET', `/api/v1/payments/orders?after_position=${put.body.data.position}`, { token: user.token })).status).to.equal(200);
    const again = await platform.call('PUT', `/api/v1/subscriptions/${sub.id}`, { token: user.token, body: { plan: 'pro' } });
    expect(again.status).to.equal(202);
    expect(again.body.data.order_id).to.equal(put.body.data.order_id);
    expect(again.body.data.pay_url).to.equal(put.body.data.pay_url);
    const viaWechat = await platform.call('PUT', `/api/v1/subscriptions/${sub.id}`, { token: user.token, body: { plan: 'pro', provider: 'wechat' } });
    expect(viaWechat.status).to.equal(202);
    expect(viaWechat.body.data.code_url).to.match(/^weixin:/);
    expect(
      (await platform.call('PUT', `/api/v1/subscriptions/${sub.id}`, { token: user.token, body: { plan: 'pro', provider: 'wechat', channel: 'page' } })).status,
    ).to.equal(422);
    expect(
      (await platform.call('PUT', `/api/v1/subscriptions/${sub.id}`, { token: user.token, body: { plan: 'free' } })).status,
      'the current plan: no change',
    ).to.equal(200);

    await fetch(put.body.data.pay_url);
    await sandbox.pay('alipay', put.body.data.order_id);
    await waitForPlan(user.token, 'xiaohongshu', 'pro');
    // now a lower plan is a scheduled downgrade, as before
    const down = await platform.call('PUT', `/api/v1/subscriptions/${sub.id}`, { token: user.token, body: { plan: 'basic' } });
    expect(down.status, down.text).to.equal(200);
  });

  it('a paid downgrade is never lost: a renewal keeps it (moved back), an order it would void is refused (409)', async () => {
    const user = await platform.signUp('paid-downgrade');
    const sub = await planOf(user.token, 'qidian');
    const subscriptionRow = async () =>
      ((await platform.call('GET', '/api/v1/subscriptions', { token: user.token })).body.data.items as Record<string, unknown>[]).find((s) => s.id === sub.id)!;
    const pro = await place(user.token, { service: 'qidian', plan: 'pro', provider: 'alipay' });
    await fetch(pro.pay_url);
    await sandbox.pay('alipay', pro.order_id);
    await waitForPlan(user.token, 'qidian', 'pro');
    const basic = await place(user.token, { service: 'qidian', plan: 'basic', provider: 'alipay' });
    await fetch(basic.pay_url);
    await sandbox.pay('alipay', basic.order_id);
    const pending = await eventually('the paid downgrade', subscriptionRow, (s) => s.pending_downgrade === 'basic');
    // another downgrade would void the paid one: refused before anything is sold or recorded
    const again = await platform.call('POST', '/api/v1/payments/orders', {
      token: user.token,
      body: { service: 'qidian', plan: 'basic', billing_cycle: 'monthly', provider: 'alipay' },
    });
    expect(again.status, again.text).to.equal(409);
    expect(again.body.error.details).to.include({ pendingDowngrade: 'basic', pendingOrderId: basic.order_id });
    const toFree = await platform.call('PUT', `/api/v1/subscriptions/${sub.id}`, { token: user.token, body: { plan: 'free' } });
    expect(toFree.status, toFree.text).to.equal(409);
    // paying pro again renews it; the paid basic month follows the renewed one
    const renewal = await place(user.token, { service: 'qidian', plan: 'pro', provider: 'alipay' });
    await fetch(renewal.pay_url);
    await sandbox.pay('alipay', renewal.order_id);
    const renewed = await eventually('the renewal', subscriptionRow, (s) => s.period_end !== pending.period_end);
    expect(renewed).to.include({ plan: 'pro', pending_downgrade: 'basic', pending_downgrade_at: renewed.period_end });
    expect(Date.parse(String(renewed.period_end))).to.be.greaterThan(Date.parse(String(pending.period_end)));
    // refunded in full, the basic month is no longer paid: the downgrade stays, unpaid, and another may replace it
    const refund = await platform.call('POST', `/api/v1/admin/payments/orders/${basic.order_id}/refund`, { token: admin, body: { reason: 'changed mind' } });
    expect(refund.status, refund.text).to.equal(201);
    await eventually(
      'the downgrade refunded',
      async () => (await platform.events(`subscription-${user.userId}_qidian`)).map((e) => e.type),
      (types) => types.includes('SubscriptionDowngradeRefunded'),
    );
    const nowFree = await platform.call('PUT', `/api/v1/subscriptions/${sub.id}`, { token: user.token, body: { plan: 'free' } });
    expect(nowFree.status, nowFree.text).to.equal(200);
  });

  it('a provider that refuses, answers unverifiable bytes or is down: 502 / 503, the order recorded as failed', async () => {
    const user = await platform.signUp('refused');
    sandbox.faults.tamperResponses = true;
    try {
      const bad = await platform.call('POST', '/api/v1/payments/orders', {
        token: user.token,
        body: { service: 'qidian', plan: 'basic', billing_cycle: 'monthly', provider: 'wechat' },
      });
      expect(bad.status, bad.text).to.equal(502);
      expect(bad.body.error.code).to.equal('PAYMENT_PROVIDER_ERROR');
      const failed = await order(user.token, bad.body.error.details.order_id);
      expect(failed.status).to.equal('failed');
      expect(failed.failure_reason).to.match(/^not placed: wechat invalid answer: BAD_SIGNATURE/);
    } finally {
      sandbox.faults.tamperResponses = false;
    }
    sandbox.faults.unavailable = true;
    try {
      const down = await platform.call('POST', '/api/v1/payments/orders', {
        token: user.token,
        body: { service: 'qidian', plan: 'basic', billing_cycle: 'monthly', provider: 'wechat' },
      });
      expect(down.status, down.text).to.equal(503);
      expect(down.body.error.code).to.equal('PAYMENT_PROVIDER_UNAVAILABLE');
      expect((await order(user.token, down.body.error.details.order_id)).status).to.equal('failed');
    } finally {
      sandbox.faults.unavailable = false;
    }
    const wrongChannel = await platform.call('POST', '/api/v1/payments/orders', {
      token: user.token,
      body: { service: 'qidian', plan: 'basic', billing_cycle: 'monthly', provider: 'wechat', channel: 'wap' },
    });
    expect(wrongChannel.status).to.equal(422);
    // decided past the schema, it still has the documented issues, naming the field
    expect(wrongChannel.body.error.details.issues).to.deep.equal([{ path: ['channel'], message: wrongChannel.body.error.message, code: 'invalid' }]);
    expect(wrongChannel.body.error.details).to.include({ field: 'channel', got: 'wap' });
  });
});

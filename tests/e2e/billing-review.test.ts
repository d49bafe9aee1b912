import { expect } from 'chai';
import { generateMerchant, generateProviderKeys, platformEnv, registrationOf } from '../../sandbox/payment-provider/keys.js';
import { startPaymentSandbox, type PaymentSandbox } from '../../sandbox/payment-provider/server.js';
import { startPlatform, type Platform } from '../support/platform.js';

/**
 * Billing as the docs describe it, over real sockets: the whole platform
 * against the payment sandbox, each request as a client would send it.
 */
describe('billing review (e2e, payment sandbox)', function () {
  this.timeout(120_000);
  const merchant = generateMerchant();
  const keys = generateProviderKeys();
  let sandbox: PaymentSandbox;
  let platform: Platform;

  before(async () => {
    sandbox = await startPaymentSandbox({ merchant: registrationOf(merchant), keys, timeScale: 0.0005, refundSettleMs: 300 });
    const env = platformEnv({ merchant, keys, sandboxUrl: sandbox.url, notifyBaseUrl: 'http://collector-api.test' });
    platform = await startPlatform({ proxies: 1, config: { ...env, PAYMENT_PROVIDER_TIMEOUT_MS: '3000' } });
    sandbox.resolve.set('collector-api.test', platform.url);
    platform.startConsumers();
  });
  after(async () => {
    await sandbox?.stop();
    await platform?.stop();
  });

  const subscription = async (token: string, service: string) =>
    ((await platform.call('GET', '/api/v1/subscriptions', { token })).body.data.items as { id: string; service: string; plan: string }[]).find(
      (s) => s.service === service,
    )!;

  it('an upgrade asked again at once answers the same open order, not a second one', async () => {
    const user = await platform.signUp('upgrade-twice');
    const sub = await subscription(user.token, 'xiaohongshu');
    const first = await platform.call('PUT', `/api/v1/subscriptions/${sub.id}`, { token: user.token, body: { plan: 'pro' } });
    expect(first.status, first.text).to.equal(202);
    const again = await platform.call('PUT', `/api/v1/subscriptions/${sub.id}`, { token: user.token, body: { plan: 'pro' } });
    expect(again.status, again.text).to.equal(202);
    expect(again.body.data.order_id).to.equal(first.body.data.order_id);
    expect(again.body.data.pay_url).to.equal(first.body.data.pay_url);
  });

  it('DELETE /subscriptions/{id} with a stale If-Match is 412 and cancels nothing; the current revision cancels', async () => {
    const user = await platform.signUp('cancel-if-match');
    const sub = await subscription(user.token, 'qidian');
    const put = await platform.call('PUT', `/api/v1/subscriptions/${sub.id}`, { token: user.token, body: { plan: 'basic' } });
    expect(put.status, put.text).to.equal(202);
    // the buyer opens the cashier (the trade exists from then on) and pays
    await fetch(put.body.data.pay_url);
    await sandbox.pay('alipay', put.body.data.order_id);
    const deadline = Date.now() + 20_000;
    while ((await subscription(user.token, 'qidian')).plan !== 'basic') {
      if (Date.now() > deadline) throw new Error('never upgraded');
      await new Promise((r) => setTimeout(r, 50));
    }
    const read = await platform.call('GET', `/api/v1/subscriptions/${sub.id}`, { token: user.token });
    const etag = `"${read.body.data.revision}"`;
    const stale = `"${Number(read.body.data.revision) - 1}"`;
    const headers = (ifMatch: string) => ({ Authorization: `Bearer ${user.token}`, 'If-Match': ifMatch });
    const refused = await fetch(`${platform.url}/api/v1/subscriptions/${sub.id}`, { method: 'DELETE', headers: headers(stale) });
    expect(refused.status, await refused.text()).to.equal(412);
    const events = await platform.events(`subscription-${user.userId}_qidian`);
    expect(events.filter((e) => e.type === 'SubscriptionCancelled')).to.have.length(0);
    const cancelled = await fetch(`${platform.url}/api/v1/subscriptions/${sub.id}`, { method: 'DELETE', headers: headers(etag) });
    expect(cancelled.status, await cancelled.text()).to.equal(200);
    const doc = (await platform.call('GET', '/api/v1/openapi.json')).body;
    const params = (doc.paths['/api/v1/subscriptions/{id}'].delete.parameters ?? []) as { name: string; in: string }[];
    expect(params.some((p) => p.in === 'header' && p.name === 'If-Match')).to.equal(true);
  });
});

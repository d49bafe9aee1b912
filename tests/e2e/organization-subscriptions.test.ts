import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mailProcessor } from '../../src/main/worker-processors.js';
import { startWorker, type RunningWorker } from '../../src/main/worker.js';
import { dailyUsageId, subscriptionUsageStream } from '../../src/write-model/subscription-usage/index.js';
import { subscriptionStream } from '../../src/write-model/subscription/index.js';
import { generateMerchant, generateProviderKeys, platformEnv, registrationOf } from '../../sandbox/payment-provider/keys.js';
import { startPaymentSandbox, type PaymentSandbox } from '../../sandbox/payment-provider/server.js';
import { startPlatform, type Platform, type Reply } from '../support/platform.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { joinOrganization, registerMember } from '../support/members.js';

/**
 * Organization-held subscriptions end to end over real HTTP: the founding
 * starts the organization's free plans (pm-free-plans-on-organization), a
 * member invited by mail shares the organization's daily quota with its
 * owner, the billing member's upgrade through the payment sandbox lifts
 * both, a user outside keeps their own plan, and a member who leaves is
 * back on their own subscription.
 */
describe('organization subscriptions: shared quotas, an upgrade bought for the organization (e2e, payment sandbox)', function () {
  this.timeout(120_000);
  const merchant = generateMerchant();
  const keys = generateProviderKeys();
  let sandbox: PaymentSandbox;
  let sink: SmtpSink;
  let platform: Platform;
  let worker: RunningWorker | undefined;
  interface Account {
    userId: string;
    token: string;
    email: string;
  }
  let owner: Account;
  let ann: Account;
  let eve: Account;
  let orgId: string;
  /** the organization's xiaohongshu subscription */
  let orgXhs: string;

  const call = (method: string, path: string, user: Account, body?: unknown): Promise<Reply> =>
    platform.call(method, path, { token: user.token, ...(body !== undefined ? { body } : {}) });

  async function eventually<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await read();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: not in time (last: ${JSON.stringify(value)})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  async function account(name: string): Promise<Account> {
    const user = await registerMember(platform, name);
    await eventually(
      'own free plans',
      () => subscriptionsOf(user),
      (items) => items.length === 2,
    );
    return user;
  }
  const subscriptionsOf = async (user: Account): Promise<any[]> => (await call('GET', '/api/v1/subscriptions', user)).body.data?.items ?? [];
  const xhsOf = async (user: Account) => (await subscriptionsOf(user)).find((s) => s.service === 'xiaohongshu');
  const consume = (user: Account, id: string, amount: number) =>
    call('POST', `/api/v1/subscriptions/${id}/consume`, user, { feature: 'daily_api_calls', amount });

  before(async () => {
    sandbox = await startPaymentSandbox({ merchant: registrationOf(merchant), keys, timeScale: 0.0005, refundSettleMs: 300 });
    sink = await new SmtpSink().start();
    const env = platformEnv({ merchant, keys, sandboxUrl: sandbox.url, notifyBaseUrl: 'http://collector-api.test' });
    platform = await startPlatform({ proxies: 0, config: { ...env, SMTP_URL: sink.url, PUBLIC_WEB_URL: 'https://app.example.test' } });
    sandbox.resolve.set('collector-api.test', platform.url);
    platform.startConsumers();
    worker = await startWorker(platform.container, { workerName: `org-subs-mail-${randomUUID().slice(0, 6)}`, processors: [mailProcessor()] });
    [owner, ann, eve] = (await Promise.all(['owner', 'ann', 'eve'].map(account))) as [Account, Account, Account];
  });
  after(async () => {
    await worker?.stop({ timeoutMs: 2_000 });
    await platform?.stop();
    await sandbox?.stop();
    await sink?.stop();
  });

  it("founding an organization starts its free plans; its owner's subscriptions are now the organization's", async () => {
    const own = await xhsOf(owner);
    expect(own).to.include({ holder_kind: 'user', organization_id: null, plan: 'free' });
    const r = await call('POST', '/api/v1/organizations', owner, { name: 'Acme' });
    expect(r.status, r.text).to.equal(201);
    orgId = r.body.data.id;
    const items = await eventually(
      'the organization plans',
      () => subscriptionsOf(owner),
      (list) => list.length === 2 && list.every((s) => s.organization_id === orgId),
    );
    for (const s of items) expect(s).to.include({ holder_kind: 'organization', organization_id: orgId, plan: 'free', status: 'active' });
    orgXhs = items.find((s) => s.service === 'xiaohongshu')!.id;
    expect(orgXhs).to.not.equal(own.id);
    const started = await platform.events(subscriptionStream(orgId, 'xiaohongshu'));
    expect(started.map((e) => e.type)).to.deep.equal(['SubscriptionStarted']);
    expect(started[0]!.data).to.include({ userId: orgId, holderKind: 'organization', plan: 'free' });
    // the owner's own subscription is still there, untouched, but no longer theirs to use while a member
    expect((await call('GET', `/api/v1/subscriptions/${own.id}`, owner)).status).to.equal(404);
  });

  it('a member invited by mail shares the daily quota with the owner; the refusal names the organization plan', async () => {
    await joinOrganization(platform, sink, { organizationId: orgId, inviter: owner, user: ann, roles: ['billing'] });
    expect((await xhsOf(ann)).id).to.equal(orgXhs);

    const first = await consume(owner, orgXhs, 30);
    expect(first.status, first.text).to.equal(200);
    expect(first.body.data).to.include({ used_today: 30, limit: 50, remaining: 20 });
    const second = await consume(ann, orgXhs, 15);
    expect(second.status, second.text).to.equal(200);
    expect(second.body.data).to.include({ used_today: 45, limit: 50, remaining: 5 });
    const day = second.body.data.day as string;
    const over = await consume(owner, orgXhs, 10);
    expect(over.status, over.text).to.equal(429);
    expect(over.body.error.code).to.equal('QUOTA_EXCEEDED');
    expect(over.body.error.details, over.text).to.include({ feature: 'daily_api_calls', limit: 50, used: 45, plan: 'free', subscription_id: orgXhs });
    // counted in the organization's day stream; neither member's own day was touched
    const types = (await platform.events(subscriptionUsageStream(dailyUsageId(orgId, 'xiaohongshu', day)))).map((e) => e.type);
    expect(types).to.deep.equal(['UsageRecorded', 'UsageRecorded', 'QuotaExceeded']);
    expect(await platform.events(subscriptionUsageStream(dailyUsageId(ann.userId, 'xiaohongshu', day)))).to.deep.equal([]);
    // the organization's owner is told (the subscription has no user of its own)
    const told = await eventually(
      'the quota notice',
      async () => ((await call('GET', '/api/v1/notifications?per_page=100', owner)).body.data?.items ?? []) as any[],
      (items) => items.some((n) => n.kind === 'quota_exceeded'),
    );
    expect(told.find((n) => n.kind === 'quota_exceeded').data).to.include({ subscriptionId: orgXhs, feature: 'daily_api_calls', limit: 50 });
    // the usage page shows what both used
    const usage = await eventually(
      'usage projected',
      () => call('GET', `/api/v1/subscriptions/${orgXhs}/usage`, ann),
      (r) => r.body.data?.features?.find((f: any) => f.feature === 'daily_api_calls')?.used === 45,
    );
    expect(usage.body.data.features.find((f: any) => f.feature === 'daily_api_calls')).to.include({ used: 45, limit: 50, remaining: 5 });
  });

  it('a user outside any organization keeps their own plan and quota', async () => {
    const mine = await xhsOf(eve);
    expect(mine).to.include({ holder_kind: 'user', organization_id: null, plan: 'free' });
    const used = await consume(eve, mine.id, 1);
    expect(used.status, used.text).to.equal(200);
    expect(used.body.data).to.include({ used_today: 1, limit: 50 });
    // someone else's organization subscription is a 404, and writes nothing
    const before = (await platform.events(subscriptionUsageStream(dailyUsageId(orgId, 'xiaohongshu', used.body.data.day)))).length;
    expect((await consume(eve, orgXhs, 1)).status).to.equal(404);
    expect((await call('GET', `/api/v1/subscriptions/${orgXhs}`, eve)).status).to.equal(404);
    expect((await call('PUT', `/api/v1/subscriptions/${orgXhs}`, eve, { plan: 'basic' })).status).to.equal(404);
    expect((await platform.events(subscriptionUsageStream(dailyUsageId(orgId, 'xiaohongshu', used.body.data.day)))).length).to.equal(before);
  });

  it("the billing member buys basic for the organization through the sandbox: both members' limits are lifted, their own plans are not", async () => {
    const put = await call('PUT', `/api/v1/subscriptions/${orgXhs}`, ann, { plan: 'basic', provider: 'alipay' });
    expect(put.status, put.text).to.equal(202);
    const placed = put.body.data;
    expect(placed).to.include({ status: 'pending', plan: 'basic', provider: 'alipay' });
    const created = (await platform.events(`payment-${placed.order_id}`)).find((e) => e.type === 'PaymentOrderCreated')!;
    expect(created.data).to.include({ userId: ann.userId, organizationId: orgId, service: 'xiaohongshu', plan: 'basic' });
    const cashier = await fetch(placed.pay_url);
    expect(cashier.status).to.equal(200);
    const pay = await fetch(`${sandbox.url}/sandbox/alipay/pay`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `out_trade_no=${placed.order_id}`,
    });
    expect(pay.status).to.equal(302);
    await eventually(
      'the organization on basic',
      () => xhsOf(owner),
      (s) => s?.plan === 'basic',
    );
    expect((await xhsOf(ann)).plan).to.equal('basic');
    const upgraded = (await platform.events(subscriptionStream(orgId, 'xiaohongshu'))).find((e) => e.type === 'SubscriptionUpgraded')!;
    expect(upgraded.data).to.include({ userId: orgId, holderKind: 'organization', toPlan: 'basic', orderId: placed.order_id });

    // the organization's count goes on under the new limit, for both
    const more = await consume(owner, orgXhs, 100);
    expect(more.status, more.text).to.equal(200);
    expect(more.body.data).to.include({ used_today: 145, limit: 500 });
    const annMore = await consume(ann, orgXhs, 5);
    expect(annMore.body.data).to.include({ used_today: 150, limit: 500 });
    // the members' own subscriptions and eve's are still free
    for (const user of [owner, ann]) {
      expect((await platform.events(subscriptionStream(user.userId, 'xiaohongshu'))).map((e) => e.type)).to.deep.equal(['SubscriptionStarted']);
    }
    expect((await xhsOf(eve)).plan).to.equal('free');
  });

  it('a member who leaves is back on their own subscription and quota', async () => {
    const left = await call('POST', `/api/v1/organizations/${orgId}/leave`, ann);
    expect(left.status, left.text).to.be.oneOf([200, 204]);
    const mine = await eventually(
      'own subscriptions again',
      () => xhsOf(ann),
      (s) => s?.holder_kind === 'user',
    );
    expect(mine).to.include({ plan: 'free', organization_id: null });
    expect((await consume(ann, orgXhs, 1)).status).to.equal(404);
    const own = await consume(ann, mine.id, 2);
    expect(own.status, own.text).to.equal(200);
    expect(own.body.data).to.include({ used_today: 2, limit: 50 });
  });
});

import { expect } from 'chai';
import { deadlineActionsFromConfig } from '../../src/main/automation.js';
import { DeadlineSweeper } from '../../src/process-managers/index.js';
import { subscriptionStream } from '../../src/write-model/subscription/decider.js';
import { generateMerchant, generateProviderKeys, platformEnv, registrationOf } from '../../sandbox/payment-provider/keys.js';
import { startPaymentSandbox, type PaymentSandbox } from '../../sandbox/payment-provider/server.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { waitFor } from '../support/wait-for.js';

const DAY = 24 * 3600_000;
const silent = { info() {}, warn() {}, error() {} };

/**
 * Automatic renewal end to end over real sockets: the platform (API,
 * projections, process managers, the mail worker) against the payment
 * sandbox and an SMTP sink. Time is moved the way the deadline tests move
 * it: a sweeper of the test's own runs the due deadlines at a chosen `now`
 * (SUBSCRIPTION_RENEWAL_LEAD_DAYS = 3 before the period end).
 */
describe('automatic renewal and expiry reminders (e2e, payment sandbox)', function () {
  this.timeout(180_000);
  const merchant = generateMerchant();
  const keys = generateProviderKeys();
  let sandbox: PaymentSandbox;
  let platform: Platform;
  let sink: SmtpSink;

  before(async () => {
    sink = await new SmtpSink().start();
    sandbox = await startPaymentSandbox({ merchant: registrationOf(merchant), keys, timeScale: 0.0005 });
    const env = platformEnv({ merchant, keys, sandboxUrl: sandbox.url, notifyBaseUrl: 'http://collector-api.test' });
    platform = await startPlatform({ proxies: 1, config: { ...env, SMTP_URL: sink.url, SUBSCRIPTION_RENEWAL_LEAD_DAYS: '3' } });
    sandbox.resolve.set('collector-api.test', platform.url);
    platform.startConsumers();
    await platform.startWorker(); // sends the mail outbox
  });
  after(async () => {
    await sandbox?.stop();
    await platform?.stop();
    await sink?.stop();
  });

  const subscriptions = async (token: string) => (await platform.call('GET', '/api/v1/subscriptions', { token })).body.data.items as any[];
  const subscriptionOf = async (token: string, service: string) => (await subscriptions(token)).find((s) => s.service === service);
  async function eventually<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
    let last: T | undefined;
    await waitFor(what, async () => done((last = await read())), timeoutMs, 50);
    return last as T;
  }
  async function notification(token: string, kind: string, probe: (n: any) => boolean = () => true): Promise<any> {
    return eventually(
      `a ${kind} notification`,
      async () =>
        ((await platform.call('GET', '/api/v1/notifications?per_page=100', { token })).body?.data?.items as any[] | undefined)?.find(
          (n) => n.kind === kind && probe(n),
        ),
      (n) => n !== undefined,
    );
  }
  const emailOf = async (token: string) => (await platform.call('GET', '/api/v1/users/profile', { token })).body.data.email as string;

  /** the buyer's browser opens the Alipay cashier (pay_url), then pays there */
  async function payAtCashier(payUrl: string, orderId: string) {
    expect((await fetch(payUrl)).status).to.equal(200);
    await sandbox.pay('alipay', orderId);
  }

  /** a user on pro for xiaohongshu, bought and paid through the Alipay sandbox */
  async function proUser(name: string) {
    const user = await platform.signUp(name);
    const placed = await platform.call('POST', '/api/v1/payments/orders', {
      token: user.token,
      body: { service: 'xiaohongshu', plan: 'pro', billing_cycle: 'monthly', provider: 'alipay' },
    });
    expect(placed.status, placed.text).to.equal(201);
    await payAtCashier(placed.body.data.pay_url, placed.body.data.order_id);
    const sub = await eventually(
      'on pro',
      () => subscriptionOf(user.token, 'xiaohongshu'),
      (s) => s?.plan === 'pro',
    );
    return { ...user, email: await emailOf(user.token), sub, firstOrderId: placed.body.data.order_id as string };
  }

  const renewalDeadline = (stream: string) =>
    platform
      .knex('deadlines')
      .where({ key: `subscription.renewal:${stream}` })
      .first();
  /** the due deadlines at `now`, run by a sweeper like the projector's */
  const sweepAt = (now: Date) =>
    new DeadlineSweeper({
      knex: platform.knex,
      actions: deadlineActionsFromConfig(platform.store, platform.config, silent),
      logger: silent,
      intervalMs: 60_000,
    }).sweepOnce(now);

  it('auto_renew on: 3 days before the end a renewal order is placed once, the user reminded in-app and by mail; paying it renews the plan', async () => {
    const user = await proUser('renewer');
    const periodEnd = user.sub.period_end as string;
    expect(user.sub).to.include({ auto_renew: false, auto_renew_provider: null, renewal_order_id: null });

    // free cannot renew automatically; a plan change and auto_renew together are refused too
    const qidian = await subscriptionOf(user.token, 'qidian');
    const onFree = await platform.call('PUT', `/api/v1/subscriptions/${qidian.id}`, { token: user.token, body: { auto_renew: true } });
    expect(onFree.status, onFree.text).to.equal(422);
    const both = await platform.call('PUT', `/api/v1/subscriptions/${user.sub.id}`, { token: user.token, body: { plan: 'enterprise', auto_renew: true } });
    expect(both.status, both.text).to.equal(422);

    const on = await platform.call('PUT', `/api/v1/subscriptions/${user.sub.id}`, { token: user.token, body: { auto_renew: true } });
    expect(on.status, on.text).to.equal(200);
    const shown = await eventually(
      'auto_renew shown',
      () => subscriptionOf(user.token, 'xiaohongshu'),
      (s) => s.auto_renew === true,
    );
    expect(shown).to.include({ auto_renew_provider: 'alipay', auto_renew_channel: 'page', plan: 'pro', period_end: periodEnd });

    const stream = subscriptionStream(user.userId, 'xiaohongshu');
    const row = await eventually(
      'the renewal deadline',
      () => renewalDeadline(stream),
      (r) => r !== undefined,
    );
    expect(row.due_at.toISOString()).to.equal(new Date(Date.parse(periodEnd) - 3 * DAY).toISOString());

    // the clock at the deadline: twice, and a sweep a little later (nothing left to do)
    const at = new Date(Date.parse(periodEnd) - 3 * DAY + 1_000);
    await Promise.all([sweepAt(at), sweepAt(at)]);
    await sweepAt(new Date(at.getTime() + 60_000));
    const ordered = (await platform.events(stream)).filter((e) => e.type === 'SubscriptionRenewalOrdered');
    expect(ordered, 'one renewal order for the period').to.have.length(1);
    const renewal = ordered[0]!.data as { orderId: string; payUrl: string; periodEnd: string };
    expect(renewal.periodEnd).to.equal(periodEnd);
    expect((await platform.events(`payment-${renewal.orderId}`)).map((e) => e.type)).to.deep.equal(['PaymentOrderCreated', 'PaymentOrderPlaced']);
    expect(sandbox.trade('alipay', renewal.orderId), 'nothing paid yet').to.satisfy(
      (t: unknown) => t === undefined || (t as { status?: string }).status !== 'paid',
    );

    const order = (await platform.call('GET', `/api/v1/payments/orders/${renewal.orderId}`, { token: user.token })).body.data;
    expect(order).to.include({ status: 'pending', plan: 'pro', provider: 'alipay', expires_at: periodEnd });
    expect(order.pay_url).to.equal(renewal.payUrl);
    await eventually(
      'renewal_order_id shown',
      () => subscriptionOf(user.token, 'xiaohongshu'),
      (s) => s.renewal_order_id === renewal.orderId,
    );

    // reminded: in-app with the pay link, and mailed once through the outbox
    const told = await notification(user.token, 'subscription_renewal', (n) => n.emailed === true);
    expect(told.data).to.include({ orderId: renewal.orderId, payUrl: renewal.payUrl, periodEnd, plan: 'pro' });
    const mail = await sink.waitForMessage((m) => m.envelope.to.includes(user.email) && m.parsed.subject.includes('Renew your'), 10_000);
    expect(mail.parsed.text).to.include(renewal.orderId);
    expect(mail.parsed.html ?? '').to.include('Pay now');
    expect(
      sink.messages.filter((m) => m.envelope.to.includes(user.email) && m.parsed.subject.includes('Renew your')),
      'mailed once',
    ).to.have.length(1);

    // the user pays it at the sandbox's cashier: PaymentSucceeded → pm-plan-on-payment renews (same plan: not an upgrade)
    await payAtCashier(renewal.payUrl, renewal.orderId);
    const renewed = await eventually(
      'renewed',
      () => subscriptionOf(user.token, 'xiaohongshu'),
      (s) => s.period_end !== periodEnd,
    );
    const events = await platform.events(stream);
    const last = events.filter((e) => e.type === 'SubscriptionRenewed').at(-1)!;
    expect(last.data).to.include({ plan: 'pro', orderId: renewal.orderId, previousPeriodEnd: periodEnd });
    const next = new Date(periodEnd);
    next.setUTCMonth(next.getUTCMonth() + 1);
    expect(renewed.period_end).to.equal((last.data as { periodEnd: string }).periodEnd);
    expect(Date.parse(renewed.period_end)).to.be.greaterThan(Date.parse(periodEnd) + 27 * DAY);
    expect(
      events.some((e) => e.type === 'SubscriptionUpgraded' && (e.data as { orderId: string }).orderId === renewal.orderId),
      'a renewal, not an upgrade',
    ).to.equal(false);
    expect(renewed).to.include({ plan: 'pro', auto_renew: true, renewal_order_id: null });

    // the deadline moved to the new period's end
    const moved = await eventually(
      'the deadline moved',
      () => renewalDeadline(stream),
      (r) => r !== undefined && r.due_at.toISOString() !== row.due_at.toISOString(),
    );
    expect(moved.due_at.toISOString()).to.equal(new Date(Date.parse(renewed.period_end) - 3 * DAY).toISOString());
  });

  it('auto_renew off: only an expiry reminder (in-app and mail), no order; none once renewed', async () => {
    const user = await proUser('expiring');
    const periodEnd = user.sub.period_end as string;
    const stream = subscriptionStream(user.userId, 'xiaohongshu');
    await eventually(
      'the renewal deadline',
      () => renewalDeadline(stream),
      (r) => r !== undefined,
    );
    await sweepAt(new Date(Date.parse(periodEnd) - 3 * DAY + 1_000));
    const events = await platform.events(stream);
    expect(events.map((e) => e.type)).to.include('SubscriptionExpiryReminded');
    expect(events.map((e) => e.type)).to.not.include('SubscriptionRenewalOrdered');
    const told = await notification(user.token, 'subscription_expiring', (n) => n.emailed === true);
    expect(told.data).to.include({ plan: 'pro', periodEnd, fallbackPlan: 'free', reason: 'auto_renew_off' });
    expect(
      ((await platform.call('GET', '/api/v1/notifications?per_page=100', { token: user.token })).body.data.items as any[]).some(
        (n) => n.kind === 'subscription_renewal',
      ),
    ).to.equal(false);
    await sink.waitForMessage((m) => m.envelope.to.includes(user.email) && m.parsed.subject.includes('plan ends'), 10_000);

    // another user renews by hand before the lead: no reminder for the old period end
    const other = await proUser('renewed-early');
    const otherStream = subscriptionStream(other.userId, 'xiaohongshu');
    const again = await platform.call('POST', '/api/v1/payments/orders', {
      token: other.token,
      body: { service: 'xiaohongshu', plan: 'pro', billing_cycle: 'monthly', provider: 'alipay' },
    });
    await payAtCashier(again.body.data.pay_url, again.body.data.order_id);
    await eventually(
      'renewed',
      () => subscriptionOf(other.token, 'xiaohongshu'),
      (s) => s.period_end !== other.sub.period_end,
    );
    await eventually(
      'the deadline moved',
      () => renewalDeadline(otherStream),
      (r) => r !== undefined && r.due_at.getTime() > Date.parse(other.sub.period_end),
    );
    await sweepAt(new Date(Date.parse(other.sub.period_end) - 3 * DAY + 1_000));
    expect((await platform.events(otherStream)).map((e) => e.type)).to.not.include('SubscriptionExpiryReminded');
  });
});

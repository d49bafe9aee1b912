import { expect } from 'chai';
import type { Queue } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { QUEUE_NAMES, QueueFactory } from '../../src/adapters/queue/queues.js';
import type { RecordedEvent } from '../../src/event-store/port.js';
import { platformAccountStream } from '../../src/write-model/platform-account/decider.js';
import { quotaDay } from '../../src/application/quota-day.js';
import { subscriptionStream } from '../../src/write-model/subscription/decider.js';
import { dailyUsageId, subscriptionUsageStream } from '../../src/write-model/subscription-usage/decider.js';
import { workflowExecutionStream } from '../../src/write-model/workflow-execution/decider.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { generateMerchant, platformEnv, registrationOf } from '../../sandbox/payment-provider/keys.js';
import { startPaymentSandbox, type PaymentSandbox } from '../../sandbox/payment-provider/server.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { waitFor } from '../support/wait-for.js';

const ofType = (events: RecordedEvent[], type: string) => events.filter((e) => e.type === type);

/**
 * The refusals: a free plan's daily quota used up by
 * real runs (rejections, the quota pause of scheduled workflows, the
 * notification and its mail, an upgrade paid through Alipay (the payment sandbox) that
 * resumes them), and a login wall met by the worker (the account invalidated,
 * the execution failed at once, the workflows paused, the owner told). Every
 * piece is the real one (startPlatform): API, projections and process
 * managers, the worker with Chromium, fixture sites, local proxies, a real
 * SMTP server as the relay.
 */
describe('automation (e2e): the daily quota and the login wall', function () {
  this.timeout(120_000);
  // Alipay: the payment sandbox (the order is placed with it; it notifies like Alipay)
  const merchant = generateMerchant();
  let sandbox: PaymentSandbox;
  let sink: SmtpSink;
  let platform: Platform;
  let ticks: Queue;
  let scrapes: Queue;

  before(async () => {
    sink = await new SmtpSink().start();
    sandbox = await startPaymentSandbox({ merchant: registrationOf(merchant), timeScale: 0.001 });
    platform = await startPlatform({
      proxies: 2,
      config: { SMTP_URL: sink.url, ...platformEnv({ merchant, keys: sandbox.keys, sandboxUrl: sandbox.url, notifyBaseUrl: 'http://collector-api.test' }) },
    });
    sandbox.resolve.set('collector-api.test', platform.url);
    const admin = await platform.adminToken();
    for (const p of platform.proxies.proxies) {
      const r = await platform.call('POST', '/api/v1/proxies', {
        token: admin,
        body: {
          host: p.host,
          port: p.port,
          protocol: 'http',
          username: p.username,
          password: p.password,
          country: 'CN',
          region: 'shanghai',
          provider: 'local',
        },
      });
      expect(r.status, r.text).to.equal(201);
    }
    const factory = new QueueFactory({ redisUrl: platform.config.REDIS_URL, prefix: platform.config.QUEUE_PREFIX, connectionName: 'e2e-quota-login' });
    ticks = factory.queue(QUEUE_NAMES.workflowTick);
    scrapes = factory.queue(QUEUE_NAMES.scrape);
    await platform.startWorker();
  });
  after(async () => {
    await ticks?.close();
    await scrapes?.close();
    await sandbox?.stop();
    await platform?.stop();
    await sink?.stop();
  });

  /** A free-plan user with a verified Xiaohongshu account and (the plan's one) notes workflow on it. */
  async function userWithWorkflow(name: string, options: { maxItems: number; schedule: unknown }) {
    const user = await platform.signUp(name);
    const profile = await platform.call('GET', '/api/v1/users/profile', { token: user.token });
    expect(profile.status, profile.text).to.equal(200);
    const email = profile.body.data.email as string;
    const cookies = `a1=${randomBytes(8).toString('hex')}; web_session=${randomBytes(12).toString('hex')}`;
    const connected = await platform.call('POST', '/api/v1/platform-accounts', {
      token: user.token,
      body: { platform: 'xiaohongshu', credentials: { cookies }, display_name: `${name}的号` },
    });
    expect(connected.status, connected.text).to.equal(201);
    const accountId = connected.body.data.id as string;
    const verified = await platform.call('POST', `/api/v1/platform-accounts/${accountId}/verify`, { token: user.token });
    expect(verified.body?.data, verified.text).to.include({ status: 'active' });
    const keyword = platform.sites.manifest.xiaohongshu.keyword;
    const created = await platform.call('POST', '/api/v1/workflows', {
      token: user.token,
      body: {
        name: `${keyword}笔记`,
        type: 'xiaohongshu.notes',
        config: { mode: 'keyword', keyword, maxItems: options.maxItems },
        platform_account_id: accountId,
        schedule: options.schedule,
      },
    });
    expect(created.status, created.text).to.equal(201);
    return { ...user, email, accountId, workflowId: created.body.data.id as string };
  }

  const executionEvents = (id: string) => platform.events(workflowExecutionStream(id));
  const untilEvent = (id: string, type: string, timeoutMs = 45_000) =>
    waitFor(`${type} of execution ${id}`, async () => ofType(await executionEvents(id), type).length > 0, timeoutMs, 100);

  async function execute(user: { token: string; workflowId: string }): Promise<string> {
    const r = await platform.call('POST', `/api/v1/workflows/${user.workflowId}/execute`, { token: user.token });
    expect(r.status, r.text).to.equal(202);
    return r.body.data.execution_id as string;
  }

  /** GET /workflows/executions/{id} once the read model shows `status` */
  async function shownExecution(token: string, id: string, status: string): Promise<any> {
    let shown: any;
    await waitFor(
      `execution ${id} shown ${status}`,
      async () => {
        shown = await platform.call('GET', `/api/v1/workflows/executions/${id}`, { token });
        return shown.body?.data?.status === status;
      },
      20_000,
      100,
    );
    return shown.body.data;
  }

  async function shownWorkflow(token: string, id: string, probe: (wf: any) => boolean, what: string): Promise<any> {
    let shown: any;
    await waitFor(
      what,
      async () => {
        shown = await platform.call('GET', `/api/v1/workflows/${id}`, { token });
        return shown.status === 200 && probe(shown.body.data);
      },
      20_000,
      100,
    );
    return shown.body.data;
  }

  const scheduler = (workflowId: string) => ticks.getJobScheduler(`workflow-${workflowId}`);

  /** the executions a schedule requested for the workflow, from the read model */
  async function scheduledExecutions(token: string, workflowId: string): Promise<any[]> {
    const r = await platform.call('GET', `/api/v1/workflows/${workflowId}/executions?per_page=100`, { token });
    expect(r.status, r.text).to.equal(200);
    return (r.body.data.items as any[]).filter((e) => e.trigger === 'schedule');
  }

  async function notification(token: string, kind: string, probe: (n: any) => boolean = () => true): Promise<any> {
    let found: any;
    await waitFor(
      `a ${kind} notification`,
      async () => {
        const r = await platform.call('GET', '/api/v1/notifications?per_page=100', { token });
        found = (r.body?.data?.items as any[] | undefined)?.find((n) => n.kind === kind && probe(n));
        return found !== undefined;
      },
      20_000,
      100,
    );
    return found;
  }

  it('(a) past the free daily quota: runs rejected, QuotaExceeded once, scheduled workflow paused and the user told; an Alipay upgrade resumes it and runs go again', async () => {
    // notes of 20: 1 search page + 20 details = 21 daily_api_calls a run; free allows 50 a day → two runs fit, the third does not
    const user = await userWithWorkflow('quota', { maxItems: 20, schedule: { kind: 'interval', every: 'daily' } });
    // the day's usage stream (today in QUOTA_TIME_ZONE, the default Asia/Shanghai): uses and refusals live there
    const subStream = subscriptionUsageStream(dailyUsageId(user.userId, 'xiaohongshu', quotaDay(new Date(), 'Asia/Shanghai').day));

    // the schedule's job scheduler exists and its first tick (at once) requests a run that the worker completes
    await waitFor('the job scheduler', async () => (await scheduler(user.workflowId)) !== undefined, 10_000, 50);
    // the scheduler comes from the events: the workflows' read model may not list the workflow yet
    await shownWorkflow(user.token, user.workflowId, () => true, 'the workflow in the read model');
    let ticked: any[] = [];
    await waitFor('the first scheduled execution', async () => (ticked = await scheduledExecutions(user.token, user.workflowId)).length === 1, 20_000, 100);
    const firstTick = ticked[0].id as string;
    await untilEvent(firstTick, 'ExecutionCompleted');
    expect(await shownExecution(user.token, firstTick, 'completed')).to.include({ item_count: 20, trigger: 'schedule' });

    // a manual run: 42 of 50 used
    const manual = await execute(user);
    await untilEvent(manual, 'ExecutionCompleted');
    expect(await shownExecution(user.token, manual, 'completed')).to.include({ item_count: 20 });
    const used = ofType(await platform.events(subStream), 'UsageRecorded').map((e) => (e.data as { amount: number }).amount);
    expect(used, 'each accepted run counted its calls once').to.deep.equal([21, 21]);

    // two more requests, both recorded before the dispatcher sees either (the consumers held), so the
    // quota pause cannot refuse the second one at the API: both must be rejected by the quota check
    await platform.stopConsumers();
    let over: string[];
    try {
      over = [await execute(user), await execute(user)];
    } finally {
      platform.startConsumers();
    }
    for (const id of over) {
      await untilEvent(id, 'ExecutionRejected', 20_000);
      const events = await executionEvents(id);
      expect(ofType(events, 'ExecutionRejected')[0]!.data).to.include({ reason: 'QUOTA_EXCEEDED' });
      expect(ofType(events, 'ExecutionStarted'), 'a rejected run never starts').to.have.length(0);
      expect(await scrapes.getJob(id), 'nor is it enqueued').to.equal(undefined);
      const shown = await shownExecution(user.token, id, 'rejected');
      expect(shown.rejection_reason).to.equal('QUOTA_EXCEEDED');
      expect(shown.rejection_details).to.include({ feature: 'daily_api_calls', limit: 50 });
    }
    const exceeded = ofType(await platform.events(subStream), 'QuotaExceeded');
    expect(exceeded, 'QuotaExceeded once for the day, however many runs are refused').to.have.length(1);
    expect(exceeded[0]!.data).to.include({ feature: 'daily_api_calls', kind: 'daily_counter', limit: 50, used: 42, requested: 21 });
    const resetsAt = (exceeded[0]!.data as { resetsAt: string }).resetsAt;
    expect(ofType(await platform.events(subStream), 'UsageRecorded'), 'nothing counted for refused runs').to.have.length(2);

    // the scheduled workflow is paused until the reset, its job scheduler gone, manual runs refused
    const paused = await shownWorkflow(user.token, user.workflowId, (wf) => wf.status === 'paused', 'the workflow paused');
    expect(paused.paused_for).to.deep.equal(['quota_exceeded']);
    expect(paused.pauses[0]).to.include({ reason: 'quota_exceeded', until: resetsAt, by: null });
    await waitFor('the job scheduler removed', async () => (await scheduler(user.workflowId)) === undefined, 10_000, 50);
    const refused = await platform.call('POST', `/api/v1/workflows/${user.workflowId}/execute`, { token: user.token });
    expect(refused.status, refused.text).to.equal(409);

    // the user is told: in-app, then by mail
    const told = await notification(user.token, 'quota_exceeded', (n) => n.emailed === true);
    expect(told.data).to.include({ service: 'xiaohongshu', feature: 'daily_api_calls', limit: 50, resetsAt });
    const mail = await sink.waitForMessage((m) => m.envelope.to.includes(user.email) && m.parsed.subject.includes('limit reached'), 10_000);
    expect(mail.parsed.text).to.include('50');
    expect(
      sink.messages.filter((m) => m.envelope.to.includes(user.email) && m.parsed.subject.includes('limit reached')),
      'mailed once',
    ).to.have.length(1);

    // upgrade to basic (500 a day): an order paid through the signed Alipay callback
    const order = await platform.call('POST', '/api/v1/payments/orders', {
      token: user.token,
      body: { service: 'xiaohongshu', plan: 'basic', billing_cycle: 'monthly', provider: 'alipay' },
    });
    expect(order.status, order.text).to.equal(201);
    const orderId = order.body.data.order_id as string;
    await fetch(order.body.data.pay_url);
    await sandbox.pay('alipay', orderId);
    const paid = await sandbox.waitForDelivery((d) => d.provider === 'alipay' && d.request.body.includes(orderId));
    expect(paid.status).to.equal(200);
    expect(paid.answer).to.equal('success');
    await waitFor(
      'SubscriptionUpgraded',
      async () => ofType(await platform.events(subscriptionStream(user.userId, 'xiaohongshu')), 'SubscriptionUpgraded').length === 1,
      20_000,
      100,
    );

    // the quota pause is lifted at once: active, the scheduler back, and its resume tick runs on the new plan
    const resumed = await shownWorkflow(user.token, user.workflowId, (wf) => wf.status === 'active', 'the workflow resumed');
    expect(resumed.paused_for).to.deep.equal([]);
    await waitFor('the job scheduler back', async () => (await scheduler(user.workflowId)) !== undefined, 10_000, 50);
    expect((await scheduler(user.workflowId))!.every).to.equal(24 * 3_600_000);
    await waitFor('the resume tick', async () => (ticked = await scheduledExecutions(user.token, user.workflowId)).length === 2, 20_000, 100);
    const resumeTick = ticked.map((e) => e.id as string).find((id) => id !== firstTick)!;
    await untilEvent(resumeTick, 'ExecutionCompleted');
    expect(await shownExecution(user.token, resumeTick, 'completed')).to.include({ item_count: 20 });

    // and a manual run is accepted and completes
    const after = await execute(user);
    await untilEvent(after, 'ExecutionCompleted');
    expect(await shownExecution(user.token, after, 'completed')).to.include({ item_count: 20 });
    const subscription = await platform.events(subStream);
    expect(ofType(subscription, 'UsageRecorded').map((e) => (e.data as { amount: number }).amount)).to.deep.equal([21, 21, 21, 21]);
    expect(ofType(subscription, 'QuotaExceeded'), 'still the one refusal').to.have.length(1);
  });

  it('(b) a login wall invalidates the account, fails the run without a retry, pauses its workflows and tells the owner', async () => {
    // notes of 5: 6 calls, well inside the free quota; a manual workflow (free plans have one)
    const user = await userWithWorkflow('wall', { maxItems: 5, schedule: null });
    platform.sites.setMode('xiaohongshu', 'login');
    let executionId: string;
    try {
      executionId = await execute(user);
      await untilEvent(executionId, 'ExecutionFailed');
    } finally {
      platform.sites.setMode('xiaohongshu', 'ok');
    }

    // one attempt, failed for good: no retry recorded, the job not retried by BullMQ either
    const events = await executionEvents(executionId);
    expect(ofType(events, 'ExecutionStarted'), 'one attempt').to.have.length(1);
    expect(ofType(events, 'ExecutionRetried')).to.have.length(0);
    expect(ofType(events, 'ItemsCollected')).to.have.length(0);
    expect(ofType(events, 'ExecutionFailed')[0]!.data).to.include({ attempt: 1 });
    // the worker records the failure, then BullMQ moves the job to failed: it may still be active for a moment
    expect(await scrapes.getJob(executionId), 'the scrape job').to.not.equal(undefined);
    await waitFor('the scrape job failed', async () => (await (await scrapes.getJob(executionId))!.getState()) === 'failed', 10_000, 50);
    const job = await scrapes.getJob(executionId);
    expect(job!.attemptsMade).to.equal(1);
    expect(await scrapes.getJob(`${executionId}.2`), 'no second attempt job').to.equal(undefined);
    const shown = await shownExecution(user.token, executionId, 'failed');
    expect(shown.attempt).to.equal(1);
    expect(shown.item_count).to.equal(0);

    // the account: AccountInvalidated (login_wall), shown invalid
    const invalidated = ofType(await platform.events(platformAccountStream(user.accountId)), 'AccountInvalidated');
    expect(invalidated).to.have.length(1);
    expect(invalidated[0]!.data).to.include({ reason: 'login_wall', accountId: user.accountId });
    let account: any;
    await waitFor(
      'the account shown invalid',
      async () => {
        account = (await platform.call('GET', `/api/v1/platform-accounts/${user.accountId}`, { token: user.token })).body?.data;
        return account?.status === 'invalid';
      },
      20_000,
      100,
    );
    expect(account.last_invalidation_reason).to.equal('login_wall');

    // the workflow that uses it is paused for that reason; a manual run is refused
    const paused = await shownWorkflow(user.token, user.workflowId, (wf) => wf.status === 'paused', 'the workflow paused');
    expect(paused.paused_for).to.deep.equal(['account_invalidated']);
    expect(paused.pauses[0]).to.include({ reason: 'account_invalidated', until: null, by: null });
    const refused = await platform.call('POST', `/api/v1/workflows/${user.workflowId}/execute`, { token: user.token });
    expect(refused.status, refused.text).to.equal(409);

    // the owner is told, in-app and by mail
    const told = await notification(user.token, 'account_invalidated', (n) => n.emailed === true);
    expect(told.data).to.include({ accountId: user.accountId, platform: 'xiaohongshu', reason: 'login_wall', accountName: 'wall的号' });
    const mail = await sink.waitForMessage((m) => m.envelope.to.includes(user.email) && m.parsed.subject.includes('stopped working'), 10_000);
    expect(mail.parsed.subject).to.include('wall的号');
    expect(mail.parsed.text).to.include('the platform asks to log in again');
  });
});

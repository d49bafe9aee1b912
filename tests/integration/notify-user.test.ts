import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { Mailer } from '../../src/application/ports/mailer.js';
import { createSmtpMailer } from '../../src/adapters/mail/smtp-mailer.js';
import { BullMqMailOutbox, createMailWorker, notificationMailJobId } from '../../src/adapters/queue/mail-queue.js';
import { QUEUE_NAMES, QueueFactory } from '../../src/adapters/queue/queues.js';
import type { NotificationMailJob } from '../../src/application/notification-mail.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { StreamNotFoundError } from '../../src/event-store/errors.js';
import { START } from '../../src/event-store/position.js';
import { createOrganization } from '../../src/application/organizations.js';
import { createNotifyUser, notificationIdFor } from '../../src/process-managers/notify-user.js';
import { applyEvent as applyNotificationEvent, createNotificationsProjection } from '../../src/projections/notifications.js';
import { resetCheckpoint } from '../../src/consumers/checkpoints.js';
import type { Consumer } from '../../src/consumers/consumer.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { notificationStream } from '../../src/write-model/notification/decider.js';
import type { NotificationSentData } from '../../src/write-model/notification/events.js';
import type { PaymentSucceededData } from '../../src/write-model/payment-order/events.js';
import type { AccountInvalidatedData } from '../../src/write-model/platform-account/events.js';
import type { QuotaExceededData } from '../../src/write-model/subscription-usage/events.js';
import { userAggregate } from '../../src/write-model/user/decider.js';
import type { ExecutionFailedData } from '../../src/write-model/workflow-execution/events.js';
import { testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';
import { SmtpSink } from '../support/smtp-sink.js';

const PROXY_PASSWORD = 'pr0xy-s3cret-pw';

describe('pm-notify-user and the mail outbox: inbox and mail for quota, account, execution and payment events', function () {
  this.timeout(40_000);
  let knex: Knex;
  let store: PostgresEventStore;
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  let sink: SmtpSink;
  let mailer: Mailer;
  let factory: QueueFactory;
  let mailQueue: ReturnType<QueueFactory['queue']>;
  let outbox: BullMqMailOutbox;
  const names: string[] = [];
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(async () => {
    // a schema of its own: "from the start" means only this test's events
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 5 });
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 5 } });
    sink = await new SmtpSink().start();
    mailer = createSmtpMailer({ url: sink.url, from: '"Collector" <no-reply@collector.test>' });
    // the real queue, under a prefix of its own; retries 100 ms apart so a test sees them
    factory = new QueueFactory({ redisUrl: testRedisUrl, prefix: `test-mail-${randomUUID().slice(0, 8)}` });
    mailQueue = factory.queue<NotificationMailJob>(QUEUE_NAMES.mail);
    outbox = new BullMqMailOutbox(mailQueue as never, { attempts: 20, backoffMs: 100 });
  });
  after(async () => {
    await knex('consumer_checkpoints').whereIn('consumer', names).delete();
    await mailQueue?.obliterate({ force: true }).catch(() => undefined);
    await mailQueue?.close();
    await mailer?.close();
    await sink?.stop();
    await store?.close();
    await knex?.destroy();
    await iso?.drop();
  });

  const uniqueName = (base: string) => {
    const name = `${base}-test-${randomUUID().slice(0, 8)}`;
    names.push(name);
    return name;
  };
  const runToHead = (consumer: Consumer) => runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, consumer);

  /** The worker's mail processor, sending through `through` until `done` holds (or the queue is empty). */
  async function sendQueued(through: Mailer, done?: () => Promise<boolean> | boolean): Promise<void> {
    // one at a time: the mails leave in the order they were queued
    const worker = createMailWorker(factory, { store, mailer: through, webUrl: 'https://app.collector.test', timeZone: 'Asia/Shanghai' }, { concurrency: 1 });
    try {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const counts = await mailQueue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        const pending = Object.values(counts).reduce((a, b) => a + b, 0);
        if (done ? await done() : pending === 0) return;
        if (Date.now() > deadline) throw new Error(`mail queue not drained: ${JSON.stringify(counts)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      await worker.close();
    }
  }

  async function streamOf(stream: string) {
    try {
      return await store.readStream(stream);
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
  }

  /** The notification streams an event gave its user (one stream per notification). */
  async function notificationsOf(userId: string, triggerIds: string[]) {
    return Promise.all(triggerIds.map((id) => streamOf(notificationStream(notificationIdFor(id, userId)))));
  }

  async function register(userId: string, email: string): Promise<void> {
    await handle(
      store,
      userAggregate,
      userId,
      {
        type: 'RegisterUser',
        userId,
        email,
        passwordHash: '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA',
        displayName: 'Ada',
        role: 'user',
        now: '2026-03-01T01:00:00.000Z',
      },
      { context },
    );
  }

  /** The four triggering events, with the data their aggregates record. */
  async function triggers(userId: string): Promise<{ ids: string[]; executionId: string }> {
    const subscriptionId = randomUUID();
    const accountId = randomUUID();
    const executionId = randomUUID();
    const orderId = randomUUID();
    const quota: QuotaExceededData = {
      subscriptionId,
      userId,
      service: 'xiaohongshu',
      plan: 'free',
      planChange: 0,
      feature: 'daily_api_calls',
      kind: 'daily_counter',
      limit: 100,
      used: 100,
      requested: 1,
      resourceId: null,
      day: '2026-03-02',
      resetsAt: '2026-03-02T16:00:00.000Z',
      exceededAt: '2026-03-02T09:00:00.000Z',
    };
    const invalidated: AccountInvalidatedData = {
      accountId,
      ownerId: userId,
      platform: 'xiaohongshu',
      reason: 'login_wall',
      detail: 'web_session=abc expired',
      source: 'verification',
      previousStatus: 'active',
      previousReason: null,
      requestedBy: null,
      invalidatedAt: '2026-03-02T10:00:00.000Z',
    };
    const failed: ExecutionFailedData = {
      executionId,
      workflowId: randomUUID(),
      ownerId: userId,
      reason: `proxy http://collector:${PROXY_PASSWORD}@127.0.0.1:8080 refused the tunnel`,
      attempt: 3,
      itemCount: 12,
      proxy: null,
      failedAt: '2026-03-02T11:00:00.000Z',
    };
    const paid: PaymentSucceededData = {
      orderId,
      userId,
      service: 'qidian',
      plan: 'pro',
      billingCycle: 'monthly',
      amountFen: 9900,
      provider: 'alipay',
      providerTradeNo: '2026030222001',
      paidAt: '2026-03-02T12:00:00.000Z',
    };
    const appended = [
      await store.append(`subscription-${userId}_xiaohongshu`, [{ id: randomUUID(), type: 'QuotaExceeded', data: quota as never, metadata: {} }], 'any'),
      await store.append(`platform_account-${accountId}`, [{ id: randomUUID(), type: 'AccountInvalidated', data: invalidated as never, metadata: {} }], 'any'),
      await store.append(`workflow_execution-${executionId}`, [{ id: randomUUID(), type: 'ExecutionFailed', data: failed as never, metadata: {} }], 'any'),
      await store.append(`payment-${orderId}`, [{ id: randomUUID(), type: 'PaymentSucceeded', data: paid as never, metadata: {} }], 'any'),
    ];
    expect(appended).to.have.length(4);
    const streams = [`subscription-${userId}_xiaohongshu`, `platform_account-${accountId}`, `workflow_execution-${executionId}`, `payment-${orderId}`];
    const ids = await Promise.all(streams.map(async (s) => (await store.readStream(s))[0]!.id));
    return { ids, executionId };
  }

  it('records one notification per event and mails each exactly once, even when run twice from the start', async () => {
    const userId = randomUUID();
    const email = `notify-${userId}@example.test`;
    await register(userId, email);
    const { ids } = await triggers(userId);
    const name = uniqueName('pm-notify-user');
    const pm = createNotifyUser({ store, outbox, timeZone: 'Asia/Shanghai' }, name);

    await runToHead(pm);
    // recorded at once; the mails wait in the outbox for the worker
    for (const stream of await notificationsOf(userId, ids)) expect(stream.map((e) => e.type)).to.deep.equal(['NotificationSent']);
    for (const id of ids) expect(await mailQueue.getJob(notificationMailJobId(notificationIdFor(id, userId)))).to.not.equal(undefined);
    await sendQueued(mailer);
    const streams = await notificationsOf(userId, ids);
    for (const stream of streams) expect(stream.map((e) => e.type)).to.deep.equal(['NotificationSent', 'NotificationEmailed']);
    const inbox = streams.flat();
    const sent = streams.map((stream) => stream[0]!.data as unknown as NotificationSentData);
    expect(sent.map((s) => s.kind)).to.deep.equal(['quota_exceeded', 'account_invalidated', 'execution_failed', 'payment_received']);
    expect(sent.map((s) => s.notificationId)).to.deep.equal(ids.map((id) => notificationIdFor(id, userId)));
    expect(sent.every((s) => s.userId === userId)).to.equal(true);
    // each carries the triggering event as causation
    expect(streams.map((stream) => stream[0]!.metadata.$causationId)).to.deep.equal(ids);
    expect(sent[0]!.data).to.include({ service: 'xiaohongshu', feature: 'daily_api_calls', limit: 100, resetsAt: '2026-03-02T16:00:00.000Z' });
    expect(sent[3]!.data).to.include({ orderId: sent[3]!.data.orderId, amountFen: 9900 });
    expect(sent[3]!.data).not.to.have.property('providerTradeNo');

    const mine = () => sink.messages.filter((m) => m.envelope.to.includes(email));
    expect(mine()).to.have.length(4);
    const subjects = mine().map((m) => m.parsed.subject);
    expect(subjects[0]).to.include('每日调用次数已达上限').and.to.include('daily API calls limit reached');
    expect(subjects[1]).to.include('账号').and.to.include('stopped working');
    expect(subjects[2]).to.include('执行失败').and.to.include('failed');
    expect(subjects[3]).to.include('¥99.00');
    expect(mine()[0]!.parsed.text).to.include('2026/03/03 00:00').and.to.include('https://app.collector.test/notifications');
    expect(mine()[3]!.parsed.html).to.include('href="https://app.collector.test/notifications"');
    // the proxy password in the failure reason, and the account's detail, reach neither the inbox nor a mail
    for (const text of [JSON.stringify(inbox.map((e) => e.data)), ...mine().map((m) => m.raw)]) {
      expect(text).not.to.include(PROXY_PASSWORD);
      expect(text).not.to.include('web_session');
    }
    expect(mine()[2]!.parsed.text).to.include('http://***@127.0.0.1:8080');
    const emailedIds = inbox.filter((e) => e.type === 'NotificationEmailed').map((e) => (e.data as { messageId: string }).messageId);
    expect(emailedIds.sort()).to.deep.equal(
      mine()
        .map((m) => m.parsed.messageId)
        .sort(),
    );

    // from the start again: nothing appended, nothing queued, nothing mailed
    await resetCheckpoint(knex, name, START);
    await runToHead(pm);
    await sendQueued(mailer);
    expect((await notificationsOf(userId, ids)).flat()).to.have.length(8);
    expect(mine()).to.have.length(4);

    // and the projection shows them, newest first, mailed
    const projection = createNotificationsProjection(uniqueName('notifications-v1'));
    await runToHead(projection);
    const rows = await knex('notifications').where({ user_id: userId }).orderBy('created_at', 'desc');
    expect(rows.map((r) => r.kind)).to.deep.equal(['payment_received', 'execution_failed', 'account_invalidated', 'quota_exceeded']);
    expect(rows.every((r) => r.emailed_at !== null && r.read_at === null)).to.equal(true);
    // applied again (a redelivery): nothing changes
    for (const event of inbox) await applyNotificationEvent(knex, event);
    expect(await knex('notifications').where({ user_id: userId }).orderBy('created_at', 'desc')).to.deep.equal(rows);
    await knex('notifications').where({ user_id: userId }).delete();
  });

  it("follows the user's notification preferences: mail only, in the app only, or not at all", async () => {
    const userId = randomUUID();
    const email = `prefs-${userId}@example.test`;
    await register(userId, email);
    await handle(
      store,
      userAggregate,
      userId,
      {
        type: 'UpdateProfile',
        userId,
        notificationPreferences: {
          quota_exceeded: { inApp: false, mail: true },
          account_invalidated: { inApp: true, mail: false },
          execution_failed: { inApp: false, mail: false },
        },
        now: '2026-03-01T02:00:00.000Z',
      },
      { context },
    );
    const { ids } = await triggers(userId);
    const name = uniqueName('pm-notify-user');
    await runToHead(createNotifyUser({ store, outbox, timeZone: 'Asia/Shanghai' }, name));
    const [quota, account, execution, payment] = await notificationsOf(userId, ids);
    expect((quota![0]!.data as unknown as NotificationSentData).channels).to.deep.equal({ inApp: false, mail: true });
    expect((account![0]!.data as unknown as NotificationSentData).channels).to.deep.equal({ inApp: true, mail: false });
    expect(execution, 'wanted on no channel: not recorded').to.deep.equal([]);
    expect((payment![0]!.data as unknown as NotificationSentData).channels, 'a kind never set: both').to.deep.equal({ inApp: true, mail: true });
    // only the kinds wanted by mail are queued and mailed
    expect(await mailQueue.getJob(notificationMailJobId(notificationIdFor(ids[1]!, userId)))).to.equal(undefined);
    await sendQueued(mailer);
    const mine = sink.messages.filter((m) => m.envelope.to.includes(email)).map((m) => m.parsed.subject);
    expect(mine).to.have.length(2);
    expect(mine[0]).to.include('每日调用次数已达上限');
    expect(mine[1]).to.include('¥99.00');
    // only the kinds wanted in the app are listed
    const projection = createNotificationsProjection(uniqueName('notifications-v1'));
    await runToHead(projection);
    const rows = await knex('notifications').where({ user_id: userId }).orderBy('created_at', 'asc');
    expect(rows.map((r) => r.kind)).to.deep.equal(['account_invalidated', 'payment_received']);
    await knex('notifications').where({ user_id: userId }).delete();
  });

  it('with the relay down the process manager records and queues without waiting; the worker retries and mails once the relay is back', async () => {
    const userId = randomUUID();
    const email = `retry-${userId}@example.test`;
    await register(userId, email);
    const orderId = randomUUID();
    const paid: PaymentSucceededData = {
      orderId,
      userId,
      service: 'xiaohongshu',
      plan: 'basic',
      billingCycle: 'yearly',
      amountFen: 19900,
      provider: 'wechat',
      providerTradeNo: 'wx-1',
      paidAt: '2026-03-03T12:00:00.000Z',
    };
    await store.append(`payment-${orderId}`, [{ id: randomUUID(), type: 'PaymentSucceeded', data: paid as never, metadata: {} }], 'no_stream');
    const events = await store.readStream(`payment-${orderId}`);
    const notificationId = notificationIdFor(events[0]!.id, userId);
    const notification = notificationStream(notificationId);

    // the consumer's batch goes through at its own pace: no SMTP in it
    const started = Date.now();
    await createNotifyUser({ store, outbox }, uniqueName('pm-notify-user')).handle(events, { tx: undefined as never });
    expect(Date.now() - started).to.be.below(1_000);
    expect((await streamOf(notification)).map((e) => e.type)).to.deep.equal(['NotificationSent']);

    // a relay that is not there: connection refused, again and again
    const deadSink = await new SmtpSink().start();
    const deadUrl = deadSink.url;
    await deadSink.stop();
    const deadMailer = createSmtpMailer({ url: deadUrl, from: 'no-reply@collector.test', connectionTimeoutMs: 2_000 });
    try {
      await sendQueued(deadMailer, async () => ((await mailQueue.getJob(notificationMailJobId(notificationId)))?.attemptsMade ?? 0) >= 2);
    } finally {
      await deadMailer.close();
    }
    const job = await mailQueue.getJob(notificationMailJobId(notificationId));
    expect(job?.failedReason).to.match(/connection failed/);
    expect(await job?.getState()).to.be.oneOf(['delayed', 'waiting']);
    expect((await streamOf(notification)).map((e) => e.type)).to.deep.equal(['NotificationSent']);

    // the relay is back: the next try sends it, once
    await sendQueued(mailer);
    expect((await streamOf(notification)).map((e) => e.type)).to.deep.equal(['NotificationSent', 'NotificationEmailed']);
    expect(sink.messages.filter((m) => m.envelope.to.includes(email))).to.have.length(1);
  });

  it('skips (and does not retry) a mail the relay refuses for its recipient; the notification stays', async () => {
    // a real relay that refuses every recipient with 550
    const refusing = new SMTPServer({
      secure: false,
      disabledCommands: ['STARTTLS'],
      authOptional: true,
      logger: false,
      onRcptTo: (_address, _session, callback) => callback(Object.assign(new Error('mailbox unavailable'), { responseCode: 550 })),
    });
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', () => resolve()));
    const port = (refusing.server.address() as AddressInfo).port;
    const refusingMailer = createSmtpMailer({ url: `smtp://127.0.0.1:${port}`, from: 'no-reply@collector.test' });
    try {
      const userId = randomUUID();
      await register(userId, `refused-${userId}@example.test`);
      await triggers(userId);
      const quota = await streamOf(`subscription-${userId}_xiaohongshu`);
      await createNotifyUser({ store, outbox }, uniqueName('pm-notify-user')).handle(quota, { tx: undefined as never });
      await sendQueued(refusingMailer);
      const job = await mailQueue.getJob(notificationMailJobId(notificationIdFor(quota[0]!.id, userId)));
      expect(await job?.getState()).to.equal('completed');
      expect(job?.returnvalue).to.equal('refused');
      expect(job?.attemptsMade, 'not retried').to.equal(1);
      expect((await streamOf(notificationStream(notificationIdFor(quota[0]!.id, userId)))).map((e) => e.type)).to.deep.equal(['NotificationSent']);
    } finally {
      await refusingMailer.close();
      await new Promise<void>((resolve) => refusing.close(() => resolve()));
    }
  });

  it('notifies in-app only when there is no outbox or the user is not registered', async () => {
    const ghost = randomUUID();
    const orderId = randomUUID();
    await store.append(
      `payment-${orderId}`,
      [
        {
          id: randomUUID(),
          type: 'PaymentSucceeded',
          data: {
            orderId,
            userId: ghost,
            service: 'qidian',
            plan: 'basic',
            billingCycle: 'monthly',
            amountFen: 100,
            provider: 'alipay',
            providerTradeNo: 't',
            paidAt: '2026-03-04T00:00:00.000Z',
          } as never,
          metadata: {},
        },
      ],
      'no_stream',
    );
    const events = await store.readStream(`payment-${orderId}`);
    const before = sink.messages.length;
    await createNotifyUser({ store, outbox }, uniqueName('pm-notify-user')).handle(events, { tx: undefined as never });
    await sendQueued(mailer);
    expect((await mailQueue.getJob(notificationMailJobId(notificationIdFor(events[0]!.id, ghost))))?.returnvalue).to.equal('user-inactive');
    expect((await streamOf(notificationStream(notificationIdFor(events[0]!.id, ghost)))).map((e) => e.type)).to.deep.equal(['NotificationSent']);
    expect(sink.messages.length).to.equal(before);

    const userId = randomUUID();
    await register(userId, `nomail-${userId}@example.test`);
    await triggers(userId);
    const quota = await streamOf(`subscription-${userId}_xiaohongshu`);
    await createNotifyUser({ store }, uniqueName('pm-notify-user')).handle(quota, { tx: undefined as never });
    expect((await streamOf(notificationStream(notificationIdFor(quota[0]!.id, userId)))).map((e) => e.type)).to.deep.equal(['NotificationSent']);
    expect(sink.messages.length).to.equal(before);
  });
  it("tells the organization's owner of what befalls a resource the organization owns", async () => {
    const founder = randomUUID();
    await register(founder, `founder-${founder}@example.test`);
    const { organizationId } = await createOrganization({ store }, { userId: founder, name: 'Holders', context });
    const { ids } = await triggers(organizationId);
    const [, invalidated, failed] = ids as [string, string, string, string];
    // this schema holds this suite's events alone
    const wanted = (await store.readAll({ fromPosition: START, maxCount: 100_000 })).filter((e) => e.id === invalidated || e.id === failed);
    expect(wanted).to.have.length(2);
    await createNotifyUser({ store }, uniqueName('pm-notify-user')).handle(wanted, { tx: undefined as never });
    for (const id of [invalidated, failed]) {
      const sent = await streamOf(notificationStream(notificationIdFor(id, founder)));
      expect(sent.map((e) => e.type)).to.deep.equal(['NotificationSent']);
      expect((sent[0]!.data as unknown as NotificationSentData).userId).to.equal(founder);
      // nobody signs in as the organization: nothing is recorded for its id
      expect(await streamOf(notificationStream(notificationIdFor(id, organizationId)))).to.deep.equal([]);
    }
  });
});

import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { createUsageStatisticsProjection, usageStatisticsProjection } from '../../src/projections/usage-statistics.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { asRebuildReads, projectionSpec, recorded } from '../support/projection-spec.js';

/** An event committed at its own time (the hourly window is cut by commit times). */
const at = (stream: string, type: string, data: Record<string, unknown>, time: string) => recorded(stream, type, data, { created: new Date(time) });

describe('usage-statistics-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const daily = (tx: Knex.Transaction, userId: string) =>
    tx('usage_statistics_daily')
      .where({ user_id: userId })
      .select(knex.raw("to_char(day, 'YYYY-MM-DD') AS day"), 'platform', 'country', 'account_id', 'workflow_id', 'channel', 'metric', 'value')
      .orderBy(['day', 'channel', 'metric', 'country', 'workflow_id']);
  const hourly = (tx: Knex.Transaction, userId: string) =>
    tx('usage_statistics_hourly').where({ user_id: userId }).select('hour', 'channel', 'metric', 'country', 'value').orderBy(['hour', 'metric', 'country']);

  function collection(owner: string) {
    const proxyId = randomUUID();
    const e1 = randomUUID();
    const e2 = randomUUID();
    const s1 = `workflow_execution-${e1}`;
    const s2 = `workflow_execution-${e2}`;
    const requested = (executionId: string, workflowId: string, extra: Record<string, unknown>, time: string) => ({
      executionId,
      workflowId,
      ownerId: owner,
      platform: 'xiaohongshu',
      type: 'xiaohongshu.notes',
      config: {},
      platformAccountId: 'acc-1',
      trigger: 'schedule',
      requestedBy: null,
      ...extra,
      requestedAt: time,
    });
    const item = (id: string) => ({ platformContentId: id, kind: 'xiaohongshu.note', data: {} });
    return [
      at(
        `proxy-${proxyId}`,
        'ProxyRegistered',
        {
          proxyId,
          host: '10.0.0.1',
          port: 8080,
          protocol: 'http',
          credentials: null,
          country: 'jp',
          region: null,
          provider: null,
          registeredBy: 'admin',
          registeredAt: '2026-12-01T00:00:00.000Z',
        },
        '2026-12-01T00:00:00.000Z',
      ),
      // 10:15Z on the 3rd is 18:15 in Shanghai: the 3rd
      at(s1, 'ExecutionRequested', requested(e1, 'wf-1', {}, '2026-12-03T10:15:00.000Z'), '2026-12-03T10:15:00.000Z'),
      at(
        s1,
        'ProxyAssigned',
        { executionId: e1, workflowId: 'wf-1', proxyId, leaseId: 'l1', reason: 'initial', previous: null, assignedAt: '2026-12-03T10:15:01.000Z' },
        '2026-12-03T10:15:01.000Z',
      ),
      at(
        s1,
        'ItemsCollected',
        {
          executionId: e1,
          workflowId: 'wf-1',
          ownerId: owner,
          platform: 'xiaohongshu',
          type: 'xiaohongshu.notes',
          platformAccountId: 'acc-1',
          batchId: 'b1',
          attempt: 1,
          items: [item('n1'), item('n2'), item('n3')],
          cursor: null,
          itemCount: 3,
          collectedAt: '2026-12-03T10:16:00.000Z',
        },
        '2026-12-03T10:16:00.000Z',
      ),
      at(
        s1,
        'ExecutionCompleted',
        {
          executionId: e1,
          workflowId: 'wf-1',
          ownerId: owner,
          itemCount: 3,
          attempt: 1,
          proxy: { proxyId, leaseId: 'l1' },
          completedAt: '2026-12-03T10:17:00.000Z',
        },
        '2026-12-03T10:17:00.000Z',
      ),
      // 17:00Z on the 3rd is 01:00 on the 4th in Shanghai; no proxy yet: the workflow's region is its country
      at(
        s2,
        'ExecutionRequested',
        requested(e2, 'wf-2', { proxyRegion: 'US', platformAccountId: null }, '2026-12-03T17:00:00.000Z'),
        '2026-12-03T17:00:00.000Z',
      ),
      at(
        s2,
        'ExecutionFailed',
        { executionId: e2, workflowId: 'wf-2', ownerId: owner, reason: 'captcha', attempt: 1, itemCount: 0, proxy: null, failedAt: '2026-12-03T17:05:00.000Z' },
        '2026-12-03T17:05:00.000Z',
      ),
    ];
  }

  it('collection runs: requested, completed, failed and items by day (QUOTA_TIME_ZONE), platform, account, workflow and proxy country (and so from what a rebuild reads)', async () => {
    const owner = randomUUID();
    const whole = collection(owner);
    // a rebuild reads ItemsCollected as its count of items
    const read = await asRebuildReads(knex, usageStatisticsProjection, whole);
    const counted = read.find((e) => e.type === 'ItemsCollected')!.data as Record<string, unknown>;
    expect(counted).to.include({ batchItemCount: 3, ownerId: owner, platform: 'xiaohongshu', platformAccountId: 'acc-1', workflowId: 'wf-1' });
    expect(counted).not.to.have.property('items');
    const c = { platform: 'xiaohongshu', channel: 'collection' };
    const expected = [
      // assigned the JP proxy before collecting: items and completion count for JP, the request (no region) for none
      { day: '2026-12-03', ...c, country: 'JP', account_id: 'acc-1', workflow_id: 'wf-1', metric: 'items_collected', value: '3' },
      { day: '2026-12-03', ...c, country: 'JP', account_id: 'acc-1', workflow_id: 'wf-1', metric: 'runs_completed', value: '1' },
      { day: '2026-12-03', ...c, country: '', account_id: 'acc-1', workflow_id: 'wf-1', metric: 'runs_requested', value: '1' },
      { day: '2026-12-04', ...c, country: 'US', account_id: '', workflow_id: 'wf-2', metric: 'runs_failed', value: '1' },
      { day: '2026-12-04', ...c, country: 'US', account_id: '', workflow_id: 'wf-2', metric: 'runs_requested', value: '1' },
    ];
    for (const events of [whole, read])
      for (const batchSize of [500, 3, 1])
        await projectionSpec(knex, usageStatisticsProjection, { batchSize })
          .given(events)
          .thenQuery((tx) => daily(tx, owner), expected);
  });

  it('the day follows the configured time zone', async () => {
    const owner = randomUUID();
    const utc = createUsageStatisticsProjection({ timeZone: 'UTC' });
    await projectionSpec(knex, utc)
      .given(collection(owner))
      .thenQuery(async (tx) => (await daily(tx, owner)).filter((r: any) => r.metric === 'runs_requested').map((r: any) => r.day), ['2026-12-03', '2026-12-03']);
  });

  it('sms by destination country: requested, sent with its segments, delivered, undelivered, failed', async () => {
    const owner = randomUUID();
    const [m1, m2, m3] = [randomUUID(), randomUUID(), randomUUID()];
    const T = '2026-12-03T02:00:00.000Z';
    const request = (id: string, country: string, segments: number) =>
      at(
        `sms_message-${id}`,
        'SmsRequested',
        {
          messageId: id,
          ownerId: owner,
          to: '+447700900123',
          country,
          callingCode: '44',
          text: 'hello',
          encoding: 'GSM-7',
          segments,
          unitPriceFen: 30,
          priceFen: 30 * segments,
          requestedAt: T,
        },
        T,
      );
    const sent = (id: string) =>
      at(
        `sms_message-${id}`,
        'SmsSent',
        {
          messageId: id,
          ownerId: owner,
          providerMessageId: `SM-${id}`,
          senderNumber: null,
          providerPriceMicros: null,
          providerCurrency: null,
          sentAt: T,
          source: 'send',
          recordedAt: T,
        },
        T,
      );
    const events = [
      request(m1, 'GB', 2),
      sent(m1),
      at(
        `sms_message-${m1}`,
        'SmsDelivered',
        { messageId: m1, ownerId: owner, providerMessageId: `SM-${m1}`, receiptId: 'r1', deliveredAt: T, recordedAt: T },
        T,
      ),
      request(m2, 'GB', 3),
      sent(m2),
      at(
        `sms_message-${m2}`,
        'SmsUndelivered',
        {
          messageId: m2,
          ownerId: owner,
          providerMessageId: `SM-${m2}`,
          receiptId: 'r2',
          errorCode: 'ABSENT_SUBSCRIBER',
          errorReason: 'off',
          doneAt: T,
          recordedAt: T,
        },
        T,
      ),
      request(m3, 'CN', 1),
      at(`sms_message-${m3}`, 'SmsFailed', { messageId: m3, ownerId: owner, code: 'invalid_number', reason: 'bad', failedAt: T }, T),
    ];
    const row = (country: string, metric: string, value: string) => ({
      day: '2026-12-03',
      platform: '',
      country,
      account_id: '',
      workflow_id: '',
      channel: 'sms',
      metric,
      value,
    });
    for (const batchSize of [500, 1])
      await projectionSpec(knex, usageStatisticsProjection, { batchSize })
        .given(events)
        .thenQuery(
          (tx) => daily(tx, owner),
          [
            row('GB', 'sms_delivered', '1'),
            row('CN', 'sms_failed', '1'),
            row('CN', 'sms_requested', '1'),
            row('GB', 'sms_requested', '2'),
            row('GB', 'sms_segments', '5'),
            row('GB', 'sms_sent', '2'),
            row('GB', 'sms_undelivered', '1'),
          ],
        );
  });

  it('publications, private messages and payments', async () => {
    const owner = randomUUID();
    const [pub, msg, order] = [randomUUID(), randomUUID(), randomUUID()];
    const T = '2026-12-02T03:00:00.000Z';
    const ref = { publicationId: pub, ownerId: owner, articleId: 'art-1', accountId: 'acc-9', platform: 'baidu' };
    const events = [
      at(`publication-${pub}`, 'PublicationPublished', { ...ref, postId: 'p', url: 'https://x.test/p', publishedAt: T, recovered: false, recordedAt: T }, T),
      at(
        `outgoing_message-${msg}`,
        'MessageSendRequested',
        {
          messageId: msg,
          ownerId: owner,
          platform: 'xiaohongshu',
          platformAccountId: 'acc-2',
          conversationId: 'c1',
          peerId: null,
          text: 'hi',
          clientMessageId: 'cm1',
          requestedAt: T,
        },
        T,
      ),
      at(
        `outgoing_message-${msg}`,
        'MessageSent',
        {
          messageId: msg,
          ownerId: owner,
          platformAccountId: 'acc-2',
          platformMessageId: 'pm1',
          conversationId: 'c1',
          peerId: null,
          sentAt: T,
          recovered: false,
          recordedAt: T,
        },
        T,
      ),
      at(
        `payment-${order}`,
        'PaymentSucceeded',
        {
          orderId: order,
          userId: owner,
          service: 'qidian',
          plan: 'enterprise',
          billingCycle: 'monthly',
          amountFen: 99900,
          provider: 'wechat',
          providerTradeNo: 'T1',
          paidAt: T,
        },
        T,
      ),
    ];
    const row = (platform: string, account: string, channel: string, metric: string, value: string) => ({
      day: '2026-12-02',
      platform,
      country: '',
      account_id: account,
      workflow_id: '',
      channel,
      metric,
      value,
    });
    await projectionSpec(knex, usageStatisticsProjection)
      .given(events)
      .thenQuery(
        (tx) => daily(tx, owner),
        [
          row('xiaohongshu', 'acc-2', 'private_message', 'messages_sent', '1'),
          row('baidu', 'acc-9', 'publishing', 'publications_published', '1'),
          row('qidian', '', 'wechat', 'payment_amount_fen', '99900'),
          row('qidian', '', 'wechat', 'payments_succeeded', '1'),
        ],
      );
  });

  it('hourly counters keep a rolling window of 48 hours (cut at the newest commit), the daily rollups everything', async () => {
    const owner = randomUUID();
    const old = randomUUID();
    const recent = randomUUID();
    const run = (id: string, time: string) =>
      at(
        `workflow_execution-${id}`,
        'ExecutionRequested',
        {
          executionId: id,
          workflowId: 'wf',
          ownerId: owner,
          platform: 'qidian',
          type: 'qidian.rankings',
          config: {},
          platformAccountId: null,
          trigger: 'manual',
          requestedBy: owner,
          requestedAt: time,
        },
        time,
      );
    const events = [run(old, '2026-11-28T09:30:00.000Z'), run(recent, '2026-12-01T09:30:00.000Z')];
    await projectionSpec(knex, usageStatisticsProjection)
      .given(events)
      .thenQuery(async (tx) => ({ hourly: await hourly(tx, owner), days: (await daily(tx, owner)).map((r: any) => r.day) }), {
        hourly: [{ hour: '2026-12-01T09:00:00.000Z', channel: 'collection', metric: 'runs_requested', country: '', value: '1' }],
        days: ['2026-11-28', '2026-12-01'],
      });
    // one at a time: the old hour is written, then cut when the newer batch comes
    await projectionSpec(knex, usageStatisticsProjection, { batchSize: 1 })
      .given(events)
      .thenQuery((tx) => hourly(tx, owner), [{ hour: '2026-12-01T09:00:00.000Z', channel: 'collection', metric: 'runs_requested', country: '', value: '1' }]);
  });
});

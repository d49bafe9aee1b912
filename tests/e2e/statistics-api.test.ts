import { expect } from 'chai';
import ExcelJS from 'exceljs';
import type { Queue, Worker } from 'bullmq';
import type { Container } from 'inversify';
import type { Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { BullMqMailOutbox, mailRetryPolicy } from '../../src/adapters/queue/mail-queue.js';
import { QUEUE_NAMES, QueueFactory } from '../../src/adapters/queue/queues.js';
import { createReportsWorker } from '../../src/adapters/queue/reports-queue.js';
import { LOGIN_IP_PREFIX } from '../../src/adapters/rate-limit/login-rate-limit.js';
import { createApiApp } from '../../src/api-app.js';
import { quotaDay } from '../../src/application/quota-day.js';
import type { Config } from '../../src/config.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import type { EventStore } from '../../src/event-store/index.js';
import { comparePositions, formatPosition, type Position } from '../../src/event-store/position.js';
import { statisticsExportsProjection } from '../../src/projections/statistics-exports.js';
import { createUsageStatisticsProjection } from '../../src/projections/usage-statistics.js';
import { TOKENS } from '../../src/tokens.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { proxyAggregate } from '../../src/write-model/proxy/decider.js';
import { workflowExecutionAggregate, type WorkflowExecutionCommand } from '../../src/write-model/workflow-execution/index.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { waitFor } from '../support/wait-for.js';

const LOCAL_IP_KEYS = ['127.0.0.1', '::ffff:127.0.0.1', '::1'].map((ip) => `${LOGIN_IP_PREFIX}:${ip}`);
const PASSWORD = 'usage statistics password';
const DAY_MS = 86_400_000;

/**
 * /api/v1/statistics on the production app over a real socket: events into
 * the store (through the aggregates, SMS appended as the SMS aggregate
 * records them), the usage-statistics-v1 and statistics-exports-v1
 * projections running, and the reports worker (BullMQ, in-process) making
 * the export files.
 */
describe('usage statistics API and exports (e2e, production app)', function () {
  this.timeout(120_000);
  let container: Container;
  let config: Config;
  let store: EventStore;
  let knex: Knex;
  let running: RunningServer;
  let factory: QueueFactory;
  let reportsWorker: Worker;
  let mailQueue: Queue | undefined;
  const runners: ConsumerRunner[] = [];
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  let last: Position | undefined;
  const track = (p: Position | undefined) => {
    if (p && (!last || comparePositions(p, last) > 0)) last = p;
  };

  async function call(method: string, path: string, options: { token?: string; body?: unknown } = {}) {
    const headers: Record<string, string> = {};
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    const res = await fetch(`${running.url}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
    const bytes = Buffer.from(await res.arrayBuffer());
    const text = bytes.toString('utf8');
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { res, status: res.status, text, body, bytes };
  }

  async function user(name: string): Promise<{ userId: string; token: string }> {
    const email = `${name}-${randomUUID()}@example.test`;
    const registered = await call('POST', '/api/v1/auth/register', { body: { email, password: PASSWORD, display_name: name } });
    expect(registered.status, registered.text).to.equal(201);
    const login = await call('POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
    expect(login.status, login.text).to.equal(200);
    return { userId: registered.body.data.user_id, token: login.body.data.access_token };
  }

  async function run(commands: WorkflowExecutionCommand[]): Promise<void> {
    for (const c of commands) track((await handle(store, workflowExecutionAggregate, c.executionId, c, { context })).position);
  }

  function execution(
    ownerId: string,
    platform: 'xiaohongshu' | 'qidian',
    at: Date,
    outcome: { items?: number; fail?: boolean; proxyId?: string; region?: string },
  ): WorkflowExecutionCommand[] {
    const executionId = randomUUID();
    const now = at.toISOString();
    const commands: WorkflowExecutionCommand[] = [
      {
        type: 'RequestExecution',
        executionId,
        workflowId: `wf-${platform}`,
        ownerId,
        platform,
        workflowType: platform === 'xiaohongshu' ? 'xiaohongshu.notes' : 'qidian.rankings',
        config: {},
        platformAccountId: platform === 'xiaohongshu' ? 'acc-x' : null,
        trigger: 'schedule',
        requestedBy: null,
        ...(outcome.region ? { proxyRegion: outcome.region } : {}),
        now,
      },
    ];
    if (outcome.proxyId) commands.push({ type: 'AssignProxy', executionId, proxyId: outcome.proxyId, leaseId: 'lease', reason: 'initial', now });
    commands.push({ type: 'StartExecution', executionId, workerId: 'w', now });
    if (outcome.items)
      commands.push({
        type: 'CollectItems',
        executionId,
        batchId: 'b1',
        items: Array.from({ length: outcome.items }, (_, i) => ({ platformContentId: `n${i}`, kind: 'xiaohongshu.note', data: {} })),
        cursor: null,
        now,
      });
    commands.push(outcome.fail ? { type: 'FailExecution', executionId, reason: 'captcha', now } : { type: 'CompleteExecution', executionId, now });
    return commands;
  }

  async function sms(ownerId: string, country: string, segments: number, at: Date): Promise<void> {
    const messageId = randomUUID();
    const t = at.toISOString();
    const result = await store.append(
      `sms_message-${messageId}`,
      [
        {
          id: randomUUID(),
          type: 'SmsRequested',
          data: {
            messageId,
            ownerId,
            to: '+447700900123',
            country,
            callingCode: '44',
            text: 'hello',
            encoding: 'GSM-7',
            segments,
            unitPriceFen: 30,
            priceFen: 30 * segments,
            requestedAt: t,
          },
        },
        {
          id: randomUUID(),
          type: 'SmsSent',
          data: {
            messageId,
            ownerId,
            providerMessageId: `SM-${messageId}`,
            senderNumber: null,
            providerPriceMicros: null,
            providerCurrency: null,
            sentAt: t,
            source: 'send',
            recordedAt: t,
          },
        },
      ],
      'no_stream',
    );
    track(result.position);
  }

  let alice: { userId: string; token: string };
  let bob: { userId: string; token: string };
  let today: string;
  let yesterday: string;
  const caughtUp = () => `after_position=${formatPosition(last!)}`;

  before(async () => {
    config = testConfig({ LOGIN_RATE_LIMIT_PER_IP: '10000', QUEUE_PREFIX: `test-statistics-${randomUUID().slice(0, 8)}` });
    container = await buildContainer(config);
    store = container.get(TOKENS.EventStore);
    knex = container.get(TOKENS.Knex);
    for (const projection of [createUsageStatisticsProjection({ timeZone: config.QUOTA_TIME_ZONE }), statisticsExportsProjection]) {
      const runner = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl }, projection, { idleCheckpointMs: 100, lockRetryMs: 100 });
      runner.start();
      runners.push(runner);
    }
    running = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
    factory = new QueueFactory({ redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX });
    mailQueue = factory.queue(QUEUE_NAMES.mail);
    reportsWorker = createReportsWorker(factory, { store, knex, mail: new BullMqMailOutbox(mailQueue as never, mailRetryPolicy(config)) });

    alice = await user('alice');
    bob = await user('bob');
    const now = new Date();
    today = quotaDay(now, config.QUOTA_TIME_ZONE).day;
    const dayBefore = new Date(now.getTime() - DAY_MS);
    yesterday = quotaDay(dayBefore, config.QUOTA_TIME_ZONE).day;

    const proxyId = randomUUID();
    track(
      (
        await handle(
          store,
          proxyAggregate,
          proxyId,
          {
            type: 'RegisterProxy',
            proxyId,
            host: '10.9.9.9',
            port: 3128,
            protocol: 'http',
            credentials: null,
            country: 'JP',
            region: null,
            provider: null,
            registeredBy: 'admin',
            now: now.toISOString(),
          },
          { context },
        )
      ).position,
    );
    // alice today: a Xiaohongshu run through the JP proxy (2 items), a Qidian run that fails; yesterday: a Qidian run
    await run(execution(alice.userId, 'xiaohongshu', now, { items: 2, proxyId, region: 'JP' }));
    await run(execution(alice.userId, 'qidian', now, { fail: true }));
    await run(execution(alice.userId, 'qidian', dayBefore, {}));
    await sms(alice.userId, 'GB', 2, now);
    // bob's, which alice never sees
    await run(execution(bob.userId, 'xiaohongshu', now, { items: 5 }));
  });

  after(async () => {
    await reportsWorker?.close();
    if (running) await closeServer(running.server);
    for (const runner of runners) await runner.stop();
    await mailQueue?.close();
    if (container) {
      await container.get(TOKENS.Redis).del(...LOCAL_IP_KEYS);
      await disposeContainer(container);
    }
  });

  const METRICS = 'runs_requested,runs_completed,runs_failed,items_collected,sms_sent,sms_segments';

  it('groups the owner’s statistics by day, platform and country, with totals; another owner’s stay out', async () => {
    const r = await call('GET', `/api/v1/statistics?from=${yesterday}&to=${today}&metrics=${METRICS}&group_by=day,platform,country&${caughtUp()}`, {
      token: alice.token,
    });
    expect(r.status, r.text).to.equal(200);
    const m = (values: Partial<Record<string, number>>) => ({
      runs_requested: 0,
      runs_completed: 0,
      runs_failed: 0,
      items_collected: 0,
      sms_sent: 0,
      sms_segments: 0,
      ...values,
    });
    expect(r.body.data.items).to.deep.equal([
      { day: yesterday, platform: 'qidian', country: null, metrics: m({ runs_requested: 1, runs_completed: 1 }) },
      { day: today, platform: null, country: 'GB', metrics: m({ sms_sent: 1, sms_segments: 2 }) },
      { day: today, platform: 'qidian', country: null, metrics: m({ runs_requested: 1, runs_failed: 1 }) },
      { day: today, platform: 'xiaohongshu', country: 'JP', metrics: m({ runs_requested: 1, runs_completed: 1, items_collected: 2 }) },
    ]);
    expect(r.body.data.totals).to.deep.equal(m({ runs_requested: 3, runs_completed: 2, runs_failed: 1, items_collected: 2, sms_sent: 1, sms_segments: 2 }));
    expect(r.body.data.pagination).to.include({ total: 4, page: 1, has_next: false });
    expect(r.body.data).to.include({ from: yesterday, to: today, granularity: 'day' });

    const bobs = await call('GET', `/api/v1/statistics?from=${yesterday}&to=${today}&metrics=items_collected&group_by=&${caughtUp()}`, { token: bob.token });
    expect(bobs.status, bobs.text).to.equal(200);
    expect(bobs.body.data.items).to.deep.equal([{ metrics: { items_collected: 5 } }]);
  });

  it('pages the rows, buckets days by month, and groups by account, workflow and channel', async () => {
    const page = await call('GET', `/api/v1/statistics?from=${yesterday}&to=${today}&metrics=runs_requested&group_by=platform&per_page=1&page=2`, {
      token: alice.token,
    });
    expect(page.status, page.text).to.equal(200);
    expect(page.body.data.items).to.deep.equal([{ platform: 'xiaohongshu', metrics: { runs_requested: 1 } }]);
    expect(page.body.data.pagination).to.include({ total: 2, has_prev: true, has_next: false });
    expect(page.body.data.totals).to.deep.equal({ runs_requested: 3 });

    const monthly = await call('GET', `/api/v1/statistics?from=${yesterday}&to=${today}&metrics=runs_requested&group_by=day&granularity=month`, {
      token: alice.token,
    });
    const months = [...new Set([yesterday, today].map((d) => `${d.slice(0, 8)}01`))];
    expect(monthly.body.data.items.map((r: any) => r.day)).to.deep.equal(months);

    const dims = await call('GET', `/api/v1/statistics?from=${today}&to=${today}&metrics=runs_requested,sms_sent&group_by=channel,account,workflow`, {
      token: alice.token,
    });
    expect(dims.body.data.items).to.deep.equal([
      { channel: 'collection', account: null, workflow: 'wf-qidian', metrics: { runs_requested: 1, sms_sent: 0 } },
      { channel: 'collection', account: 'acc-x', workflow: 'wf-xiaohongshu', metrics: { runs_requested: 1, sms_sent: 0 } },
      { channel: 'sms', account: null, workflow: null, metrics: { runs_requested: 0, sms_sent: 1 } },
    ]);
  });

  it('groups by organization as the owner’s current membership says', async () => {
    const path = `/api/v1/statistics?from=${yesterday}&to=${today}&metrics=runs_requested&group_by=organization`;
    const before = await call('GET', path, { token: alice.token });
    expect(before.body.data.items).to.deep.equal([{ organization: null, metrics: { runs_requested: 3 } }]);
    // alice joins an organization (as its read model records members): her whole history counts for it
    const organizationId = randomUUID();
    await knex('organization_members').insert({
      user_id: alice.userId,
      organization_id: organizationId,
      roles: ['owner'],
      team: null,
      joined_at: new Date(),
      last_revision: 0,
    });
    try {
      const now = await call('GET', path, { token: alice.token });
      expect(now.body.data.items).to.deep.equal([{ organization: organizationId, metrics: { runs_requested: 3 } }]);
    } finally {
      await knex('organization_members').where({ user_id: alice.userId }).delete();
    }
  });

  it("live: today's counters and the last 24 hours", async () => {
    const r = await call('GET', `/api/v1/statistics/live?metrics=runs_requested,sms_segments&${caughtUp()}`, { token: alice.token });
    expect(r.status, r.text).to.equal(200);
    const live = r.body.data;
    expect(live).to.include({ day: today, time_zone: config.QUOTA_TIME_ZONE });
    expect(live.today).to.deep.equal({ runs_requested: 2, sms_segments: 2 });
    expect(live.hours).to.have.length(24);
    const hourMs = 3_600_000;
    expect(Date.parse(live.hours[23].hour)).to.equal(Math.floor(Date.now() / hourMs) * hourMs);
    const sum = (metric: string) => live.hours.reduce((s: number, h: any) => s + h.metrics[metric], 0);
    // yesterday's run is 24 hours old: out of the last 24 buckets
    expect(sum('runs_requested')).to.equal(2);
    expect(sum('sms_segments')).to.equal(2);
  });

  it('bad input is 422 with the allowed lists, and an export that is refused writes nothing', async () => {
    const bad = async (query: string, field: string) => {
      const r = await call('GET', `/api/v1/statistics?${query}`, { token: alice.token });
      expect(r.status, `${query}: ${r.text}`).to.equal(422);
      expect(r.body.error.code).to.equal('VALIDATION_ERROR');
      expect(
        r.body.error.details.issues.map((i: any) => i.path[0]),
        query,
      ).to.include(field);
      return r.body.error;
    };
    const unknownMetric = await bad(`from=${today}&to=${today}&metrics=runs_requested,bogus`, 'metrics');
    expect(unknownMetric.details.allowed.metrics).to.include('sms_segments');
    expect(unknownMetric.message).to.include('bogus');
    const unknownDimension = await bad(`from=${today}&to=${today}&group_by=day,planet`, 'group_by');
    expect(unknownDimension.details.allowed.group_by).to.deep.equal(['day', 'platform', 'country', 'organization', 'user', 'account', 'workflow', 'channel']);
    await bad('from=2025-01-01&to=2026-12-01', 'to');
    await bad(`from=${today}&to=${yesterday}`, 'to');
    await bad('from=2026-02-30&to=2026-03-01', 'from');
    await bad('from=yesterday', 'from');
    await bad('granularity=hour', 'granularity');
    const live = await call('GET', '/api/v1/statistics/live?metrics=nope', { token: alice.token });
    expect(live.status, live.text).to.equal(422);

    const count = async () => Number(((await knex('statistics_exports').count({ n: '*' })) as any)[0].n);
    const before = await count();
    for (const body of [
      { from: today, to: today, metrics: ['bogus'], format: 'csv' },
      { from: today, to: today, metrics: ['sms_sent'], group_by: ['planet'], format: 'csv' },
      { from: '2024-01-01', to: today, metrics: ['sms_sent'], format: 'xlsx' },
      { from: today, to: today, metrics: ['sms_sent'], format: 'pdf' },
      { from: today, to: today, metrics: [], format: 'csv' },
    ]) {
      const r = await call('POST', '/api/v1/statistics/exports', { token: alice.token, body });
      expect(r.status, JSON.stringify(body)).to.equal(422);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await count()).to.equal(before);
  });

  async function exported(body: Record<string, unknown>) {
    const r = await call('POST', '/api/v1/statistics/exports', { token: alice.token, body });
    expect(r.status, r.text).to.equal(202);
    const id = r.body.data.export_id as string;
    expect(r.res.headers.get('location')).to.equal(`/api/v1/statistics/exports/${id}`);
    let shown: any;
    await waitFor(
      `export ${id} ready`,
      async () => {
        shown = (await call('GET', `/api/v1/statistics/exports/${id}?after_position=${r.body.data.position}`, { token: alice.token })).body?.data;
        return shown?.status === 'ready' || shown?.status === 'failed';
      },
      30_000,
      100,
    );
    expect(shown.status, JSON.stringify(shown)).to.equal('ready');
    expect(shown.download_url).to.equal(`/api/v1/statistics/exports/${id}/file`);
    const file = await call('GET', shown.download_url, { token: alice.token });
    expect(file.status, file.text).to.equal(200);
    expect(file.res.headers.get('content-disposition')).to.match(/^attachment; filename="statistics-\d{8}-\d{6}\.(xlsx|csv)"$/);
    expect(file.bytes.length).to.equal(shown.bytes);
    return { id, shown, file };
  }

  const query = () => `from=${yesterday}&to=${today}&metrics=runs_requested,items_collected,sms_segments&group_by=day,platform,country`;
  const exportBody = () => ({
    from: yesterday,
    to: today,
    metrics: ['runs_requested', 'items_collected', 'sms_segments'],
    group_by: ['day', 'platform', 'country'],
  });
  const asTable = (items: any[]) =>
    items.map((r) => [r.day, r.platform ?? '', r.country ?? '', r.metrics.runs_requested, r.metrics.items_collected, r.metrics.sms_segments]);

  it('exports xlsx in the background: the workbook holds the rows GET /statistics answers', async () => {
    const expected = asTable((await call('GET', `/api/v1/statistics?${query()}`, { token: alice.token })).body.data.items);
    const { shown, file } = await exported({ ...exportBody(), format: 'xlsx' });
    expect(file.res.headers.get('content-type')).to.equal('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect(shown).to.include({ format: 'xlsx', rows: expected.length, owners: 1, granularity: 'day' });
    const book = new ExcelJS.Workbook();
    await book.xlsx.load(file.bytes as never);
    const sheet = book.getWorksheet('statistics')!;
    const rows: unknown[][] = [];
    // an empty cell (a dimension that does not apply) reads as ''
    sheet.eachRow((row) => rows.push(Array.from({ length: 6 }, (_, i) => row.getCell(i + 1).value ?? '')));
    expect(rows[0]).to.deep.equal(['day', 'platform', 'country', 'runs_requested', 'items_collected', 'sms_segments']);
    expect(rows.slice(1)).to.deep.equal(expected);
  });

  it('exports csv: its rows match too; the list shows both, newest first', async () => {
    const expected = asTable((await call('GET', `/api/v1/statistics?${query()}`, { token: alice.token })).body.data.items);
    const { id, file } = await exported({ ...exportBody(), format: 'csv' });
    expect(file.res.headers.get('content-type')).to.equal('text/csv; charset=utf-8');
    const text = file.bytes.toString('utf8');
    expect(text.charCodeAt(0)).to.equal(0xfeff);
    const lines = text.slice(1).trim().split('\n');
    expect(lines[0]).to.equal('day,platform,country,runs_requested,items_collected,sms_segments');
    expect(lines.slice(1)).to.deep.equal(expected.map((r) => r.join(',')));

    const list = await call('GET', '/api/v1/statistics/exports', { token: alice.token });
    expect(list.status, list.text).to.equal(200);
    expect(list.body.data.items[0].id).to.equal(id);
    expect(list.body.data.items.map((e: any) => e.format)).to.include.members(['csv', 'xlsx']);
  });

  it("someone else's export is 404, its file too; their list does not show it", async () => {
    const { id } = await exported({ from: today, to: today, metrics: ['runs_requested'], group_by: [], format: 'csv' });
    const shown = await call('GET', `/api/v1/statistics/exports/${id}`, { token: bob.token });
    expect(shown.status, shown.text).to.equal(404);
    const file = await call('GET', `/api/v1/statistics/exports/${id}/file`, { token: bob.token });
    expect(file.status, file.text).to.equal(404);
    const unknown = await call('GET', `/api/v1/statistics/exports/${randomUUID()}`, { token: alice.token });
    expect(unknown.status).to.equal(404);
    const bobs = await call('GET', '/api/v1/statistics/exports', { token: bob.token });
    expect(bobs.body.data.items.map((e: any) => e.id)).to.not.include(id);
    // and the reports routes never reach a statistics file
    const viaReports = await call('GET', `/api/v1/reports/${id}/runs/${id}/download`, { token: alice.token });
    expect(viaReports.status).to.be.oneOf([403, 404]);
  });
});

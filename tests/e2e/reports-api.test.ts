import { expect } from 'chai';
import ExcelJS from 'exceljs';
import type { Worker } from 'bullmq';
import type { Container } from 'inversify';
import { randomUUID } from 'node:crypto';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { BullMqMailOutbox, createMailWorker, mailRetryPolicy } from '../../src/adapters/queue/mail-queue.js';
import { QUEUE_NAMES, QueueFactory } from '../../src/adapters/queue/queues.js';
import { createReportsWorker, REPORTS_JOB_NAME, REPORTS_SCHEDULER_ID, upsertReportsScheduler } from '../../src/adapters/queue/reports-queue.js';
import { LOGIN_IP_PREFIX } from '../../src/adapters/rate-limit/login-rate-limit.js';
import { createApiApp } from '../../src/api-app.js';
import { runDueReports } from '../../src/application/reports.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { Config } from '../../src/config.js';
import type { EventStore } from '../../src/event-store/index.js';
import { formatPosition, type Position } from '../../src/event-store/position.js';
import { qidianDataProjection } from '../../src/projections/qidian-data.js';
import { reportsProjection } from '../../src/projections/reports.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import { TOKENS } from '../../src/tokens.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { nextSlotAfter } from '../../src/write-model/report/index.js';
import { subscriptionAggregate, subscriptionKey } from '../../src/write-model/subscription/decider.js';
import type { PlanCode, Service } from '../../src/write-model/subscription/plans.js';
import { workflowExecutionAggregate, type CollectedItem, type WorkflowExecutionCommand } from '../../src/write-model/workflow-execution/index.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { SmtpSink, type ReceivedMessage } from '../support/smtp-sink.js';
import { waitFor } from '../support/wait-for.js';
import { startOnPlan } from '../support/plans.js';

const LOCAL_IP_KEYS = ['127.0.0.1', '::ffff:127.0.0.1', '::1'].map((ip) => `${LOGIN_IP_PREFIX}:${ip}`);
const PASSWORD = 'scheduled reports password';
const DAY_MS = 86_400_000;

/** The attachments of a message as nodemailer writes it (multipart/mixed, base64 parts with Content-Disposition: attachment). */
function attachmentsOf(message: ReceivedMessage): { filename: string; contentType: string; content: Buffer }[] {
  const out: { filename: string; contentType: string; content: Buffer }[] = [];
  for (const part of message.raw.replace(/\r\n/g, '\n').split(/\n--[^\n]+\n/)) {
    const split = part.indexOf('\n\n');
    if (split === -1) continue;
    const head = part.slice(0, split).replace(/\n[ \t]+/g, ' ');
    if (!/content-disposition:\s*attachment/i.test(head)) continue;
    const filename = /filename="?([^";\n]+)"?/i.exec(head)?.[1] ?? '';
    const contentType = /content-type:\s*([^;\n]+)/i.exec(head)?.[1]?.trim() ?? '';
    const body = part.slice(split + 2).split(/\n--/)[0]!;
    out.push({ filename, contentType, content: Buffer.from(body.replace(/\s+/g, ''), 'base64') });
  }
  return out;
}

async function pdfText(bytes: Buffer): Promise<string> {
  const { extractText, getDocumentProxy } = await import('unpdf');
  const { text } = await extractText(await getDocumentProxy(new Uint8Array(bytes)), { mergePages: true });
  return text.replace(/\s+/g, '');
}

/**
 * /api/v1/reports (plan feature custom_reports) on the production app over a
 * real socket, the reports-v1 projection running; the reports job
 * (runDueReports, and the BullMQ `reports` worker) and the mail worker
 * in-process, mailing into a local SMTP sink.
 */
describe('scheduled reports API and job (e2e, production app)', function () {
  this.timeout(120_000);
  let container: Container;
  let config: Config;
  let store: EventStore;
  let running: RunningServer;
  let sink: SmtpSink;
  let factory: QueueFactory;
  let mailWorker: Worker;
  const runners: ConsumerRunner[] = [];
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(async () => {
    sink = await new SmtpSink().start();
    config = testConfig({ SMTP_URL: sink.url, LOGIN_RATE_LIMIT_PER_IP: '10000', QUEUE_PREFIX: `test-reports-${randomUUID().slice(0, 8)}` });
    container = await buildContainer(config);
    store = container.get(TOKENS.EventStore);
    const knex = container.get(TOKENS.Knex);
    for (const projection of [reportsProjection, qidianDataProjection]) {
      const runner = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl }, projection, { idleCheckpointMs: 100, lockRetryMs: 100 });
      runner.start();
      runners.push(runner);
    }
    running = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
    factory = new QueueFactory({ redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX });
    mailWorker = createMailWorker(factory, { store, mailer: container.get(TOKENS.Mailer), reports: { knex, emailVerification: 'off' } });
  });
  after(async () => {
    await mailWorker?.close();
    if (running) await closeServer(running.server);
    for (const runner of runners) await runner.stop();
    if (container) {
      await container.get(TOKENS.Redis).del(...LOCAL_IP_KEYS);
      await disposeContainer(container);
    }
    await sink?.stop();
  });

  async function call(method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...options.headers };
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
    return { res, text, body, bytes };
  }

  async function user(plans: Partial<Record<Service, PlanCode>>): Promise<{ userId: string; token: string; email: string }> {
    const email = `reports-${randomUUID()}@example.test`;
    const registered = await call('POST', '/api/v1/auth/register', { body: { email, password: PASSWORD, display_name: '报告' } });
    expect(registered.res.status, registered.text).to.equal(201);
    const userId = registered.body.data.user_id as string;
    const token = (await call('POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } })).body.data.access_token as string;
    for (const service of ['xiaohongshu', 'qidian'] as const) await startOnPlan(store, userId, service, plans[service] ?? 'free');
    return { userId, token, email };
  }

  async function collect(ownerId: string, items: CollectedItem[], workflowType: 'qidian.rankings' | 'qidian.novels'): Promise<string> {
    const executionId = randomUUID();
    const now = new Date().toISOString();
    const commands: WorkflowExecutionCommand[] = [
      {
        type: 'RequestExecution',
        executionId,
        workflowId: randomUUID(),
        ownerId,
        platform: 'qidian',
        workflowType,
        config: workflowType === 'qidian.novels' ? { novelIds: ['1010868264'] } : { rankings: ['热销榜'] },
        platformAccountId: null,
        trigger: 'schedule',
        requestedBy: null,
        now,
      },
      { type: 'StartExecution', executionId, workerId: 'w', now },
      { type: 'CollectItems', executionId, batchId: 'b', items, cursor: null, now },
    ];
    let last: Position | undefined;
    for (const c of commands) last = (await handle(store, workflowExecutionAggregate, executionId, c, { context })).position ?? last;
    return formatPosition(last!);
  }
  const ago = (days: number) => new Date(Date.now() - days * DAY_MS).toISOString();
  const entry = (rank: number, id: string, title: string, capturedAt: string): CollectedItem => ({
    platformContentId: `热销榜:${id}`,
    kind: 'qidian.ranking_entry',
    data: {
      ranking: '热销榜',
      rank,
      novelId: id,
      title,
      author: '作者',
      category: '玄幻',
      subCategory: null,
      status: 'serializing',
      score: null,
      scoreLabel: null,
      capturedAt,
    },
  });

  const weekly = { frequency: 'weekly', hour: 8, weekday: 1, time_zone: 'Asia/Shanghai' };
  let alice: { userId: string; token: string; email: string };
  let bob: { userId: string; token: string; email: string };

  before(async () => {
    alice = await user({ qidian: 'enterprise', xiaohongshu: 'enterprise' });
    bob = await user({ qidian: 'enterprise' });
    // alice's market: 诡秘之主 falls, 宿命之环 rises on 热销榜 within the week
    await collect(alice.userId, [entry(1, '1010868264', '诡秘之主', ago(3)), entry(2, '1036370336', '宿命之环', ago(3))], 'qidian.rankings');
    await collect(alice.userId, [entry(1, '1036370336', '宿命之环', ago(1)), entry(2, '1010868264', '诡秘之主', ago(1))], 'qidian.rankings');
  });

  it("defines, reads, changes and deletes a report; recipients are the account's own address", async () => {
    const created = await call('POST', '/api/v1/reports', {
      token: alice.token,
      body: { name: '起点周报', kind: 'qidian.market', format: 'pdf', schedule: weekly, recipients: [alice.email] },
    });
    expect(created.res.status, created.text).to.equal(201);
    const id = created.body.data.id as string;
    expect(created.res.headers.get('location')).to.equal(`/api/v1/reports/${id}`);

    const got = await call('GET', `/api/v1/reports/${id}?after_position=${created.body.data.position}`, { token: alice.token });
    expect(got.res.status, got.text).to.equal(200);
    const expectedNext = nextSlotAfter(
      { frequency: 'weekly', hour: 8, weekday: 1, dayOfMonth: null, timeZone: 'Asia/Shanghai' },
      new Date(got.body.data.created_at),
    ).toISOString();
    expect(got.body.data).to.include({
      id,
      name: '起点周报',
      service: 'qidian',
      kind: 'qidian.market',
      format: 'pdf',
      days: 7,
      next_run_at: expectedNext,
      last_run_id: null,
      revision: '0',
    });
    expect(got.body.data.schedule).to.deep.equal({ frequency: 'weekly', hour: 8, weekday: 1, day_of_month: null, time_zone: 'Asia/Shanghai' });
    expect(got.body.data.recipients).to.deep.equal([alice.email]);

    const changed = await call('PUT', `/api/v1/reports/${id}`, {
      token: alice.token,
      headers: { 'If-Match': '"0"' },
      body: { format: 'xlsx', schedule: { frequency: 'monthly', hour: 6, day_of_month: 1 } },
    });
    expect(changed.res.status, changed.text).to.equal(200);
    const stale = await call('PUT', `/api/v1/reports/${id}`, { token: alice.token, headers: { 'If-Match': '"0"' }, body: { name: 'x' } });
    expect(stale.res.status, stale.text).to.equal(412);
    const after = await call('GET', `/api/v1/reports/${id}?after_position=${changed.body.data.position}`, { token: alice.token });
    // the zone defaults to QUOTA_TIME_ZONE
    expect(after.body.data).to.deep.include({
      format: 'xlsx',
      schedule: { frequency: 'monthly', hour: 6, weekday: null, day_of_month: 1, time_zone: config.QUOTA_TIME_ZONE },
    });
    const list = await call('GET', '/api/v1/reports', { token: alice.token });
    expect(list.body.data.items.map((r: any) => r.id)).to.include(id);

    const staleDelete = await call('DELETE', `/api/v1/reports/${id}`, { token: alice.token, headers: { 'If-Match': '"0"' } });
    expect(staleDelete.res.status, staleDelete.text).to.equal(412);
    const deleted = await call('DELETE', `/api/v1/reports/${id}`, { token: alice.token, headers: { 'If-Match': `"${changed.body.data.revision}"` } });
    expect(deleted.res.status, deleted.text).to.equal(200);
    expect((await call('GET', `/api/v1/reports/${id}?after_position=${deleted.body.data.position}`, { token: alice.token })).res.status).to.equal(404);
    expect((await call('DELETE', `/api/v1/reports/${id}`, { token: alice.token })).res.status).to.equal(404);
  });

  it('validates: 422', async () => {
    const bad: unknown[] = [
      { name: 'x', kind: 'qidian.market', format: 'pdf', schedule: { frequency: 'weekly', hour: 8 } },
      { name: 'x', kind: 'qidian.market', format: 'pdf', schedule: { frequency: 'daily', hour: 24 } },
      { name: 'x', kind: 'qidian.market', format: 'pdf', schedule: { frequency: 'daily', hour: 8, time_zone: 'Mars/Olympus' } },
      { name: 'x', kind: 'qidian.market', format: 'pdf', schedule: { frequency: 'monthly', hour: 8, day_of_month: 31 } },
      { name: 'x', kind: 'qidian.market', service: 'xiaohongshu', format: 'pdf', schedule: { frequency: 'daily', hour: 8 } },
      { name: 'x', kind: 'qidian.market', format: 'csv', schedule: { frequency: 'daily', hour: 8 } },
      { name: 'x', kind: 'qidian.market', format: 'pdf', days: 0, schedule: { frequency: 'daily', hour: 8 } },
      { name: 'x', kind: 'qidian.market', format: 'pdf', schedule: { frequency: 'daily', hour: 8 }, recipients: ['someone@example.test'] },
      { name: '', kind: 'qidian.market', format: 'pdf', schedule: { frequency: 'daily', hour: 8 } },
      { name: 'x', kind: 'qidian.market', format: 'pdf', schedule: { frequency: 'daily', hour: 8 }, extra: 1 },
    ];
    for (const body of bad) {
      const refused = await call('POST', '/api/v1/reports', { token: alice.token, body });
      expect(refused.res.status, `${JSON.stringify(body)}: ${refused.text}`).to.equal(422);
      expect(refused.body.error.code).to.equal('VALIDATION_ERROR');
    }
    const created = await call('POST', '/api/v1/reports', {
      token: alice.token,
      body: { name: 'x', kind: 'qidian.market', format: 'pdf', schedule: { frequency: 'daily', hour: 8 } },
    });
    expect((await call('PUT', `/api/v1/reports/${created.body.data.id}`, { token: alice.token, body: {} })).res.status).to.equal(422);
    expect((await call('PUT', `/api/v1/reports/${created.body.data.id}`, { token: alice.token, body: { kind: 'xiaohongshu.analytics' } })).res.status).to.equal(
      422,
    );
    expect((await call('GET', '/api/v1/reports/not-a-uuid', { token: alice.token })).res.status).to.equal(422);
  });

  it("gates: custom_reports, the format in export_formats, the kind's own feature; 403 naming the feature", async () => {
    const pro = await user({ qidian: 'pro', xiaohongshu: 'enterprise' });
    const body = { name: 'x', kind: 'qidian.market', format: 'pdf', schedule: { frequency: 'daily', hour: 8 } };
    for (const [method, path] of [
      ['POST', '/api/v1/reports'],
      ['GET', '/api/v1/reports'],
    ] as const) {
      const refused = await call(method, path, { token: pro.token, ...(method === 'POST' ? { body } : {}) });
      expect(refused.res.status, refused.text).to.equal(403);
      expect(refused.body.error.details).to.include({ feature: 'custom_reports', plan: 'pro' });
    }
    // qidian enterprise, xiaohongshu basic: excel only, no data_analytics
    const basicXhs = await user({ qidian: 'enterprise', xiaohongshu: 'basic' });
    const pdf = await call('POST', '/api/v1/reports', { token: basicXhs.token, body: { ...body, kind: 'xiaohongshu.analytics' } });
    expect(pdf.res.status, pdf.text).to.equal(403);
    expect(pdf.body.error.details).to.include({ feature: 'export_formats', requires: 'pdf' });
    const xlsx = await call('POST', '/api/v1/reports', { token: basicXhs.token, body: { ...body, kind: 'xiaohongshu.analytics', format: 'xlsx' } });
    expect(xlsx.res.status, xlsx.text).to.equal(403);
    expect(xlsx.body.error.details).to.include({ feature: 'data_analytics' });
    expect((await call('GET', '/api/v1/reports')).res.status).to.equal(401);
  });

  it("is the owner's: another user's report is 404 to every route", async () => {
    const created = await call('POST', '/api/v1/reports', {
      token: alice.token,
      body: { name: '私有', kind: 'qidian.tracked_novels', format: 'xlsx', schedule: { frequency: 'daily', hour: 9 } },
    });
    const id = created.body.data.id as string;
    await call('GET', `/api/v1/reports/${id}?after_position=${created.body.data.position}`, { token: alice.token });
    for (const [method, path, body] of [
      ['GET', `/api/v1/reports/${id}`, undefined],
      ['PUT', `/api/v1/reports/${id}`, { name: 'mine' }],
      ['DELETE', `/api/v1/reports/${id}`, undefined],
      ['POST', `/api/v1/reports/${id}/run`, undefined],
      ['GET', `/api/v1/reports/${id}/runs`, undefined],
    ] as const) {
      const refused = await call(method, path, { token: bob.token, ...(body ? { body } : {}) });
      expect(refused.res.status, `${method} ${path}: ${refused.text}`).to.equal(404);
    }
    const bobs = await call('GET', '/api/v1/reports', { token: bob.token });
    expect(bobs.res.status, bobs.text).to.equal(200);
    expect(bobs.body.data.items).to.deep.equal([]);
  });

  it('runs now: the xlsx kept for download and mailed as an attachment; the run listed', async () => {
    const created = await call('POST', '/api/v1/reports', {
      token: alice.token,
      body: { name: '市场日报', kind: 'qidian.market', format: 'xlsx', days: 7, schedule: { frequency: 'daily', hour: 8 } },
    });
    const id = created.body.data.id as string;
    const ran = await call('POST', `/api/v1/reports/${id}/run`, { token: alice.token });
    expect(ran.res.status, ran.text).to.equal(201);
    const run = ran.body.data;
    expect(run).to.include({ status: 'generated', mail: 'queued', content_type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' });
    expect(run.download_url).to.equal(`/api/v1/reports/${id}/runs/${run.run_id}/download`);

    const file = await call('GET', run.download_url, { token: alice.token });
    expect(file.res.status).to.equal(200);
    expect(file.res.headers.get('content-disposition')).to.match(/^attachment; filename="qidian-market-\d{8}-\d{6}\.xlsx"$/);
    const book = new ExcelJS.Workbook();
    await book.xlsx.load(file.bytes as never);
    expect(book.worksheets.map((s) => s.name)).to.deep.equal(['概览 Summary', '榜单 Boards', '榜单变动 Movements', '字数增长 Word growth', '分类 Categories']);
    const moves = book
      .getWorksheet('榜单变动 Movements')!
      .getSheetValues()
      .slice(2)
      .map((r: any) => [r[1], r[3], r[5], r[6]]);
    expect(moves).to.deep.include.members([
      ['热销榜', '宿命之环', 2, 1],
      ['热销榜', '诡秘之主', 1, 2],
    ]);

    const mail = await sink.waitForMessage((m) => m.envelope.to.includes(alice.email) && m.parsed.subject.includes('市场日报'), 15_000);
    const [attached] = attachmentsOf(mail);
    expect(attached).to.include({ contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' });
    expect(attached!.content.equals(file.bytes)).to.equal(true);

    const knex = container.get(TOKENS.Knex);
    await waitFor('the read model', async () => ((await knex('report_runs').where({ id: run.run_id }).first('mailed_at')) as any)?.mailed_at != null);
    const runs = await call('GET', `/api/v1/reports/${id}/runs?after_position=${run.position}`, { token: alice.token });
    expect(runs.body.data.items).to.have.length(1);
    expect(runs.body.data.items[0]).to.include({ id: run.run_id, trigger: 'manual', status: 'generated', download_url: run.download_url });
    expect(runs.body.data.items[0].mailed_at).to.be.a('string');

    // not bob's; an unknown run: 404
    expect((await call('GET', run.download_url, { token: bob.token })).res.status).to.equal(404);
    expect((await call('GET', `/api/v1/reports/${id}/runs/${randomUUID()}/download`, { token: alice.token })).res.status).to.equal(404);
  });

  it('the reports job: a due report is generated once for its slot, mailed as a parseable pdf, its next slot set; a plan without custom_reports skips it', async () => {
    const knex = container.get(TOKENS.Knex);
    const owner = await user({ qidian: 'enterprise' });
    const created = await call('POST', '/api/v1/reports', {
      token: owner.token,
      body: { name: '追踪日报', kind: 'qidian.tracked_novels', format: 'pdf', schedule: { frequency: 'daily', hour: 7 } },
    });
    const id = created.body.data.id as string;
    const report = (await call('GET', `/api/v1/reports/${id}?after_position=${created.body.data.position}`, { token: owner.token })).body.data;
    const slot = new Date(report.next_run_at);
    const mail = {
      enqueueReportMail: (job: any) => new BullMqMailOutbox(factory.queue(QUEUE_NAMES.mail) as never, mailRetryPolicy(config)).enqueueReportMail(job),
    };

    // the BullMQ job: the scheduler upserted, one sweep run by the worker, an hour after the slot
    const queue = factory.queue(QUEUE_NAMES.reports);
    await upsertReportsScheduler(queue, 3_600_000);
    expect((await queue.getJobSchedulers()).map((s) => s.key)).to.include(REPORTS_SCHEDULER_ID);
    await queue.removeJobScheduler(REPORTS_SCHEDULER_ID);
    const worker = createReportsWorker(factory, { store, knex, mail, now: () => new Date(slot.getTime() + 3_600_000) });
    try {
      await queue.add(REPORTS_JOB_NAME, {});
      const message = await sink.waitForMessage((m) => m.envelope.to.includes(owner.email), 30_000);
      expect(message.parsed.subject).to.include('追踪日报');
      const [pdf] = attachmentsOf(message);
      expect(pdf!.filename).to.match(/^qidian-tracked-novels-\d{8}-\d{6}\.pdf$/);
      expect(pdf!.content.subarray(0, 5).toString('latin1')).to.equal('%PDF-');
      expect(await pdfText(pdf!.content)).to.include('起点追踪作品报告');
    } finally {
      await worker.close();
      await queue.close();
    }

    // once the projection has the run, the next slot is the next day's; the same slot again is no second run
    await waitFor('the read model', async () => ((await knex('reports').where({ id }).first('next_run_at')) as any).next_run_at.getTime() > slot.getTime());
    const again = await runDueReports({ store, knex, mail, now: () => new Date(slot.getTime() + 3_600_000) });
    expect(again.generated).to.equal(0);
    const next = new Date(((await knex('reports').where({ id }).first('next_run_at')) as any).next_run_at);
    expect(next.getTime() - slot.getTime()).to.equal(DAY_MS);

    // downgraded: the next slot is skipped with the feature, nothing mailed
    // the paid period over: back on free (no custom_reports)
    await handle(
      store,
      subscriptionAggregate,
      subscriptionKey(owner.userId, 'qidian'),
      { type: 'ExpireSubscription', now: new Date(Date.now() + 31 * DAY_MS).toISOString() },
      { context },
    );
    const sent = () => sink.messages.filter((m) => m.envelope.to.includes(owner.email)).length;
    const before = sent();
    const skipped = await runDueReports({ store, knex, mail, now: () => new Date(next.getTime() + 60_000) });
    expect(skipped.skipped).to.equal(1);
    await waitFor('the read model', async () => (await knex('report_runs').where({ report_id: id, status: 'skipped' })).length === 1);
    const row = (await knex('report_runs').where({ report_id: id, status: 'skipped' }).first()) as any;
    expect(row).to.include({ reason: 'plan:custom_reports', trigger: 'schedule' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sent()).to.equal(before);
  });

  it('documents the routes in /api/v1/openapi.json', async () => {
    const doc = (await (await fetch(`${running.url}/api/v1/openapi.json`)).json()) as any;
    for (const [path, methods] of [
      ['/api/v1/reports', ['get', 'post']],
      ['/api/v1/reports/{id}', ['get', 'put', 'delete']],
      ['/api/v1/reports/{id}/run', ['post']],
      ['/api/v1/reports/{id}/runs', ['get']],
      ['/api/v1/reports/{id}/runs/{run_id}/download', ['get']],
    ] as const) {
      for (const method of methods) expect(doc.paths[path]?.[method], `${method} ${path}`).to.be.an('object');
    }
  });
});

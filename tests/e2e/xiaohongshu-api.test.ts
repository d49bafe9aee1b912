import { expect } from 'chai';
import ExcelJS from 'exceljs';
import type { Container } from 'inversify';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { LOGIN_IP_PREFIX } from '../../src/adapters/rate-limit/login-rate-limit.js';
import { createApiApp } from '../../src/api-app.js';
import { quotaDay } from '../../src/application/quota-day.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore } from '../../src/event-store/index.js';
import { formatPosition } from '../../src/event-store/position.js';
import type { XiaohongshuNote } from '../../src/platforms/xiaohongshu/items.js';
import { xiaohongshuContentProjection } from '../../src/projections/xiaohongshu-content.js';
import { TOKENS } from '../../src/tokens.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { subscriptionAggregate, subscriptionKey } from '../../src/write-model/subscription/decider.js';
import { workflowExecutionAggregate, type CollectedItem, type WorkflowExecutionCommand } from '../../src/write-model/workflow-execution/index.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';

interface Reply {
  res: Response;
  text: string;
  body: any;
  bytes: Buffer;
}

const LOCAL_IP_KEYS = ['127.0.0.1', '::ffff:127.0.0.1', '::1'].map((ip) => `${LOGIN_IP_PREFIX}:${ip}`);
const PASSWORD = 'correct horse battery';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const hex24 = () => randomBytes(12).toString('hex');

/** RFC 4180, enough for what csv-stringify writes. */
function parseCsv(text: string): string[][] {
  const out: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(cell), (cell = '');
    else if (c === '\n') row.push(cell), out.push(row), (row = []), (cell = '');
    else if (c !== '\r') cell += c;
  }
  if (cell !== '' || row.length > 0) row.push(cell), out.push(row);
  return out;
}

describe('xiaohongshu collected data API (e2e)', function () {
  this.timeout(60_000);
  let container: Container;
  let store: EventStore;
  let running: RunningServer;
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  // the clock read when the tests start, not when mocha loads every file (the day may have turned meanwhile)
  let now = 0;
  before(() => {
    now = Date.now();
  });
  const ago = (ms: number) => new Date(now - ms).toISOString();

  let alice: { userId: string; token: string };
  let bob: { userId: string; token: string };
  const wf1 = `wf-${randomUUID()}`;
  const wf2 = `wf-${randomUUID()}`;
  // realistic notes: Chinese titles and tags, counts as the parser leaves them
  const author1 = { id: hex24(), nickname: '小鹿爱喝咖啡' };
  const author2 = { id: hex24(), nickname: '装修日记Lily' };
  const n = {
    coffee: hex24(),
    latte: hex24(),
    sofa: hex24(),
    kitchen: hex24(),
    hotpot: hex24(),
    bakery: hex24(),
    old: hex24(),
    ancient: hex24(),
  };
  let lastPosition = '';

  function note(noteId: string, over: Partial<XiaohongshuNote>): XiaohongshuNote {
    return {
      noteId,
      type: 'normal',
      title: '',
      text: '',
      author: author1,
      publishedAt: '2026-03-01T02:00:00.000Z',
      likes: 0,
      comments: 0,
      shares: 0,
      collects: 0,
      images: [`https://sns-webpic-qc.xhscdn.com/202603/${noteId}.jpg`],
      tags: [],
      location: '上海',
      url: `https://www.xiaohongshu.com/explore/${noteId}`,
      ...over,
    };
  }
  const item = (x: XiaohongshuNote): CollectedItem => ({
    platformContentId: x.noteId,
    kind: 'xiaohongshu.note',
    data: x as unknown as Record<string, unknown>,
  });

  /** RequestExecution → StartExecution → CollectItems, all at `at`. */
  async function collect(ownerId: string, workflowId: string, notes: XiaohongshuNote[], at: string): Promise<void> {
    const executionId = randomUUID();
    const send = (command: WorkflowExecutionCommand) => handle(store, workflowExecutionAggregate, executionId, command, { context });
    await send({
      type: 'RequestExecution',
      executionId,
      workflowId,
      ownerId,
      platform: 'xiaohongshu',
      workflowType: 'xiaohongshu.notes',
      config: { mode: 'keyword', keyword: '上海', maxItems: 20 },
      platformAccountId: null,
      trigger: 'manual',
      requestedBy: ownerId,
      now: at,
    });
    await send({ type: 'StartExecution', executionId, workerId: 'worker-1', now: at });
    const result = await send({ type: 'CollectItems', executionId, batchId: 'batch-1', items: notes.map(item), cursor: null, now: at });
    lastPosition = formatPosition(result.position!);
  }

  async function send(method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<Reply> {
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
    return { res, text, body, bytes };
  }
  const get = (path: string, token: string) => send('GET', path, { token });

  async function signUp(): Promise<{ userId: string; token: string }> {
    const email = `xhs-${randomUUID()}@example.test`;
    const registered = await send('POST', '/api/v1/auth/register', { body: { email, password: PASSWORD, display_name: '小红' } });
    expect(registered.res.status, registered.text).to.equal(201);
    const login = await send('POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
    expect(login.res.status, login.text).to.equal(200);
    return { userId: registered.body.data.user_id, token: login.body.data.access_token };
  }

  const ids = (r: Reply) => (r.body.data.items as any[]).map((i) => i.id);
  const list = async (token: string, query = '') => {
    const r = await get(`/api/v1/xiaohongshu/contents${query}`, token);
    expect(r.res.status, r.text).to.equal(200);
    return r;
  };

  before(async () => {
    container = await buildContainer(testConfig({ LOGIN_RATE_LIMIT_PER_IP: '10000' }));
    store = container.get(TOKENS.EventStore);
    running = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
    alice = await signUp();
    bob = await signUp();

    await collect(
      alice.userId,
      wf1,
      [
        note(n.coffee, {
          title: '上海周末咖啡店合集☕️',
          text: '武康路这家拿铁绝了 #上海探店[话题]#',
          likes: 4311,
          comments: 514,
          shares: 1147,
          collects: 3551,
          tags: ['上海探店', '咖啡'],
          publishedAt: '2026-03-01T02:00:00.000Z',
        }),
        note(n.latte, {
          title: '在家做拿铁的三个技巧',
          text: '不用咖啡机也可以',
          likes: 683,
          comments: 33,
          shares: 93,
          collects: 520,
          tags: ['咖啡'],
          publishedAt: '2026-03-05T08:00:00.000Z',
        }),
        note(n.sofa, {
          type: 'video',
          author: author2,
          title: '法式装修｜客厅沙发怎么选',
          text: '奶油风客厅',
          likes: 15000,
          comments: 2000,
          shares: 800,
          collects: 9000,
          tags: ['法式装修', '家居'],
          publishedAt: '2026-02-10T12:00:00.000Z',
        }),
        note(n.kitchen, {
          author: author2,
          title: '小厨房收纳',
          text: '租房党必看',
          likes: 120,
          comments: 8,
          shares: 2,
          collects: 300,
          tags: ['家居'],
          publishedAt: null,
        }),
        note(n.hotpot, {
          title: '成都火锅排行',
          text: '本地人推荐',
          likes: 2300,
          comments: 150,
          shares: 60,
          collects: 1800,
          tags: ['成都美食'],
          location: '成都',
          publishedAt: '2026-03-10T11:00:00.000Z',
        }),
      ],
      ago(2 * DAY),
    );
    // the coffee note again (new counts) and a new one, by another workflow
    await collect(
      alice.userId,
      wf2,
      [
        note(n.coffee, {
          title: '上海周末咖啡店合集☕️',
          text: '武康路这家拿铁绝了 #上海探店[话题]#',
          likes: 5200,
          comments: 600,
          shares: 1300,
          collects: 4100,
          tags: ['上海探店', '咖啡'],
          publishedAt: '2026-03-01T02:00:00.000Z',
        }),
        note(n.bakery, {
          title: '上海面包店地图',
          text: '周末早午餐',
          likes: 900,
          comments: 45,
          shares: 20,
          collects: 700,
          tags: ['上海探店'],
          publishedAt: '2026-03-12T01:00:00.000Z',
        }),
      ],
      ago(HOUR),
    );
    // past free's 7 days, within basic's 30; and past 30
    await collect(alice.userId, wf1, [note(n.old, { title: '十天前的笔记', likes: 50, tags: ['咖啡'] })], ago(10 * DAY));
    await collect(alice.userId, wf1, [note(n.ancient, { title: '四十天前的笔记', likes: 70, tags: ['咖啡'] })], ago(40 * DAY));
    await runConsumerToHead({ store, knex: container.get(TOKENS.Knex), databaseUrl: testDatabaseUrl }, xiaohongshuContentProjection);
  });
  after(async () => {
    if (running) await closeServer(running.server);
    if (container) {
      await container.get(TOKENS.Redis).del(...LOCAL_IP_KEYS);
      await disposeContainer(container);
    }
  });

  it('lists my notes within retention, newest collection first, paged', async () => {
    const all = await list(alice.token, `?after_position=${lastPosition}`);
    expect(all.res.headers.get('x-projection-lag')).to.equal(null);
    // the 10- and 40-day-old notes are past free's 7 days
    expect(all.body.data.pagination).to.include({ total: 6, page: 1 });
    expect(ids(all).slice(0, 2).sort()).to.deep.equal([n.coffee, n.bakery].sort());
    const page2 = await list(alice.token, '?per_page=4&page=2');
    expect(page2.body.data.pagination).to.deep.equal({ page: 2, per_page: 4, total: 6, total_pages: 2, has_next: false, has_prev: true });
    expect(page2.body.data.items).to.have.length(2);
    expect((await get('/api/v1/xiaohongshu/contents?per_page=101', alice.token)).res.status).to.equal(422);
    expect((await get('/api/v1/xiaohongshu/contents', '')).res.status).to.equal(401);
  });

  it('filters and sorts', async () => {
    expect(ids(await list(alice.token, `?keyword=${encodeURIComponent('拿铁')}&sort=likes&order=asc`))).to.deep.equal([n.latte, n.coffee]);
    expect(ids(await list(alice.token, '?type=video'))).to.deep.equal([n.sofa]);
    expect(ids(await list(alice.token, `?workflow_id=${wf2}&sort=likes`))).to.deep.equal([n.coffee, n.bakery]);
    // no publish time sorts as the oldest
    expect(ids(await list(alice.token, '?sort=published_at&order=desc'))).to.deep.equal([n.bakery, n.hotpot, n.latte, n.coffee, n.sofa, n.kitchen]);
    expect(ids(await list(alice.token, '?sort=comments&order=desc&per_page=1'))).to.deep.equal([n.sofa]);
    expect(ids(await list(alice.token, '?sort=collects&order=asc&per_page=1'))).to.deep.equal([n.kitchen]);
    // author, tag, published period and min_likes are advanced_filters: not in the free plan (checked after the upgrade below)
    const advanced = await get(`/api/v1/xiaohongshu/contents?author=Lily&min_likes=1&keyword=x`, alice.token);
    expect(advanced.res.status, advanced.text).to.equal(403);
    expect(advanced.body.error.details).to.deep.include({ feature: 'advanced_filters', plan: 'free', filters: ['author', 'min_likes'] });
    const exportAdvanced = await get(`/api/v1/xiaohongshu/contents/export?format=json&tag=x`, alice.token);
    expect(exportAdvanced.res.status).to.equal(403);
    const bad = await get('/api/v1/xiaohongshu/contents?sort=views&type=live&min_likes=-1', alice.token);
    expect(bad.res.status, bad.text).to.equal(422);
    expect(bad.body.error.details.issues.map((i: any) => i.path[0]).sort()).to.deep.equal(['min_likes', 'sort', 'type']);
    // an empty (or blank) value is no number: 422 naming it, never a filter used (403 on the free plan), like the page numbers
    for (const [path, field] of [
      ['/api/v1/xiaohongshu/contents?min_likes=', 'min_likes'],
      ['/api/v1/xiaohongshu/contents?min_likes=%20', 'min_likes'],
      ['/api/v1/xiaohongshu/contents/export?format=json&min_likes=', 'min_likes'],
      ['/api/v1/xiaohongshu/contents?page=', 'page'],
      ['/api/v1/xiaohongshu/contents?per_page=', 'per_page'],
    ] as const) {
      const empty = await get(path, alice.token);
      expect(empty.res.status, `${path}: ${empty.text}`).to.equal(422);
      expect(empty.body.error.code).to.equal('VALIDATION_ERROR');
      expect(empty.body.error.details.issues.map((i: any) => [i.in, i.path[0]])).to.deep.equal([['query', field]]);
    }
  });

  it('keeps a note collected twice as one row with the later counts, and its history', async () => {
    const coffee = (await list(alice.token, `?keyword=${encodeURIComponent('咖啡店合集')}`)).body.data.items;
    expect(coffee).to.have.length(1);
    expect(coffee[0]).to.include({
      id: n.coffee,
      likes: 5200,
      comments: 600,
      shares: 1300,
      collects: 4100,
      times_collected: 2,
      type: 'note',
      author_name: '小鹿爱喝咖啡',
    });
    expect(coffee[0].workflow_ids).to.deep.equal([wf1, wf2]);
    expect(coffee[0].first_collected_at).to.equal(ago(2 * DAY));
    expect(coffee[0].last_collected_at).to.equal(ago(HOUR));

    const detail = await get(`/api/v1/xiaohongshu/contents/${n.coffee}`, alice.token);
    expect(detail.res.status, detail.text).to.equal(200);
    expect(detail.body.data).to.include({ id: n.coffee, title: '上海周末咖啡店合集☕️', likes: 5200, location: '上海' });
    expect(detail.body.data.tags).to.deep.equal(['上海探店', '咖啡']);
    expect(detail.body.data.history.map((h: any) => [h.workflow_id, h.likes])).to.deep.equal([
      [wf1, 4311],
      [wf2, 5200],
    ]);
    expect((await get(`/api/v1/xiaohongshu/contents/${hex24()}`, alice.token)).res.status).to.equal(404);
    // past retention: as if it were not there
    expect((await get(`/api/v1/xiaohongshu/contents/${n.old}`, alice.token)).res.status).to.equal(404);
    expect((await get('/api/v1/xiaohongshu/contents/not-a-note', alice.token)).res.status).to.equal(422);
  });

  it('analytics need data_analytics: 403 on the free plan, naming the feature', async () => {
    for (const path of ['/api/v1/xiaohongshu/analytics/overview', '/api/v1/xiaohongshu/analytics/trends']) {
      const refused = await get(path, alice.token);
      expect(refused.res.status, refused.text).to.equal(403);
      expect(refused.body.error).to.deep.include({ code: 'PERMISSION_DENIED' });
      expect(refused.body.error.details).to.include({ feature: 'data_analytics', plan: 'free' });
    }
  });

  it("keeps another user out of my notes: Bob's list, detail and export are empty", async () => {
    expect((await list(bob.token)).body.data.pagination.total).to.equal(0);
    expect((await get(`/api/v1/xiaohongshu/contents/${n.coffee}`, bob.token)).res.status).to.equal(404);
    const exported = await get('/api/v1/xiaohongshu/contents/export?format=json', bob.token);
    expect(exported.res.status, exported.text).to.equal(200);
    expect(JSON.parse(exported.text)).to.deep.equal([]);
  });

  it('exports json on the free plan; csv and xlsx need excel (403 naming export_formats)', async () => {
    const json = await get('/api/v1/xiaohongshu/contents/export?format=json&sort=likes&order=desc', alice.token);
    expect(json.res.status, json.text).to.equal(200);
    expect(json.res.headers.get('content-type')).to.equal('application/json; charset=utf-8');
    expect(json.res.headers.get('content-disposition')).to.match(/^attachment; filename="xiaohongshu-contents-\d{8}-\d{6}\.json"$/);
    const exported = JSON.parse(json.text) as any[];
    expect(exported.map((x) => x.id)).to.deep.equal([n.sofa, n.coffee, n.hotpot, n.bakery, n.latte, n.kitchen]);
    expect(exported[1]).to.include({ title: '上海周末咖啡店合集☕️', likes: 5200 });
    expect(exported[1]).to.not.have.property('success');

    for (const format of ['csv', 'xlsx']) {
      const refused = await get(`/api/v1/xiaohongshu/contents/export?format=${format}`, alice.token);
      expect(refused.res.status, refused.text).to.equal(403);
      expect(refused.body.error.code).to.equal('PERMISSION_DENIED');
      expect(refused.body.error.details).to.include({ feature: 'export_formats', requires: 'excel', plan: 'free' });
    }
    const pdfRefused = await get('/api/v1/xiaohongshu/contents/export?format=pdf', alice.token);
    expect(pdfRefused.res.status).to.equal(403);
    expect(pdfRefused.body.error.details).to.include({ feature: 'export_formats', requires: 'pdf', plan: 'free' });
    expect((await get('/api/v1/xiaohongshu/contents/export?format=docx', alice.token)).res.status).to.equal(422);
  });

  it('after an upgrade to basic: csv and xlsx export (parsed back), and 30 days of retention', async () => {
    const key = subscriptionKey(alice.userId, 'xiaohongshu');
    const at = new Date().toISOString();
    await handle(
      store,
      subscriptionAggregate,
      key,
      { type: 'StartSubscription', subscriptionId: `sub-${alice.userId}`, userId: alice.userId, service: 'xiaohongshu', plan: 'free', now: at },
      { context },
    );
    await handle(
      store,
      subscriptionAggregate,
      key,
      { type: 'ChangePlan', plan: 'basic', periodEnd: new Date(now + 30 * DAY).toISOString(), now: at },
      { context },
    );

    // basic has advanced_filters (the 10-day-old note back in view matches none of these)
    expect(ids(await list(alice.token, `?author=${encodeURIComponent('Lily')}&sort=likes`))).to.deep.equal([n.sofa, n.kitchen]);
    expect(ids(await list(alice.token, `?author=${author2.id}&sort=likes&order=asc`))).to.deep.equal([n.kitchen, n.sofa]);
    expect(ids(await list(alice.token, `?tag=${encodeURIComponent('上海探店')}&sort=likes`))).to.deep.equal([n.coffee, n.bakery]);
    expect(ids(await list(alice.token, '?min_likes=2300&sort=likes&order=asc'))).to.deep.equal([n.hotpot, n.coffee, n.sofa]);
    // the 10-day-old note was published with the coffee note: both first, in either order
    const early = ids(await list(alice.token, '?published_from=2026-03-01&published_to=2026-03-05&sort=published_at&order=asc'));
    expect(early.slice(0, 2).sort()).to.deep.equal([n.coffee, n.old].sort());
    expect(early[2]).to.equal(n.latte);
    expect(ids(await list(alice.token, '?published_from=2026-03-10T11:00:00Z&sort=published_at'))).to.deep.equal([n.bakery, n.hotpot]);
    // a period that ends before it starts is 422 naming published_from (days, instants or one of each), not an empty page
    for (const period of [
      'published_from=2026-03-05&published_to=2026-03-01',
      'published_from=2026-03-05T00:00:00Z&published_to=2026-03-04T23:59:59Z',
      'published_from=2026-03-05&published_to=2026-03-01T12:00:00Z',
    ]) {
      const reversed = await get(`/api/v1/xiaohongshu/contents?${period}`, alice.token);
      expect(reversed.res.status, `${period}: ${reversed.text}`).to.equal(422);
      expect(reversed.body.error.details.issues[0].path).to.deep.equal(['published_from']);
    }
    // an instant Postgres cannot hold is the caller's mistake, never a 500
    const yearZero = await get('/api/v1/xiaohongshu/contents?published_to=0000-01-01T00:00:00Z', alice.token);
    expect(yearZero.res.status, yearZero.text).to.equal(422);
    // one day for both is that whole day
    expect((await get('/api/v1/xiaohongshu/contents?published_from=2026-03-05&published_to=2026-03-05', alice.token)).res.status).to.equal(200);
    // the 10-day-old note is back; the 40-day-old one is still past basic's 30 days
    const all = await list(alice.token, '?sort=likes&order=asc&per_page=100');
    expect(all.body.data.pagination.total).to.equal(7);
    expect(ids(all)[0]).to.equal(n.old);

    const csv = await get(`/api/v1/xiaohongshu/contents/export?format=csv&tag=${encodeURIComponent('咖啡')}&sort=likes&order=desc`, alice.token);
    expect(csv.res.status, csv.text).to.equal(200);
    expect(csv.res.headers.get('content-type')).to.equal('text/csv; charset=utf-8');
    expect(csv.res.headers.get('content-disposition')).to.match(/^attachment; filename="xiaohongshu-contents-\d{8}-\d{6}\.csv"$/);
    expect(csv.text.charCodeAt(0)).to.equal(0xfeff);
    const rows = parseCsv(csv.text.slice(1));
    const header = rows[0]!;
    const col = (name: string) => header.indexOf(name);
    expect(rows.slice(1).map((r) => [r[col('note_id')], r[col('likes')]])).to.deep.equal([
      [n.coffee, '5200'],
      [n.latte, '683'],
      [n.old, '50'],
    ]);
    expect(rows[1]![col('title')]).to.equal('上海周末咖啡店合集☕️');
    expect(rows[1]![col('tags')]).to.equal('上海探店, 咖啡');
    expect(rows[1]![col('last_collected_at')]).to.equal(ago(HOUR));

    const xlsx = await get('/api/v1/xiaohongshu/contents/export?format=xlsx&sort=likes&order=desc', alice.token);
    expect(xlsx.res.status, xlsx.text).to.equal(200);
    expect(xlsx.res.headers.get('content-type')).to.equal('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect(xlsx.res.headers.get('content-disposition')).to.match(/\.xlsx"$/);
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(xlsx.bytes as unknown as ArrayBuffer);
    const sheet = workbook.worksheets[0]!;
    expect(sheet.rowCount).to.equal(8);
    const headers = (sheet.getRow(1).values as unknown[]).slice(1);
    const cell = (r: number, name: string) => (sheet.getRow(r).values as unknown[])[headers.indexOf(name) + 1];
    expect([2, 3, 8].map((r) => [cell(r, 'note_id'), cell(r, 'likes')])).to.deep.equal([
      [n.sofa, 15000],
      [n.coffee, 5200],
      [n.old, 50],
    ]);
    expect(cell(2, 'title')).to.equal('法式装修｜客厅沙发怎么选');
    expect((cell(3, 'last_collected_at') as Date).toISOString()).to.equal(ago(HOUR));

    // basic has no data_analytics either (its note says "基础统计", its value is False)
    expect((await get('/api/v1/xiaohongshu/analytics/overview', alice.token)).res.status).to.equal(403);
  });

  it('on pro (data_analytics, 90 days kept): overview (totals, averages, types, top authors and tags) and daily trends; Bob sees none of it', async () => {
    for (const user of [alice, bob]) {
      const key = subscriptionKey(user.userId, 'xiaohongshu');
      const at = new Date().toISOString();
      await handle(
        store,
        subscriptionAggregate,
        key,
        { type: 'StartSubscription', subscriptionId: `sub-${user.userId}`, userId: user.userId, service: 'xiaohongshu', plan: 'free', now: at },
        { context },
      );
      await handle(
        store,
        subscriptionAggregate,
        key,
        { type: 'ChangePlan', plan: 'pro', periodEnd: new Date(now + 30 * DAY).toISOString(), now: at },
        { context },
      );
    }
    const o = await get('/api/v1/xiaohongshu/analytics/overview', alice.token);
    expect(o.res.status, o.text).to.equal(200);
    // the six recent notes and the 10- and 40-day-old ones (no comments, shares or collects)
    const likes = 5200 + 683 + 15000 + 120 + 2300 + 900 + 50 + 70;
    expect(o.body.data.totals).to.deep.equal({
      notes: 8,
      authors: 2,
      likes,
      comments: 600 + 33 + 2000 + 8 + 150 + 45,
      shares: 1300 + 93 + 800 + 2 + 60 + 20,
      collects: 4100 + 520 + 9000 + 300 + 1800 + 700,
    });
    expect(o.body.data.averages.likes).to.equal(Math.round((likes / 8) * 100) / 100);
    expect(o.body.data.by_type).to.deep.equal([
      { type: 'note', notes: 7 },
      { type: 'video', notes: 1 },
    ]);
    expect(o.body.data.top_authors[0]).to.deep.equal({
      author_id: author1.id,
      author_name: '小鹿爱喝咖啡',
      notes: 6,
      likes: 5200 + 683 + 2300 + 900 + 50 + 70,
    });
    expect(o.body.data.top_tags.slice(0, 3)).to.deep.equal([
      { tag: '咖啡', notes: 4, likes: 5200 + 683 + 50 + 70 },
      // equal counts: more likes first
      { tag: '家居', notes: 2, likes: 15120 },
      { tag: '上海探店', notes: 2, likes: 6100 },
    ]);
    expect(o.body.data.retention_days).to.equal(90);
    const today = quotaDay(new Date(now), 'Asia/Shanghai').day;
    const ranged = await get(
      `/api/v1/xiaohongshu/analytics/overview?from=${quotaDay(new Date(now - HOUR), 'Asia/Shanghai').day}&to=${today}&type=note`,
      alice.token,
    );
    expect(ranged.body.data.totals.notes, ranged.text).to.equal(2);
    expect((await get('/api/v1/xiaohongshu/analytics/overview?from=2026-03-02&to=2026-03-01', alice.token)).res.status).to.equal(422);

    const t = await get('/api/v1/xiaohongshu/analytics/trends?days=3', alice.token);
    expect(t.res.status, t.text).to.equal(200);
    const series = t.body.data.series as any[];
    expect(series).to.have.length(3);
    expect(series[2].day).to.equal(today);
    const sum = (k: string) => series.reduce((s, d) => s + d[k], 0);
    expect(sum('notes_collected')).to.equal(7);
    expect(sum('new_notes')).to.equal(6);
    expect(sum('likes')).to.equal(4311 + 683 + 15000 + 120 + 2300 + 5200 + 900);
    const last = series.find((d) => d.day === quotaDay(new Date(now - HOUR), 'Asia/Shanghai').day);
    expect(last).to.include({ notes_collected: 2, new_notes: 1, likes: 6100 });
    const defaults = await get('/api/v1/xiaohongshu/analytics/trends', alice.token);
    expect(defaults.body.data.series).to.have.length(30);
    // the 10-day-old collection is within the 30 days; the 40-day-old one is not
    expect(defaults.body.data.series.reduce((s: number, d: any) => s + d.notes_collected, 0)).to.equal(8);
    expect((await get('/api/v1/xiaohongshu/analytics/trends?days=0', alice.token)).res.status).to.equal(422);

    // Bob, on pro too, sees none of Alice's notes in the analytics
    const theirs = await get('/api/v1/xiaohongshu/analytics/overview', bob.token);
    expect(theirs.res.status, theirs.text).to.equal(200);
    expect(theirs.body.data.totals).to.deep.equal({ notes: 0, authors: 0, likes: 0, comments: 0, shares: 0, collects: 0 });
    expect(theirs.body.data.top_authors).to.deep.equal([]);
    const theirTrends = await get('/api/v1/xiaohongshu/analytics/trends?days=3', bob.token);
    expect(theirTrends.body.data.series.every((d: any) => d.notes_collected === 0 && d.likes === 0)).to.equal(true);
  });

  it('on pro (export_formats include pdf): the notes as a PDF table, every row, Chinese text set in the PDF font', async () => {
    const pdf = await get('/api/v1/xiaohongshu/contents/export?format=pdf&sort=likes&order=desc', alice.token);
    expect(pdf.res.status, pdf.text.slice(0, 200)).to.equal(200);
    expect(pdf.res.headers.get('content-type')).to.equal('application/pdf');
    expect(pdf.res.headers.get('content-disposition')).to.match(/^attachment; filename="[^"]+\.pdf"$/);
    expect(pdf.bytes.subarray(0, 5).toString('latin1')).to.equal('%PDF-');
    const { extractText, getDocumentProxy } = await import('unpdf');
    const { text } = await extractText(await getDocumentProxy(new Uint8Array(pdf.bytes)), { mergePages: true });
    const flat = text.replace(/\s+/g, '');
    for (const id of [n.sofa, n.coffee, n.old]) expect(flat, id).to.include(id);
    expect(flat).to.include('法式装修');
  });
});

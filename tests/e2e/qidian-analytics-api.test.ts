import { expect } from 'chai';
import type { Container } from 'inversify';
import { randomUUID } from 'node:crypto';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { LOGIN_IP_PREFIX } from '../../src/adapters/rate-limit/login-rate-limit.js';
import { createApiApp } from '../../src/api-app.js';
import { addDays } from '../../src/application/quota-day.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore } from '../../src/event-store/index.js';
import { formatPosition, type Position } from '../../src/event-store/position.js';
import { qidianDataProjection, qidianDay } from '../../src/projections/qidian-data.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import { TOKENS } from '../../src/tokens.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { QIDIAN_RANKINGS, type PlanCode } from '../../src/write-model/subscription/plans.js';
import { workflowExecutionAggregate, type CollectedItem, type WorkflowExecutionCommand } from '../../src/write-model/workflow-execution/index.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { startOnPlan } from '../support/plans.js';

interface Reply {
  res: Response;
  text: string;
  body: any;
}

const LOCAL_IP_KEYS = ['127.0.0.1', '::ffff:127.0.0.1', '::1'].map((ip) => `${LOGIN_IP_PREFIX}:${ip}`);
const PASSWORD = 'qidian analyst password';
const DAY_MS = 86_400_000;
const WUZEI = '爱潜水的乌贼';
const WUZEI_PATH = encodeURIComponent(WUZEI);

/**
 * GET /api/v1/qidian/analytics/market and /analytics/author/{author} on the
 * production app over a real socket, the data collected through
 * ItemsCollected events and projected by the qidian-data projection.
 */
describe('qidian analytics API (e2e, production app)', function () {
  this.timeout(90_000);
  let container: Container;
  let store: EventStore;
  let running: RunningServer;
  let runner: ConsumerRunner;
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(async () => {
    container = await buildContainer(testConfig({ LOGIN_RATE_LIMIT_PER_IP: '10000' }));
    store = container.get(TOKENS.EventStore);
    const knex = container.get(TOKENS.Knex);
    runner = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl }, qidianDataProjection, { idleCheckpointMs: 100, lockRetryMs: 100 });
    runner.start();
    running = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
  });
  after(async () => {
    if (running) await closeServer(running.server);
    if (runner) await runner.stop();
    if (container) {
      await container.get(TOKENS.Redis).del(...LOCAL_IP_KEYS);
      await disposeContainer(container);
    }
  });

  async function call(method: string, path: string, token?: string): Promise<Reply> {
    const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
    const res = await fetch(`${running.url}${path}`, { method, headers });
    const text = await res.text();
    return { res, text, body: JSON.parse(text) };
  }
  const get = (path: string, token: string) => call('GET', path, token);

  /** A new user on the qidian plan `plan`. */
  async function reader(plan: PlanCode): Promise<{ userId: string; token: string }> {
    const email = `qidian-analytics-${randomUUID()}@example.test`;
    const registered = await fetch(`${running.url}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD, display_name: '分析师' }),
    });
    expect(registered.status).to.equal(201);
    const userId = ((await registered.json()) as any).data.user_id as string;
    const login = await fetch(`${running.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(login.status).to.equal(200);
    const token = ((await login.json()) as any).data.access_token as string;
    await startOnPlan(store, userId, 'qidian', plan);
    return { userId, token };
  }

  /** What a collector worker does: one execution of the owner's workflow collecting `items`; answers the last position. */
  async function collect(ownerId: string, workflowType: 'qidian.novels' | 'qidian.rankings', items: CollectedItem[]): Promise<string> {
    const executionId = randomUUID();
    const now = new Date().toISOString();
    const config = workflowType === 'qidian.novels' ? { novelIds: ['1010868264'] } : { rankings: ['热销榜', '收藏榜'] };
    const commands: WorkflowExecutionCommand[] = [
      {
        type: 'RequestExecution',
        executionId,
        workflowId: randomUUID(),
        ownerId,
        platform: 'qidian',
        workflowType,
        config,
        platformAccountId: null,
        trigger: 'schedule',
        requestedBy: null,
        now,
      },
      { type: 'StartExecution', executionId, workerId: 'collector-1', now },
      { type: 'CollectItems', executionId, batchId: 'batch-1', items, cursor: null, now },
    ];
    let last: Position | undefined;
    for (const command of commands) {
      const result = await handle(store, workflowExecutionAggregate, executionId, command, { context });
      last = result.position ?? last;
    }
    return formatPosition(last!);
  }

  // captures N days ago at the same time of day: each on its own Qidian day
  // the clock read when the tests start, not when mocha loads every file (the day may have turned meanwhile)
  let now = 0;
  let today = '';
  before(() => {
    now = Date.now();
    today = qidianDay(new Date(now));
  });
  const ago = (days: number) => new Date(now - days * DAY_MS).toISOString();

  interface Book {
    id: string;
    title: string;
    author: string;
    category: string;
  }
  const A: Book = { id: '1010868264', title: '诡秘之主', author: WUZEI, category: '玄幻' };
  const B: Book = { id: '1037153456', title: '玄鉴仙族', author: '季越人', category: '玄幻' };
  const C: Book = { id: '1036370336', title: '宿命之环', author: WUZEI, category: '玄幻' };
  const D: Book = { id: '1001000004', title: '长夜余火', author: WUZEI, category: '都市' };
  const E: Book = { id: '1001000005', title: '我的治愈系游戏', author: '我会修空调', category: '都市' };
  const F: Book = { id: '1001000006', title: '夜的命名术', author: '会说话的肘子', category: '都市' };
  const G: Book = { id: '1001000007', title: '大奉打更人', author: '卖报小郎君', category: '都市' };
  const X: Book = { id: '1001000008', title: '深海余烬', author: '远瞳', category: '科幻' };

  const entry = (ranking: string, rank: number, book: Book, capturedAt: string): CollectedItem => ({
    platformContentId: `${ranking}:${book.id}`,
    kind: 'qidian.ranking_entry',
    data: {
      ranking,
      rank,
      novelId: book.id,
      title: book.title,
      author: book.author,
      category: book.category,
      subCategory: null,
      status: 'serializing',
      score: 10_000 - rank * 100,
      scoreLabel: '月票',
      capturedAt,
    },
  });
  const snapshot = (book: Book, capturedAt: string, wordCount: number, collections: number | null = null): CollectedItem => ({
    platformContentId: book.id,
    kind: 'qidian.novel_snapshot',
    data: {
      novelId: book.id,
      title: book.title,
      author: book.author,
      category: book.category,
      wordCount,
      chapters: Math.floor(wordCount / 3000),
      status: 'serializing',
      stats: { clicks: null, recommendations: null, collections, monthlyTickets: null },
      lastUpdatedAt: capturedAt,
      capturedAt,
    },
  });

  /**
   * 热销榜: day −5 A1 B2 C3 D4 F5; day −3 X alone (neither end); day −1 C1 B2 E3 F4 A5.
   * 收藏榜: one capture (day −2): G1. 推荐榜: none.
   * Snapshots: A day −10 900k, −5 1,000,000, −1 1,030,000; C −4 500k, −1 560k; E −2 200k.
   */
  async function seedMarket(ownerId: string): Promise<string> {
    await collect(
      ownerId,
      'qidian.rankings',
      [A, B, C, D, F].map((book, i) => entry('热销榜', i + 1, book, ago(5))),
    );
    await collect(ownerId, 'qidian.rankings', [entry('热销榜', 1, X, ago(3))]);
    await collect(
      ownerId,
      'qidian.rankings',
      [C, B, E, F, A].map((book, i) => entry('热销榜', i + 1, book, ago(1))),
    );
    await collect(ownerId, 'qidian.rankings', [entry('收藏榜', 1, G, ago(2))]);
    // a run keeps one snapshot per book (its dedup key): one run per capture
    await collect(ownerId, 'qidian.novels', [snapshot(A, ago(10), 900_000, 10)]);
    await collect(ownerId, 'qidian.novels', [snapshot(A, ago(5), 1_000_000, 20), snapshot(C, ago(4), 500_000, 5)]);
    return collect(ownerId, 'qidian.novels', [snapshot(A, ago(1), 1_030_000, 25), snapshot(C, ago(1), 560_000, 7), snapshot(E, ago(2), 200_000)]);
  }

  let alice: { userId: string; token: string };
  let bob: { userId: string; token: string };
  let position = '';

  before(async () => {
    alice = await reader('pro');
    bob = await reader('pro');
    position = await seedMarket(alice.userId);
    // bob's own run: the same board, other books; none of it is alice's
    await collect(bob.userId, 'qidian.rankings', [entry('热销榜', 1, X, ago(6)), entry('热销榜', 2, G, ago(6))]);
    await collect(bob.userId, 'qidian.rankings', [entry('热销榜', 1, G, ago(1)), entry('热销榜', 2, X, ago(1))]);
  });

  it('market: risers, fallers, new entries and exits per board, word growth and category totals of the period', async () => {
    const market = await get(`/api/v1/qidian/analytics/market?days=7&after_position=${position}`, alice.token);
    expect(market.res.status, market.text).to.equal(200);
    const data = market.body.data;
    expect(data).to.include({ from: addDays(today, -6), to: today, days: 7 });
    // pro reads 'all': every board, the catalogue's three first
    expect(data.boards.map((b: any) => b.ranking)).to.deep.equal([...QIDIAN_RANKINGS]);

    const hot = data.boards[0];
    expect(hot).to.include({ start_day: qidianDay(ago(5)), end_day: qidianDay(ago(1)), days_captured: 3, entries_start: 5, entries_end: 5 });
    const brief = (m: any) => [m.novel_id, m.start_rank, m.end_rank, m.change];
    expect(hot.risers.map(brief)).to.deep.equal([
      [C.id, 3, 1, 2],
      [F.id, 5, 4, 1],
    ]);
    expect(hot.fallers.map(brief)).to.deep.equal([[A.id, 1, 5, -4]]);
    expect(hot.new_entries).to.deep.equal([{ novel_id: E.id, title: E.title, author: E.author, category: '都市', rank: 3, score: 9700, score_label: '月票' }]);
    expect(hot.exits).to.deep.equal([{ novel_id: D.id, title: D.title, author: WUZEI, category: '都市', rank: 4 }]);
    expect(hot.totals).to.deep.equal({ risers: 2, fallers: 1, steady: 1, new_entries: 1, exits: 1 });

    // one capture in the period: its bounds, no movements
    const collect_ = data.boards[1];
    expect(collect_).to.include({ start_day: qidianDay(ago(2)), end_day: qidianDay(ago(2)), days_captured: 1, entries_start: 1, entries_end: 1 });
    expect([collect_.risers, collect_.fallers, collect_.new_entries, collect_.exits]).to.deep.equal([[], [], [], []]);
    expect(data.boards[2]).to.include({ start_day: null, end_day: null, days_captured: 0, entries_start: 0, entries_end: 0 });

    // the 10-day-old snapshot of A lies before the period: A grew 1,000,000 → 1,030,000; E has one snapshot (no growth)
    expect(data.word_growth.map((g: any) => [g.novel_id, g.start_word_count, g.end_word_count, g.growth])).to.deep.equal([
      [C.id, 500_000, 560_000, 60_000],
      [A.id, 1_000_000, 1_030_000, 30_000],
    ]);
    expect(data.word_growth[0]).to.include({ start_captured_at: ago(4), end_captured_at: ago(1), author: WUZEI, category: '玄幻' });

    expect(data.categories).to.deep.equal([
      { category: '玄幻', books: 2, word_count: 1_590_000, word_growth: 90_000, ranked_start: 3, ranked_end: 3 },
      { category: '都市', books: 1, word_count: 200_000, word_growth: 0, ranked_start: 3, ranked_end: 3 },
    ]);
  });

  it('market: one board, one category, a shorter list, from/to', async () => {
    const city = await get(`/api/v1/qidian/analytics/market?board=${encodeURIComponent('热销榜')}&category=${encodeURIComponent('都市')}`, alice.token);
    expect(city.res.status, city.text).to.equal(200);
    expect(city.body.data.boards).to.have.length(1);
    const hot = city.body.data.boards[0];
    // the bounds stay the board's; the entries are the category's
    expect(hot).to.include({ ranking: '热销榜', start_day: qidianDay(ago(5)), end_day: qidianDay(ago(1)), entries_start: 2, entries_end: 2 });
    expect(hot.risers.map((m: any) => m.novel_id)).to.deep.equal([F.id]);
    expect(hot.fallers).to.deep.equal([]);
    expect(hot.new_entries.map((m: any) => m.novel_id)).to.deep.equal([E.id]);
    expect(hot.exits.map((m: any) => m.novel_id)).to.deep.equal([D.id]);
    expect(city.body.data.word_growth).to.deep.equal([]);
    expect(city.body.data.categories).to.deep.equal([{ category: '都市', books: 1, word_count: 200_000, word_growth: 0, ranked_start: 2, ranked_end: 2 }]);

    const top1 = await get('/api/v1/qidian/analytics/market?limit=1', alice.token);
    expect(top1.body.data.boards[0].risers.map((m: any) => m.novel_id)).to.deep.equal([C.id]);
    expect(top1.body.data.boards[0].totals.risers).to.equal(2);
    expect(top1.body.data.word_growth.map((g: any) => g.novel_id)).to.deep.equal([C.id]);

    // from day −3 to day −1: 热销榜 runs from X's capture to the last one; A grew only within it (1,030,000 alone: none)
    const ranged = await get(`/api/v1/qidian/analytics/market?from=${qidianDay(ago(3))}&to=${qidianDay(ago(1))}`, alice.token);
    expect(ranged.res.status, ranged.text).to.equal(200);
    expect(ranged.body.data).to.include({ from: qidianDay(ago(3)), to: qidianDay(ago(1)), days: 3 });
    const hot3 = ranged.body.data.boards[0];
    expect(hot3).to.include({ start_day: qidianDay(ago(3)), end_day: qidianDay(ago(1)), days_captured: 2 });
    expect(hot3.exits.map((m: any) => m.novel_id)).to.deep.equal([X.id]);
    expect(hot3.new_entries.map((m: any) => [m.novel_id, m.rank])).to.deep.equal([
      [C.id, 1],
      [B.id, 2],
      [E.id, 3],
      [F.id, 4],
      [A.id, 5],
    ]);
    expect(ranged.body.data.word_growth).to.deep.equal([]);
  });

  it('author: books (snapshots and rankings), totals and per-day trends, by URL-encoded name', async () => {
    const author = await get(`/api/v1/qidian/analytics/author/${WUZEI_PATH}?days=30&after_position=${position}`, alice.token);
    expect(author.res.status, author.text).to.equal(200);
    const data = author.body.data;
    expect(data).to.include({ author: WUZEI, from: addDays(today, -29), to: today, days: 30 });
    // over 30 days A grew from its 10-day-old snapshot
    expect(data.totals).to.deep.equal({ books: 3, total_words: 1_590_000, word_growth: 130_000 + 60_000, latest_update: ago(1), last_captured_at: ago(1) });
    expect(data.books.map((b: any) => [b.novel_id, b.word_count, b.word_growth, b.best_rank])).to.deep.equal([
      [A.id, 1_030_000, 130_000, { ranking: '热销榜', rank: 1, day: qidianDay(ago(5)) }],
      [C.id, 560_000, 60_000, { ranking: '热销榜', rank: 1, day: qidianDay(ago(1)) }],
      // known from a ranking entry only
      [D.id, null, null, { ranking: '热销榜', rank: 4, day: qidianDay(ago(5)) }],
    ]);
    expect(data.books[0]).to.include({
      title: A.title,
      category: '玄幻',
      status: 'serializing',
      chapters: 343,
      collections: 25,
      last_updated_at: ago(1),
      last_captured_at: ago(1),
    });
    expect(data.books[2]).to.include({ title: D.title, category: '都市', collections: null, last_updated_at: null, last_captured_at: ago(5) });

    expect(data.trends).to.deep.equal([
      { day: qidianDay(ago(10)), books: 1, word_count: 900_000, chapters: 300, collections: 10, monthly_tickets: null, ranking_entries: 0, best_rank: null },
      { day: qidianDay(ago(5)), books: 1, word_count: 1_000_000, chapters: 333, collections: 20, monthly_tickets: null, ranking_entries: 3, best_rank: 1 },
      { day: qidianDay(ago(4)), books: 1, word_count: 500_000, chapters: 166, collections: 5, monthly_tickets: null, ranking_entries: 0, best_rank: null },
      {
        day: qidianDay(ago(1)),
        books: 2,
        word_count: 1_590_000,
        chapters: 343 + 186,
        collections: 32,
        monthly_tickets: null,
        ranking_entries: 2,
        best_rank: 1,
      },
    ]);

    // the default period (30 days) and a week: A's growth counts from its first snapshot of the week
    const week = await get(`/api/v1/qidian/analytics/author/${WUZEI_PATH}?days=7`, alice.token);
    expect(week.body.data.totals.word_growth).to.equal(30_000 + 60_000);
    expect(week.body.data.trends.map((p: any) => p.day)).to.deep.equal([qidianDay(ago(5)), qidianDay(ago(4)), qidianDay(ago(1))]);
    expect((await get(`/api/v1/qidian/analytics/author/${WUZEI_PATH}`, alice.token)).body.data.days).to.equal(30);

    // an author known only from a board
    const other = await get(`/api/v1/qidian/analytics/author/${encodeURIComponent('季越人')}`, alice.token);
    expect(other.res.status, other.text).to.equal(200);
    expect(other.body.data.totals).to.include({ books: 1, total_words: 0, latest_update: null });
    expect(other.body.data.books[0]).to.include({ novel_id: B.id, word_count: null });
  });

  it('unknown author: 404', async () => {
    const unknown = await get(`/api/v1/qidian/analytics/author/${encodeURIComponent('无名氏')}`, alice.token);
    expect(unknown.res.status, unknown.text).to.equal(404);
    expect(unknown.body.error.code).to.equal('NOT_FOUND');
  });

  it("scopes everything to the caller: bob sees his own board, none of alice's books or authors", async () => {
    const market = await get('/api/v1/qidian/analytics/market?days=7', bob.token);
    expect(market.res.status, market.text).to.equal(200);
    const hot = market.body.data.boards[0];
    expect(hot).to.include({ start_day: qidianDay(ago(6)), end_day: qidianDay(ago(1)), entries_start: 2, entries_end: 2 });
    expect(hot.risers.map((m: any) => [m.novel_id, m.change])).to.deep.equal([[G.id, 1]]);
    expect(hot.fallers.map((m: any) => [m.novel_id, m.change])).to.deep.equal([[X.id, -1]]);
    expect(hot.new_entries).to.deep.equal([]);
    expect(market.body.data.word_growth).to.deep.equal([]);
    expect(market.body.data.categories.map((c: any) => c.category).sort()).to.deep.equal(['科幻', '都市'].sort());
    expect(market.body.data.boards[1].start_day).to.equal(null);

    const author = await get(`/api/v1/qidian/analytics/author/${WUZEI_PATH}`, bob.token);
    expect(author.res.status, author.text).to.equal(404);
  });

  it('gates: market_insights (pro, enterprise) and author_info (basic up); 403 PERMISSION_DENIED naming the feature', async () => {
    const basic = await reader('basic');
    await seedMarket(basic.userId);
    const market = await get('/api/v1/qidian/analytics/market', basic.token);
    expect(market.res.status, market.text).to.equal(403);
    expect(market.body.error.code).to.equal('PERMISSION_DENIED');
    expect(market.body.error.details).to.include({ feature: 'market_insights', plan: 'basic' });
    // basic has author_info
    const author = await get(`/api/v1/qidian/analytics/author/${WUZEI_PATH}`, basic.token);
    expect(author.res.status, author.text).to.equal(200);
    expect(author.body.data.totals.books).to.equal(3);
    // basic keeps 30 days: a 40-day-old capture is not shown, even in a period that covers it
    const last = await collect(basic.userId, 'qidian.novels', [snapshot(A, ago(40), 800_000)]);
    const kept = await get(`/api/v1/qidian/analytics/author/${WUZEI_PATH}?from=${addDays(today, -60)}&after_position=${last}`, basic.token);
    expect(kept.res.status, kept.text).to.equal(200);
    expect(kept.body.data.trends[0].day).to.equal(qidianDay(ago(10)));
    expect(kept.body.data.books[0]).to.include({ novel_id: A.id, word_growth: 130_000 });

    const free = await reader('free');
    const freeMarket = await get('/api/v1/qidian/analytics/market', free.token);
    expect(freeMarket.res.status, freeMarket.text).to.equal(403);
    expect(freeMarket.body.error.details).to.include({ feature: 'market_insights', plan: 'free' });
    const freeAuthor = await get(`/api/v1/qidian/analytics/author/${WUZEI_PATH}`, free.token);
    expect(freeAuthor.res.status, freeAuthor.text).to.equal(403);
    expect(freeAuthor.body.error.details).to.include({ feature: 'author_info', plan: 'free' });

    const enterprise = await reader('enterprise');
    expect((await get('/api/v1/qidian/analytics/market', enterprise.token)).res.status).to.equal(200);

    const anonymous = await call('GET', '/api/v1/qidian/analytics/market');
    expect(anonymous.res.status).to.equal(401);
  });

  it('validates the period and the filters: 422', async () => {
    const bad = [
      '/api/v1/qidian/analytics/market?days=0',
      `/api/v1/qidian/analytics/market?days=366`,
      `/api/v1/qidian/analytics/market?days=7&from=${addDays(today, -3)}`,
      `/api/v1/qidian/analytics/market?from=${addDays(today, -1)}&to=${addDays(today, -2)}`,
      `/api/v1/qidian/analytics/market?from=${addDays(today, -400)}&to=${today}`,
      `/api/v1/qidian/analytics/market?from=${addDays(today, -365)}`,
      '/api/v1/qidian/analytics/market?from=2026-13-01',
      '/api/v1/qidian/analytics/market?to=yesterday',
      `/api/v1/qidian/analytics/market?board=${encodeURIComponent('点击榜')}`,
      '/api/v1/qidian/analytics/market?limit=0',
      '/api/v1/qidian/analytics/market?limit=51',
      `/api/v1/qidian/analytics/author/${WUZEI_PATH}?days=400`,
      `/api/v1/qidian/analytics/author/${WUZEI_PATH}?from=${addDays(today, -1)}&to=${addDays(today, -5)}`,
      `/api/v1/qidian/analytics/author/${'x'.repeat(201)}`,
    ];
    for (const path of bad) {
      const refused = await get(path, alice.token);
      expect(refused.res.status, `${path}: ${refused.text}`).to.equal(422);
      expect(refused.body.error.code).to.equal('VALIDATION_ERROR');
    }
    // the longest period is fine
    const longest = await get(`/api/v1/qidian/analytics/market?from=${addDays(today, -364)}`, alice.token);
    expect(longest.res.status, longest.text).to.equal(200);
    expect(longest.body.data.days).to.equal(365);
  });

  it('documents both routes in /api/v1/openapi.json', async () => {
    const doc = (await (await fetch(`${running.url}/api/v1/openapi.json`)).json()) as any;
    const market = doc.paths['/api/v1/qidian/analytics/market']?.get;
    const author = doc.paths['/api/v1/qidian/analytics/author/{author}']?.get;
    expect(market, 'market route').to.be.an('object');
    expect(author, 'author route').to.be.an('object');
    expect(Object.keys(market.responses)).to.include.members(['200', '401', '403', '422']);
    expect(Object.keys(author.responses)).to.include.members(['200', '401', '403', '404', '422']);
    expect(market.parameters.map((p: any) => p.name)).to.include.members(['days', 'from', 'to', 'board', 'category', 'limit']);
  });
});

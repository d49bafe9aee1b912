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
import type { PlanCode } from '../../src/write-model/subscription/plans.js';
import { workflowExecutionAggregate, type CollectedItem, type WorkflowExecutionCommand } from '../../src/write-model/workflow-execution/index.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { startOnPlan } from '../support/plans.js';

const LOCAL_IP_KEYS = ['127.0.0.1', '::ffff:127.0.0.1', '::1'].map((ip) => `${LOGIN_IP_PREFIX}:${ip}`);
const PASSWORD = 'competitor analyst password';
const DAY_MS = 86_400_000;

/**
 * GET /api/v1/qidian/analytics/competitors/{novel_id} (plan feature
 * competitor_analysis) on the production app over a real socket; the data
 * collected through ItemsCollected events and projected by qidian-data.
 */
describe('qidian competitor analysis API (e2e, production app)', function () {
  this.timeout(90_000);
  let container: Container;
  let store: EventStore;
  let running: RunningServer;
  let runner: ConsumerRunner;
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(async () => {
    container = await buildContainer(testConfig({ LOGIN_RATE_LIMIT_PER_IP: '10000' }));
    store = container.get(TOKENS.EventStore);
    runner = new ConsumerRunner({ store, knex: container.get(TOKENS.Knex), databaseUrl: testDatabaseUrl }, qidianDataProjection, {
      idleCheckpointMs: 100,
      lockRetryMs: 100,
    });
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

  async function get(path: string, token?: string) {
    const res = await fetch(`${running.url}${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    const text = await res.text();
    return { res, text, body: JSON.parse(text) };
  }

  async function reader(plan: PlanCode): Promise<{ userId: string; token: string }> {
    const email = `competitors-${randomUUID()}@example.test`;
    const registered = await fetch(`${running.url}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD, display_name: '竞品' }),
    });
    expect(registered.status).to.equal(201);
    const userId = ((await registered.json()) as any).data.user_id as string;
    const login = await fetch(`${running.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    const token = ((await login.json()) as any).data.access_token as string;
    await startOnPlan(store, userId, 'qidian', plan);
    return { userId, token };
  }

  async function collect(ownerId: string, workflowType: 'qidian.novels' | 'qidian.rankings', items: CollectedItem[]): Promise<string> {
    const executionId = randomUUID();
    const now = new Date().toISOString();
    const config = workflowType === 'qidian.novels' ? { novelIds: ['1010868264'] } : { rankings: ['热销榜'] };
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
    for (const command of commands) last = (await handle(store, workflowExecutionAggregate, executionId, command, { context })).position ?? last;
    return formatPosition(last!);
  }

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
    sub: string;
  }
  const A: Book = { id: '1010868264', title: '诡秘之主', author: '爱潜水的乌贼', category: '玄幻', sub: '东方玄幻' };
  const B: Book = { id: '1037153456', title: '玄鉴仙族', author: '季越人', category: '玄幻', sub: '东方玄幻' };
  const C: Book = { id: '1036370336', title: '宿命之环', author: '爱潜水的乌贼', category: '玄幻', sub: '东方玄幻' };
  const D: Book = { id: '1001000004', title: '异世界', author: '某人', category: '玄幻', sub: '异世大陆' };
  const E: Book = { id: '1001000005', title: '我的治愈系游戏', author: '我会修空调', category: '都市', sub: '都市生活' };

  const entry = (rank: number, book: Book, capturedAt: string): CollectedItem => ({
    platformContentId: `热销榜:${book.id}`,
    kind: 'qidian.ranking_entry',
    data: {
      ranking: '热销榜',
      rank,
      novelId: book.id,
      title: book.title,
      author: book.author,
      category: book.category,
      subCategory: book.sub,
      status: 'serializing',
      score: null,
      scoreLabel: null,
      capturedAt,
    },
  });
  const snapshot = (
    book: Book,
    capturedAt: string,
    wordCount: number,
    chapters: number,
    collections: number | null,
    monthlyTickets: number | null,
  ): CollectedItem => ({
    platformContentId: book.id,
    kind: 'qidian.novel_snapshot',
    data: {
      novelId: book.id,
      title: book.title,
      author: book.author,
      category: book.category,
      wordCount,
      chapters,
      status: 'serializing',
      stats: { clicks: null, recommendations: null, collections, monthlyTickets },
      lastUpdatedAt: capturedAt,
      capturedAt,
    },
  });

  /**
   * Snapshots: A −8 1,000,000 w 300 ch 100 coll 10 mt, −1 1,070,000 w 320 ch 150 coll 30 mt (a week apart);
   * B −8 500,000 / 200 coll, −1 514,000 / 260 coll; C −1 2,000,000 / 50 coll; D −1 800,000 / 500 coll; E (都市) −1 300,000.
   * 热销榜 −2: B1 A2 C3 D4 E5; −1: A1 B2. Sub-categories from the board: A B C 东方玄幻, D 异世大陆.
   */
  async function seed(ownerId: string): Promise<string> {
    await collect(ownerId, 'qidian.novels', [snapshot(A, ago(8), 1_000_000, 300, 100, 10), snapshot(B, ago(8), 500_000, 150, 200, null)]);
    await collect(ownerId, 'qidian.novels', [
      snapshot(A, ago(1), 1_070_000, 320, 150, 30),
      snapshot(B, ago(1), 514_000, 155, 260, null),
      snapshot(C, ago(1), 2_000_000, 600, 50, null),
      snapshot(D, ago(1), 800_000, 250, 500, null),
      snapshot(E, ago(1), 300_000, 100, 40, null),
    ]);
    await collect(
      ownerId,
      'qidian.rankings',
      [B, A, C, D, E].map((book, i) => entry(i + 1, book, ago(2))),
    );
    return collect(
      ownerId,
      'qidian.rankings',
      [A, B].map((book, i) => entry(i + 1, book, ago(1))),
    );
  }

  let alice: { userId: string; token: string };
  let bob: { userId: string; token: string };
  let position = '';

  before(async () => {
    alice = await reader('pro');
    bob = await reader('enterprise');
    position = await seed(alice.userId);
    // bob's own: another 东方玄幻 book, never alice's peer
    await collect(bob.userId, 'qidian.novels', [snapshot({ ...B, id: '1009999999' }, ago(1), 9_000_000, 9000, 9000, 900)]);
  });

  const path = (id: string, query = '') => `/api/v1/qidian/analytics/competitors/${id}${query}`;

  it('against its sub-category peers: value, median/p25/p75, percentile and rank per metric; the top peers', async () => {
    const got = await get(path(A.id, `?after_position=${position}`), alice.token);
    expect(got.res.status, got.text).to.equal(200);
    const data = got.body.data;
    expect(data.novel).to.deep.equal({
      novel_id: A.id,
      title: A.title,
      author: A.author,
      category: '玄幻',
      sub_category: '东方玄幻',
      last_captured_at: ago(1),
    });
    expect(data).to.include({ from: addDays(today, -29), to: today, days: 30, sort: 'collections' });
    expect(data.peer_group).to.deep.equal({ category: '玄幻', sub_category: '东方玄幻', level: 'sub_category', peers: 2 });

    const metric = (name: string) => data.metrics.find((m: any) => m.metric === name);
    // peers B 514,000 and C 2,000,000: A beats one, loses to one
    expect(metric('word_count')).to.deep.equal({
      metric: 'word_count',
      ranking: null,
      lower_is_better: false,
      value: 1_070_000,
      peers: 2,
      median: 1_257_000,
      p25: 885_500,
      p75: 1_628_500,
      percentile: 50,
      rank: 2,
      of: 3,
    });
    expect(metric('collections')).to.include({ value: 150, peers: 2, median: 155, percentile: 50, rank: 2, of: 3 });
    // C has one snapshot (no growth): B alone, 14,000 a week against A's 70,000
    expect(metric('word_count_weekly_growth')).to.include({ value: 70_000, peers: 1, median: 14_000, percentile: 100, rank: 1, of: 2 });
    expect(metric('collections_weekly_growth')).to.include({ value: 50, peers: 1, median: 60, percentile: 0, rank: 2, of: 2 });
    // no peer shows monthly tickets
    expect(metric('monthly_tickets')).to.deep.equal({
      metric: 'monthly_tickets',
      ranking: null,
      lower_is_better: false,
      value: 30,
      peers: 0,
      median: null,
      p25: null,
      p75: null,
      percentile: null,
      rank: 1,
      of: 1,
    });
    // ranks: lower is better; A and B both reached 1, C 3
    expect(metric('best_rank:热销榜')).to.deep.equal({
      metric: 'best_rank:热销榜',
      ranking: '热销榜',
      lower_is_better: true,
      value: 1,
      peers: 2,
      median: 2,
      p25: 1.5,
      p75: 2.5,
      percentile: 75,
      rank: 1,
      of: 3,
    });
    // boards nobody of the group is on are left out
    expect(data.metrics.filter((m: any) => m.ranking !== null).map((m: any) => m.ranking)).to.deep.equal(['热销榜']);

    expect(data.top_peers.map((p: any) => [p.novel_id, p.collections])).to.deep.equal([
      [B.id, 260],
      [C.id, 50],
    ]);
    expect(data.top_peers[0]).to.deep.include({
      title: B.title,
      sub_category: '东方玄幻',
      word_count: 514_000,
      word_count_weekly_growth: 14_000,
      best_rank: { ranking: '热销榜', rank: 1 },
    });
    expect(data.top_peers[1]).to.include({ word_count_weekly_growth: null });
  });

  it('level=category: the whole category (not another category), sort and limit', async () => {
    const got = await get(path(A.id, '?level=category&sort=word_count&limit=2'), alice.token);
    expect(got.res.status, got.text).to.equal(200);
    const data = got.body.data;
    expect(data.peer_group).to.deep.equal({ category: '玄幻', sub_category: null, level: 'category', peers: 3 });
    // B 514,000, D 800,000, C 2,000,000: A beats two of three
    expect(data.metrics.find((m: any) => m.metric === 'word_count')).to.include({ peers: 3, median: 800_000, percentile: 66.67, rank: 2, of: 4 });
    expect(data.top_peers.map((p: any) => p.novel_id)).to.deep.equal([C.id, D.id]);
    expect(data.sort).to.equal('word_count');

    // a peer known from a board entry only, in a period that holds only it
    const onlyBoard = await get(path(D.id, `?from=${qidianDay(ago(2))}&to=${qidianDay(ago(2))}`), alice.token);
    expect(onlyBoard.res.status, onlyBoard.text).to.equal(200);
    expect(onlyBoard.body.data.peer_group).to.deep.equal({ category: '玄幻', sub_category: '异世大陆', level: 'sub_category', peers: 0 });
    expect(onlyBoard.body.data.metrics.find((m: any) => m.metric === 'best_rank:热销榜')).to.include({ value: 4, peers: 0, rank: 1, of: 1 });
    expect(onlyBoard.body.data.metrics.find((m: any) => m.metric === 'word_count')).to.include({ value: null, rank: null, percentile: null });
  });

  it('404 for a novel the caller has no data of; scoped to the caller', async () => {
    const unknown = await get(path('1234567'), alice.token);
    expect(unknown.res.status, unknown.text).to.equal(404);
    expect(unknown.body.error.code).to.equal('NOT_FOUND');
    // alice's novel is not bob's
    expect((await get(path(A.id), bob.token)).res.status).to.equal(404);
    // bob's own book: alice's books are no peers of it
    const own = await get(path('1009999999'), bob.token);
    expect(own.res.status, own.text).to.equal(200);
    expect(own.body.data.peer_group.peers).to.equal(0);
    expect(own.body.data.top_peers).to.deep.equal([]);
  });

  it('gates: competitor_analysis (pro, enterprise); 403 PERMISSION_DENIED naming the feature', async () => {
    for (const plan of ['free', 'basic'] as const) {
      const user = await reader(plan);
      await seed(user.userId);
      const refused = await get(path(A.id), user.token);
      expect(refused.res.status, refused.text).to.equal(403);
      expect(refused.body.error.details).to.include({ feature: 'competitor_analysis', plan });
    }
    expect((await get(path(A.id))).res.status).to.equal(401);
  });

  it('validates: 422', async () => {
    const bad = [
      path('abc'),
      path(A.id, '?days=0'),
      path(A.id, '?days=366'),
      path(A.id, `?days=7&from=${addDays(today, -3)}`),
      path(A.id, `?from=${addDays(today, -1)}&to=${addDays(today, -2)}`),
      path(A.id, `?from=${addDays(today, -400)}`),
      path(A.id, '?limit=0'),
      path(A.id, '?limit=51'),
      path(A.id, '?sort=title'),
      path(A.id, '?level=tag'),
    ];
    for (const p of bad) {
      const refused = await get(p, alice.token);
      expect(refused.res.status, `${p}: ${refused.text}`).to.equal(422);
      expect(refused.body.error.code).to.equal('VALIDATION_ERROR');
    }
  });

  it('is in /api/v1/openapi.json', async () => {
    const doc = (await (await fetch(`${running.url}/api/v1/openapi.json`)).json()) as any;
    const route = doc.paths['/api/v1/qidian/analytics/competitors/{novel_id}']?.get;
    expect(route).to.be.an('object');
    expect(Object.keys(route.responses)).to.include.members(['200', '401', '403', '404', '422']);
  });
});

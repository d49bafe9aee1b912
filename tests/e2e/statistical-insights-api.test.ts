import { expect } from 'chai';
import type { Container } from 'inversify';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { LOGIN_IP_PREFIX } from '../../src/adapters/rate-limit/login-rate-limit.js';
import { createApiApp } from '../../src/api-app.js';
import { addDays, quotaDay } from '../../src/application/quota-day.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore } from '../../src/event-store/index.js';
import { formatPosition } from '../../src/event-store/position.js';
import type { XiaohongshuNote } from '../../src/platforms/xiaohongshu/items.js';
import { xiaohongshuContentProjection } from '../../src/projections/xiaohongshu-content.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import { TOKENS } from '../../src/tokens.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import type { PlanCode } from '../../src/write-model/subscription/plans.js';
import { workflowExecutionAggregate, type CollectedItem, type WorkflowExecutionCommand } from '../../src/write-model/workflow-execution/index.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { startOnPlan } from '../support/plans.js';

const LOCAL_IP_KEYS = ['127.0.0.1', '::ffff:127.0.0.1', '::1'].map((ip) => `${LOGIN_IP_PREFIX}:${ip}`);
const PASSWORD = 'insight reader password';
const DAY_MS = 86_400_000;
const hex24 = () => randomBytes(12).toString('hex');

/**
 * GET /api/v1/xiaohongshu/analytics/insights (plan feature ai_insights:
 * statistical insights) on the production app over a real socket; the notes
 * collected through ItemsCollected events and projected by the
 * xiaohongshu-content projection.
 */
describe('xiaohongshu statistical insights API (e2e, production app)', function () {
  this.timeout(90_000);
  let container: Container;
  let store: EventStore;
  let running: RunningServer;
  let runner: ConsumerRunner;
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  const timeZone = 'Asia/Shanghai';
  // the clock read when the tests start, not when mocha loads every file (the day may have turned meanwhile)
  let now = 0;
  let today = '';
  /** day index x of a 10-day period (x = 0 the first day, 9 today): a publish time that day */
  const at = (x: number) => new Date(now - (9 - x) * DAY_MS).toISOString();
  const dayOf = (x: number) => addDays(today, x - 9);

  before(async () => {
    now = Date.now();
    today = quotaDay(new Date(now), timeZone).day;
    container = await buildContainer(testConfig({ LOGIN_RATE_LIMIT_PER_IP: '10000', QUOTA_TIME_ZONE: timeZone }));
    store = container.get(TOKENS.EventStore);
    runner = new ConsumerRunner({ store, knex: container.get(TOKENS.Knex), databaseUrl: testDatabaseUrl }, xiaohongshuContentProjection, {
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
    const email = `insights-${randomUUID()}@example.test`;
    const registered = await fetch(`${running.url}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD, display_name: '洞察' }),
    });
    expect(registered.status).to.equal(201);
    const userId = ((await registered.json()) as any).data.user_id as string;
    const login = await fetch(`${running.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    const token = ((await login.json()) as any).data.access_token as string;
    await startOnPlan(store, userId, 'xiaohongshu', plan);
    return { userId, token };
  }

  const author1 = { id: hex24(), nickname: '小鹿爱喝咖啡' };
  const author2 = { id: hex24(), nickname: 'Vlog日常' };
  function note(over: Partial<XiaohongshuNote> & { x: number }): XiaohongshuNote {
    const noteId = hex24();
    const { x, ...rest } = over;
    return {
      noteId,
      type: 'normal',
      title: '',
      text: '',
      author: author1,
      publishedAt: at(x),
      likes: 10,
      comments: 0,
      shares: 0,
      collects: 0,
      images: [],
      tags: [],
      location: null,
      url: `https://www.xiaohongshu.com/explore/${noteId}`,
      ...rest,
    } as XiaohongshuNote;
  }
  const item = (x: XiaohongshuNote): CollectedItem => ({
    platformContentId: x.noteId,
    kind: 'xiaohongshu.note',
    data: x as unknown as Record<string, unknown>,
  });

  async function collect(ownerId: string, notes: XiaohongshuNote[]): Promise<string> {
    const executionId = randomUUID();
    const collectedAt = new Date().toISOString();
    const send = (command: WorkflowExecutionCommand) => handle(store, workflowExecutionAggregate, executionId, command, { context });
    await send({
      type: 'RequestExecution',
      executionId,
      workflowId: `wf-${randomUUID()}`,
      ownerId,
      platform: 'xiaohongshu',
      workflowType: 'xiaohongshu.notes',
      config: { mode: 'keyword', keyword: '咖啡', maxItems: 50 },
      platformAccountId: null,
      trigger: 'manual',
      requestedBy: ownerId,
      now: collectedAt,
    });
    await send({ type: 'StartExecution', executionId, workerId: 'worker-1', now: collectedAt });
    const result = await send({ type: 'CollectItems', executionId, batchId: 'batch-1', items: notes.map(item), cursor: null, now: collectedAt });
    return formatPosition(result.position!);
  }

  /**
   * Over 10 days (x = 0…9), every note 10 likes unless said:
   * - 咖啡 (titles 咖啡店推荐): x 5, 7, 8, 8, 9, 9 — rising;
   * - 装修 (装修日记): x 0, 0, 1, 3 — falling;
   * - 火锅 (火锅 hotpot): five notes on x 6 — a spike;
   * - author2's four untagged Vlog notes at x 2…5, engagement 10, 12, 11, 500 — the last unusual for its author;
   * - a note published before the period (x −3): not counted.
   */
  function dataSet(): XiaohongshuNote[] {
    return [
      ...[5, 7, 8, 8, 9, 9].map((x) => note({ x, title: '咖啡店推荐', tags: ['咖啡'] })),
      ...[0, 0, 1, 3].map((x) => note({ x, title: '装修日记', tags: ['装修'] })),
      ...[6, 6, 6, 6, 6].map((x) => note({ x, title: '火锅 hotpot', tags: ['火锅'] })),
      note({ x: 2, title: 'Vlog 1', author: author2, likes: 10 }),
      note({ x: 3, title: 'Vlog 2', author: author2, likes: 12 }),
      note({ x: 4, title: 'Vlog 3', author: author2, likes: 11 }),
      note({ x: 5, title: 'Vlog 4', author: author2, likes: 400, comments: 50, collects: 30, shares: 20 }),
      note({ x: -3, title: '咖啡店推荐', tags: ['咖啡'] }),
    ];
  }

  let alice: { userId: string; token: string };
  let bob: { userId: string; token: string };
  let position = '';
  let unusualId = '';

  before(async () => {
    alice = await reader('pro');
    bob = await reader('enterprise');
    const notes = dataSet();
    unusualId = notes.find((n) => n.title === 'Vlog 4')!.noteId;
    position = await collect(alice.userId, notes);
    // bob's own: one tag, nothing of alice's
    await collect(bob.userId, [note({ x: 9, title: '露营装备', tags: ['露营'] }), note({ x: 8, title: '露营装备', tags: ['露营'] })]);
  });

  it('tags: daily series, least-squares trend, halves and anomalies; rising and falling tags', async () => {
    const got = await get(`/api/v1/xiaohongshu/analytics/insights?days=10&after_position=${position}`, alice.token);
    expect(got.res.status, got.text).to.equal(200);
    const data = got.body.data;
    expect(data).to.include({ from: dayOf(0), to: today, days: 10, time_zone: timeZone, retention_days: 90 });
    expect(data.method.threshold).to.equal(3);
    expect(data.method.keywords).to.match(/bigram/);

    const tag = (name: string) => data.tags.find((t: any) => t.term === name);
    expect(data.tags.map((t: any) => t.term)).to.deep.equal(['咖啡', '火锅', '装修']);
    const coffee = tag('咖啡');
    expect(coffee).to.include({ notes: 6, engagement: 60 });
    expect(coffee.series.map((p: any) => p.notes)).to.deep.equal([0, 0, 0, 0, 0, 1, 0, 1, 2, 2]);
    expect(coffee.series[0]).to.deep.equal({ day: dayOf(0), notes: 0, engagement: 0 });
    // Σx = 46, n = 6, x̄ = 4.5, Σ(x−x̄)² = 82.5: (46 − 27) / 82.5
    // biome-ignore lint/suspicious/noApproximativeNumericConstant: 2.303 is this data set's slope, not ln 10
    expect(coffee.trend).to.deep.equal({ slope: 0.2303, engagement_slope: 2.303, first_half_notes: 0, second_half_notes: 6, change: 6, change_ratio: null });
    // MAD 0 → 1.2533 × mean absolute deviation 0.6: the 2s score 2.66, within ±3
    expect(coffee.anomalies).to.deep.equal([]);

    const decor = tag('装修');
    expect(decor.trend).to.deep.equal({ slope: -0.1697, engagement_slope: -1.697, first_half_notes: 4, second_half_notes: 0, change: -4, change_ratio: -1 });
    // x 0 holds 2 of 4: 2 / (1.2533 × 0.4) = 3.99
    expect(decor.anomalies).to.deep.equal([
      { day: dayOf(0), metric: 'engagement', value: 20, median: 0, score: 3.99, direction: 'spike' },
      { day: dayOf(0), metric: 'notes', value: 2, median: 0, score: 3.99, direction: 'spike' },
    ]);

    const hotpot = tag('火锅');
    expect(hotpot.anomalies.map((a: any) => [a.day, a.metric, a.value, a.score])).to.deep.equal([
      [dayOf(6), 'engagement', 50, 7.98],
      [dayOf(6), 'notes', 5, 7.98],
    ]);

    expect(data.rising_tags.map((t: any) => [t.term, t.trend.slope])).to.deep.equal([
      ['咖啡', 0.2303],
      ['火锅', 0.0909],
    ]);
    expect(data.falling_tags.map((t: any) => [t.term, t.trend.slope, t.trend.change])).to.deep.equal([['装修', -0.1697, -4]]);

    // overall: every note of the period (the one published before it left out)
    expect(data.overall).to.include({ notes: 19 });
    expect(data.overall.series.map((p: any) => p.notes)).to.deep.equal([2, 1, 1, 2, 1, 2, 5, 1, 2, 2]);
    expect(data.overall.engagement).to.equal(15 * 10 + 10 + 12 + 11 + 500);
  });

  it('keywords: CJK bigrams and Latin words of the titles, once per note', async () => {
    const got = await get('/api/v1/xiaohongshu/analytics/insights?days=10&limit=50', alice.token);
    expect(got.res.status, got.text).to.equal(200);
    const counts = Object.fromEntries(got.body.data.keywords.map((k: any) => [k.term, k.notes]));
    expect(counts).to.deep.equal({ 咖啡: 6, 啡店: 6, 店推: 6, 推荐: 6, 火锅: 5, hotpot: 5, 装修: 4, 修日: 4, 日记: 4, vlog: 4 });
    expect(got.body.data.keywords[0].notes).to.equal(6);
    expect(got.body.data.rising_keywords.map((k: any) => k.term)).to.include.members(['咖啡', 'hotpot']);
    expect(got.body.data.falling_keywords.map((k: any) => k.term)).to.have.members(['装修', '修日', '日记', 'vlog']);

    // min_notes: a term needs that many notes; limit bounds each list
    const strict = await get('/api/v1/xiaohongshu/analytics/insights?days=10&min_notes=5&limit=2', alice.token);
    expect(strict.body.data.tags.map((t: any) => t.term)).to.deep.equal(['咖啡', '火锅']);
    expect(strict.body.data.keywords).to.have.length(2);
    expect(strict.body.data.falling_tags).to.deep.equal([]);
  });

  it("unusual notes: engagement beyond ±3 robust z-scores of the author's notes", async () => {
    const got = await get('/api/v1/xiaohongshu/analytics/insights?days=10', alice.token);
    // author2: 10, 11, 12, 500 → median 11.5, MAD 1 → (500 − 11.5) / 1.4826; author1's notes are all alike (no spread: none)
    expect(got.body.data.unusual_notes).to.deep.equal([
      {
        note_id: unusualId,
        title: 'Vlog 4',
        author_id: author2.id,
        author_name: author2.nickname,
        day: dayOf(5),
        engagement: 500,
        author_notes: 4,
        author_median: 11.5,
        score: 329.49,
        direction: 'high',
      },
    ]);
  });

  it("is the caller's own: bob sees his notes only", async () => {
    const got = await get('/api/v1/xiaohongshu/analytics/insights?days=10', bob.token);
    expect(got.res.status, got.text).to.equal(200);
    expect(got.body.data.overall.notes).to.equal(2);
    expect(got.body.data.tags.map((t: any) => t.term)).to.deep.equal(['露营']);
    expect(got.body.data.unusual_notes).to.deep.equal([]);
    expect(got.body.data.retention_days).to.equal(365);
  });

  it('the default period is 30 days; an empty period is all zeros', async () => {
    const got = await get('/api/v1/xiaohongshu/analytics/insights', alice.token);
    expect(got.body.data.days).to.equal(30);
    expect(got.body.data.overall.series).to.have.length(30);
    expect(got.body.data.overall.notes).to.equal(20);
    const fresh = await reader('pro');
    const empty = await get('/api/v1/xiaohongshu/analytics/insights?days=1', fresh.token);
    expect(empty.res.status, empty.text).to.equal(200);
    expect(empty.body.data.overall).to.deep.equal({
      notes: 0,
      engagement: 0,
      trend: { slope: 0, engagement_slope: 0, first_half_notes: 0, second_half_notes: 0, change: 0, change_ratio: null },
      series: [{ day: today, notes: 0, engagement: 0 }],
      anomalies: [],
    });
    expect(empty.body.data.tags).to.deep.equal([]);
  });

  it('gates: ai_insights (pro, enterprise); 403 PERMISSION_DENIED naming the feature', async () => {
    for (const plan of ['free', 'basic'] as const) {
      const user = await reader(plan);
      const refused = await get('/api/v1/xiaohongshu/analytics/insights', user.token);
      expect(refused.res.status, refused.text).to.equal(403);
      expect(refused.body.error.code).to.equal('PERMISSION_DENIED');
      expect(refused.body.error.details).to.include({ feature: 'ai_insights', plan });
      expect(refused.body.error.message).to.match(/statistical insights/);
    }
    expect((await get('/api/v1/xiaohongshu/analytics/insights')).res.status).to.equal(401);
  });

  it('validates: 422', async () => {
    for (const query of ['days=0', 'days=366', 'days=x', 'limit=0', 'limit=51', 'min_notes=0']) {
      const refused = await get(`/api/v1/xiaohongshu/analytics/insights?${query}`, alice.token);
      expect(refused.res.status, `${query}: ${refused.text}`).to.equal(422);
      expect(refused.body.error.code).to.equal('VALIDATION_ERROR');
    }
  });

  it('is in /api/v1/openapi.json', async () => {
    const doc = (await (await fetch(`${running.url}/api/v1/openapi.json`)).json()) as any;
    const route = doc.paths['/api/v1/xiaohongshu/analytics/insights']?.get;
    expect(route).to.be.an('object');
    expect(Object.keys(route.responses)).to.include.members(['200', '401', '403', '422']);
    expect(route.parameters.map((p: any) => p.name)).to.include.members(['days', 'limit', 'min_notes']);
  });
});

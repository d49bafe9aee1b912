import { expect } from 'chai';
import { collectedRun, qidianEntry, qidianSnapshot } from '../support/collected.js';
import type { Container } from 'inversify';
import { randomUUID } from 'node:crypto';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { LOGIN_IP_PREFIX } from '../../src/adapters/rate-limit/login-rate-limit.js';
import { createApiApp } from '../../src/api-app.js';
import { novelTrackingId } from '../../src/application/novel-trackings.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore } from '../../src/event-store/index.js';
import { formatPosition } from '../../src/event-store/position.js';
import { qidianDataProjection, qidianDay } from '../../src/projections/qidian-data.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import { TOKENS } from '../../src/tokens.js';
import type { CollectedItem } from '../../src/write-model/workflow-execution/index.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { grantPlan } from '../support/plans.js';

interface Reply {
  res: Response;
  text: string;
  body: any;
}

const LOCAL_IP_KEYS = ['127.0.0.1', '::ffff:127.0.0.1', '::1'].map((ip) => `${LOGIN_IP_PREFIX}:${ip}`);
const PASSWORD = 'qidian reader password';
const DAY_MS = 86_400_000;
const HOT = encodeURIComponent('热销榜');
const COLLECT = encodeURIComponent('收藏榜');

describe('qidian API (e2e, production app)', function () {
  this.timeout(90_000);
  let container: Container;
  let store: EventStore;
  let running: RunningServer;
  let runner: ConsumerRunner;

  before(async () => {
    container = await buildContainer(testConfig({ LOGIN_RATE_LIMIT_PER_IP: '10000' }));
    store = container.get(TOKENS.EventStore);
    const knex = container.get(TOKENS.Knex);
    // the projection under its production name, as the projector runs it (after_position waits for it)
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

  async function call(method: string, path: string, options: { body?: unknown; token?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    const res = await fetch(`${running.url}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
    const text = await res.text();
    return { res, text, body: JSON.parse(text) };
  }

  /** A new user on the qidian free plan. */
  async function reader(): Promise<{ userId: string; token: string }> {
    const email = `qidian-${randomUUID()}@example.test`;
    const registered = await call('POST', '/api/v1/auth/register', { body: { email, password: PASSWORD, display_name: '书友' } });
    expect(registered.res.status, registered.text).to.equal(201);
    const login = await call('POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
    expect(login.res.status, login.text).to.equal(200);
    const token = login.body.data.access_token as string;
    const started = await call('POST', '/api/v1/subscriptions', { token, body: { service: 'qidian' } });
    expect(started.res.status, started.text).to.be.oneOf([200, 201]);
    return { userId: registered.body.data.user_id, token };
  }

  /** What a collector worker does: one execution of the owner's workflow collecting `items`; answers the last position. */
  async function collect(ownerId: string, workflowType: 'qidian.novels' | 'qidian.rankings', items: CollectedItem[]): Promise<string> {
    const config = workflowType === 'qidian.novels' ? { novelIds: ['1010868264'] } : { rankings: ['热销榜', '收藏榜'] };
    return formatPosition(await collectedRun(store, { ownerId, site: 'qidian', workflowType, items, config }));
  }

  const ago = (days: number, hours = 0) => new Date(Date.now() - days * DAY_MS - hours * 3_600_000).toISOString();

  it('tracks novels up to the free limit, 429 past it, 409 on a duplicate, frees a unit on untrack, keeps others out', async () => {
    const alice = await reader();
    const bob = await reader();
    const novels = Array.from({ length: 11 }, (_, i) => String(1_010_000_000 + i));

    const ids: string[] = [];
    let lastPosition = '';
    for (const novelId of novels.slice(0, 10)) {
      const tracked = await call('POST', '/api/v1/qidian/trackings', { token: alice.token, body: { novel_id: novelId, title: `书 ${novelId}` } });
      expect(tracked.res.status, tracked.text).to.equal(201);
      expect(tracked.body.data.id).to.equal(novelTrackingId(alice.userId, novelId));
      ids.push(tracked.body.data.id);
      lastPosition = tracked.body.data.position;
    }

    // the 11th: free tracks 10
    const over = await call('POST', '/api/v1/qidian/trackings', { token: alice.token, body: { novel_id: novels[10] } });
    expect(over.res.status, over.text).to.equal(429);
    expect(over.body.error.code).to.equal('QUOTA_EXCEEDED');
    expect(over.body.error.details).to.include({ feature: 'novel_tracking_limit', limit: 10 });

    // a duplicate is a conflict, not a quota refusal
    const dup = await call('POST', '/api/v1/qidian/trackings', { token: alice.token, body: { novel_id: novels[0] } });
    expect(dup.res.status, dup.text).to.equal(409);
    expect(dup.body.error.code).to.equal('CONFLICT');

    const page1 = await call('GET', `/api/v1/qidian/trackings?per_page=4&after_position=${lastPosition}`, { token: alice.token });
    expect(page1.res.status, page1.text).to.equal(200);
    expect(page1.body.data.pagination).to.include({ total: 10, total_pages: 3, has_next: true });
    expect(page1.body.data.items[0]).to.include({ id: ids[9], novel_id: novels[9], title: `书 ${novels[9]}`, status: 'tracking' });
    expect(page1.body.data.items[0].settings).to.deep.equal({ notify_on_update: true, notify_on_completion: false, word_count_threshold: null });

    // PUT: If-Match guards the revision
    const stale = await call('PUT', `/api/v1/qidian/trackings/${ids[0]}`, {
      token: alice.token,
      headers: { 'If-Match': '"7"' },
      body: { settings: { word_count_threshold: 10000 } },
    });
    expect(stale.res.status, stale.text).to.equal(412);
    const put = await call('PUT', `/api/v1/qidian/trackings/${ids[0]}`, {
      token: alice.token,
      headers: { 'If-Match': '"0"' },
      body: { title: null, settings: { notify_on_completion: true, word_count_threshold: 10000 } },
    });
    expect(put.res.status, put.text).to.equal(200);
    expect(put.res.headers.get('etag')).to.equal('"1"');
    const afterPut = await call('GET', `/api/v1/qidian/trackings?per_page=100&after_position=${put.body.data.position}`, { token: alice.token });
    const changed = afterPut.body.data.items.find((t: any) => t.id === ids[0]);
    expect(changed.settings).to.deep.equal({ notify_on_update: true, notify_on_completion: true, word_count_threshold: 10000 });
    expect(changed).to.include({ title: null, revision: '1' });
    const invalid = await call('PUT', `/api/v1/qidian/trackings/${ids[0]}`, { token: alice.token, body: { settings: { word_count_threshold: 0 } } });
    expect(invalid.res.status, invalid.text).to.equal(422);

    // another user: sees nothing, cannot touch alice's
    const bobs = await call('GET', '/api/v1/qidian/trackings', { token: bob.token });
    expect(bobs.body.data.pagination.total).to.equal(0);
    for (const [method, body] of [
      ['PUT', { title: 'mine' }],
      ['DELETE', undefined],
    ] as const) {
      const refused = await call(method, `/api/v1/qidian/trackings/${ids[1]}`, { token: bob.token, body });
      expect(refused.res.status, `${method}: ${refused.text}`).to.equal(404);
    }
    const bobData = await call('GET', `/api/v1/qidian/novels/${novels[1]}/data`, { token: bob.token });
    expect(bobData.res.status, bobData.text).to.equal(404);

    // untrack frees a unit: the 11th fits now
    const untracked = await call('DELETE', `/api/v1/qidian/trackings/${ids[1]}`, { token: alice.token });
    expect(untracked.res.status, untracked.text).to.equal(200);
    const again = await call('DELETE', `/api/v1/qidian/trackings/${ids[1]}`, { token: alice.token });
    expect(again.res.status, again.text).to.equal(200);
    expect(again.body.data.position).to.equal(null);
    const putGone = await call('PUT', `/api/v1/qidian/trackings/${ids[1]}`, { token: alice.token, body: { title: 'x' } });
    expect(putGone.res.status, putGone.text).to.equal(404);
    const eleventh = await call('POST', '/api/v1/qidian/trackings', { token: alice.token, body: { novel_id: novels[10] } });
    expect(eleventh.res.status, eleventh.text).to.equal(201);
    // and the limit holds again: re-tracking the untracked one is over it
    const retrack = await call('POST', '/api/v1/qidian/trackings', { token: alice.token, body: { novel_id: novels[1] } });
    expect(retrack.res.status, retrack.text).to.equal(429);

    const list = await call('GET', `/api/v1/qidian/trackings?per_page=100&after_position=${eleventh.body.data.position}`, { token: alice.token });
    expect(list.body.data.items.map((t: any) => t.novel_id).sort()).to.deep.equal([...novels.slice(0, 1), ...novels.slice(2)].sort());
  });

  it("shows a novel's data and daily trends from collected snapshots, within the plan's retention", async () => {
    const alice = await reader();
    const bob = await reader();
    const novel = '1010868264';
    const tracked = await call('POST', '/api/v1/qidian/trackings', { token: alice.token, body: { novel_id: novel } });
    expect(tracked.res.status, tracked.text).to.equal(201);

    // tracked, nothing collected yet: 200 and empty
    const empty = await call('GET', `/api/v1/qidian/novels/${novel}/data?after_position=${tracked.body.data.position}`, { token: alice.token });
    expect(empty.res.status, empty.text).to.equal(200);
    expect(empty.body.data).to.include({ latest: null });

    const old = ago(10);
    const dayBefore = ago(2);
    const yesterday = ago(1);
    await collect(alice.userId, 'qidian.novels', [qidianSnapshot(novel, old, 4_400_000, 1400, 1_100_000, 5000)]);
    await collect(alice.userId, 'qidian.novels', [qidianSnapshot(novel, dayBefore, 4_460_000, 1428, 1_199_000, 8600)]);
    const position = await collect(alice.userId, 'qidian.novels', [qidianSnapshot(novel, yesterday, 4_466_500, 1431, 1_200_500, 8850)]);
    // the same data in bob's own run: his, not alice's
    await collect(bob.userId, 'qidian.novels', [qidianSnapshot(novel, yesterday, 1, 1, 1, 1)]);

    const data = await call('GET', `/api/v1/qidian/novels/${novel}/data?after_position=${position}`, { token: alice.token });
    expect(data.res.status, data.text).to.equal(200);
    expect(data.body.data.latest).to.include({
      captured_at: yesterday,
      word_count: 4_466_500,
      chapters: 1431,
      title: '诡秘之主',
      author: '爱潜水的乌贼',
      clicks: null,
    });
    // the 10-day-old capture is past free's 7 days
    expect(data.body.data.items.map((s: any) => s.captured_at)).to.deep.equal([yesterday, dayBefore]);
    expect(data.body.data.pagination.total).to.equal(2);

    const ranged = await call('GET', `/api/v1/qidian/novels/${novel}/data?from=${qidianDay(dayBefore)}&to=${qidianDay(dayBefore)}`, { token: alice.token });
    expect(ranged.body.data.items.map((s: any) => s.captured_at)).to.deep.equal([dayBefore]);
    const backwards = await call('GET', `/api/v1/qidian/novels/${novel}/data?from=2026-03-02&to=2026-03-01`, { token: alice.token });
    expect(backwards.res.status).to.equal(422);

    // trends are trend_analysis: not in the free plan
    const refused = await call('GET', `/api/v1/qidian/novels/${novel}/trends?days=5`, { token: alice.token });
    expect(refused.res.status, refused.text).to.equal(403);
    expect(refused.body.error.details).to.include({ feature: 'trend_analysis', plan: 'free' });
    await grantPlan(store, alice.userId, 'qidian', 'pro');
    const trends = await call('GET', `/api/v1/qidian/novels/${novel}/trends?days=5`, { token: alice.token });
    expect(trends.res.status, trends.text).to.equal(200);
    const points = trends.body.data.points;
    expect(points.map((p: any) => p.day)).to.deep.equal([qidianDay(dayBefore), qidianDay(yesterday)]);
    expect(points[0].deltas).to.deep.equal({ word_count: null, chapters: null, collections: null, monthly_tickets: null });
    expect(points[1].deltas).to.deep.equal({ word_count: 6500, chapters: 3, collections: 1500, monthly_tickets: 250 });
    expect(trends.body.data.change).to.deep.equal({ word_count: 6500, chapters: 3, collections: 1500, monthly_tickets: 250 });

    // the list shows the latest capture of the tracked novel
    const list = await call('GET', '/api/v1/qidian/trackings', { token: alice.token });
    expect(list.body.data.items[0]).to.include({ novel_id: novel, title: '诡秘之主', author: '爱潜水的乌贼', word_count: 4_466_500, chapters: 1431 });

    const bobs = await call('GET', `/api/v1/qidian/novels/${novel}/data`, { token: bob.token });
    expect(bobs.body.data.items.map((s: any) => s.word_count)).to.deep.equal([1]);
    const unknown = await call('GET', '/api/v1/qidian/novels/999999999/trends', { token: alice.token });
    expect(unknown.res.status, unknown.text).to.equal(404);
  });

  it("exports a novel's snapshots: json on the free plan (oldest first, all of them), csv refused (excel not in the plan), unknown novel 404", async () => {
    const alice = await reader();
    const novel = String(1_100_000_000 + Math.floor(Math.random() * 1_000_000));
    await collect(alice.userId, 'qidian.novels', [qidianSnapshot(novel, new Date(Date.now() - 2 * 86_400_000).toISOString(), 5_000_000, 1700, 200, 3)]);
    const position = await collect(alice.userId, 'qidian.novels', [
      qidianSnapshot(novel, new Date(Date.now() - 3_600_000).toISOString(), 5_010_000, 1702, 210, 4),
    ]);

    const json = await call('GET', `/api/v1/qidian/novels/${novel}/data/export?format=json&after_position=${position}`, { token: alice.token });
    expect(json.res.status, json.text).to.equal(200);
    expect(json.res.headers.get('content-type')).to.equal('application/json; charset=utf-8');
    expect(json.res.headers.get('content-disposition')).to.match(new RegExp(`^attachment; filename="qidian-novel-${novel}-\\d{8}-\\d{6}\\.json"$`));
    expect((JSON.parse(json.text) as any[]).map((r) => r.word_count)).to.deep.equal([5_000_000, 5_010_000]);

    const csv = await call('GET', `/api/v1/qidian/novels/${novel}/data/export?format=csv`, { token: alice.token });
    expect(csv.res.status, csv.text).to.equal(403);
    expect(csv.body.error.details).to.include({ feature: 'export_formats', requires: 'excel', plan: 'free' });
    expect((await call('GET', '/api/v1/qidian/novels/999999998/data/export?format=json', { token: alice.token })).res.status).to.equal(404);
  });

  it('shows the rankings the free plan allows (热销榜), 403 for 收藏榜, and hides captures past retention', async () => {
    const alice = await reader();
    const today = ago(0, 1);
    const old = ago(10);
    await collect(alice.userId, 'qidian.rankings', [
      qidianEntry('热销榜', 1, '1036370336', '宿命之环', '爱潜水的乌贼', old),
      qidianEntry('热销榜', 2, '1037153456', '玄鉴仙族', '季越人', old),
    ]);
    const position = await collect(alice.userId, 'qidian.rankings', [
      qidianEntry('热销榜', 1, '1037153456', '玄鉴仙族', '季越人', today),
      qidianEntry('热销榜', 2, '1036370336', '宿命之环', '爱潜水的乌贼', today),
      qidianEntry('热销榜', 3, '1039889503', '没钱上大学的我只能去修仙了', '鹤守月满池', today),
      qidianEntry('收藏榜', 1, '1010868264', '诡秘之主', '爱潜水的乌贼', today),
    ]);

    const all = await call('GET', `/api/v1/qidian/rankings?top=2&after_position=${position}`, { token: alice.token });
    expect(all.res.status, all.text).to.equal(200);
    expect(all.body.data.rankings.map((r: any) => r.ranking)).to.deep.equal(['热销榜']);
    expect(all.body.data.rankings[0].day).to.equal(qidianDay(today));
    expect(all.body.data.rankings[0].entries.map((e: any) => [e.rank, e.title, e.author])).to.deep.equal([
      [1, '玄鉴仙族', '季越人'],
      [2, '宿命之环', '爱潜水的乌贼'],
    ]);

    const hot = await call('GET', `/api/v1/qidian/rankings/${HOT}?per_page=2&page=2`, { token: alice.token });
    expect(hot.res.status, hot.text).to.equal(200);
    expect(hot.body.data).to.include({ ranking: '热销榜', day: qidianDay(today) });
    expect(hot.body.data.pagination).to.include({ total: 3, page: 2 });
    expect(hot.body.data.items.map((e: any) => e.title)).to.deep.equal(['没钱上大学的我只能去修仙了']);
    expect(hot.body.data.items[0]).to.include({ score: 19_700, score_label: '月票', sub_category: '东方玄幻' });

    // the board's name on qidian.com/rank names it too
    const bySlug = await call('GET', '/api/v1/qidian/rankings/hotsales?per_page=2&page=2', { token: alice.token });
    expect(bySlug.res.status, bySlug.text).to.equal(200);
    expect(bySlug.body.data).to.deep.equal(hot.body.data);

    const denied = await call('GET', `/api/v1/qidian/rankings/${COLLECT}`, { token: alice.token });
    expect(denied.res.status, denied.text).to.equal(403);
    expect(denied.body.error.code).to.equal('PERMISSION_DENIED');
    expect(denied.body.error.details).to.include({ ranking: '收藏榜' });
    expect((await call('GET', '/api/v1/qidian/rankings/collect', { token: alice.token })).body.error.details).to.include({ ranking: '收藏榜' });

    const unknown = await call('GET', `/api/v1/qidian/rankings/${encodeURIComponent('点击榜')}`, { token: alice.token });
    expect(unknown.res.status, unknown.text).to.equal(404);

    // the 10-day-old capture is past free's 7 days of retention
    const past = await call('GET', `/api/v1/qidian/rankings/${HOT}?date=${qidianDay(old)}`, { token: alice.token });
    expect(past.res.status, past.text).to.equal(200);
    expect(past.body.data.items).to.deep.equal([]);
    expect(past.body.data.pagination.total).to.equal(0);

    // another user has no rankings of alice's runs
    const bob = await reader();
    const bobs = await call('GET', '/api/v1/qidian/rankings', { token: bob.token });
    expect(bobs.body.data.rankings).to.deep.equal([{ ranking: '热销榜', day: null, entries: [] }]);
  });
});

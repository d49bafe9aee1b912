import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { watchlistWorkflowId } from '../../src/application/qidian-watchlist.js';
import { formatPosition } from '../../src/event-store/position.js';
import { collectedRun, noteItems, qidianEntry, qidianSnapshot, sampleNote } from '../support/collected.js';
import { startPlatform, type Platform, type Reply } from '../support/platform.js';
import { grantPlan } from '../support/plans.js';
import { waitFor } from '../support/wait-for.js';

const NOVEL = '1010868264';
const AUTHOR = '爱潜水的乌贼';

/**
 * docs/collection-api.md read by a new user, claim by claim, against the
 * running platform (the API, every projection and process manager; no
 * worker): what the route tables promise about the workers' door, the
 * analytics periods, the date filters, the keyword and report limits, the
 * watch list, executions, trackings and alerts.
 */
describe('collection API as documented: a new user review (e2e)', function () {
  this.timeout(60_000);
  let platform: Platform;
  let admin: string;

  before(async () => {
    platform = await startPlatform({ proxies: 0 });
    admin = await platform.adminToken();
  });
  after(async () => {
    await platform?.stop();
  });

  const api = (method: string, path: string, token: string, options: { body?: unknown; ifMatch?: string } = {}): Promise<Reply> =>
    platform.call(method, `/api/v1${path}`, { token, ...options });

  const issuePaths = (reply: Reply): string[] => reply.body.error.details.issues.map((i: { path: (string | number)[] }) => i.path.join('.'));

  /** A signed-up user, moved to `qidian` / `xiaohongshu` plans (free when not given). */
  async function user(name: string, plans: { qidian?: 'basic' | 'pro' | 'enterprise'; xiaohongshu?: 'basic' | 'pro' | 'enterprise' } = {}) {
    const u = await platform.signUp(name);
    if (plans.qidian) await grantPlan(platform.store, u.userId, 'qidian', plans.qidian);
    if (plans.xiaohongshu) await grantPlan(platform.store, u.userId, 'xiaohongshu', plans.xiaohongshu);
    return u;
  }

  const ranking = (rank: number, novelId: string, capturedAt: string) => ({
    ranking: '热销榜',
    rank,
    novelId,
    title: '诡秘之主',
    author: AUTHOR,
    category: '玄幻',
    subCategory: null,
    status: 'serializing',
    score: null,
    scoreLabel: null,
    capturedAt,
  });

  describe('POST /workflows/executions/{id}/results (the workers’ door)', () => {
    it('refuses with 422 an item the read tables cannot hold (a year 0000 time, a rank past 2^31 − 1) instead of parking the batch', async () => {
      const alice = await user('door');
      const created = await api('POST', '/workflows', alice.token, { body: { name: '热销榜', type: 'qidian.rankings', config: { rankings: ['热销榜'] } } });
      expect(created.status, created.text).to.equal(201);
      const executed = await api('POST', `/workflows/${created.body.data.id}/execute`, alice.token);
      expect(executed.status, executed.text).to.equal(202);
      const executionId = executed.body.data.execution_id as string;
      const now = new Date().toISOString();

      const refused = await api('POST', `/workflows/executions/${executionId}/results`, admin, {
        body: { worker_id: 'w1', batch_id: 'b1', items: [ranking(1, '2000000001', now), ranking(3_000_000_000, '2000000002', '0000-06-01T00:00:00Z')] },
      });
      expect(refused.status, refused.text).to.equal(422);
      expect(refused.body.error.code).to.equal('VALIDATION_ERROR');
      expect(issuePaths(refused)).to.have.members(['items.1.rank', 'items.1.capturedAt']);

      // the good item alone goes through, reaches the read model, and nothing is parked
      const fed = await api('POST', `/workflows/executions/${executionId}/results`, admin, {
        body: { worker_id: 'w1', batch_id: 'b1', items: [ranking(1, '2000000001', now)], done: true },
      });
      expect(fed.status, fed.text).to.equal(200);
      expect(fed.body.data).to.include({ status: 'completed', item_count: 1, accepted: 1 });
      const board = await api('GET', `/qidian/rankings/hotsales?after_position=${fed.body.data.position}`, alice.token);
      expect(board.status, board.text).to.equal(200);
      expect(board.body.data.items.map((e: any) => [e.rank, e.novel_id])).to.deep.equal([[1, '2000000001']]);
      const parked = await api('GET', '/admin/dead-letters?consumer=qidian-data-v1', admin);
      expect(parked.status, parked.text).to.equal(200);
      expect(parked.body.data).to.deep.equal([]);

      // a Xiaohongshu note the same way: likes past an integer column, a publish time in year 0000
      const bob = await user('door-xhs');
      const notes = await api('POST', '/workflows', bob.token, {
        body: { name: '咖啡', type: 'xiaohongshu.notes', config: { mode: 'keyword', keyword: '咖啡', maxItems: 5 } },
      });
      expect(notes.status, notes.text).to.equal(201);
      const run = await api('POST', `/workflows/${notes.body.data.id}/execute`, bob.token);
      expect(run.status, run.text).to.equal(202);
      const bad = { ...sampleNote(randomBytes(12).toString('hex'), '手冲', 3_000_000_000), publishedAt: '0000-01-01T00:00:00Z' };
      const note = await api('POST', `/workflows/executions/${run.body.data.execution_id}/results`, admin, {
        body: { worker_id: 'w1', batch_id: 'n1', items: [bad] },
      });
      expect(note.status, note.text).to.equal(422);
      expect(issuePaths(note)).to.have.members(['items.0.likes', 'items.0.publishedAt']);
    });
  });

  describe('Qidian analytics periods', () => {
    it('take `to` alone near 0001-01-01: the default period starts at 0001-01-01 (market, author, competitors), never a 500', async () => {
      const carol = await user('periods', { qidian: 'pro' });
      const now = new Date().toISOString();
      await collectedRun(platform.store, {
        ownerId: carol.userId,
        site: 'qidian',
        workflowType: 'qidian.novels',
        config: { novelIds: [NOVEL] },
        items: [qidianSnapshot(NOVEL, now, 120_000, 110, 5_200, 330)],
      });
      const position = formatPosition(
        await collectedRun(platform.store, {
          ownerId: carol.userId,
          site: 'qidian',
          workflowType: 'qidian.rankings',
          items: [qidianEntry('热销榜', 1, NOVEL, '诡秘之主', AUTHOR, now)],
        }),
      );

      const market = await api('GET', `/qidian/analytics/market?to=0001-01-01&after_position=${position}`, carol.token);
      expect(market.status, market.text).to.equal(200);
      expect(market.body.data).to.include({ from: '0001-01-01', to: '0001-01-01', days: 1 });

      const author = await api('GET', `/qidian/analytics/author/${encodeURIComponent(AUTHOR)}?to=0001-01-05`, carol.token);
      expect(author.status, author.text).to.equal(200);
      expect(author.body.data).to.include({ from: '0001-01-01', to: '0001-01-05', days: 5 });

      const competitors = await api('GET', `/qidian/analytics/competitors/${NOVEL}?to=0001-01-01`, carol.token);
      expect(competitors.status, competitors.text).to.equal(200);
      expect(competitors.body.data).to.include({ from: '0001-01-01', to: '0001-01-01', days: 1 });

      // a later `to` still counts the default days back from it
      const week = await api('GET', '/qidian/analytics/market?to=2026-03-10', carol.token);
      expect(week.body.data).to.include({ from: '2026-03-04', to: '2026-03-10', days: 7 });
    });

    it('the trends need trend_analysis: 403 on basic naming the feature, 200 on pro', async () => {
      const dave = await user('trends', { qidian: 'basic' });
      const refused = await api('GET', `/qidian/novels/${NOVEL}/trends`, dave.token);
      expect(refused.status, refused.text).to.equal(403);
      expect(refused.body.error.details).to.include({ feature: 'trend_analysis', plan: 'basic' });

      await grantPlan(platform.store, dave.userId, 'qidian', 'pro');
      const position = formatPosition(
        await collectedRun(platform.store, {
          ownerId: dave.userId,
          site: 'qidian',
          workflowType: 'qidian.novels',
          config: { novelIds: [NOVEL] },
          items: [qidianSnapshot(NOVEL, new Date().toISOString(), 120_000, 110, 5_200, 330)],
        }),
      );
      const trends = await api('GET', `/qidian/novels/${NOVEL}/trends?days=3&after_position=${position}`, dave.token);
      expect(trends.status, trends.text).to.equal(200);
      expect(trends.body.data).to.include({ novel_id: NOVEL, days: 3 });
      expect(trends.body.data.points).to.have.length(1);
      // a novel neither tracked nor collected: 404
      expect((await api('GET', '/qidian/novels/1/trends', dave.token)).status).to.equal(404);
    });
  });

  describe('Xiaohongshu day filters', () => {
    it('refuse a day of year 0000 with 422 on the list, the export and the overview; 0001-01-01 is a day', async () => {
      const erin = await user('days', { xiaohongshu: 'pro' });
      const position = formatPosition(
        await collectedRun(platform.store, {
          ownerId: erin.userId,
          site: 'xiaohongshu',
          workflowType: 'xiaohongshu.notes',
          items: noteItems([sampleNote(randomBytes(12).toString('hex'), '咖啡', 10)]),
        }),
      );
      for (const [path, field] of [
        ['/xiaohongshu/contents?published_to=0000-01-01', 'published_to'],
        ['/xiaohongshu/contents/export?format=json&published_from=0000-12-31', 'published_from'],
        ['/xiaohongshu/analytics/overview?from=0000-01-01', 'from'],
      ] as const) {
        const refused = await api('GET', path, erin.token);
        expect(refused.status, `${path}: ${refused.text}`).to.equal(422);
        expect(refused.body.error.code).to.equal('VALIDATION_ERROR');
        expect(refused.body.error.details.issues[0]).to.include({ in: 'query' });
        expect(refused.body.error.details.issues[0].path).to.deep.equal([field]);
      }
      // after the run's position: the refused calls above waited for no projection
      const early = await api('GET', `/xiaohongshu/contents?published_from=0001-01-01&after_position=${position}`, erin.token);
      expect(early.status, early.text).to.equal(200);
      expect(early.body.data.items).to.have.length(1);
      const overview = await api('GET', '/xiaohongshu/analytics/overview?from=0001-01-01&to=9999-12-31', erin.token);
      expect(overview.status, overview.text).to.equal(200);
      expect(overview.body.data.totals).to.include({ notes: 1 });
    });

    it('author, tag, published period and min_likes need advanced_filters: 403 on free naming them; keyword and type do not', async () => {
      const fay = await user('filters');
      const refused = await api('GET', '/xiaohongshu/contents?min_likes=5&tag=%E5%92%96%E5%95%A1&keyword=x', fay.token);
      expect(refused.status, refused.text).to.equal(403);
      expect(refused.body.error.details).to.include({ feature: 'advanced_filters', plan: 'free' });
      expect(refused.body.error.details.filters).to.have.members(['tag', 'min_likes']);
      expect((await api('GET', '/xiaohongshu/contents?keyword=x&type=video&sort=likes', fay.token)).status).to.equal(200);
    });
  });

  describe('limits counted in a read model', () => {
    it('at most 50 watched keywords, however many are asked for at once', async () => {
      const gus = await user('keywords', { qidian: 'basic' });
      const asked = await Promise.all(Array.from({ length: 53 }, (_, i) => api('POST', '/qidian/keywords', gus.token, { body: { keyword: `词${i}` } })));
      const statuses = asked.map((r) => r.status);
      expect(
        statuses.filter((s) => s === 201),
        asked.find((r) => r.status !== 201 && r.status !== 409)?.text,
      ).to.have.length(50);
      expect(statuses.filter((s) => s === 409)).to.have.length(3);
      const list = await api('GET', '/qidian/keywords?per_page=100', gus.token);
      expect(list.body.data.pagination.total).to.equal(50);
    });

    it('at most 50 reports, however many are asked for at once', async () => {
      const hal = await user('reports', { qidian: 'enterprise' });
      const body = (i: number) => ({ name: `报告${i}`, kind: 'qidian.tracked_novels', format: 'xlsx', schedule: { frequency: 'daily', hour: 8 } });
      const asked = await Promise.all(Array.from({ length: 53 }, (_, i) => api('POST', '/reports', hal.token, { body: body(i) })));
      const statuses = asked.map((r) => r.status);
      expect(
        statuses.filter((s) => s === 201),
        asked.find((r) => r.status !== 201 && r.status !== 409)?.text,
      ).to.have.length(50);
      expect(statuses.filter((s) => s === 409)).to.have.length(3);
      const list = await api('GET', '/reports?per_page=100', hal.token);
      expect(list.body.data.pagination.total).to.equal(50);
    });
  });

  describe('keywords, the watch list, trackings and alerts', () => {
    it('keywords: stored NFKC, trimmed, lower case (a duplicate after that is 409); 1–30 characters; custom_keywords for GET and POST', async () => {
      const ivy = await user('kw-shape', { qidian: 'basic' });
      const watched = await api('POST', '/qidian/keywords', ivy.token, { body: { keyword: '  ＡＢＣ玄幻  ' } });
      expect(watched.status, watched.text).to.equal(201);
      expect(watched.body.data.keyword).to.equal('abc玄幻');
      const again = await api('POST', '/qidian/keywords', ivy.token, { body: { keyword: 'ABC玄幻' } });
      expect(again.status, again.text).to.equal(409);
      expect(again.body.error.details).to.include({ watchId: watched.body.data.id });
      const long = await api('POST', '/qidian/keywords', ivy.token, { body: { keyword: 'a'.repeat(31) } });
      expect(long.status, long.text).to.equal(422);
      expect(long.body.error.details.issues[0].path).to.deep.equal(['keyword']);

      const jo = await user('kw-free');
      for (const reply of [await api('GET', '/qidian/keywords', jo.token), await api('POST', '/qidian/keywords', jo.token, { body: { keyword: '玄幻' } })]) {
        expect(reply.status, reply.text).to.equal(403);
        expect(reply.body.error.details).to.include({ feature: 'custom_keywords' });
      }
    });

    it("the watch list: listed as qidian.watchlist; pause, resume and execute are the owner's (409 while paused), another user's 404", async () => {
      const kim = await user('watch');
      const tracked = await api('POST', '/qidian/trackings', kim.token, { body: { novel_id: NOVEL } });
      expect(tracked.status, tracked.text).to.equal(201);
      const id = watchlistWorkflowId(kim.userId);
      await waitFor('the watch list', async () => (await api('GET', `/workflows/${id}`, kim.token)).status === 200, 20_000, 50);
      const listed = await api('GET', '/workflows?type=qidian.watchlist', kim.token);
      expect(listed.body.data.items.map((w: any) => [w.id, w.type, w.config])).to.deep.equal([[id, 'qidian.watchlist', {}]]);

      const stranger = await user('watch-stranger');
      for (const action of ['pause', 'resume', 'execute']) {
        const reply = await api('POST', `/workflows/${id}/${action}`, stranger.token);
        expect(reply.status, `${action}: ${reply.text}`).to.equal(404);
      }
      expect((await api('POST', `/workflows/${id}/pause`, kim.token)).status).to.equal(200);
      const paused = await api('POST', `/workflows/${id}/execute`, kim.token);
      expect(paused.status, paused.text).to.equal(409);
      expect((await api('POST', `/workflows/${id}/resume`, kim.token)).status).to.equal(200);
      const now = await api('POST', `/workflows/${id}/execute`, kim.token);
      expect(now.status, now.text).to.equal(202);
    });

    it('executions: a Xiaohongshu run without an account is rejected ACCOUNT_INVALID (then cancel is 409); cancelling twice changes nothing', async () => {
      const lee = await user('runs');
      const created = await api('POST', '/workflows', lee.token, {
        body: { name: 'no account', type: 'xiaohongshu.notes', config: { mode: 'keyword', keyword: '咖啡', maxItems: 5 } },
      });
      expect(created.status, created.text).to.equal(201);
      const run = await api('POST', `/workflows/${created.body.data.id}/execute`, lee.token);
      const executionId = run.body.data.execution_id as string;
      let execution: any;
      await waitFor(
        'the run decided',
        async () => {
          execution = (await api('GET', `/workflows/executions/${executionId}`, lee.token)).body.data;
          return execution !== undefined && execution.status !== 'requested';
        },
        20_000,
        50,
      );
      expect(execution).to.include({ status: 'rejected', rejection_reason: 'ACCOUNT_INVALID', trigger: 'manual' });
      expect((await api('POST', `/workflows/executions/${executionId}/cancel`, lee.token)).status).to.equal(409);

      const rankings = await api('POST', '/workflows', lee.token, { body: { name: '热销榜', type: 'qidian.rankings', config: { rankings: ['热销榜'] } } });
      const next = await api('POST', `/workflows/${rankings.body.data.id}/execute`, lee.token);
      const first = await api('POST', `/workflows/executions/${next.body.data.execution_id}/cancel`, lee.token);
      expect(first.status, first.text).to.equal(200);
      const second = await api('POST', `/workflows/executions/${next.body.data.execution_id}/cancel`, lee.token);
      expect(second.status, second.text).to.equal(200);
      expect(second.body.data).to.deep.equal({ revision: first.body.data.revision, position: null });
    });

    it('trackings and alerts: If-Match (stale 412, a stranger 404 whatever it says), no change 200 with position null, words only with the threshold', async () => {
      const mia = await user('alerts', { qidian: 'basic' });
      const tracked = await api('POST', '/qidian/trackings', mia.token, { body: { novel_id: NOVEL } });
      expect(tracked.status, tracked.text).to.equal(201);
      const trackingId = tracked.body.data.id as string;
      const labelled = await api('PUT', `/qidian/trackings/${trackingId}`, mia.token, { body: { title: '我的' }, ifMatch: '"0"' });
      expect(labelled.status, labelled.text).to.equal(200);
      const unchanged = await api('PUT', `/qidian/trackings/${trackingId}`, mia.token, { body: { title: '我的' } });
      expect(unchanged.body.data).to.deep.equal({ revision: labelled.body.data.revision, position: null });
      const stale = await api('PUT', `/qidian/trackings/${trackingId}`, mia.token, { body: { title: 'x' }, ifMatch: '"0"' });
      expect(stale.status, stale.text).to.equal(412);

      const noWords = await api('POST', '/qidian/alerts', mia.token, { body: { novel_id: NOVEL, kind: 'word_count_threshold' } });
      expect(noWords.status, noWords.text).to.equal(422);
      const wordsOnUpdate = await api('POST', '/qidian/alerts', mia.token, { body: { novel_id: NOVEL, kind: 'update', words: 5 } });
      expect(wordsOnUpdate.status, wordsOnUpdate.text).to.equal(422);
      expect(issuePaths(wordsOnUpdate)).to.deep.equal(['words']);
      const alert = await api('POST', '/qidian/alerts', mia.token, { body: { novel_id: NOVEL, kind: 'update' } });
      expect(alert.status, alert.text).to.equal(201);
      const alertId = alert.body.data.id as string;
      const shown = await api('GET', `/qidian/alerts/${alertId}`, mia.token);
      expect(shown.headers.get('etag')).to.equal('"0"');
      expect(shown.body.data).to.include({ novel_id: NOVEL, kind: 'update', words: null, status: 'active' });
      const changed = await api('PUT', `/qidian/alerts/${alertId}`, mia.token, { body: { kind: 'word_count_threshold', words: 200_000 }, ifMatch: '"0"' });
      expect(changed.status, changed.text).to.equal(200);
      expect((await api('PUT', `/qidian/alerts/${alertId}`, mia.token, { body: { kind: 'completion' }, ifMatch: '"0"' })).status).to.equal(412);

      const ned = await user('alerts-stranger', { qidian: 'basic' });
      for (const [method, path, body] of [
        ['GET', `/qidian/alerts/${alertId}`, undefined],
        ['PUT', `/qidian/alerts/${alertId}`, { kind: 'completion' }],
        ['DELETE', `/qidian/alerts/${alertId}`, undefined],
        ['PUT', `/qidian/trackings/${trackingId}`, { title: 'x' }],
        ['DELETE', `/qidian/trackings/${trackingId}`, undefined],
      ] as const) {
        const reply = await api(method, path, ned.token, { ...(body ? { body } : {}), ...(method !== 'GET' ? { ifMatch: '"0"' } : {}) });
        expect(reply.status, `${method} ${path}: ${reply.text}`).to.equal(404);
      }
    });
  });
});

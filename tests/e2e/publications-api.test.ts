import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { startOpenPlatformSandbox, type OpenPlatformSandbox } from '../../sandbox/open-platform/server.js';
import type { RunningWorker } from '../../src/main/worker.js';
import type { OpenPlatformId } from '../../src/platforms/open-platform/platforms.js';
import { clientTokenFor } from '../../src/write-model/publication/decider.js';
import { consent } from '../support/open-platform-consent.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { waitFor } from '../support/wait-for.js';

const PUBLIC_BASE = 'http://collector-api.test';
// a real 3×4 PNG
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAMAAAAECAIAAADETxJQAAAAEElEQVR4nGO4o2EDQQx4WQAztw8BKa2zawAAAABJRU5ErkJggg==', 'base64');

/**
 * POST /api/v1/articles/{id}/publish end to end, every piece real: the API,
 * the projector's consumers (pm-publications pre-reviews and queues,
 * pm-publication-deadlines and the sweeper release scheduled ones, the
 * publications read model), the worker's `publish` queue, and the open
 * platform sandbox the accounts are bound to through OAuth (the test plays
 * the browser on its consent page) and posts land on.
 */
describe('publications: POST /articles/{id}/publish → review → queue → published (e2e)', function () {
  this.timeout(180_000);
  let sandbox: OpenPlatformSandbox;
  let platform: Platform;
  let worker: RunningWorker | undefined;
  let alice: { userId: string; token: string };
  let bob: { userId: string; token: string };
  let aliceBaidu: string;
  let aliceSohu: string;
  let aliceXhs: string;
  let bobBaidu: string;
  let article: string;

  async function bind(user: { token: string }, p: OpenPlatformId, login: string): Promise<string> {
    const start = await fetch(`${platform.url}/api/v1/platform-accounts/oauth/${p}/authorize`, {
      headers: { Authorization: `Bearer ${user.token}` },
      redirect: 'manual',
    });
    expect(start.status).to.equal(302);
    const back = await consent(start.headers.get('location')!, { user: login });
    const bound = await platform.call('GET', `${back.pathname}${back.search}`);
    expect(bound.status, bound.text).to.equal(200);
    return bound.body.data.account.id as string;
  }

  const publish = (user: { token: string }, articleId: string, body: unknown) =>
    platform.call('POST', `/api/v1/articles/${articleId}/publish`, { token: user.token, body });
  const get = (user: { token: string }, path: string) => platform.call('GET', path, { token: user.token });
  const mine = async (user: { token: string }, query = '') => (await get(user, `/api/v1/publications?per_page=100${query}`)).body.data;

  async function until(user: { token: string }, id: string, ok: (p: any) => boolean, what: string, timeoutMs = 60_000) {
    let shown: any;
    await waitFor(
      `publication ${id} ${what}`,
      async () => {
        shown = (await get(user, `/api/v1/publications/${id}`)).body?.data;
        return shown !== undefined && ok(shown);
      },
      timeoutMs,
      100,
    );
    return shown;
  }

  before(async () => {
    sandbox = await startOpenPlatformSandbox({ redirectBaseUrl: PUBLIC_BASE });
    platform = await startPlatform({
      proxies: 1,
      config: { ...sandbox.env(), PUBLISH_RETRY_DELAY_MS: '200', PUBLICATION_METRICS_SCHEDULE: '1s,2s' },
    });
    alice = await platform.signUp('alice');
    bob = await platform.signUp('bob');
    platform.startConsumers();
    aliceBaidu = await bind(alice, 'baidu', 'alice');
    aliceSohu = await bind(alice, 'sohu', 'alice');
    bobBaidu = await bind(bob, 'baidu', 'bob');
    // a cookie account never verified: pending_verification, not active
    const xhs = await platform.call('POST', '/api/v1/platform-accounts', {
      token: alice.token,
      body: {
        platform: 'xiaohongshu',
        credentials: { cookies: `a1=${randomBytes(8).toString('hex')}; web_session=${randomBytes(12).toString('hex')}` },
        display_name: '小红书号',
      },
    });
    expect(xhs.status, xhs.text).to.equal(201);
    aliceXhs = xhs.body.data.id;
    const created = await platform.call('POST', '/api/v1/articles', {
      token: alice.token,
      body: { title: '西湖一日游', body: '# 出发\n\n今天去了西湖，断桥残雪。', summary: '西湖一日', tags: ['旅行', '杭州'] },
    });
    expect(created.status, created.text).to.equal(201);
    article = created.body.data.id;
  });
  after(async () => {
    await worker?.stop({ timeoutMs: 2_000 });
    await platform?.stop();
    await sandbox?.close();
  });

  it('refuses bad targets and times, writing nothing', async () => {
    const unknown = randomUUID();
    const cases: { body: unknown; status: number; check?: (r: any) => void }[] = [
      { body: { account_ids: [aliceBaidu, unknown] }, status: 404, check: (r) => expect(r.body.error.details).to.include({ accountId: unknown }) },
      { body: { account_ids: [aliceBaidu, bobBaidu] }, status: 404, check: (r) => expect(r.body.error.details).to.include({ accountId: bobBaidu }) },
      {
        body: { account_ids: [aliceBaidu, aliceXhs] },
        status: 409,
        check: (r) => expect(r.body.error.details).to.include({ reason: 'account_not_active', accountId: aliceXhs }),
      },
      { body: { account_ids: [aliceBaidu], at: new Date(Date.now() - 60_000).toISOString() }, status: 422 },
      { body: { account_ids: [aliceBaidu], at: new Date(Date.now() + 91 * 86_400_000).toISOString() }, status: 422 },
      { body: { account_ids: [aliceBaidu, aliceBaidu] }, status: 422 },
      { body: { account_ids: [] }, status: 422 },
      { body: { account_ids: ['not-a-uuid'] }, status: 422 },
      { body: { account_ids: [aliceBaidu], extra: true }, status: 422 },
    ];
    for (const c of cases) {
      const r = await publish(alice, article, c.body);
      expect(r.status, `${JSON.stringify(c.body).slice(0, 120)} → ${r.text}`).to.equal(c.status);
      c.check?.(r);
    }
    // bob's article is not alice's to publish
    expect((await publish(bob, article, { account_ids: [bobBaidu] })).status).to.equal(404);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await mine(alice)).pagination.total).to.equal(0);
    expect((await mine(bob)).pagination.total).to.equal(0);
  });

  it('publishes to two accounts: each passes the pre-review, is queued and published once, with its history and metrics', async () => {
    worker = await platform.startWorker();
    const r = await publish(alice, article, { account_ids: [aliceBaidu, aliceSohu] });
    expect(r.status, r.text).to.equal(202);
    expect(r.body.data).to.include({ article_id: article, article_version: 1 });
    const requested = r.body.data.publications as any[];
    expect(requested.map((p) => [p.account_id, p.platform, p.status])).to.deep.equal([
      [aliceBaidu, 'baidu', 'pending_review'],
      [aliceSohu, 'sohu', 'pending_review'],
    ]);
    const listed = await get(alice, `/api/v1/publications?article_id=${article}&after_position=${r.body.data.position}`);
    expect(listed.body.data.pagination.total).to.equal(2);

    for (const p of requested) {
      const shown = await until(alice, p.id, (x) => x.status === 'published', 'published');
      const held = sandbox.posts(p.platform, { clientToken: clientTokenFor(p.id) });
      expect(held, 'posted once').to.have.length(1);
      expect(held[0]).to.include({ title: '西湖一日游', summary: '西湖一日' });
      expect(shown.post).to.deep.include({ id: held[0]!.id, url: held[0]!.url, recovered: false });
      expect(shown.review).to.deep.equal({ pre_review: 'passed', hits: 0, review_id: null, status: null });
      expect(shown.attempts).to.equal(1);
      expect(shown.history.map((h: any) => h.event)).to.deep.equal([
        'PublicationRequested',
        'PreReviewPassed',
        'PublicationQueued',
        'PublishAttemptStarted',
        'PublicationPublished',
      ]);
      sandbox.setMetrics(p.platform, held[0]!.id, { views: 321, likes: 12, comments: 3, shares: 1 });
    }
    // the owner is told, in the app (pm-notify-user)
    await waitFor('publication_published notifications', async () => {
      const items = (await get(alice, '/api/v1/notifications?per_page=100')).body?.data?.items ?? [];
      return items.filter((n: any) => n.kind === 'publication_published').length === 2;
    });
    const told = ((await get(alice, '/api/v1/notifications?per_page=100')).body.data.items as any[]).find((n) => n.kind === 'publication_published');
    expect(told.title).to.include('西湖一日游');
    const withMetrics = await until(alice, requested[0].id, (x) => x.metrics?.views === 321, 'has metrics', 30_000);
    expect(withMetrics.metrics).to.deep.include({ views: 321, likes: 12, comments: 3, extra: { shares: 1 } });
    // filters
    expect((await mine(alice, '&status=published&platform=sohu')).items.map((p: any) => p.id)).to.deep.equal([requested[1].id]);
    expect((await mine(alice, `&account_id=${aliceBaidu}`)).items.map((p: any) => p.id)).to.deep.equal([requested[0].id]);
    // published: no cancel; unpublish takes it down
    const cancel = await platform.call('POST', `/api/v1/publications/${requested[0].id}/cancel`, { token: alice.token });
    expect(cancel.status, cancel.text).to.equal(409);
    expect(cancel.body.error.details).to.include({ reason: 'publishing_started' });
    expect((await platform.call('POST', `/api/v1/publications/${requested[0].id}/unpublish`, { token: bob.token })).status).to.equal(404);
    const down = await platform.call('POST', `/api/v1/publications/${requested[0].id}/unpublish`, { token: alice.token });
    expect(down.status, down.text).to.equal(202);
    await until(alice, requested[0].id, (x) => x.status === 'unpublished', 'unpublished');
    expect(sandbox.posts('baidu', { clientToken: clientTokenFor(requested[0].id) })[0]!.status).to.equal('deleted');
  });

  it('a scheduled one waits; cancelled, it never runs (a repeat answers the same; it can no longer be unpublished)', async () => {
    const at = new Date(Date.now() + 3_600_000).toISOString();
    const r = await publish(alice, article, { account_ids: [aliceSohu], at });
    expect(r.status, r.text).to.equal(202);
    const [p] = r.body.data.publications;
    expect(p).to.include({ status: 'scheduled', scheduled_at: at });
    const shown = await until(alice, p.id, (x) => x.status === 'scheduled', 'scheduled');
    expect(shown.scheduled_at).to.equal(at);
    expect((await platform.call('POST', `/api/v1/publications/${p.id}/cancel`, { token: bob.token })).status).to.equal(404);
    const cancelled = await platform.call('POST', `/api/v1/publications/${p.id}/cancel`, { token: alice.token });
    expect(cancelled.status, cancelled.text).to.equal(200);
    expect(cancelled.body.data).to.include({ id: p.id, status: 'cancelled' });
    const again = await platform.call('POST', `/api/v1/publications/${p.id}/cancel`, { token: alice.token });
    expect(again.status).to.equal(200);
    expect(again.body.data.status).to.equal('cancelled');
    const after = await until(alice, p.id, (x) => x.status === 'cancelled', 'cancelled');
    expect(after.history.map((h: any) => h.status)).to.deep.equal(['scheduled', 'cancelled']);
    const unpublish = await platform.call('POST', `/api/v1/publications/${p.id}/unpublish`, { token: alice.token });
    expect(unpublish.status).to.equal(409);
    expect(unpublish.body.error.details).to.include({ reason: 'not_published' });
    expect(sandbox.posts('sohu', { clientToken: clientTokenFor(p.id) })).to.have.length(0);
    expect((await get(alice, `/api/v1/publications/${randomUUID()}`)).status).to.equal(404);
  });

  it('publishes a note to Xiaohongshu through its creator page, in the browser, behind a leased proxy', async () => {
    const admin = await platform.adminToken();
    for (const p of platform.proxies.proxies) {
      const r = await platform.call('POST', '/api/v1/proxies', {
        token: admin,
        body: { host: p.host, port: p.port, protocol: 'http', username: p.username, password: p.password, country: 'CN', provider: 'local' },
      });
      expect(r.status, r.text).to.equal(201);
    }
    const verified = await platform.call('POST', `/api/v1/platform-accounts/${aliceXhs}/verify`, { token: alice.token });
    expect(verified.body?.data, verified.text).to.include({ status: 'active' });
    // a note needs an image: uploaded, then named as the cover
    const upload = await fetch(`${platform.url}/api/v1/media`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${alice.token}`, 'Content-Type': 'image/png' },
      body: PNG,
    });
    const media = (await upload.json()) as any;
    expect(upload.status, JSON.stringify(media)).to.equal(201);
    const note = await platform.call('POST', '/api/v1/articles', {
      token: alice.token,
      body: { title: '周末早午餐', body: '可颂配手冲咖啡。', tags: ['早午餐'], cover_media_id: media.data.id },
    });
    expect(note.status, note.text).to.equal(201);
    const proxied = () => platform.proxies.proxies.reduce((n, p) => n + p.requests.length, 0);
    const before = proxied();
    const r = await publish(alice, note.body.data.id, { account_ids: [aliceXhs] });
    expect(r.status, r.text).to.equal(202);
    const [p] = r.body.data.publications;
    expect(p.platform).to.equal('xiaohongshu');
    const shown = await until(alice, p.id, (x) => x.status === 'published' || x.status === 'failed', 'ended', 120_000);
    expect(shown.status, JSON.stringify(shown.failure ?? shown.last_error)).to.equal('published');
    const held = platform.sites.creator.notes.filter((n) => n.title === '周末早午餐');
    expect(held, 'posted once').to.have.length(1);
    expect(held[0]!.images).to.have.length(1);
    expect(shown.post.id).to.equal(held[0]!.noteId);
    expect(proxied(), 'through the leased proxy').to.be.greaterThan(before);
  });

  it('over the daily_publications quota: 429 QUOTA_EXCEEDED, nothing written', async () => {
    const bobArticle = await platform.call('POST', '/api/v1/articles', { token: bob.token, body: { title: '阿博的文章', body: '正文', tags: [] } });
    expect(bobArticle.status, bobArticle.text).to.equal(201);
    const at = new Date(Date.now() + 3_600_000).toISOString();
    // the free plan's 5 a day, scheduled so that none runs
    for (let i = 0; i < 5; i++) {
      const r = await publish(bob, bobArticle.body.data.id, { account_ids: [bobBaidu], at });
      expect(r.status, r.text).to.equal(202);
    }
    const over = await publish(bob, bobArticle.body.data.id, { account_ids: [bobBaidu], at });
    expect(over.status, over.text).to.equal(429);
    expect(over.body.error.code).to.equal('QUOTA_EXCEEDED');
    expect(over.body.error.details).to.include({ feature: 'daily_publications', limit: 5 });
    await waitFor("bob's five publications listed", async () => (await mine(bob)).pagination.total >= 5);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await mine(bob)).pagination.total).to.equal(5);
  });
});

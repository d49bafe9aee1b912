import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { startOpenPlatformSandbox, type OpenPlatformSandbox } from '../../sandbox/open-platform/server.js';
import type { RunningWorker } from '../../src/main/worker.js';
import { clientTokenFor } from '../../src/write-model/publication/decider.js';
import { consent } from '../support/open-platform-consent.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { waitFor } from '../support/wait-for.js';

const PUBLIC_BASE = 'http://collector-api.test';
// a real 3×4 PNG
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAMAAAAECAIAAADETxJQAAAAEElEQVR4nGO4o2EDQQx4WQAztw8BKa2zawAAAABJRU5ErkJggg==', 'base64');
/** what a Xiaohongshu-only rule flags: a lure to move the conversation off the platform */
const LURE = '私信领取';

/**
 * Publishing, walked the way a customer and a reviewer use it, every piece
 * real and on a fresh database: an OAuth account bound on the open platform
 * sandbox (short-lived tokens) and a Xiaohongshu account bound by cookies →
 * an article with an uploaded image → published to both → the open platform
 * passes pre-review and publishes through a lost answer (retried, never
 * posted twice), the Xiaohongshu note is flagged by a platform rule → a
 * reviewer approves it → the worker posts it through the creator page in
 * Chromium behind a leased proxy → the OAuth token is refreshed before it
 * expires → the note's metrics appear on its publication.
 */
describe('publishing walk: bind → write → publish → review → published, retried, refreshed, measured (e2e)', function () {
  this.timeout(240_000);
  let sandbox: OpenPlatformSandbox;
  let platform: Platform;
  let worker: RunningWorker | undefined;
  let admin: string;
  let author: { userId: string; token: string };
  let reviewer: { userId: string; token: string };
  let baiduAccount: string;
  let xhsAccount: string;
  let articleId: string;
  let baiduPublication: string;
  let xhsPublication: string;

  const get = (token: string, path: string) => platform.call('GET', path, { token });
  const post = (token: string, path: string, body?: unknown) => platform.call('POST', path, body === undefined ? { token } : { token, body });

  async function publication(id: string, ok: (p: any) => boolean, what: string, timeoutMs = 60_000) {
    let shown: any;
    await waitFor(
      `publication ${id} ${what}`,
      async () => {
        shown = (await get(author.token, `/api/v1/publications/${id}`)).body?.data;
        return shown !== undefined && ok(shown);
      },
      timeoutMs,
      100,
    );
    return shown;
  }

  before(async () => {
    // tokens live 12 s and are refreshed 6 s before they expire: the walk sees a refresh
    sandbox = await startOpenPlatformSandbox({ redirectBaseUrl: PUBLIC_BASE, accessTokenTtlSeconds: 12 });
    platform = await startPlatform({
      proxies: 1,
      config: { ...sandbox.env(), OAUTH_REFRESH_LEAD_SECONDS: '6', PUBLISH_RETRY_DELAY_MS: '300', PUBLICATION_METRICS_SCHEDULE: '1s,2s,3s,5s' },
    });
    admin = await platform.adminToken();
    for (const p of platform.proxies.proxies) {
      const r = await post(admin, '/api/v1/proxies', {
        host: p.host,
        port: p.port,
        protocol: 'http',
        username: p.username,
        password: p.password,
        country: 'CN',
        provider: 'local',
      });
      expect(r.status, r.text).to.equal(201);
    }
    author = await platform.signUp('author');
    reviewer = await platform.signUp('reviewer');
    const role = await platform.call('PUT', `/api/v1/admin/users/${reviewer.userId}/role`, { token: admin, body: { role: 'reviewer' } });
    expect(role.status, role.text).to.equal(200);
    platform.startConsumers();
    worker = await platform.startWorker();
  });
  after(async () => {
    await worker?.stop({ timeoutMs: 2_000 });
    await platform?.stop();
    await sandbox?.close();
  });

  it('binds an open-platform account through OAuth and a Xiaohongshu account by cookies', async () => {
    const start = await fetch(`${platform.url}/api/v1/platform-accounts/oauth/baidu/authorize`, {
      headers: { Authorization: `Bearer ${author.token}` },
      redirect: 'manual',
    });
    expect(start.status).to.equal(302);
    const back = await consent(start.headers.get('location')!, { user: 'alice' });
    const bound = await platform.call('GET', `${back.pathname}${back.search}`);
    expect(bound.status, bound.text).to.equal(200);
    baiduAccount = bound.body.data.account.id;

    const cookies = `a1=${randomBytes(8).toString('hex')}; web_session=${randomBytes(12).toString('hex')}`;
    const connected = await post(author.token, '/api/v1/platform-accounts', { platform: 'xiaohongshu', credentials: { cookies }, display_name: '露营号' });
    expect(connected.status, connected.text).to.equal(201);
    xhsAccount = connected.body.data.id;
    const verified = await post(author.token, `/api/v1/platform-accounts/${xhsAccount}/verify`);
    expect(verified.body?.data, verified.text).to.include({ status: 'active' });

    await waitFor('both accounts listed as active', async () => {
      const items = (await get(author.token, '/api/v1/platform-accounts?per_page=100')).body?.data?.items ?? [];
      return items.length === 2 && items.every((a: any) => a.status === 'active');
    });
    const items = (await get(author.token, '/api/v1/platform-accounts?per_page=100')).body.data.items as any[];
    const byId = new Map(items.map((a) => [a.id, a]));
    expect(byId.get(baiduAccount)).to.include({ platform: 'baidu', binding: 'oauth', status: 'active' });
    expect(byId.get(xhsAccount)).to.include({ platform: 'xiaohongshu', binding: 'cookies', status: 'active' });
    expect(JSON.stringify(items), 'no token in the listing').not.to.match(/access_token|refresh_token|web_session/);
  });

  it('writes an article with an uploaded image', async () => {
    const upload = await fetch(`${platform.url}/api/v1/media`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${author.token}`, 'Content-Type': 'image/png' },
      body: PNG,
    });
    const media = (await upload.json()) as any;
    expect(upload.status, JSON.stringify(media)).to.equal(201);
    const created = await post(author.token, '/api/v1/articles', {
      title: '周末露营装备清单',
      body: `# 装备\n\n帐篷、睡袋、防潮垫。想要完整清单的朋友${LURE}。`,
      summary: '新手露营带什么',
      tags: ['露营', '户外'],
      cover_media_id: media.data.id,
    });
    expect(created.status, created.text).to.equal(201);
    articleId = created.body.data.id;
    const image = await fetch(`${platform.url}/api/v1/media/${media.data.id}`, { headers: { Authorization: `Bearer ${author.token}` } });
    expect(image.status).to.equal(200);
    expect(image.headers.get('content-type')).to.equal('image/png');
    expect(Buffer.from(await image.arrayBuffer()).equals(PNG)).to.equal(true);
  });

  it('publishes to both: the open platform passes pre-review and is published once through a lost answer; the note is flagged', async () => {
    const rule = await post(admin, '/api/v1/review-rules', {
      scope: 'platform',
      kind: 'banned_phrase',
      name: '站外引流',
      phrases: [LURE, '加微信'],
      platforms: ['xiaohongshu'],
    });
    expect(rule.status, rule.text).to.equal(201);
    // the platform stores the first post and then fails: the answer is lost, the job retries
    sandbox.failNextPublish('baidu', 1, 'after');

    const r = await post(author.token, `/api/v1/articles/${articleId}/publish`, { account_ids: [baiduAccount, xhsAccount] });
    expect(r.status, r.text).to.equal(202);
    const publications = r.body.data.publications as any[];
    expect(publications.map((p) => p.platform)).to.deep.equal(['baidu', 'xiaohongshu']);
    baiduPublication = publications[0].id;
    xhsPublication = publications[1].id;

    const baidu = await publication(baiduPublication, (p) => p.status === 'published' || p.status === 'failed', 'ended');
    expect(baidu.status, JSON.stringify(baidu)).to.equal('published');
    expect(baidu.review).to.include({ pre_review: 'passed' });
    expect(baidu.attempts, 'retried after the lost answer').to.equal(2);
    expect(baidu.post.recovered, 'found on the platform, not posted again').to.equal(true);
    const held = sandbox.posts('baidu', { clientToken: clientTokenFor(baiduPublication) });
    expect(held, 'posted exactly once').to.have.length(1);
    expect(held[0]).to.include({ title: '周末露营装备清单' });
    expect(baidu.post.id).to.equal(held[0]!.id);

    const xhs = await publication(xhsPublication, (p) => p.status === 'in_review', 'in review');
    expect(xhs.review.pre_review).to.equal('flagged');
    expect(xhs.review.hits).to.be.greaterThan(0);
    expect(
      platform.sites.creator.notes.filter((n) => n.title === '周末露营装备清单'),
      'nothing posted before the review',
    ).to.have.length(0);
  });

  it('a reviewer claims and approves the flagged note: it is published through the creator page, and the author is told', async () => {
    const xhs = (await get(author.token, `/api/v1/publications/${xhsPublication}`)).body.data;
    const reviewId = xhs.review.review_id as string;
    expect(reviewId).to.be.a('string');
    // the author cannot see the queue; the reviewer can, with the hits placed in the text
    expect((await get(author.token, '/api/v1/reviews')).status).to.equal(403);
    await waitFor('the review in the queue', async () => {
      const r = await get(reviewer.token, '/api/v1/reviews?status=open');
      return r.status === 200 && (r.body.data.items as any[]).some((i) => i.id === reviewId);
    });
    const shown = (await get(reviewer.token, `/api/v1/reviews/${reviewId}`)).body.data;
    const hit = (shown.hits as any[]).find((h) => h.match === LURE);
    expect(hit, JSON.stringify(shown.hits)).to.include({ field: 'body', rule_name: '站外引流' });
    expect(shown.content.body.slice(hit.start, hit.end)).to.equal(LURE);

    const claimed = await post(reviewer.token, `/api/v1/reviews/${reviewId}/claim`);
    expect(claimed.status, claimed.text).to.equal(200);
    const approved = await post(reviewer.token, `/api/v1/reviews/${reviewId}/approve`, { comment: '用户自有资料，放行' });
    expect(approved.status, approved.text).to.equal(200);

    const published = await publication(xhsPublication, (p) => p.status === 'published' || p.status === 'failed', 'ended', 120_000);
    expect(published.status, JSON.stringify(published)).to.equal('published');
    expect(published.review).to.include({ status: 'approved' });
    const notes = platform.sites.creator.notes.filter((n) => n.title === '周末露营装备清单');
    expect(notes, 'one note').to.have.length(1);
    expect(notes[0]!.images).to.have.length(1);
    expect(published.post.id).to.equal(notes[0]!.noteId);
    await waitFor('the author is told', async () => {
      const items = (await get(author.token, '/api/v1/notifications?per_page=100')).body?.data?.items ?? [];
      return items.some((n: any) => n.kind === 'review_approved') && items.some((n: any) => n.kind === 'publication_published');
    });
  });

  it('refreshes the OAuth token before it expires, and the account stays active', async () => {
    let refreshed: any;
    await waitFor(
      'a token refresh',
      async () => {
        const events = await platform.events(`platform_account-${baiduAccount}`);
        refreshed = events.find((e: any) => e.type === 'OAuthTokensRefreshed');
        return refreshed !== undefined;
      },
      30_000,
      200,
    );
    const events = await platform.events(`platform_account-${baiduAccount}`);
    const bound = events.find((e: any) => e.type === 'OAuthAccountBound') as any;
    expect(Date.parse(refreshed.data.refreshedAt), 'before the first token expired').to.be.lessThan(Date.parse(bound.data.expiresAt));
    expect(Date.parse(refreshed.data.expiresAt)).to.be.greaterThan(Date.parse(bound.data.expiresAt));
    const account = (await get(author.token, `/api/v1/platform-accounts/${baiduAccount}`)).body.data;
    expect(account.status).to.equal('active');
  });

  it('follows the note: its metrics appear on the Xiaohongshu publication', async () => {
    const xhs = (await get(author.token, `/api/v1/publications/${xhsPublication}`)).body.data;
    platform.sites.creator.setMetrics(xhs.post.id, { views: 880, likes: 64, comments: 9, collects: 21, shares: 3 });
    const measured = await publication(xhsPublication, (p) => p.metrics?.likes === 64, 'has metrics', 60_000);
    expect(measured.metrics).to.deep.include({ likes: 64, comments: 9 });
  });
});

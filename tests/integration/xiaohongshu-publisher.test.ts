import { createHash } from 'node:crypto';
import { expect } from 'chai';
import type { Page } from 'playwright';
import { BrowserPool } from '../../src/adapters/scrapers/browser-pool.js';
import { BlockedError, CaptchaError } from '../../src/adapters/scrapers/errors.js';
import type { ScrapeBatch } from '../../src/adapters/scrapers/types.js';
import {
  type PostContent,
  PublishAuthError,
  type Publisher,
  PublishRefusedError,
  type PublishTarget,
  TransientPublishError,
} from '../../src/platforms/publishing/port.js';
import type { XiaohongshuNote } from '../../src/platforms/xiaohongshu/items.js';
import { xiaohongshuPublisher } from '../../src/platforms/xiaohongshu/publisher.js';
import { createXiaohongshuScraper } from '../../src/platforms/xiaohongshu/scraper.js';
import { startFixtureSites, type FixtureSites } from '../support/fixture-sites.js';
import { startHttpProxy, type LocalProxy } from '../support/local-proxies.js';

const UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
// two small real PNGs (3×4 red, 5×2 blue)
const RED = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAMAAAAECAIAAADETxJQAAAAEElEQVR4nGO4o2EDQQx4WQAztw8BKa2zawAAAABJRU5ErkJggg==', 'base64');
const BLUE = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAUAAAACCAIAAAAfCIEKAAAAEElEQVR4nGOQizqBjBjQ+ADBfAyBB//2SwAAAABJRU5ErkJggg==', 'base64');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function content(overrides: Partial<PostContent> = {}): PostContent {
  return {
    clientToken: 'pub-token-1',
    title: '周末的法式早午餐',
    body: '# 周末早午餐\n\n**可颂**配[手冲咖啡](https://example.com/coffee)，\n\n- 黄油要冷\n- 烤箱预热\n\n![封面](media:cover)',
    summary: null,
    tags: ['#早午餐', '法式 料理'],
    images: [
      { mediaId: 'med_cover', contentType: 'image/png', bytes: RED },
      { mediaId: 'med_body1', contentType: 'image/png', bytes: BLUE },
    ],
    ...overrides,
  };
}

describe('xiaohongshu publisher against the sandbox creator center (real Chromium)', function () {
  this.timeout(120_000);
  let sites: FixtureSites;
  let pool: BrowserPool;
  let proxy: LocalProxy;
  let publisher: Publisher;
  let target: PublishTarget;

  before(async () => {
    sites = await startFixtureSites();
    proxy = await startHttpProxy({ username: 'pub', password: 'proxy-secret' });
    pool = new BrowserPool({ maxContexts: 2 });
    publisher = xiaohongshuPublisher({
      pool,
      creatorUrl: sites.urls.xiaohongshuCreator,
      webUrl: sites.urls.xiaohongshuWeb,
      apiUrl: sites.urls.xiaohongshuApi,
      delayMs: [0, 0],
      timeoutMs: 10_000,
      uploadTimeoutMs: 10_000,
      context: { allowHosts: ['127.0.0.1'] },
    });
    target = {
      accountId: 'acc-xhs-1',
      credentials: {
        kind: 'cookies',
        cookies: 'a1=18f0c0ffee0a1; web_session=040069b2publisher',
        userAgent: UA,
        platformUserId: sites.manifest.xiaohongshu.selfId,
      },
      proxyUrl: proxy.url,
    };
  });
  after(async () => {
    await pool?.close();
    await proxy?.stop();
    await sites?.close();
  });
  beforeEach(() => {
    sites.setMode('xiaohongshu', 'ok');
    sites.requests.length = 0;
  });

  const creatorHits = () => sites.requests.filter((r) => r.site === 'xiaohongshu' && r.host === 'creator');
  const liveNotes = (title: string) => sites.creator.notes.filter((n) => n.title === title && n.status === 'published');

  async function scrapeOwnNotes(): Promise<XiaohongshuNote[]> {
    const scraper = createXiaohongshuScraper({ webUrl: sites.urls.xiaohongshuWeb, apiUrl: sites.urls.xiaohongshuApi, delayMs: [0, 0] });
    const batches: ScrapeBatch[] = [];
    await pool.withContext(
      {
        userAgent: UA,
        allowHosts: ['127.0.0.1'],
        blockResourceTypes: ['image', 'font', 'media'],
        cookies: [
          { name: 'a1', value: '18f0c0ffee0a1', domain: '127.0.0.1', path: '/' },
          { name: 'web_session', value: '040069b2publisher', domain: '127.0.0.1', path: '/' },
        ],
      },
      async (context) => {
        const page: Page = await context.newPage();
        await scraper.scrape(
          { type: 'xiaohongshu.notes', config: { mode: 'user', userId: sites.manifest.xiaohongshu.selfId, maxItems: 5 }, cursor: null },
          page,
          async (b) => {
            batches.push(b);
          },
        );
      },
    );
    return batches.flatMap((b) => b.items.map((i) => i.data as XiaohongshuNote));
  }

  it('publishes a note with two images through the page: it is in my notes and a readable note with metrics', async () => {
    const before = Date.now();
    const post = await publisher.publish(target, content());
    expect(post.postId).to.match(/^[0-9a-f]{24}$/);
    expect(post.url).to.equal(
      `${sites.urls.xiaohongshuWeb}/explore/${post.postId}?xsec_token=${encodeURIComponent(sites.creator.notes.find((n) => n.noteId === post.postId)!.xsecToken)}&xsec_source=pc_creatormng`,
    );
    expect(Date.parse(post.publishedAt!)).to.be.within(before - 60_000, Date.now());
    expect(post.publishedAt).to.match(/\+08:00$/);

    // what the platform holds: the images' bytes, the title, the body as text, the topics
    const note = sites.creator.notes.find((n) => n.noteId === post.postId)!;
    expect(note.status).to.equal('published');
    expect(note.title).to.equal('周末的法式早午餐');
    expect(note.images.map((i) => i.sha256)).to.deep.equal([sha256(RED), sha256(BLUE)]);
    expect(note.desc).to.equal('周末早午餐\n\n可颂配手冲咖啡，\n\n• 黄油要冷\n• 烤箱预热\n#早午餐[话题]# #法式料理[话题]#');
    expect(note.topics).to.deep.equal(['早午餐', '法式料理']);
    expect(note.cookies).to.include({ a1: '18f0c0ffee0a1', web_session: '040069b2publisher' });
    // as the account, behind the proxy
    expect(creatorHits().every((r) => r.userAgent === UA)).to.equal(true);
    expect(proxy.requests.some((r) => r.username === 'pub' && r.hostname === '127.0.0.1')).to.equal(true);
    const uploads = creatorHits().filter((r) => r.path === '/api/media/v1/upload/web/image');
    expect(uploads).to.have.length(2);

    // the note manager lists it; the site shows it to the scraper with its counts
    expect(await publisher.findExisting(target, content(), new Date(before))).to.deep.equal(post);
    sites.creator.setMetrics(post.postId, { likes: 321, comments: 7, collects: 12, shares: 2 });
    const scraped = (await scrapeOwnNotes()).find((n) => n.noteId === post.postId);
    expect(scraped).to.include({ title: '周末的法式早午餐', likes: 321, comments: 7, collects: 12, shares: 2 });
    expect(scraped!.tags).to.deep.equal(['早午餐', '法式料理']);
    expect(scraped!.images).to.have.length(2);
  });

  it('reads metrics: views from the note manager, the rest from the note page', async () => {
    const post = await publisher.publish(target, content({ title: '读数测试' }));
    sites.creator.setMetrics(post.postId, { views: 4321, likes: 12_345, comments: 0, collects: 56, shares: 3 });
    const metrics = await publisher.metrics(target, post.postId);
    // 12345 is shown as "1.2万" on the note page: read from there, not from the card
    expect(metrics).to.deep.equal({ views: 4321, likes: 12_000, comments: 0, extra: { collects: 56, shares: 3 } });
    expect(sites.hits('xiaohongshu', 'www', `/explore/${post.postId}`)).to.have.length(1);
    // the page view counts as a view
    expect(sites.creator.notes.find((n) => n.noteId === post.postId)!.views).to.equal(4322);
  });

  it('reads a note far down the note manager (scrolling) and refuses metrics of a note that is not there', async () => {
    const old = sites.creator.addNote({ title: '很久以前', time: Date.now() - 40 * 86_400_000, views: 9, likes: 4 });
    for (let i = 0; i < 24; i++) sites.creator.addNote({ title: `存量笔记${i}`, time: Date.now() - (i + 1) * 86_400_000 });
    const metrics = await publisher.metrics(target, old.noteId);
    expect(metrics).to.deep.include({ views: 9, likes: 4 });
    const listed = creatorHits().filter((r) => r.path === '/api/galaxy/creator/note/user/posted');
    expect(listed.length).to.be.greaterThan(2);

    const missing = await publisher.metrics(target, '0123456789abcdef01234567').catch((e: unknown) => e);
    expect(missing).to.be.instanceOf(PublishRefusedError);
    expect((missing as PublishRefusedError).code).to.equal('post_not_found');
  });

  it('after a lost answer findExisting finds the note the platform made, so no second one is posted', async () => {
    const post = content({ title: '丢失的回答' });
    const after = new Date();
    // an older note with the same title is not this publication's
    sites.creator.addNote({ title: '丢失的回答', time: Date.now() - 3 * 86_400_000 });
    expect(await publisher.findExisting(target, post, after)).to.equal(null);

    sites.creator.failNextPublish('after');
    const lost = await publisher.publish(target, post).catch((e: unknown) => e);
    expect(lost).to.be.instanceOf(TransientPublishError);
    expect((lost as Error).message).to.contain('http_500');
    expect(liveNotes('丢失的回答')).to.have.length(2);

    const found = await publisher.findExisting(target, post, after);
    const made = liveNotes('丢失的回答').at(-1)!;
    expect(found).to.include({ postId: made.noteId });
    expect(found!.url).to.contain(`/explore/${made.noteId}?xsec_token=`);
    // the job records what it found: nothing more was posted
    expect(liveNotes('丢失的回答')).to.have.length(2);
  });

  it('a server error before the note is made leaves nothing behind (transient)', async () => {
    sites.creator.failNextPublish('before', 502);
    const error = await publisher.publish(target, content({ title: '没发出去' })).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(TransientPublishError);
    expect(liveNotes('没发出去')).to.have.length(0);
    expect(await publisher.findExisting(target, content({ title: '没发出去' }), new Date(Date.now() - 60_000))).to.equal(null);
  });

  it('refuses what the platform would refuse before opening a browser', async () => {
    const cases: [Partial<PostContent>, string][] = [
      [{ title: '这是一个超过二十个字的标题，平台不会接受它的' }, 'title_too_long'],
      [{ body: '长'.repeat(1001) }, 'body_too_long'],
      [{ body: '长'.repeat(990), tags: ['话题一', '话题二'] }, 'body_too_long'],
      [{ images: [] }, 'no_images'],
      [{ images: [{ mediaId: 'm', contentType: 'image/gif', bytes: Buffer.from('GIF89a') }] }, 'unsupported_image'],
      [{ images: Array.from({ length: 19 }, (_, i) => ({ mediaId: `m${i}`, contentType: 'image/png', bytes: RED })) }, 'too_many_images'],
    ];
    for (const [overrides, code] of cases) {
      const error = await publisher.publish(target, content(overrides)).catch((e: unknown) => e);
      expect(error, code).to.be.instanceOf(PublishRefusedError);
      expect((error as PublishRefusedError).code).to.equal(code);
    }
    expect(creatorHits()).to.have.length(0);
    // exactly 20 characters is fine
    const twenty = await publisher.publish(target, content({ title: '二十个字的标题刚刚好不多也不少一二三四五', tags: [] }));
    expect(sites.creator.notes.find((n) => n.noteId === twenty.postId)!.title).to.have.length(20);
  });

  it('maps the page refusing the content to PublishRefusedError', async () => {
    const error = await publisher.publish(target, content({ title: '违禁内容' })).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(PublishRefusedError);
    expect((error as PublishRefusedError).code).to.equal('rejected');
    expect(liveNotes('违禁内容')).to.have.length(0);
  });

  it('the login wall is PublishAuthError (no session cookie, or a session the platform logged out)', async () => {
    const noSession: PublishTarget = { ...target, credentials: { kind: 'cookies', cookies: 'a1=18f0c0ffee0a1', userAgent: UA, platformUserId: null } };
    const error = await publisher.publish(noSession, content({ title: '未登录' })).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(PublishAuthError);
    expect((error as Error).message).to.not.contain('18f0c0ffee0a1');
    expect(creatorHits().some((r) => r.path === '/login')).to.equal(true);

    sites.setMode('xiaohongshu', 'login');
    for (const call of [
      () => publisher.findExisting(target, content(), new Date()),
      () => publisher.metrics(target, '0123456789abcdef01234567'),
      () => publisher.unpublish(target, '0123456789abcdef01234567'),
    ]) {
      expect(await call().catch((e: unknown) => e)).to.be.instanceOf(PublishAuthError);
    }
    expect(liveNotes('未登录')).to.have.length(0);

    const oauth = await publisher
      .publish({ ...target, credentials: { kind: 'oauth', accessToken: 't', platformUserId: 'u' } }, content())
      .catch((e: unknown) => e);
    expect(oauth).to.be.instanceOf(PublishAuthError);
  });

  it('a captcha or a block raises the scrapers’ errors, so the proxy is banned as for scrapes', async () => {
    sites.setMode('xiaohongshu', 'captcha');
    const captcha = await publisher.publish(target, content({ title: '验证码' })).catch((e: unknown) => e);
    expect(captcha).to.be.instanceOf(CaptchaError);
    expect((captcha as CaptchaError).reason).to.equal('captcha_redirect');

    sites.setMode('xiaohongshu', 'blocked');
    const blocked = await publisher.findExisting(target, content(), new Date()).catch((e: unknown) => e);
    expect(blocked).to.be.instanceOf(BlockedError);
    expect(blocked).to.include({ reason: 'api_code_300012', rateLimited: false });
    expect(liveNotes('验证码')).to.have.length(0);
  });

  it('unpublish deletes the note from my notes and from the site; again is a no-op', async () => {
    const post = await publisher.publish(target, content({ title: '要删除的笔记' }));
    await publisher.unpublish(target, post.postId);
    const note = sites.creator.notes.find((n) => n.noteId === post.postId)!;
    expect(note.status).to.equal('deleted');
    expect(creatorHits().filter((r) => r.path === '/api/galaxy/creator/note/delete')).to.have.length(1);
    expect(await publisher.findExisting(target, content({ title: '要删除的笔记' }), new Date(Date.now() - 60_000))).to.equal(null);
    expect((await scrapeOwnNotes()).some((n) => n.noteId === post.postId)).to.equal(false);
    const gone = await publisher.metrics(target, post.postId).catch((e: unknown) => e);
    expect((gone as PublishRefusedError).code).to.equal('post_not_found');

    sites.requests.length = 0;
    await publisher.unpublish(target, post.postId);
    expect(creatorHits().filter((r) => r.path === '/api/galaxy/creator/note/delete')).to.have.length(0);
  });
});

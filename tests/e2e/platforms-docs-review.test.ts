import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type { Page } from 'playwright';
import { BrowserPool } from '../../src/adapters/scrapers/browser-pool.js';
import { BlockedError, CaptchaError, LoginWallError } from '../../src/adapters/scrapers/errors.js';
import type { PlatformScraper, ScrapeBatch, ScrapeJob, ScrapeResult } from '../../src/adapters/scrapers/types.js';
import { platformGet } from '../../src/platforms/account-verifier.js';
import type { QidianKeywordMatch, QidianNovelSnapshot, QidianRankingEntry } from '../../src/platforms/qidian/items.js';
import { createQidianScraper } from '../../src/platforms/qidian/scraper.js';
import type { XiaohongshuNote } from '../../src/platforms/xiaohongshu/items.js';
import { createXiaohongshuScraper } from '../../src/platforms/xiaohongshu/scraper.js';
import { xiaohongshuVerifier } from '../../src/platforms/xiaohongshu/verify-account.js';
import { startFixtureSites, type FixtureSites } from '../support/fixture-sites.js';

/**
 * docs/platforms.md read claim by claim against the collectors, in Chromium,
 * on the sandbox sites: what the scrapers send, how they pace, how they read
 * walls, blocks and missing pages, and which element names a book. Claims the
 * other scraper tests already pin are not repeated here.
 */

const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const IMAGE_FORMATS = ['jpg', 'webp', 'avif'];

describe('docs/platforms.md against the collectors and the sandbox sites (real Chromium)', function () {
  this.timeout(60_000);
  let sites: FixtureSites;
  let pool: BrowserPool;
  const xhs = (extra: { searchPath?: string; delayMs?: readonly [number, number] } = {}) =>
    createXiaohongshuScraper({ webUrl: sites.urls.xiaohongshuWeb, apiUrl: sites.urls.xiaohongshuApi, delayMs: [0, 0], ...extra });
  const qidian = (extra: { delayMs?: readonly [number, number] } = {}) => createQidianScraper({ webUrl: sites.urls.qidianWeb, delayMs: [0, 0], ...extra });

  before(async () => {
    sites = await startFixtureSites();
    pool = new BrowserPool({ maxContexts: 2 });
  });
  after(async () => {
    await pool?.close();
    await sites?.close();
  });
  beforeEach(() => {
    sites.setMode('xiaohongshu', 'ok');
    sites.setMode('qidian', 'ok');
    sites.requests.length = 0;
  });

  /** One scrape in a fresh context, with the page prepared by `prepare` (routes, request listeners) first. */
  async function run(scraper: PlatformScraper, job: ScrapeJob, prepare?: (page: Page) => unknown): Promise<{ batches: ScrapeBatch[]; result: ScrapeResult }> {
    const batches: ScrapeBatch[] = [];
    const result = await pool.withContext(
      {
        userAgent: UA,
        locale: 'zh-CN',
        allowHosts: ['127.0.0.1'],
        blockResourceTypes: ['image', 'media'],
        cookies: [
          { name: 'a1', value: '18f0c0ffee0a1', domain: '127.0.0.1', path: '/' },
          { name: 'web_session', value: '040069b2review', domain: '127.0.0.1', path: '/' },
        ],
      },
      async (context) => {
        const page = await context.newPage();
        await prepare?.(page);
        return scraper.scrape(job, page, async (batch) => {
          batches.push(batch);
        });
      },
    );
    return { batches, result };
  }
  const items = <T>(batches: ScrapeBatch[]) => batches.flatMap((b) => b.items.map((i) => i.data as T));

  describe('Xiaohongshu (sections 3, 4, 6, 7, 10)', () => {
    it('search: every page POSTs page_size 20, note_type 0, sort general and one base-36 search_id; the path is an option (v2); /feed carries the card token', async () => {
      const m = sites.manifest.xiaohongshu;
      const { batches } = await run(xhs({ searchPath: '/api/sns/web/v2/search/notes' }), {
        type: 'xiaohongshu.notes',
        config: { mode: 'keyword', keyword: m.keyword, maxItems: 100 },
        cursor: null,
      });
      expect(sites.hits('xiaohongshu', 'edith', '/api/sns/web/v1/search/notes')).to.have.length(0);
      const searches = sites.hits('xiaohongshu', 'edith', '/api/sns/web/v2/search/notes').map((r) => r.body as Record<string, unknown>);
      expect(searches.map((b) => b['page'])).to.deep.equal([1, 2, 3]);
      for (const b of searches) {
        expect(b).to.deep.include({ keyword: m.keyword, page_size: 20, sort: 'general', note_type: 0, ext_flags: [], image_formats: IMAGE_FORMATS });
      }
      const sids = new Set(searches.map((b) => b['search_id']));
      expect(sids.size).to.equal(1);
      expect([...sids][0]).to.match(/^[0-9a-z]{10,21}$/);
      // the last page said has_more false: no fourth page
      const feeds = sites.hits('xiaohongshu', 'edith', '/api/sns/web/v1/feed').map((r) => r.body as Record<string, unknown>);
      expect(feeds.length).to.be.greaterThan(20);
      for (const f of feeds) {
        expect(f).to.deep.include({ image_formats: IMAGE_FORMATS, extra: { need_body_topic: '1' }, xsec_source: 'pc_search' });
        expect(f['xsec_token']).to.be.a('string').and.not.equal('');
      }
      // each note keeps the token it came with, in its page URL
      for (const note of items<XiaohongshuNote>(batches)) {
        const sent = feeds.find((f) => f['source_note_id'] === note.noteId)!;
        expect(note.url).to.equal(
          `${sites.urls.xiaohongshuWeb}/explore/${note.noteId}?xsec_token=${encodeURIComponent(String(sent['xsec_token']))}&xsec_source=pc_search`,
        );
      }
    });

    it("a user's notes: GET user_posted with num 30, image_formats joined by commas, xsec_source, the cursor from '' on", async () => {
      const m = sites.manifest.xiaohongshu;
      const { batches } = await run(xhs(), { type: 'xiaohongshu.notes', config: { mode: 'user', userId: m.userId, maxItems: 31 }, cursor: null });
      expect(items<XiaohongshuNote>(batches).map((n) => n.noteId)).to.deep.equal(m.userNotes.slice(0, 31));
      const calls = sites.hits('xiaohongshu', 'edith', '/api/sns/web/v1/user_posted');
      expect(calls.map((r) => r.method)).to.deep.equal(['GET', 'GET']);
      expect(calls.map((r) => r.query)).to.deep.equal([
        { num: '30', cursor: '', user_id: m.userId, image_formats: 'jpg,webp,avif', xsec_source: 'pc_feed' },
        { num: '30', cursor: m.userNotes[29], user_id: m.userId, image_formats: 'jpg,webp,avif', xsec_source: 'pc_feed' },
      ]);
      const feeds = sites.hits('xiaohongshu', 'edith', '/api/sns/web/v1/feed').map((r) => r.body as Record<string, unknown>);
      expect(feeds.every((f) => f['xsec_source'] === 'pc_user')).to.equal(true);
    });

    it('envelope codes on the API: -104 is a login wall, 300013 rate-limited, 300015 blocked (not rate-limited), a 5xx neither', async () => {
      const m = sites.manifest.xiaohongshu;
      const job: ScrapeJob = { type: 'xiaohongshu.notes', config: { mode: 'user', userId: m.userId, maxItems: 5 }, cursor: null };
      const answer = (status: number, body: unknown) => (page: Page) =>
        page.route('**/xiaohongshu/edith/api/sns/web/v1/user_posted*', (route) =>
          route.fulfill({ status, contentType: 'application/json', headers: { 'access-control-allow-origin': '*' }, body: JSON.stringify(body) }),
        );
      const notLoggedIn = await run(xhs(), job, answer(200, { code: -104, success: false, msg: '您当前登录的账号没有权限访问', data: {} })).catch(
        (e: unknown) => e,
      );
      expect(notLoggedIn).to.be.instanceOf(LoginWallError);
      expect(notLoggedIn).to.include({ platform: 'xiaohongshu', reason: 'api_code_-104' });
      const frequent = await run(xhs(), job, answer(200, { code: 300013, success: false, msg: '访问频次异常', data: {} })).catch((e: unknown) => e);
      expect(frequent).to.be.instanceOf(BlockedError);
      expect(frequent).to.include({ reason: 'api_code_300013', rateLimited: true });
      const environment = await run(xhs(), job, answer(200, { code: 300015, success: false, msg: '浏览器异常', data: {} })).catch((e: unknown) => e);
      expect(environment).to.be.instanceOf(BlockedError);
      expect(environment).to.include({ reason: 'api_code_300015', rateLimited: false });
      const broken = await run(xhs(), job, answer(502, { message: 'bad gateway' })).catch((e: unknown) => e);
      expect(broken).to.be.instanceOf(Error);
      for (const kind of [LoginWallError, CaptchaError, BlockedError]) expect(broken).to.not.be.instanceOf(kind);
      expect(String((broken as Error).message)).to.contain('http_502');
    });

    it('soft throttling: an empty /feed reads the note page; a page without the noteDetailMap entry skips the note, the run goes on', async () => {
      const m = sites.manifest.xiaohongshu;
      const gone = m.userNotes[0]!;
      let pageReads = 0;
      const { batches, result } = await run(
        xhs(),
        { type: 'xiaohongshu.notes', config: { mode: 'user', userId: m.userId, maxItems: 2 }, cursor: null },
        async (page) => {
          await page.route('**/xiaohongshu/edith/api/sns/web/v1/feed', async (route) => {
            const body = route.request().postDataJSON() as { source_note_id: string };
            if (body.source_note_id !== gone) return route.fallback();
            return route.fulfill({
              status: 200,
              contentType: 'application/json',
              body: JSON.stringify({ code: 0, success: true, msg: '成功', data: { cursor_score: '', current_time: Date.now(), items: [] } }),
            });
          });
          await page.route(`**/xiaohongshu/www/explore/${gone}?*`, (route) => {
            pageReads++;
            return route.fulfill({
              status: 200,
              contentType: 'text/html; charset=utf-8',
              body: '<html><body><li class="user side-bar-component"></li><script>window.__INITIAL_STATE__={"note":{"noteDetailMap":{}}}</script></body></html>',
            });
          });
        },
      );
      expect(pageReads).to.equal(1);
      expect(result).to.include({ itemCount: 2, skipped: 1 });
      expect(items<XiaohongshuNote>(batches).map((n) => n.noteId)).to.deep.equal(m.userNotes.slice(1, 3));
    });

    it('pacing: with the default delays every API call waits 1 to 3 s', async function () {
      this.timeout(30_000);
      const m = sites.manifest.xiaohongshu;
      const times: { url: string; at: number }[] = [];
      await run(
        createXiaohongshuScraper({ webUrl: sites.urls.xiaohongshuWeb, apiUrl: sites.urls.xiaohongshuApi }),
        { type: 'xiaohongshu.notes', config: { mode: 'user', userId: m.userId, maxItems: 2 }, cursor: null },
        (page) => {
          page.on('request', (r) => {
            if (r.resourceType() === 'document' || r.url().includes('/edith/')) times.push({ url: r.url(), at: Date.now() });
          });
          page.on('requestfinished', (r) => {
            if (r.resourceType() === 'document') times.push({ url: `done:${r.url()}`, at: Date.now() });
          });
          page.on('response', (r) => {
            if (r.url().includes('/edith/')) times.push({ url: `answered:${r.url()}`, at: Date.now() });
          });
        },
      );
      // profile loaded → user_posted, user_posted answered → feed 1, feed 1 answered → feed 2
      const at = (prefix: string, nth = 0) => times.filter((t) => t.url.startsWith(prefix))[nth]!.at;
      const edith = sites.urls.xiaohongshuApi;
      const gaps = [
        at(`${edith}/api/sns/web/v1/user_posted`) - at(`done:${sites.urls.xiaohongshuWeb}/user/profile/`),
        at(`${edith}/api/sns/web/v1/feed`, 0) - at(`answered:${edith}/api/sns/web/v1/user_posted`),
        at(`${edith}/api/sns/web/v1/feed`, 1) - at(`answered:${edith}/api/sns/web/v1/feed`, 0),
      ];
      for (const gap of gaps) expect(gap, JSON.stringify(gaps)).to.be.within(990, 3900);
    });

    it('the account check: a redirect to /website-login/captcha is a captcha, not an invalidation', async () => {
      const server: Server = createServer((_req, res) => {
        res.writeHead(302, { location: '/website-login/captcha?redirectPath=%2Fexplore&verifyType=102' }).end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const answer = await xiaohongshuVerifier(api, platformGet('xiaohongshu', 5000)).verify({ cookies: 'a1=18f0c0ffee0a1; web_session=040069b2review' });
        expect(answer).to.include({ ok: false, reason: 'captcha' });
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });
  });

  describe('Qidian (sections 13 to 18)', () => {
    it('a missing book (HTTP 404, 抱歉，页面无法访问, under the logged-out header every page has) is skipped, never a login wall', async () => {
      const { batches, result } = await run(qidian(), { type: 'qidian.novels', config: { novelIds: ['999999999', '1010868264'] }, cursor: null });
      expect(sites.hits('qidian', 'www', '/book/999999999/')[0]!.status).to.equal(404);
      expect(result).to.include({ itemCount: 1, skipped: 1 });
      expect(items<QidianNovelSnapshot>(batches).map((s) => s.novelId)).to.deep.equal(['1010868264']);
    });

    it("the book id is the cover link's a#bookImg[data-bid], even when another book's [data-bid] comes first in the page", async () => {
      const { batches } = await run(qidian(), { type: 'qidian.novels', config: { novelIds: ['1036370336'] }, cursor: null }, (page) =>
        page.route('**/qidian/www/book/1036370336/', async (route) => {
          const original = await route.fetch();
          // a header block linking another book, before the cover (as the home page's rank list does)
          const html = (await original.text()).replace(
            '<body>',
            '<body><div class="top-rank"><a href="//www.qidian.com/book/1010868264/" data-bid="1010868264">诡秘之主</a></div>',
          );
          await route.fulfill({ response: original, body: html });
        }),
      );
      const [snapshot] = items<QidianNovelSnapshot>(batches);
      expect(snapshot).to.deep.include({ novelId: '1036370336', title: '深海余烬' });
      expect(batches[0]!.items[0]!.platformContentId).to.equal('1036370336');
    });

    it('a score font that cannot be read leaves the scores null; the board is still collected', async () => {
      // the page names a font its host does not have (the sandbox answers 404)
      const { batches, result } = await run(qidian(), { type: 'qidian.rankings', config: { rankings: ['推荐榜'], maxRank: 20 }, cursor: null }, (page) =>
        page.route('**/qidian/www/rank/recom/', async (route) => {
          const original = await route.fetch();
          await route.fulfill({ response: original, body: (await original.text()).replaceAll('qd_anti_spider/', 'qd_anti_spider/GONE') });
        }),
      );
      const fonts = sites.hits('qidian', 'gtimg', '/qd_anti_spider/');
      expect(fonts.map((r) => [r.path.startsWith('/qd_anti_spider/GONE'), r.status])).to.deep.equal([[true, 404]]);
      expect(result).to.include({ itemCount: 20, skipped: 0 });
      const entries = items<QidianRankingEntry>(batches);
      expect(entries.map((e) => e.rank)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(entries.every((e) => e.score === null && e.scoreLabel === '推荐')).to.equal(true);
    });

    it('search: /so/<keyword>.html with the keyword encoded in the path; a highlighted title is read whole, with its place', async () => {
      const { batches } = await run(qidian(), { type: 'qidian.watchlist', config: { keywords: ['余烬'] }, cursor: null });
      expect(sites.hits('qidian', 'www', '/so/').map((r) => r.path)).to.deep.equal([`/so/${encodeURIComponent('余烬')}.html`]);
      const matches = items<QidianKeywordMatch>(batches);
      expect(matches).to.have.length(1);
      expect(matches[0]).to.deep.include({ keyword: '余烬', rank: 1, novelId: '1036370336', title: '深海余烬', status: 'serializing' });
    });

    it('pacing: with the default delays the first page loads at once, the next 2.5 to 5.5 s later', async function () {
      this.timeout(30_000);
      const times: number[] = [];
      let started = 0;
      const { result } = await run(
        qidian({ delayMs: undefined }),
        { type: 'qidian.novels', config: { novelIds: ['1036370336', '1041637443'] }, cursor: null },
        (page) => {
          started = Date.now();
          page.on('request', (r) => {
            if (r.resourceType() === 'document') times.push(Date.now());
          });
        },
      );
      expect(result.itemCount).to.equal(2);
      expect(times).to.have.length(2);
      expect(times[0]! - started).to.be.below(2000);
      expect(times[1]! - times[0]!).to.be.within(2500, 6500);
    });
  });
});

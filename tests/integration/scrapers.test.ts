import { expect } from 'chai';
import type { Page } from 'playwright';
import { BrowserPool } from '../../src/adapters/scrapers/browser-pool.js';
import { CaptchaError, LoginWallError, BlockedError } from '../../src/adapters/scrapers/errors.js';
import type { ScrapeBatch, ScrapeJob, ScrapeResult, PlatformScraper } from '../../src/adapters/scrapers/types.js';
import { itemSpec } from '../../src/platforms/registry.js';
import { createQidianScraper } from '../../src/platforms/qidian/scraper.js';
import type { QidianNovelSnapshot, QidianRankingEntry } from '../../src/platforms/qidian/items.js';
import { createXiaohongshuScraper } from '../../src/platforms/xiaohongshu/scraper.js';
import type { XiaohongshuMessage, XiaohongshuNote } from '../../src/platforms/xiaohongshu/items.js';
import { startFixtureSites, type FixtureSites } from '../support/fixture-sites.js';

const UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';

describe('scrapers against the fixture sites (real Chromium)', function () {
  this.timeout(30_000);
  let sites: FixtureSites;
  let pool: BrowserPool;
  let xhs: PlatformScraper;
  let qidian: PlatformScraper;

  before(async () => {
    sites = await startFixtureSites();
    pool = new BrowserPool({ maxContexts: 2 });
    xhs = createXiaohongshuScraper({ webUrl: sites.urls.xiaohongshuWeb, apiUrl: sites.urls.xiaohongshuApi, delayMs: [0, 0] });
    qidian = createQidianScraper({ webUrl: sites.urls.qidianWeb, delayMs: [0, 0] });
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

  const xhsCookies = () => [
    { name: 'a1', value: '18f0c0ffee0a1', domain: '127.0.0.1', path: '/' },
    { name: 'web_session', value: '040069b2fixture', domain: '127.0.0.1', path: '/' },
  ];

  async function run(
    scraper: PlatformScraper,
    job: ScrapeJob,
    opts: { cookies?: boolean; onBatch?: (b: ScrapeBatch, i: number) => void } = {},
  ): Promise<{ batches: ScrapeBatch[]; result: ScrapeResult }> {
    const batches: ScrapeBatch[] = [];
    const result = await pool.withContext(
      {
        userAgent: UA,
        locale: 'zh-CN',
        allowHosts: ['127.0.0.1'],
        blockResourceTypes: ['image', 'font', 'media'],
        cookies: opts.cookies === false ? [] : xhsCookies(),
      },
      async (context) => {
        const page: Page = await context.newPage();
        return scraper.scrape(job, page, async (batch) => {
          batches.push(batch);
          opts.onBatch?.(batch, batches.length - 1);
        });
      },
    );
    return { batches, result };
  }

  function expectValid(batches: ScrapeBatch[]): void {
    for (const b of batches) {
      expect(b.items.length).to.be.greaterThan(0);
      JSON.parse(b.cursor);
      for (const it of b.items) {
        const spec = itemSpec(it.kind)!;
        expect(spec.schema.safeParse(it.data).success, JSON.stringify(it.data)).to.equal(true);
        expect(it.platformContentId).to.equal(spec.key(it.data));
      }
    }
  }

  describe('xiaohongshu', () => {
    it('collects notes by keyword across search pages, with all fields, dropping rec/hot queries and unavailable notes', async () => {
      const m = sites.manifest.xiaohongshu;
      const { batches, result } = await run(xhs, { type: 'xiaohongshu.notes', config: { mode: 'keyword', keyword: m.keyword, maxItems: 100 }, cursor: null });
      expectValid(batches);
      const notes = batches.flatMap((b) => b.items.map((i) => i.data as XiaohongshuNote));
      const expected = m.searchNotes.filter((n) => n.special !== 'unavailable').map((n) => n.id);
      expect(notes.map((n) => n.noteId)).to.deep.equal(expected);
      expect(result).to.include({ itemCount: expected.length, skipped: 1 });
      expect(JSON.parse(result.cursor)).to.include({ done: true });
      // three search pages with one search_id, page by page; the page sent the signature headers
      const searches = sites.hits('xiaohongshu', 'edith', '/api/sns/web/v1/search/notes');
      const scraperPages = searches.map((r) => (r.body as { page: number }).page);
      expect(scraperPages).to.include.members([1, 2, 3]);
      expect(searches.every((r) => typeof r.headers['x-s'] === 'string' && r.cookies['web_session'] === '040069b2fixture' && r.userAgent === UA)).to.equal(
        true,
      );
      const first = notes[0]!;
      expect(first.title).to.be.a('string').and.not.equal('');
      expect(first.text).to.match(/#法式装修\[话题\]#|记录一下/);
      expect(first.author.id).to.match(/^[0-9a-f]{24}$/);
      expect(first.author.nickname).to.not.equal('');
      expect(first.publishedAt).to.match(/^2026-08-10T12:00:00\.000\+08:00$/);
      expect(first.likes).to.equal(4311);
      expect(notes[1]!.likes).to.equal(15000); // "1.5万"
      expect(notes[3]!.likes).to.equal(10); // "10+"
      expect(first.images.length).to.be.greaterThan(0);
      expect(first.images[0]).to.match(/^https:\/\/sns-webpic-qc\.xhscdn\.com\//);
      expect(first.tags).to.deep.equal(['法式装修', '软装搭配']);
      expect(first.url).to.contain(`/explore/${first.noteId}?xsec_token=`);
      expect(notes.some((n) => n.type === 'video')).to.equal(true);
      for (const n of notes) expect([n.likes, n.comments, n.shares, n.collects].every(Number.isInteger)).to.equal(true);
      // the throttled note (empty /feed) came from its page's __INITIAL_STATE__
      const throttled = m.searchNotes.find((n) => n.special === 'throttled')!.id;
      expect(sites.hits('xiaohongshu', 'www', `/explore/${throttled}`)).to.have.length(1);
      const fromPage = notes.find((n) => n.noteId === throttled)!;
      expect(fromPage.likes).to.be.greaterThan(0);
      expect(fromPage.tags.length).to.equal(2);
      expect(fromPage.publishedAt).to.match(/\+08:00$/);
    });

    it("collects a user's notes across user_posted cursors (the profile's lazy-loading API)", async () => {
      const m = sites.manifest.xiaohongshu;
      const { batches } = await run(xhs, { type: 'xiaohongshu.notes', config: { mode: 'user', userId: m.userId, maxItems: 1000 }, cursor: null });
      expectValid(batches);
      const notes = batches.flatMap((b) => b.items.map((i) => i.data as XiaohongshuNote));
      expect(notes.map((n) => n.noteId)).to.deep.equal(m.userNotes);
      expect(notes.every((n) => n.author.id === m.userId && n.author.nickname === '小鹿的家')).to.equal(true);
      const cursors = sites.hits('xiaohongshu', 'edith', '/api/sns/web/v1/user_posted').map((r) => r.query['cursor']);
      expect(cursors).to.deep.equal(['', m.userNotes[29]]);
    });

    it('stops at maxItems and resumes from a cursor without collecting the same notes again', async () => {
      const m = sites.manifest.xiaohongshu;
      const job: ScrapeJob = { type: 'xiaohongshu.notes', config: { mode: 'keyword', keyword: m.keyword, maxItems: 100 }, cursor: null };
      // a captcha appears after the second batch: the job fails with CaptchaError, its cursor is the last batch's
      let failure: unknown;
      const seen: ScrapeBatch[] = [];
      try {
        await run(xhs, job, {
          onBatch: (b, i) => {
            seen.push(b);
            if (i === 1) sites.setMode('xiaohongshu', 'captcha');
          },
        });
      } catch (error) {
        failure = error;
      }
      expect(failure).to.be.instanceOf(CaptchaError);
      expect((failure as CaptchaError).reason).to.equal('http_461');
      expect(seen).to.have.length(2);
      const before = seen.flatMap((b) => b.items.map((i) => i.platformContentId));
      // moved to another proxy: resumes from the cursor
      sites.setMode('xiaohongshu', 'ok');
      sites.requests.length = 0;
      const { batches } = await run(xhs, { ...job, cursor: seen[1]!.cursor });
      const after = batches.flatMap((b) => b.items.map((i) => i.platformContentId));
      const all = m.searchNotes.filter((n) => n.special !== 'unavailable').map((n) => n.id);
      expect(after.filter((id) => before.includes(id))).to.deep.equal([]);
      expect([...before, ...after]).to.deep.equal(all);
      const detailed = sites.hits('xiaohongshu', 'edith', '/api/sns/web/v1/feed').map((r) => (r.body as { source_note_id: string }).source_note_id);
      expect(detailed.filter((id) => before.includes(id))).to.deep.equal([]);

      const limited = await run(xhs, { ...job, config: { ...job.config, maxItems: 5 } });
      expect(limited.batches.flatMap((b) => b.items)).to.have.length(5);
      expect(JSON.parse(limited.result.cursor)).to.include({ done: true, n: 5 });
      const again = await run(xhs, { ...job, cursor: limited.result.cursor });
      expect(again.batches).to.deep.equal([]);
    });

    it('collects private messages per conversation, with direction and paging', async () => {
      const m = sites.manifest.xiaohongshu;
      const { batches } = await run(xhs, { type: 'xiaohongshu.messages', config: { maxConversations: 4 }, cursor: null });
      expectValid(batches);
      expect(batches).to.have.length(4);
      const messages = batches.flatMap((b) => b.items.map((i) => i.data as XiaohongshuMessage));
      expect(batches[0]!.items).to.have.length(m.conversations[0]!.messages);
      expect(new Set(messages.map((x) => x.conversationId))).to.have.property('size', 4);
      expect(messages.some((x) => x.direction === 'sent' && x.from.id === m.selfId)).to.equal(true);
      expect(messages.some((x) => x.direction === 'received' && x.from.nickname)).to.equal(true);
      expect(messages.some((x) => x.messageType === 'image')).to.equal(true);
      const rest = await run(xhs, { type: 'xiaohongshu.messages', config: { maxConversations: 10 }, cursor: batches[3]!.cursor });
      expect(rest.batches.map((b) => b.items[0]!.data['conversationId'])).to.deep.equal([m.conversations[4]!.id]);
    });

    it('a login wall raises LoginWallError (page and API), never an empty result', async () => {
      const m = sites.manifest.xiaohongshu;
      const job: ScrapeJob = { type: 'xiaohongshu.notes', config: { mode: 'keyword', keyword: m.keyword, maxItems: 10 }, cursor: null };
      const noCookie = await run(xhs, job, { cookies: false }).catch((e: unknown) => e);
      expect(noCookie).to.be.instanceOf(LoginWallError);
      expect(noCookie).to.include({ platform: 'xiaohongshu', reason: 'login_modal' });
      sites.setMode('xiaohongshu', 'login');
      const expired = await run(xhs, { type: 'xiaohongshu.messages', config: { maxConversations: 1 }, cursor: null }).catch((e: unknown) => e);
      expect(expired).to.be.instanceOf(LoginWallError);
    });

    it('a captcha page raises CaptchaError; an IP block raises BlockedError', async () => {
      const m = sites.manifest.xiaohongshu;
      const job: ScrapeJob = { type: 'xiaohongshu.notes', config: { mode: 'user', userId: m.userId, maxItems: 10 }, cursor: null };
      sites.setMode('xiaohongshu', 'captcha');
      const captcha = await run(xhs, job).catch((e: unknown) => e);
      expect(captcha).to.be.instanceOf(CaptchaError);
      expect(captcha).to.include({ platform: 'xiaohongshu', reason: 'captcha_redirect' });
      expect(String((captcha as Error).message)).to.not.contain('web_session');
      sites.setMode('xiaohongshu', 'blocked');
      const blocked = await run(xhs, { type: 'xiaohongshu.messages', config: { maxConversations: 1 }, cursor: null }).catch((e: unknown) => e);
      expect(blocked).to.be.instanceOf(BlockedError);
      expect(blocked).to.include({ platform: 'xiaohongshu', reason: 'api_code_300012', rateLimited: false });
    });
  });

  describe('qidian', () => {
    it('collects rankings across pages with rank, author, category, status and score', async () => {
      const { batches, result } = await run(qidian, {
        type: 'qidian.rankings',
        config: { rankings: ['热销榜', '收藏榜', '推荐榜'], maxRank: 50 },
        cursor: null,
      });
      expectValid(batches);
      const entries = batches.flatMap((b) => b.items.map((i) => i.data as QidianRankingEntry));
      const by = (r: string) => entries.filter((e) => e.ranking === r);
      expect(by('热销榜').map((e) => e.rank)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(by('收藏榜').map((e) => e.rank)).to.deep.equal(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(by('推荐榜')).to.have.length(40);
      expect(result.itemCount).to.equal(130);
      const e = by('收藏榜')[0]!;
      expect(e.novelId).to.match(/^\d+$/);
      expect(e.title).to.not.match(/最新章节/);
      expect(e.author).to.not.equal('');
      expect(e.category).to.be.oneOf(['玄幻', '奇幻', '仙侠', '都市', '科幻', '悬疑', '历史', '游戏']);
      expect(e.subCategory).to.be.a('string');
      expect(e.status).to.be.oneOf(['serializing', 'completed']);
      expect(e.score).to.be.a('number').greaterThan(0);
      expect(e.scoreLabel).to.equal('收藏');
      expect(by('收藏榜')[3]!.status).to.equal('completed');
      // hotsales shows no number; recom's digits are drawn by each page's anti-spider font: read from the font, not null
      expect(by('热销榜').every((x) => x.score === null)).to.equal(true);
      // the sandbox's recom scores: 500000 / (rank + 2), rounded, + 608
      expect(by('推荐榜').map((x) => x.score)).to.deep.equal(by('推荐榜').map((x) => Math.round(500000 / (x.rank + 2)) + 608));
      expect(by('推荐榜').every((x) => x.scoreLabel === '推荐')).to.equal(true);
      const qidianRequests = sites.requests.filter((r) => r.site === 'qidian');
      const paths = qidianRequests.filter((r) => r.host === 'www').map((r) => r.path);
      expect(paths).to.deep.equal([
        '/rank/hotsales/',
        '/rank/hotsales/page2/',
        '/rank/hotsales/page3/',
        '/rank/collect/',
        '/rank/collect/page2/',
        '/rank/recom/',
        '/rank/recom/page2/',
      ]);
      // one font per page, each fetched once
      expect(qidianRequests.filter((r) => r.host === 'gtimg').map((r) => r.path)).to.have.length(2);
    });

    it('reads every board of qidian.com/rank, the monthly-ticket board through its font too', async () => {
      const { batches } = await run(qidian, {
        type: 'qidian.rankings',
        config: { rankings: ['月票榜', '阅读指数榜', '新人作者新书榜'], maxRank: 20 },
        cursor: null,
      });
      expectValid(batches);
      const entries = batches.flatMap((b) => b.items.map((i) => i.data as QidianRankingEntry));
      const by = (r: string) => entries.filter((e) => e.ranking === r);
      for (const ranking of ['月票榜', '阅读指数榜', '新人作者新书榜']) expect(by(ranking), ranking).to.have.length(20);
      expect(by('月票榜').every((x) => typeof x.score === 'number' && x.score > 0 && x.scoreLabel === '月票')).to.equal(true);
      expect(by('阅读指数榜').every((x) => x.score === null)).to.equal(true);
      expect(by('新人作者新书榜').every((x) => typeof x.score === 'number')).to.equal(true);
      const paths = sites.requests.filter((r) => r.site === 'qidian' && r.host === 'www').map((r) => r.path);
      expect(paths.slice(-3)).to.deep.equal(['/rank/yuepiao/', '/rank/readIndex/', '/rank/newauthor/']);
    });

    it('resumes rankings from a cursor', async () => {
      const job: ScrapeJob = { type: 'qidian.rankings', config: { rankings: ['热销榜', '收藏榜'] }, cursor: null };
      const seen: ScrapeBatch[] = [];
      const failed = await run(qidian, job, {
        onBatch: (b, i) => {
          seen.push(b);
          if (i === 1) sites.setMode('qidian', 'blocked');
        },
      }).catch((e: unknown) => e);
      expect(failed).to.be.instanceOf(BlockedError);
      expect(failed).to.include({ reason: 'waf_block_page', rateLimited: false });
      sites.setMode('qidian', 'ok');
      sites.requests.length = 0;
      const { batches } = await run(qidian, { ...job, cursor: seen[1]!.cursor });
      // the ranking pages the resumed run fetched: only the ones left (a late request of the blocked run, e.g. for `/`, may also be logged)
      expect(sites.requests.map((r) => r.path).filter((p) => p.startsWith('/rank/'))).to.deep.equal([
        '/rank/hotsales/page3/',
        '/rank/collect/',
        '/rank/collect/page2/',
      ]);
      const ranks = batches.flatMap((b) => b.items.map((i) => `${i.data['ranking']}:${i.data['rank']}`));
      expect(ranks[0]).to.equal('热销榜:41');
      expect(ranks).to.have.length(20 + 40);
    });

    it('collects novel pages: word count, chapters, status, stats; a missing book is skipped', async () => {
      const books = sites.manifest.qidian.books;
      const { batches, result } = await run(qidian, { type: 'qidian.novels', config: { novelIds: [...books.map((b) => b.id), '999999999'] }, cursor: null });
      expectValid(batches);
      const snaps = batches.flatMap((b) => b.items.map((i) => i.data as QidianNovelSnapshot));
      expect(result).to.include({ itemCount: 3, skipped: 1 });
      const [gm, sh, sr] = snaps as [QidianNovelSnapshot, QidianNovelSnapshot, QidianNovelSnapshot];
      expect(gm).to.deep.include({
        novelId: '1010868264',
        title: '诡秘之主',
        author: '爱潜水的乌贼',
        category: '玄幻',
        wordCount: 4465200,
        chapters: 1432,
        status: 'completed',
      });
      expect(gm.stats).to.deep.equal({ clicks: null, recommendations: 20558300, collections: 1683000, monthlyTickets: 6233 });
      expect(gm.lastUpdatedAt).to.equal('2020-05-01T23:59:59.000+08:00');
      expect(sh).to.deep.include({ title: '深海余烬', wordCount: 133300, chapters: 51, status: 'serializing' });
      expect(sh.stats.recommendations).to.equal(15400);
      // no "共N章" text: chapters counted from the catalog
      expect(sr).to.deep.include({ title: '十日终焉', chapters: 24, wordCount: 2861000 });
      const resumed = await run(qidian, {
        type: 'qidian.novels',
        config: { novelIds: books.map((b) => b.id) },
        cursor: JSON.stringify({ v: 1, t: 'novel', i: 2 }),
      });
      expect(resumed.batches.flatMap((b) => b.items.map((i) => i.platformContentId))).to.deep.equal([books[2]!.id]);
    });

    it('a login wall raises LoginWallError; the JS-challenge shell raises CaptchaError', async () => {
      const job: ScrapeJob = { type: 'qidian.novels', config: { novelIds: ['1010868264'] }, cursor: null };
      sites.setMode('qidian', 'login');
      const login = await run(qidian, job).catch((e: unknown) => e);
      expect(login).to.be.instanceOf(LoginWallError);
      expect(login).to.include({ platform: 'qidian', reason: 'login_page' });
      sites.setMode('qidian', 'captcha');
      const captcha = await run(qidian, { type: 'qidian.rankings', config: { rankings: ['热销榜'] }, cursor: null }).catch((e: unknown) => e);
      expect(captcha).to.be.instanceOf(CaptchaError);
      expect(captcha).to.include({ platform: 'qidian', reason: 'js_challenge' });
    });
  });
});

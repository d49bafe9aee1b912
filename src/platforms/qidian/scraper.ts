import type { Page } from 'playwright';
import { BlockedError, CaptchaError, LoginWallError, bareUrl } from '../../adapters/scrapers/errors.js';
import {
  collectedItem,
  decodeCursor,
  encodeCursor,
  joinUrl,
  pause,
  type Emit,
  type PlatformScraper,
  type ScrapeJob,
  type ScrapeResult,
} from '../../adapters/scrapers/types.js';
import type { CollectedItem } from '../../write-model/workflow-execution/events.js';
import { novelSnapshot, qidianPageVerdict, rankEntry, rankHasNext, type QidianPageSignals, type RawBookPage, type RawRankPage } from './parse.js';
import { glyphDigits, looksObfuscated, type GlyphDigits } from './anti-spider-font.js';
import { keywordMatch, searchPath, SEARCH_PAGE, type RawSearchItem } from './search.js';
import { DEFAULT_MAX_RANK, novelsConfigSchema, RANKING_BOARDS, rankingsConfigSchema, watchlistConfigSchema } from './workflow-types.js';

/**
 * Qidian rank boards and book pages in a real browser (docs/platforms.md, Qidian).
 * Pages are server-rendered: the scraper reads the DOM into raw strings in
 * the page and parse.ts turns them into items. Rank pages are
 * `/rank/<board>/` then `/rank/<board>/page<N>/`; books `/book/<bid>/`.
 *
 * Cursors (JSON, opaque to others):
 * - rankings `{"v":1,"t":"rank","r":1,"page":2}` — the ranking (index in the config's list) and its next page
 * - novels `{"v":1,"t":"novel","i":3}` — the next index in the config's novelIds
 * `"done":true` marks a finished run.
 */

export interface QidianScraperOptions {
  /** QIDIAN_WEB_URL */
  webUrl: string;
  /** pause between page loads, ms [min, max]; default [2500, 5500] (what public scrapers use) */
  delayMs?: readonly [number, number];
  /** novels per batch */
  batchSize?: number;
  navigationTimeoutMs?: number;
  /** the capture time stamped on items (tests) */
  now?: () => Date;
}

type RankCursor = { t: 'rank'; r: number; page: number; done?: boolean };
type NovelCursor = { t: 'novel'; i: number; done?: boolean };
type WatchCursor = { t: 'watch'; i: number; k: number; done?: boolean };
const PLATFORM = 'qidian';

const SIGNALS = `(() => ({
  title: document.title || '',
  html: document.documentElement.outerHTML.slice(0, 20000),
  hasContent: !!document.querySelector('#rank-view-list li[data-rid], #rank-view-list li, h1#bookName, .book-info h1, #result-list'),
}))()`;

/** In the page: the raw rank list (RawRankPage). */
const RANK_PAGE = `(() => {
  const text = (el) => (el ? (el.textContent || '').trim() : '');
  const own = (el) => el ? Array.from(el.childNodes).filter((n) => n.nodeType === 3).map((n) => n.textContent).join('').trim() : '';
  const items = Array.from(document.querySelectorAll('#rank-view-list li')).map((li) => {
    const h2a = li.querySelector('.book-mid-info h2 a, .book-mid-info h4 a');
    const authorP = li.querySelector('p.author');
    const links = authorP ? Array.from(authorP.querySelectorAll('a')).filter((a) => !a.classList.contains('name')) : [];
    const totalP = li.querySelector('.book-right-info .total p');
    let scoreEl = totalP ? totalP.querySelector('span > span:not(:has(style))') || totalP.querySelector('span') : null;
    let scoreText = null;
    if (scoreEl) { const c = scoreEl.cloneNode(true); c.querySelectorAll('style').forEach((s) => s.remove()); scoreText = (c.textContent || '').trim(); }
    const fontStyle = totalP ? Array.from(totalP.querySelectorAll('style')).map((s) => s.textContent || '').join(' ') : '';
    const fontMatch = /url\\(\\s*['"]?([^'")\\s]+\\.(?:woff2?|ttf|otf))/.exec(fontStyle);
    return {
      rid: li.getAttribute('data-rid'),
      rankTag: text(li.querySelector('span.rank-tag')) || null,
      bid: (h2a && h2a.getAttribute('data-bid')) || (li.querySelector('[data-bid]') || { getAttribute: () => null }).getAttribute('data-bid'),
      title: text(h2a),
      author: text(li.querySelector('p.author a.name, p.author .name')),
      categories: links.map((a) => text(a)),
      subCategory: text(li.querySelector('p.author a.go-sub-type')) || null,
      status: text(authorP && authorP.querySelector('span')) || null,
      scoreText,
      scoreLabel: own(totalP) || null,
      scoreFontUrl: fontMatch ? fontMatch[1] : null,
    };
  });
  const pager = document.querySelector('#page-container');
  const num = (v) => (v && /^\\d+$/.test(v) ? Number(v) : null);
  return {
    items,
    page: num(pager && pager.getAttribute('data-page')),
    pageMax: num(pager && pager.getAttribute('data-pagemax')),
    hasNext: !!document.querySelector('a.lbf-pagination-next:not(.lbf-pagination-disabled)[href]'),
  };
})()`;

/** In the page: the raw book page (RawBookPage). */
const BOOK_PAGE = `(() => {
  const text = (el) => (el ? (el.textContent || '').trim() : '');
  const attr = document.querySelector('p.book-attribute');
  const meta = {};
  document.querySelectorAll('meta[property^="og:novel:"]').forEach((m) => { meta[m.getAttribute('property').slice(9)] = m.getAttribute('content') || ''; });
  const counts = [];
  const count = document.querySelector('p.count');
  if (count) {
    count.querySelectorAll('em').forEach((em) => {
      let next = em.nextElementSibling;
      counts.push({ value: text(em), label: next && next.tagName === 'CITE' ? text(next) : '' });
    });
  }
  // the cover link first: a selector list would take whichever [data-bid] comes first in the page
  const img = document.querySelector('a#bookImg[data-bid]') || document.querySelector('[data-bid]');
  return {
    bid: img ? img.getAttribute('data-bid') : null,
    title: text(document.querySelector('h1#bookName, .book-info h1 em')),
    author: text(document.querySelector('a.writer-name, a.writer')) || text(document.querySelector('span.author')).replace(/\\s*著$/, ''),
    attributes: attr ? Array.from(attr.querySelectorAll('span')).map(text).filter(Boolean) : [],
    categories: attr ? Array.from(attr.querySelectorAll('a')).map(text).filter(Boolean) : [],
    counts,
    updateTime: text(document.querySelector('span.update-time')) || null,
    catalogDesc: text(document.querySelector('span.catalog-header-desc')) || null,
    chapterLinks: document.querySelectorAll('#allCatalog ul.volume-chapters li a.chapter-name').length,
    meta,
  };
})()`;

export function createQidianScraper(options: QidianScraperOptions): PlatformScraper {
  const delay = options.delayMs ?? [2500, 5500];
  const batchSize = options.batchSize ?? 5;
  const now = options.now ?? (() => new Date());
  const visited = new WeakSet<Page>();

  /** Loads a page and judges it; 'missing' for a book that is not there. */
  async function open(page: Page, url: string): Promise<'ok' | 'missing'> {
    if (visited.has(page)) await pause(delay);
    visited.add(page);
    const response = await page.goto(url, { waitUntil: 'domcontentloaded', timeout: options.navigationTimeoutMs ?? 30_000 });
    const signals = { ...((await page.evaluate(SIGNALS)) as Omit<QidianPageSignals, 'status'>), status: response?.status() ?? null };
    const { verdict, reason } = qidianPageVerdict(signals);
    if (verdict === 'captcha') throw new CaptchaError(PLATFORM, reason, bareUrl(url));
    if (verdict === 'blocked') throw new BlockedError(PLATFORM, reason, bareUrl(url));
    if (verdict === 'login_wall') throw new LoginWallError(PLATFORM, reason, bareUrl(url));
    return verdict === 'missing' ? 'missing' : 'ok';
  }

  /** The anti-spider font's digits, fetched once per font through the page's context (its proxy), cached for the scraper's life. */
  const fonts = new Map<string, Promise<GlyphDigits>>();
  function fontDigits(page: Page, src: string): Promise<GlyphDigits> {
    const url = new URL(src, page.url()).href;
    let digits = fonts.get(url);
    if (!digits) {
      digits = page.request
        .get(url, { timeout: options.navigationTimeoutMs ?? 30_000 })
        .then(async (res) => (res.ok() ? glyphDigits(await res.body()) : new Map<number, string>()))
        // unreadable font: the score stays null, as before; another page's font is tried on its own
        .catch(() => new Map<number, string>());
      if (fonts.size >= 64) fonts.clear();
      fonts.set(url, digits);
    }
    return digits;
  }

  async function rankings(job: ScrapeJob, page: Page, emit: Emit): Promise<ScrapeResult> {
    const config = rankingsConfigSchema.parse(job.config);
    const maxRank = config.maxRank ?? DEFAULT_MAX_RANK;
    let cursor = decodeCursor<RankCursor>(job.cursor, 'rank') ?? { t: 'rank', r: 0, page: 1 };
    let itemCount = 0;
    let skipped = 0;
    while (!cursor.done && cursor.r < config.rankings.length) {
      const ranking = config.rankings[cursor.r]!;
      const board = RANKING_BOARDS[ranking];
      const path = cursor.page === 1 ? `/rank/${board}/` : `/rank/${board}/page${cursor.page}/`;
      const capturedAt = now().toISOString();
      const verdict = await open(page, joinUrl(options.webUrl, path));
      const raw = verdict === 'ok' ? ((await page.evaluate(RANK_PAGE)) as RawRankPage) : { items: [], page: null, pageMax: null, hasNext: false };
      const items: CollectedItem[] = [];
      let beyond = false;
      for (const r of raw.items) {
        const digits = r.scoreFontUrl && looksObfuscated(r.scoreText) ? await fontDigits(page, r.scoreFontUrl) : undefined;
        const entry = rankEntry(r, ranking, capturedAt, digits);
        if (entry && entry.rank > maxRank) {
          beyond = true;
          continue;
        }
        const item = entry ? collectedItem('qidian.ranking_entry', entry) : null;
        if (item) items.push(item);
        else skipped++;
      }
      const more = !beyond && rankHasNext(raw, cursor.page) && cursor.page * raw.items.length < maxRank;
      const nextRanking = cursor.r + 1 < config.rankings.length;
      cursor = more ? { ...cursor, page: cursor.page + 1 } : nextRanking ? { t: 'rank', r: cursor.r + 1, page: 1 } : { ...cursor, done: true };
      if (items.length > 0) await emit({ items, cursor: encodeCursor(cursor) });
      itemCount += items.length;
    }
    return { itemCount, skipped, cursor: encodeCursor({ ...cursor, done: true }) };
  }

  async function novels(job: ScrapeJob, page: Page, emit: Emit): Promise<ScrapeResult> {
    const config = novelsConfigSchema.parse(job.config);
    let cursor = decodeCursor<NovelCursor>(job.cursor, 'novel') ?? { t: 'novel', i: 0 };
    let itemCount = 0;
    let skipped = 0;
    let pending: CollectedItem[] = [];
    const flush = async () => {
      if (pending.length > 0) await emit({ items: pending, cursor: encodeCursor(cursor) });
      itemCount += pending.length;
      pending = [];
    };
    while (!cursor.done && cursor.i < config.novelIds.length) {
      const id = config.novelIds[cursor.i]!;
      const verdict = await open(page, joinUrl(options.webUrl, `/book/${id}/`));
      const snapshot = verdict === 'ok' ? novelSnapshot((await page.evaluate(BOOK_PAGE)) as RawBookPage, id, now().toISOString()) : null;
      const item = snapshot ? collectedItem('qidian.novel_snapshot', snapshot) : null;
      if (item) pending.push(item);
      else skipped++;
      cursor = cursor.i + 1 < config.novelIds.length ? { ...cursor, i: cursor.i + 1 } : { ...cursor, i: cursor.i + 1, done: true };
      if (pending.length >= batchSize) await flush();
    }
    await flush();
    return { itemCount, skipped, cursor: encodeCursor({ ...cursor, done: true }) };
  }

  /**
   * A watch-list run: its novels' book pages (as `qidian.novels`), then one
   * search page per keyword (`qidian.keyword_match` items, one batch per
   * keyword). Cursor `{"t":"watch","i":<next novel>,"k":<next keyword>}`.
   */
  async function watchlist(job: ScrapeJob, page: Page, emit: Emit): Promise<ScrapeResult> {
    const config = watchlistConfigSchema.parse(job.config);
    const novelIds = config.novelIds ?? [];
    const keywords = config.keywords ?? [];
    let cursor = decodeCursor<WatchCursor>(job.cursor, 'watch') ?? { t: 'watch', i: 0, k: 0 };
    let itemCount = 0;
    let skipped = 0;
    let pending: CollectedItem[] = [];
    const flush = async () => {
      if (pending.length > 0) await emit({ items: pending, cursor: encodeCursor(cursor) });
      itemCount += pending.length;
      pending = [];
    };
    while (!cursor.done && cursor.i < novelIds.length) {
      const id = novelIds[cursor.i]!;
      const verdict = await open(page, joinUrl(options.webUrl, `/book/${id}/`));
      const snapshot = verdict === 'ok' ? novelSnapshot((await page.evaluate(BOOK_PAGE)) as RawBookPage, id, now().toISOString()) : null;
      const item = snapshot ? collectedItem('qidian.novel_snapshot', snapshot) : null;
      if (item) pending.push(item);
      else skipped++;
      cursor = { ...cursor, i: cursor.i + 1 };
      if (pending.length >= batchSize) await flush();
    }
    await flush();
    while (!cursor.done && cursor.k < keywords.length) {
      const keyword = keywords[cursor.k]!;
      const capturedAt = now().toISOString();
      const verdict = await open(page, joinUrl(options.webUrl, searchPath(keyword)));
      const raw = verdict === 'ok' ? ((await page.evaluate(SEARCH_PAGE)) as RawSearchItem[]) : [];
      raw.forEach((r, index) => {
        const match = keywordMatch(r, keyword, index, capturedAt);
        const item = match ? collectedItem('qidian.keyword_match', match) : null;
        if (item) pending.push(item);
        else skipped++;
      });
      cursor = { ...cursor, k: cursor.k + 1 };
      await flush();
    }
    return { itemCount, skipped, cursor: encodeCursor({ ...cursor, done: true }) };
  }

  return {
    async scrape(job, page, emit) {
      switch (job.type) {
        case 'qidian.rankings':
          return rankings(job, page, emit);
        case 'qidian.novels':
          return novels(job, page, emit);
        case 'qidian.watchlist':
          return watchlist(job, page, emit);
        default:
          throw new Error(`the qidian scraper does not know ${job.type}`);
      }
    },
  };
}

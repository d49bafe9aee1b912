import { decodeGlyphs, type GlyphDigits } from './anti-spider-font.js';
import type { QidianNovelSnapshot, QidianRankingEntry } from './items.js';
import type { QidianRanking } from '../../write-model/subscription/plans.js';

/**
 * Pure parsers for Qidian pages (docs/platforms.md, Qidian). The scraper extracts raw
 * strings from the DOM in the browser (`RawRankItem`, `RawBookPage`,
 * `QidianPageSignals`); these functions turn them into items or a verdict.
 */

/** "13.33万" → 133300, "1.2亿" → 120000000, "2,311" → 2311; null when not a plain number (e.g. font-obfuscated digits). */
export function parseChineseNumber(text: string | null | undefined): number | null {
  if (text === null || text === undefined) return null;
  const t = text.replace(/[,，\s]/g, '');
  const m = /^(\d+(?:\.\d+)?)(万|亿)?/.exec(t);
  if (!m || m[0].length === 0) return null;
  // anything after the number other than a unit word means digits we cannot read
  const rest = t.slice(m[0].length);
  if (rest && !/^[\u4e00-\u9fa5]*$/.test(rest)) return null;
  const unit = m[2] === '万' ? 1e4 : m[2] === '亿' ? 1e8 : 1;
  return Math.round(Number(m[1]) * unit);
}

/** 连载 → serializing, 完本/完结 → completed, else null. */
export function parseStatus(text: string | null | undefined): 'serializing' | 'completed' | null {
  if (!text) return null;
  if (/完本|完结|已完成/.test(text)) return 'completed';
  if (/连载|连载中|暂停/.test(text)) return 'serializing';
  return null;
}

/** "2026-08-22 23:56" / "更新时间:2026-08-22 23:56:01" → ISO-8601 +08:00, or null. */
export function parseQidianTime(text: string | null | undefined): string | null {
  if (!text) return null;
  const m = /(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?/.exec(text);
  if (!m) return null;
  const pad = (v: string | undefined, n = 2) => (v ?? '0').padStart(n, '0');
  const iso = `${m[1]}-${pad(m[2])}-${pad(m[3])}T${pad(m[4])}:${pad(m[5])}:${pad(m[6])}.000+08:00`;
  return Number.isNaN(Date.parse(iso)) ? null : iso;
}

/** "连载共51章" / "共 1,203 章" → 51 / 1203 */
export function parseChapterCount(text: string | null | undefined): number | null {
  const m = /共\s*([\d,]+)\s*章/.exec(text ?? '');
  return m ? Number(m[1]!.replace(/,/g, '')) : null;
}

// ---- rank pages -------------------------------------------------------------

/** What the browser reads off one `#rank-view-list li`. */
export interface RawRankItem {
  /** li@data-rid */
  rid: string | null;
  /** span.rank-tag text */
  rankTag: string | null;
  /** data-bid of the h2 link (or the cover link) */
  bid: string | null;
  /** h2 a text */
  title: string;
  /** p.author a.name text */
  author: string;
  /** the texts of the p.author links that are not the author, in order (main category, sub-category) */
  categories: string[];
  /** a.go-sub-type text */
  subCategory: string | null;
  /** p.author span text (连载/完本) */
  status: string | null;
  /** the number span inside `.book-right-info .total p` (may be font-obfuscated) */
  scoreText: string | null;
  /** the label text beside it, e.g. 月票 */
  scoreLabel: string | null;
  /** the anti-spider font the score is drawn in (the @font-face src beside it), when there is one */
  scoreFontUrl?: string | null;
}

export interface RawRankPage {
  items: RawRankItem[];
  /** #page-container@data-page / data-pagemax */
  page: number | null;
  pageMax: number | null;
  /** an `a.lbf-pagination-next` link exists */
  hasNext: boolean;
}

/** `digits`: the page's anti-spider font read (anti-spider-font.ts); without it an obfuscated score is null. */
export function rankEntry(raw: RawRankItem, ranking: QidianRanking, capturedAt: string, digits?: GlyphDigits): QidianRankingEntry | null {
  const rank = Number(raw.rid ?? raw.rankTag?.replace(/\D/g, '') ?? NaN);
  const title = raw.title.trim();
  if (!raw.bid || !/^\d+$/.test(raw.bid) || !Number.isInteger(rank) || rank < 1 || !title) return null;
  const [category = '', second] = raw.categories.map((c) => c.trim());
  return {
    ranking,
    rank,
    novelId: raw.bid,
    title,
    author: raw.author.trim(),
    category,
    subCategory: raw.subCategory?.trim() || second || null,
    status: parseStatus(raw.status),
    score: parseChineseNumber(digits && raw.scoreText !== null ? decodeGlyphs(raw.scoreText, digits) : raw.scoreText),
    scoreLabel: raw.scoreLabel?.trim() || null,
    capturedAt,
  };
}

/** Whether another page follows this one. */
export function rankHasNext(page: RawRankPage, pageNumber: number): boolean {
  if (page.items.length === 0) return false;
  if (page.pageMax !== null) return pageNumber < page.pageMax;
  return page.hasNext;
}

// ---- book pages -------------------------------------------------------------

export interface RawBookPage {
  bid: string | null;
  title: string;
  author: string;
  /** p.book-attribute span texts (status and others) */
  attributes: string[];
  /** p.book-attribute link texts (main category, sub-category) */
  categories: string[];
  /** p.count `<em>value</em><cite>label</cite>` pairs */
  counts: { value: string; label: string }[];
  /** span.update-time text */
  updateTime: string | null;
  /** span.catalog-header-desc text (连载共51章) */
  catalogDesc: string | null;
  /** chapter links in #allCatalog */
  chapterLinks: number;
  /** og:novel:* meta values, keyed without the prefix (status, category, update_time, book_name, author) */
  meta: Record<string, string>;
}

/** Which p.count label feeds which stat. */
function statKey(label: string): keyof QidianNovelSnapshot['stats'] | 'words' | null {
  if (/字/.test(label)) return 'words';
  if (/点击/.test(label)) return 'clicks';
  if (/总推荐|^推荐/.test(label)) return 'recommendations';
  if (/收藏/.test(label)) return 'collections';
  if (/月票/.test(label)) return 'monthlyTickets';
  return null;
}

/** The snapshot, or null when the page is not a book (no id or title). */
export function novelSnapshot(raw: RawBookPage, novelId: string, capturedAt: string): QidianNovelSnapshot | null {
  const title = (raw.title || raw.meta['book_name'] || '').trim();
  if (!title) return null;
  const stats: QidianNovelSnapshot['stats'] = { clicks: null, recommendations: null, collections: null, monthlyTickets: null };
  let words: number | null = null;
  for (const { value, label } of raw.counts) {
    const key = statKey(label);
    // "万字" puts the unit in the label
    const n = parseChineseNumber(/^万/.test(label) ? `${value}万` : value);
    if (key === null || n === null) continue;
    if (key === 'words') words ??= n;
    else stats[key] ??= n;
  }
  const status = parseStatus(raw.attributes.find((a) => parseStatus(a)) ?? raw.meta['status']) ?? 'serializing';
  return {
    novelId: raw.bid && /^\d+$/.test(raw.bid) ? raw.bid : novelId,
    title,
    author: (raw.author || raw.meta['author'] || '').trim(),
    category: (raw.categories[0] ?? raw.meta['category'] ?? '').trim(),
    wordCount: words ?? 0,
    chapters: parseChapterCount(raw.catalogDesc) ?? raw.chapterLinks,
    status,
    stats,
    lastUpdatedAt: parseQidianTime(raw.updateTime) ?? parseQidianTime(raw.meta['update_time']),
    capturedAt,
  };
}

// ---- verdicts -----------------------------------------------------------------

export interface QidianPageSignals {
  status: number | null;
  title: string;
  /** the page's HTML, or its first part */
  html: string;
  /** the content the page is for is there (#rank-view-list li, h1#bookName) */
  hasContent: boolean;
}

export function qidianPageVerdict(s: QidianPageSignals): { verdict: 'ok' | 'login_wall' | 'captcha' | 'blocked' | 'missing'; reason: string } {
  if (/WAF拦截页面/.test(s.title)) return { verdict: 'blocked', reason: 'waf_block_page' };
  if (s.hasContent) return { verdict: 'ok', reason: 'ok' };
  if (/probe\.js/.test(s.html) || s.status === 202) return { verdict: 'captcha', reason: 'js_challenge' };
  if (/TCaptcha|captcha\.qq\.com|turing\.captcha|拖动下方滑块|安全验证/.test(s.html)) return { verdict: 'captcha', reason: 'captcha_page' };
  // before the login markers: a missing book's page carries the logged-out header (login-area-wrap) like every page
  if (/抱歉，页面无法访问|页面不存在/.test(s.html) || s.status === 404) return { verdict: 'missing', reason: 'not_found' };
  if (/passport\.(yuewen|qidian)\.com|login-area-wrap|请登录|登录后/.test(s.html)) return { verdict: 'login_wall', reason: 'login_page' };
  return { verdict: 'ok', reason: 'empty' };
}

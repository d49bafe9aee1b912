import type { QidianKeywordMatch } from './items.js';
import { parseStatus } from './parse.js';

/**
 * Qidian's search page, `/so/<keyword>.html` (the keyword URL-encoded in the
 * path): a result list shaped like the rank boards (docs/platforms.md, Qidian: search page),
 * `#result-list li[data-rid]` with the book link (`data-bid`) in
 * `.book-mid-info h3 a` (or `h2 a`; the keyword is highlighted inside it
 * with `<cite>`/`<em>`, so its text is read whole), the author in
 * `p.author a.name`, categories and 连载/完本 after it. The first page (20
 * books, the most relevant) is what a watch-list run reads.
 */

export function searchPath(keyword: string): string {
  return `/so/${encodeURIComponent(keyword)}.html`;
}

/** What the browser reads off one result. */
export interface RawSearchItem {
  rid: string | null;
  bid: string | null;
  title: string;
  author: string;
  categories: string[];
  status: string | null;
}

/** In the page: the raw result list (RawSearchItem[]). */
export const SEARCH_PAGE = `(() => {
  const text = (el) => (el ? (el.textContent || '').replace(/\\s+/g, ' ').trim() : '');
  return Array.from(document.querySelectorAll('#result-list li[data-rid], #result-list li.res-book-item')).map((li) => {
    const link = li.querySelector('.book-mid-info h3 a, .book-mid-info h2 a, .book-mid-info h4 a');
    const authorP = li.querySelector('p.author');
    const links = authorP ? Array.from(authorP.querySelectorAll('a')).filter((a) => !a.classList.contains('name')) : [];
    const bidEl = (link && link.getAttribute('data-bid')) ? link : li.querySelector('[data-bid]');
    return {
      rid: li.getAttribute('data-rid'),
      bid: bidEl ? bidEl.getAttribute('data-bid') : null,
      title: text(link),
      author: text(li.querySelector('p.author a.name, p.author .name')),
      categories: links.map((a) => text(a)),
      status: text(authorP && authorP.querySelector('span')) || null,
    };
  });
})()`;

/** One search result as a keyword match; null when it lacks a book id or title. `index` is its 0-based place on the page. */
export function keywordMatch(raw: RawSearchItem, keyword: string, index: number, capturedAt: string): QidianKeywordMatch | null {
  const title = raw.title.trim();
  if (!raw.bid || !/^\d{1,20}$/.test(raw.bid) || !title) return null;
  const rid = Number(raw.rid);
  return {
    keyword,
    rank: Number.isInteger(rid) && rid >= 1 ? rid : index + 1,
    novelId: raw.bid,
    title,
    author: raw.author.trim(),
    category: raw.categories[0]?.trim() ?? '',
    status: parseStatus(raw.status),
    capturedAt,
  };
}

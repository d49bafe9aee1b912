import type { Page } from 'playwright';
import { BrowserPool } from '../../src/adapters/scrapers/browser-pool.js';
import type { PlatformScraper, ScrapeJob } from '../../src/adapters/scrapers/types.js';
import { createQidianScraper } from '../../src/platforms/qidian/scraper.js';
import { createXiaohongshuScraper } from '../../src/platforms/xiaohongshu/scraper.js';
import { startFixtureSites, type FixtureSites, type LoggedRequest } from '../../sandbox/sites/server.js';

/**
 * Scraping throughput with the real browser pool and scrapers against the
 * fixture sites on 127.0.0.1. Without pacing it measures our side (browser
 * contexts, page loads, in-page API calls, parsing: CPU-bound on a small
 * machine); with a pacing delay between requests (what the scrapers do in
 * production, and what a real platform's latency adds) it shows what
 * parallel contexts buy when jobs mostly wait.
 */

export interface ScrapeFigures {
  label: string;
  contexts: number;
  blockResources: boolean;
  seconds: number;
  jobs: number;
  items: number;
  /** HTML documents the browser loaded */
  pages: number;
  /** API and other non-document requests answered by the fixture sites */
  apiCalls: number;
}

const UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';

function isDocument(r: LoggedRequest): boolean {
  const accept = r.headers['accept'];
  return typeof accept === 'string' && accept.includes('text/html');
}

/** The jobs a worker would run, alternating: Xiaohongshu notes by keyword, Qidian rankings, Qidian novels. */
function jobs(sites: FixtureSites): { scraper: 'xhs' | 'qidian'; job: ScrapeJob }[] {
  const m = sites.manifest;
  return [
    { scraper: 'xhs', job: { type: 'xiaohongshu.notes', config: { mode: 'keyword', keyword: m.xiaohongshu.keyword, maxItems: 100 }, cursor: null } },
    { scraper: 'qidian', job: { type: 'qidian.rankings', config: { rankings: ['热销榜', '收藏榜', '推荐榜'] }, cursor: null } },
    { scraper: 'qidian', job: { type: 'qidian.novels', config: { novelIds: m.qidian.books.map((b) => b.id) }, cursor: null } },
  ];
}

export async function startScrapeBench(): Promise<{ sites: FixtureSites; close(): Promise<void> }> {
  const sites = await startFixtureSites();
  return { sites, close: () => sites.close() };
}

/** Runs jobs on `contexts` parallel lanes for `seconds`, counting what the fixture sites served. */
export async function measureScraping(
  sites: FixtureSites,
  options: { label: string; contexts: number; blockResources: boolean; seconds: number; executablePath: string; delayMs?: readonly [number, number] },
): Promise<ScrapeFigures> {
  const pool = new BrowserPool({ executablePath: options.executablePath, maxContexts: options.contexts });
  const scrapers: Record<'xhs' | 'qidian', PlatformScraper> = {
    xhs: createXiaohongshuScraper({ webUrl: sites.urls.xiaohongshuWeb, apiUrl: sites.urls.xiaohongshuApi, delayMs: options.delayMs ?? [0, 0] }),
    qidian: createQidianScraper({ webUrl: sites.urls.qidianWeb, delayMs: options.delayMs ?? [0, 0] }),
  };
  const cookies = [
    { name: 'a1', value: '18f0c0ffee0a1', domain: '127.0.0.1', path: '/' },
    { name: 'web_session', value: '040069b2fixture', domain: '127.0.0.1', path: '/' },
  ];
  const all = jobs(sites);
  let items = 0;
  let done = 0;
  let next = 0;
  const runOne = async () => {
    const { scraper, job } = all[next++ % all.length]!;
    await pool.withContext(
      {
        userAgent: UA,
        locale: 'zh-CN',
        allowHosts: ['127.0.0.1'],
        cookies,
        ...(options.blockResources ? { blockResourceTypes: ['image', 'font', 'media'] } : {}),
      },
      async (context) => {
        const page: Page = await context.newPage();
        await scrapers[scraper].scrape(job, page, async (batch) => {
          items += batch.items.length;
        });
      },
    );
    done++;
  };
  try {
    // warm-up: the browser launch and the first pages are not measured
    await Promise.all(Array.from({ length: options.contexts }, runOne));
    items = 0;
    done = 0;
    sites.requests.length = 0;
    const started = performance.now();
    const until = started + options.seconds * 1000;
    await Promise.all(
      Array.from({ length: options.contexts }, async () => {
        while (performance.now() < until) await runOne();
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const pages = sites.requests.filter(isDocument).length;
    return {
      label: options.label,
      contexts: options.contexts,
      blockResources: options.blockResources,
      seconds,
      jobs: done,
      items,
      pages,
      apiCalls: sites.requests.length - pages,
    };
  } finally {
    await pool.close();
  }
}

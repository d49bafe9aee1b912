import type { Config } from '../config.js';
import type { PlatformScraper } from '../adapters/scrapers/types.js';
import { createQidianScraper } from '../platforms/qidian/scraper.js';
import { createXiaohongshuScraper } from '../platforms/xiaohongshu/scraper.js';

/**
 * Which scraper runs a platform's jobs, with the base URLs from config. One
 * line per platform (like PLATFORM_MODULES in platforms/registry.ts); kept
 * out of the registry so the API process never loads Playwright code.
 */

export interface ScraperTuning {
  /** pause between platform requests, ms [min, max]; default: each scraper's own */
  delayMs?: readonly [number, number];
  navigationTimeoutMs?: number;
}

export type ScraperLookup = (platform: string) => PlatformScraper | undefined;

type UrlConfig = Pick<Config, 'XIAOHONGSHU_WEB_URL' | 'XIAOHONGSHU_API_URL' | 'QIDIAN_WEB_URL'>;

export function createScrapers(config: UrlConfig, tuning: ScraperTuning = {}): ScraperLookup {
  const built = new Map<string, PlatformScraper>();
  const factories: Record<string, () => PlatformScraper> = {
    xiaohongshu: () => createXiaohongshuScraper({ webUrl: config.XIAOHONGSHU_WEB_URL, apiUrl: config.XIAOHONGSHU_API_URL, ...tuning }),
    qidian: () => createQidianScraper({ webUrl: config.QIDIAN_WEB_URL, ...tuning }),
  };
  return (platform) => {
    if (!Object.hasOwn(factories, platform)) return undefined;
    let scraper = built.get(platform);
    if (!scraper) built.set(platform, (scraper = factories[platform]!()));
    return scraper;
  };
}

/** The hosts a platform's cookies are set for (its configured base URLs). */
export function platformUrls(config: UrlConfig, platform: string): string[] {
  if (platform === 'xiaohongshu') return [config.XIAOHONGSHU_WEB_URL, config.XIAOHONGSHU_API_URL];
  if (platform === 'qidian') return [config.QIDIAN_WEB_URL];
  return [];
}

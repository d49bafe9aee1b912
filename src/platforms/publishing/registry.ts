import { BrowserPool, type ContextOptions } from '../../adapters/scrapers/browser-pool.js';
import type { Config } from '../../config.js';
import { oauthPlatforms, openPlatformPublishers, type OpenPlatformConfig } from '../open-platform/clients.js';
import { xiaohongshuPublisher } from '../xiaohongshu/publisher.js';
import type { Publisher } from './port.js';

/**
 * Which publisher posts to which platform: Xiaohongshu through its creator
 * page in a browser (behind a leased proxy, like the scrapers), and every
 * open platform configured here (OAuth-bound accounts, an HTTP API reached
 * directly). A platform not listed has no publisher: the API refuses to
 * publish to it (422) and the job fails a publication for it
 * (`publisher_unavailable`).
 */

export interface PublisherEntry {
  publisher: Publisher;
  /** a browser platform: the job leases a proxy for it (the API platforms are reached directly) */
  needsProxy: boolean;
}

export interface PublisherRegistry {
  /** the platforms there is a publisher for */
  readonly platforms: readonly string[];
  get(platform: string): PublisherEntry | undefined;
}

/** A registry of these entries (a platform named twice: the first wins). */
export function publisherRegistry(entries: readonly PublisherEntry[]): PublisherRegistry {
  const byPlatform = new Map<string, PublisherEntry>();
  for (const entry of entries) if (!byPlatform.has(entry.publisher.platform)) byPlatform.set(entry.publisher.platform, entry);
  return { platforms: [...byPlatform.keys()], get: (platform) => byPlatform.get(platform) };
}

/** The browser platforms: reached through a leased proxy. */
export const BROWSER_PUBLISHING_PLATFORMS = ['xiaohongshu'] as const;

/**
 * The platforms with a publisher under this configuration, without building
 * any (the API's check: it has no browser): Xiaohongshu and the configured
 * open platforms.
 */
export function publishingPlatforms(config: OpenPlatformConfig): string[] {
  return [...BROWSER_PUBLISHING_PLATFORMS, ...oauthPlatforms(config).map((client) => client.platform)];
}

export interface PublisherRegistryOptions {
  /** the worker's shared browser */
  pool: BrowserPool;
  /** pause between page steps (tests: none) */
  delayMs?: readonly [number, number];
  timeoutMs?: number;
  /** further context options (tests: allowHosts) */
  context?: Partial<Omit<ContextOptions, 'proxy' | 'cookies' | 'userAgent'>>;
}

type RegistryConfig = OpenPlatformConfig & Pick<Config, 'XIAOHONGSHU_CREATOR_URL' | 'XIAOHONGSHU_WEB_URL' | 'XIAOHONGSHU_API_URL'>;

/** The worker's registry: Xiaohongshu (browser) and the configured open platforms (API). */
export function createPublisherRegistry(config: RegistryConfig, options: PublisherRegistryOptions): PublisherRegistry {
  const xiaohongshu = xiaohongshuPublisher({
    pool: options.pool,
    creatorUrl: config.XIAOHONGSHU_CREATOR_URL,
    webUrl: config.XIAOHONGSHU_WEB_URL,
    apiUrl: config.XIAOHONGSHU_API_URL,
    ...(options.delayMs ? { delayMs: options.delayMs } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.context ? { context: options.context } : {}),
  });
  return publisherRegistry([
    { publisher: xiaohongshu, needsProxy: true },
    ...openPlatformPublishers(config).map((publisher) => ({ publisher, needsProxy: false })),
  ]);
}

/**
 * The registry as the API consults it (which platforms have a publisher,
 * whether they can take posts down): the same publishers, over a browser
 * pool that is never used here (it launches nothing until a page is asked
 * for, and the API never asks).
 */
export function publishingCapabilities(config: RegistryConfig & Pick<Config, 'CHROMIUM_PATH'>): PublisherRegistry {
  return createPublisherRegistry(config, { pool: new BrowserPool({ executablePath: config.CHROMIUM_PATH, maxContexts: 1 }) });
}

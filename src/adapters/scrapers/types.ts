import type { Page } from 'playwright';
import { itemSpec } from '../../platforms/registry.js';
import type { CollectedItem } from '../../write-model/workflow-execution/events.js';

/**
 * The contract between the scraper worker and a platform's scraper:
 * `scrape(job, page, emit)` drives `page` (in a fresh context with the
 * leased proxy, the account's cookies and user agent) and calls `emit` with
 * batches of validated items, each with the cursor a retry resumes from.
 */

export interface ScrapeJob {
  /** the workflow type, e.g. `xiaohongshu.notes` */
  type: string;
  /** the run's config (already valid for the type) */
  config: Record<string, unknown>;
  /** from the last ItemsCollected / ExecutionRetried; null: from the start */
  cursor: string | null;
}

export interface ScrapeBatch {
  items: CollectedItem[];
  /** where a run resumes after this batch (opaque JSON string) */
  cursor: string;
}

export type Emit = (batch: ScrapeBatch) => Promise<void>;

export interface ScrapeResult {
  /** items emitted by this call */
  itemCount: number;
  /** items found but dropped: unavailable on the platform or not fitting the item schema */
  skipped: number;
  /** the cursor at the end (a `done` cursor when the run finished) */
  cursor: string;
}

export interface PlatformScraper {
  scrape(job: ScrapeJob, page: Page, emit: Emit): Promise<ScrapeResult>;
}

/** Validates an item against its kind's schema → the CollectedItem, or null when it does not fit. */
export function collectedItem(kind: string, item: unknown): CollectedItem | null {
  const spec = itemSpec(kind);
  if (!spec) throw new Error(`unknown item kind ${kind}`);
  const parsed = spec.schema.safeParse(item);
  if (!parsed.success) return null;
  return { platformContentId: spec.key(parsed.data), kind, data: parsed.data as Record<string, unknown> };
}

export { joinUrl } from '../../platforms/url.js';

/** Waits a random time in [min, max] ms (pacing between platform requests). */
export async function pause([min, max]: readonly [number, number]): Promise<void> {
  const ms = min + Math.random() * Math.max(0, max - min);
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Cursors are JSON with a version; anything else (or another type's cursor) means "from the start". */
export function decodeCursor<T extends { t: string }>(cursor: string | null, type: string): T | null {
  if (!cursor) return null;
  try {
    const value = JSON.parse(cursor) as { v?: unknown; t?: unknown };
    return value && value.v === 1 && value.t === type ? (value as T) : null;
  } catch {
    return null;
  }
}

export function encodeCursor<T extends { t: string }>(cursor: T): string {
  return JSON.stringify({ v: 1, ...cursor });
}

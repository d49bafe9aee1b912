import type { ScrapeJobData } from '../ports.js';
import type { ExecutionRequestedData } from '../../write-model/workflow-execution/events.js';

/** A job enqueued while no proxy is healthy waits this long before a worker tries to lease one. */
export const DEFAULT_NO_PROXY_DELAY_MS = 60_000;

/** The first attempt's (or a later one's) job payload, from the request. */
export function scrapeJobFor(
  request: ExecutionRequestedData,
  run: { proxyId: string | null; cursor: string | null; attempt: number; reason?: string },
): ScrapeJobData {
  return {
    executionId: request.executionId,
    workflowId: request.workflowId,
    ownerId: request.ownerId,
    platform: request.platform,
    type: request.type,
    config: request.config,
    platformAccountId: request.platformAccountId,
    proxyId: run.proxyId,
    cursor: run.cursor,
    attempt: run.attempt,
    ...(run.reason ? { reason: run.reason } : {}),
  };
}

/** The first attempt's job; without a proxy it waits (the worker leases one when it runs). */
export function firstJob(request: ExecutionRequestedData, proxyId: string | null, noProxyDelayMs: number): { data: ScrapeJobData; delayMs?: number } {
  const data = scrapeJobFor(request, { proxyId, cursor: null, attempt: 1 });
  return proxyId === null && noProxyDelayMs > 0 ? { data, delayMs: noProxyDelayMs } : { data };
}

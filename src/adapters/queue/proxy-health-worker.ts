import type { Queue } from 'bullmq';
import { runProxyHealthChecks, type ProxyHealthDeps, type ProxyHealthReport } from '../../application/proxy-health.js';
import type { Logger } from '../../logger.js';
import { PROXY_HEALTH_JOB_NAME, QUEUE_NAMES, type ProxyHealthJobData, type QueueFactory } from './queues.js';
import { WorkerRuntime } from './worker-runtime.js';

/**
 * The `proxy-health` queue: one BullMQ job scheduler makes a job every
 * PROXY_HEALTH_INTERVAL_MS; its worker runs a round of health checks
 * (application/proxy-health.ts). A round that fails (store unreachable) is
 * not retried: the next tick is the retry. The job's return value is the
 * report (ids, ok, latency, error text: no credentials).
 */

export const PROXY_HEALTH_SCHEDULER_ID = 'proxy-health';

/** Creates or moves the one scheduler (upsert: calling it at every start keeps one). */
export async function scheduleProxyHealth(queue: Queue<ProxyHealthJobData>, intervalMs: number): Promise<void> {
  if (!Number.isSafeInteger(intervalMs) || intervalMs <= 0) throw new RangeError(`intervalMs must be a positive whole number, got ${intervalMs}`);
  await queue.upsertJobScheduler(
    PROXY_HEALTH_SCHEDULER_ID,
    { every: intervalMs },
    { name: PROXY_HEALTH_JOB_NAME, data: {}, opts: { attempts: 1, removeOnComplete: { count: 50 }, removeOnFail: { count: 200 } } },
  );
}

export async function unscheduleProxyHealth(queue: Queue<ProxyHealthJobData>): Promise<boolean> {
  return queue.removeJobScheduler(PROXY_HEALTH_SCHEDULER_ID);
}

export interface ProxyHealthWorkerOptions {
  factory: QueueFactory;
  deps: ProxyHealthDeps;
  logger?: Logger;
}

/** The worker of the `proxy-health` queue; start() it, stop() it on shutdown. Concurrency 1: rounds never overlap in one process. */
export function createProxyHealthWorker(options: ProxyHealthWorkerOptions): WorkerRuntime<ProxyHealthJobData, ProxyHealthReport> {
  return new WorkerRuntime<ProxyHealthJobData, ProxyHealthReport>({
    factory: options.factory,
    queue: QUEUE_NAMES.proxyHealth,
    concurrency: 1,
    ...(options.logger ? { logger: options.logger } : {}),
    handler: async (job) => {
      const id = `proxy-health:${job.id ?? 'job'}`;
      return runProxyHealthChecks(options.deps, {
        ...(job.data.proxyIds ? { proxyIds: job.data.proxyIds } : {}),
        ...(job.data.target ? { target: job.data.target } : {}),
        ...(job.data.timeoutMs ? { timeoutMs: job.data.timeoutMs } : {}),
        context: { correlationId: id, causationId: id, actor: 'system:proxy-health' },
      });
    },
  });
}

import { RedisProxyLeaseStore } from '../adapters/proxies/redis-lease-store.js';
import type { PublishJobData } from '../adapters/queue/publish-queue.js';
import { QUEUE_NAMES } from '../adapters/queue/queues.js';
import { WorkerRuntime } from '../adapters/queue/worker-runtime.js';
import { readPostImages } from '../application/articles.js';
import type { ProxyCandidate } from '../application/proxy-selection.js';
import { openPublishingCredentials } from '../application/publishing-credentials.js';
import { createPublisherRegistry, type PublisherRegistry } from '../platforms/publishing/registry.js';
import { proxyCandidates } from '../read-api/proxies.js';
import { TOKENS } from '../tokens.js';
import { createPublishDeadLetter, createPublishJobHandler, type PublishJobDeps, type PublishOutcome } from '../worker/publish-job.js';
// types only: worker.ts imports this module
import type { ProcessorFactory, ScrapeProcessorOptions, WorkerContext } from './worker.js';

/**
 * The `publish` queue in the worker (src/worker/publish-job.ts): publish,
 * unpublish and metrics jobs of publications, through the platform's
 * publisher (Xiaohongshu in the worker's shared browser behind a leased
 * proxy; the open platforms over their API). Attempts and the fixed retry
 * delay are the jobs' own options (PUBLISH_RETRY_DELAY_MS, set when
 * queued); WORKER_CONCURRENCY jobs run at once per process.
 */

export interface PublishProcessorOptions
  extends Pick<ScrapeProcessorOptions, 'candidates' | 'context' | 'leasePrefix' | 'lockDurationMs' | 'stalledIntervalMs'> {
  /** pause between the browser publisher's page steps (tests: none) */
  delayMs?: readonly [number, number];
  /** the publishers; default: createPublisherRegistry from config and the worker's browser */
  publishers?: (ctx: WorkerContext) => PublisherRegistry;
}

export function publishProcessor(options: PublishProcessorOptions = {}): ProcessorFactory {
  return (ctx) => {
    const { container, config, logger } = ctx;
    const knex = container.get(TOKENS.Knex);
    const redis = container.get(TOKENS.Redis);
    const store = container.get(TOKENS.EventStore);
    const secretBox = container.get(TOKENS.SecretBox);
    const storage = container.get(TOKENS.MediaStorage);
    const prefix = options.leasePrefix ?? `${config.QUEUE_PREFIX}:`;
    const publishers =
      options.publishers?.(ctx) ??
      createPublisherRegistry(config, {
        pool: ctx.browserPool(),
        ...(options.delayMs ? { delayMs: options.delayMs } : {}),
        ...(options.context ? { context: options.context } : {}),
      });
    const deps: PublishJobDeps = {
      store,
      secretBox,
      publishers,
      openCredentials: (account) => openPublishingCredentials({ store, secretBox }, account),
      readImages: (ownerId, content) => readPostImages({ store, storage }, ownerId, content),
      leases: new RedisProxyLeaseStore(redis, { prefix }),
      candidates: options.candidates ?? ((): Promise<ProxyCandidate[]> => proxyCandidates(knex)),
      leaseTtlMs: config.PROXY_LEASE_TTL_MS,
      proxyFailureThreshold: config.PROXY_FAILURE_THRESHOLD,
      redis,
      lockPrefix: prefix,
      workerName: ctx.workerName,
      retryDelayMs: config.PUBLISH_RETRY_DELAY_MS,
      logger,
    };
    const runtime = new WorkerRuntime<PublishJobData, PublishOutcome>({
      factory: ctx.factory,
      queue: QUEUE_NAMES.publish,
      handler: createPublishJobHandler(deps),
      concurrency: config.WORKER_CONCURRENCY,
      onDeadLetter: createPublishDeadLetter(deps),
      logger,
      redis,
      ...(options.lockDurationMs ? { lockDurationMs: options.lockDurationMs } : {}),
      ...(options.stalledIntervalMs ? { stalledIntervalMs: options.stalledIntervalMs } : {}),
    });
    return {
      name: QUEUE_NAMES.publish,
      start: () => runtime.start(),
      async stop(graceMs) {
        const report = await runtime.stop({ timeoutMs: graceMs });
        if (report.released.length > 0) logger.info({ released: report.released }, 'publish jobs released');
      },
    };
  };
}

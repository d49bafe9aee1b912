import { hostname } from 'node:os';
import { pathToFileURL } from 'node:url';
import type { Container } from 'inversify';
import type { Queue } from 'bullmq';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { buildContainer, disposeContainer } from '../container.js';
import { TOKENS } from '../tokens.js';
import type { ProxyCandidate } from '../application/proxy-selection.js';
import { RedisProxyLeaseStore } from '../adapters/proxies/redis-lease-store.js';
import { QueueFactory, QUEUE_NAMES, type ScrapeJobData } from '../adapters/queue/queues.js';
import { ScrapeDispatcher } from '../adapters/queue/scrape-dispatcher.js';
import { WorkerRuntime } from '../adapters/queue/worker-runtime.js';
import { BrowserPool } from '../adapters/scrapers/browser-pool.js';
import { proxyCandidates } from '../read-api/proxies.js';
import { createScrapeDeadLetter, createScrapeJobHandler, type ScrapeJobDeps, type ScrapeOutcome } from '../worker/scrape-job.js';
import { createScrapers, platformUrls, type ScraperTuning } from '../worker/scrapers.js';
import { loadWorkerConfigOrExit, prepareDatabase } from './boot.js';
import { stopOnSignal } from './shutdown.js';
import { mailProcessor, maintenanceProcessor, proxyHealthProcessor, workflowTickProcessor } from './worker-processors.js';
import { messageSendProcessor } from './message-send-processor.js';
import { publishProcessor } from './publish-processor.js';
import { smsSendProcessor } from './sms-send-processor.js';
import { reportsProcessor } from '../adapters/queue/reports-queue.js';

/**
 * `npm run worker`: the process that runs queue jobs. It mounts a list of
 * queue processors (the scrape worker by default; the lead adds
 * workflow-tick, proxy-health, maintenance the same way), all sharing one
 * QueueFactory (QUEUE_PREFIX) and one browser pool.
 *
 * Shutdown (SIGTERM / SIGINT, or `stop()`): every processor stops taking
 * jobs and gets most of the time budget to finish the ones in flight; what
 * is still running then is released back to its queue (no attempt spent),
 * the runs' proxy leases are given back, and the browser is closed last.
 */

/** What a processor is built from. */
export interface WorkerContext {
  container: Container;
  config: Config;
  logger: Logger;
  factory: QueueFactory;
  /** `host-pid`: names this process in job runs and events */
  workerName: string;
  /** the shared browser (launched on first use) */
  browserPool(): BrowserPool;
}

/** One queue's worker inside the process. */
export interface QueueProcessor {
  readonly name: string;
  start(): Promise<void>;
  /** stop taking jobs; finish in-flight ones within `graceMs`, then release them; close what it opened */
  stop(graceMs: number): Promise<void>;
}

export type ProcessorFactory = (context: WorkerContext) => QueueProcessor;

export interface ScrapeProcessorOptions {
  /** default: the healthy proxies of the read model */
  candidates?: ScrapeJobDeps['candidates'];
  scraperTuning?: ScraperTuning;
  /** extra browser-context options (tests: allowHosts) */
  context?: ScrapeJobDeps['context'];
  /** lease keys' prefix in Redis; default `{QUEUE_PREFIX}:` (the dispatching PMs must use the same) */
  leasePrefix?: string;
  /** BullMQ lock / stall settings (tests) */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

export interface StartWorkerOptions {
  /** default: [scrapeProcessor(options.scrape)] */
  processors?: ProcessorFactory[];
  scrape?: ScrapeProcessorOptions;
  workerName?: string;
}

export interface RunningWorker {
  workerName: string;
  factory: QueueFactory;
  processors: QueueProcessor[];
  /** graceful stop within `timeoutMs` (default SHUTDOWN_TIMEOUT_MS); does not dispose the container */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

/**
 * A processor from anything with WorkerRuntime's start / stop, e.g.
 * `runtimeProcessor('proxy-health', (ctx) => createProxyHealthWorker({ factory: ctx.factory, … }))`.
 */
export function runtimeProcessor(
  name: string,
  make: (context: WorkerContext) => { start(): Promise<void>; stop(options: { timeoutMs?: number }): Promise<unknown> },
): ProcessorFactory {
  return (ctx) => {
    const runtime = make(ctx);
    return { name, start: () => runtime.start(), stop: async (graceMs) => void (await runtime.stop({ timeoutMs: graceMs })) };
  };
}

/** The scrape queue: WorkerRuntime + the scrape job handler, with retries, dead letter and per-account rate limit. */
export function scrapeProcessor(options: ScrapeProcessorOptions = {}): ProcessorFactory {
  return (ctx) => {
    const { container, config, logger } = ctx;
    const knex = container.get(TOKENS.Knex);
    const redis = container.get(TOKENS.Redis);
    const store = container.get(TOKENS.EventStore);
    const queue: Queue<ScrapeJobData> = ctx.factory.queue<ScrapeJobData>(QUEUE_NAMES.scrape);
    const dispatcher = new ScrapeDispatcher(queue);
    const latestJobId = async (executionId: string) => (await dispatcher.latestJob(executionId))?.id;
    const candidates = options.candidates ?? ((): Promise<ProxyCandidate[]> => proxyCandidates(knex));
    const deps: ScrapeJobDeps = {
      store,
      secretBox: container.get(TOKENS.SecretBox),
      pool: ctx.browserPool(),
      leases: new RedisProxyLeaseStore(redis, { prefix: options.leasePrefix ?? `${config.QUEUE_PREFIX}:` }),
      candidates,
      scrapers: createScrapers(config, options.scraperTuning),
      platformUrls: (platform) => platformUrls(config, platform),
      latestJobId,
      workerName: ctx.workerName,
      leaseTtlMs: config.PROXY_LEASE_TTL_MS,
      proxyFailureThreshold: config.PROXY_FAILURE_THRESHOLD,
      ...(options.context ? { context: options.context } : {}),
      logger,
    };
    const handle = createScrapeJobHandler(deps);
    // runs go on briefly after a release (until their page closes); stop() waits for them so their leases are given back
    const runs = new Set<Promise<unknown>>();
    const runtime = new WorkerRuntime<ScrapeJobData, ScrapeOutcome>({
      factory: ctx.factory,
      queue: QUEUE_NAMES.scrape,
      handler: (job, jobContext) => {
        const run = handle(job, jobContext);
        runs.add(run);
        void run.catch(() => undefined).finally(() => runs.delete(run));
        return run;
      },
      concurrency: config.WORKER_CONCURRENCY,
      rateLimit: { key: (job) => job.data.platformAccountId, max: config.ACCOUNT_JOBS_PER_MINUTE, windowMs: 60_000 },
      onDeadLetter: createScrapeDeadLetter(deps),
      logger,
      redis,
      ...(options.lockDurationMs ? { lockDurationMs: options.lockDurationMs } : {}),
      ...(options.stalledIntervalMs ? { stalledIntervalMs: options.stalledIntervalMs } : {}),
    });
    return {
      name: QUEUE_NAMES.scrape,
      start: () => runtime.start(),
      async stop(graceMs) {
        const report = await runtime.stop({ timeoutMs: graceMs });
        if (report.released.length > 0) logger.info({ released: report.released }, 'scrape jobs released');
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([Promise.allSettled([...runs]), new Promise((resolve) => (timer = setTimeout(resolve, Math.max(500, graceMs))))]);
        clearTimeout(timer);
        await queue.close();
      },
    };
  };
}

/** Builds and starts the processors; used by the entry point and by tests. */
export async function startWorker(container: Container, options: StartWorkerOptions = {}): Promise<RunningWorker> {
  const config = container.get(TOKENS.Config);
  const logger = container.get(TOKENS.Logger);
  const workerName = options.workerName ?? `${hostname()}-${process.pid}`;
  const factory = new QueueFactory({ redisUrl: config.REDIS_URL, prefix: config.QUEUE_PREFIX, connectionName: `worker:${workerName}` });
  const shared: { pool: BrowserPool | null } = { pool: null };
  const ctx: WorkerContext = {
    container,
    config,
    logger,
    factory,
    workerName,
    browserPool: () => (shared.pool ??= new BrowserPool({ executablePath: config.CHROMIUM_PATH, maxContexts: config.BROWSER_MAX_CONTEXTS })),
  };
  const processors = (options.processors ?? [scrapeProcessor(options.scrape)]).map((make) => make(ctx));
  const started: QueueProcessor[] = [];
  try {
    for (const processor of processors) {
      await processor.start();
      started.push(processor);
    }
  } catch (error) {
    await Promise.allSettled(started.map((p) => p.stop(0)));
    await shared.pool?.close(1000);
    throw error;
  }
  logger.info({ workerName, queues: processors.map((p) => p.name), prefix: config.QUEUE_PREFIX }, 'worker started');

  let stopping: Promise<void> | null = null;
  return {
    workerName,
    factory,
    processors,
    stop(stopOptions = {}) {
      stopping ??= (async () => {
        const budget = stopOptions.timeoutMs ?? config.SHUTDOWN_TIMEOUT_MS;
        // most of the budget lets in-flight jobs finish; the rest releases them and closes the browser
        const grace = Math.floor(budget * 0.6);
        const results = await Promise.allSettled(processors.map((p) => p.stop(grace)));
        for (const r of results) if (r.status === 'rejected') logger.error({ err: r.reason }, 'a queue processor failed to stop');
        await shared.pool?.close(Math.max(100, Math.floor(budget * 0.3)));
        logger.info({ workerName }, 'worker stopped');
      })();
      return stopping;
    },
  };
}

/** What `npm run worker` runs: every queue (scrape, workflow-tick, proxy-health, maintenance, mail, message-send, reports, publish). */
export function allProcessors(scrape: ScrapeProcessorOptions = {}): ProcessorFactory[] {
  return [
    scrapeProcessor(scrape),
    workflowTickProcessor(),
    proxyHealthProcessor(),
    maintenanceProcessor(),
    mailProcessor(),
    messageSendProcessor(scrape),
    reportsProcessor(),
    // SMS through the provider (idle where it is not configured)
    smsSendProcessor({
      ...(scrape.lockDurationMs ? { lockDurationMs: scrape.lockDurationMs } : {}),
      ...(scrape.stalledIntervalMs ? { stalledIntervalMs: scrape.stalledIntervalMs } : {}),
    }),
    publishProcessor({ ...scrape, ...(scrape.scraperTuning?.delayMs ? { delayMs: scrape.scraperTuning.delayMs } : {}) }),
  ];
}

async function main(): Promise<void> {
  const config = loadWorkerConfigOrExit();
  const container = await buildContainer(config, { processName: 'worker' });
  const logger = container.get(TOKENS.Logger);
  try {
    await prepareDatabase(config, container.get(TOKENS.Knex), logger);
    const worker = await startWorker(container, { processors: allProcessors() });
    console.log(`worker ${worker.workerName} taking jobs from ${worker.processors.map((p) => p.name).join(', ')} (prefix ${config.QUEUE_PREFIX})`);
    stopOnSignal(logger, config.SHUTDOWN_TIMEOUT_MS, async () => {
      await worker.stop({ timeoutMs: Math.floor(config.SHUTDOWN_TIMEOUT_MS * 0.9) });
      await disposeContainer(container);
    });
  } catch (error) {
    logger.fatal({ err: error }, 'worker failed to start');
    process.exit(1);
  }
}

// the entry point when run (`tsx src/main/worker.ts`); a module when imported (tests)
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();

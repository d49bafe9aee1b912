import type { ProxyCandidate } from '../application/proxy-selection.js';
import { RedisProxyLeaseStore } from '../adapters/proxies/redis-lease-store.js';
import { QUEUE_NAMES, type MessageSendJobData } from '../adapters/queue/queues.js';
import { WorkerRuntime, type RateLimitRule } from '../adapters/queue/worker-runtime.js';
import type { PlatformMessenger } from '../adapters/scrapers/messaging.js';
import type { Config } from '../config.js';
import { createXiaohongshuMessenger } from '../platforms/xiaohongshu/messenger.js';
import { proxyCandidates } from '../read-api/proxies.js';
import { TOKENS } from '../tokens.js';
import { createMessageSendDeadLetter, createMessageSendJobHandler, type MessageSendJobDeps, type MessageSendOutcome } from '../worker/message-send-job.js';
import { platformUrls, type ScraperTuning } from '../worker/scrapers.js';
// types only: worker.ts imports this module
import type { ProcessorFactory, ScrapeProcessorOptions } from './worker.js';

/**
 * The `message-send` queue in the worker: outgoing private messages
 * (src/worker/message-send-job.ts), sent through the owner's account and a
 * leased proxy, in the worker's shared browser.
 *
 * Pacing per platform account: at most MESSAGES_PER_ACCOUNT_PER_MINUTE per
 * minute and MESSAGES_PER_ACCOUNT_PER_HOUR per hour start, counted in Redis
 * sliding windows shared by every worker process (WorkerRuntime's rate
 * limit); a job over either waits in the delayed set until both have room —
 * a burst queues, nothing fails and no attempt is spent.
 */

export interface MessageSendProcessorOptions
  extends Pick<ScrapeProcessorOptions, 'candidates' | 'context' | 'leasePrefix' | 'lockDurationMs' | 'stalledIntervalMs'> {
  scraperTuning?: ScraperTuning;
  /** pacing windows per account; default per minute and per hour from config (tests: shorter ones) */
  pacing?: readonly { max: number; windowMs: number }[];
}

type MessengerConfig = Pick<Config, 'XIAOHONGSHU_WEB_URL' | 'XIAOHONGSHU_API_URL'>;

/** Which messenger sends a platform's messages (one line per platform that has private messages). */
export function createMessengers(config: MessengerConfig, tuning: ScraperTuning = {}): (platform: string) => PlatformMessenger | undefined {
  let xiaohongshu: PlatformMessenger | undefined;
  return (platform) => {
    if (platform !== 'xiaohongshu') return undefined;
    return (xiaohongshu ??= createXiaohongshuMessenger({ webUrl: config.XIAOHONGSHU_WEB_URL, apiUrl: config.XIAOHONGSHU_API_URL, ...tuning }));
  };
}

/** The pacing rules of message-send jobs: per platform account, per minute and per hour. */
export function messagePacing(
  config: Pick<Config, 'MESSAGES_PER_ACCOUNT_PER_MINUTE' | 'MESSAGES_PER_ACCOUNT_PER_HOUR'>,
  windows?: MessageSendProcessorOptions['pacing'],
): RateLimitRule<MessageSendJobData>[] {
  const chosen = windows ?? [
    { max: config.MESSAGES_PER_ACCOUNT_PER_MINUTE, windowMs: 60_000 },
    { max: config.MESSAGES_PER_ACCOUNT_PER_HOUR, windowMs: 3_600_000 },
  ];
  return chosen.map((w) => ({ key: (job) => job.data.platformAccountId, max: w.max, windowMs: w.windowMs }));
}

export function messageSendProcessor(options: MessageSendProcessorOptions = {}): ProcessorFactory {
  return (ctx) => {
    const { container, config, logger } = ctx;
    const knex = container.get(TOKENS.Knex);
    const redis = container.get(TOKENS.Redis);
    const prefix = options.leasePrefix ?? `${config.QUEUE_PREFIX}:`;
    const deps: MessageSendJobDeps = {
      store: container.get(TOKENS.EventStore),
      secretBox: container.get(TOKENS.SecretBox),
      pool: ctx.browserPool(),
      leases: new RedisProxyLeaseStore(redis, { prefix }),
      redis,
      lockPrefix: prefix,
      candidates: options.candidates ?? ((): Promise<ProxyCandidate[]> => proxyCandidates(knex)),
      messengers: createMessengers(config, options.scraperTuning),
      platformUrls: (platform) => platformUrls(config, platform),
      workerName: ctx.workerName,
      leaseTtlMs: config.PROXY_LEASE_TTL_MS,
      proxyFailureThreshold: config.PROXY_FAILURE_THRESHOLD,
      ...(options.context ? { context: options.context } : {}),
      logger,
    };
    const runtime = new WorkerRuntime<MessageSendJobData, MessageSendOutcome>({
      factory: ctx.factory,
      queue: QUEUE_NAMES.messageSend,
      handler: createMessageSendJobHandler(deps),
      concurrency: config.WORKER_CONCURRENCY,
      rateLimit: messagePacing(config, options.pacing),
      onDeadLetter: createMessageSendDeadLetter(deps),
      logger,
      redis,
      ...(options.lockDurationMs ? { lockDurationMs: options.lockDurationMs } : {}),
      ...(options.stalledIntervalMs ? { stalledIntervalMs: options.stalledIntervalMs } : {}),
    });
    return {
      name: QUEUE_NAMES.messageSend,
      start: () => runtime.start(),
      async stop(graceMs) {
        const report = await runtime.stop({ timeoutMs: graceMs });
        if (report.released.length > 0) logger.info({ released: report.released }, 'message-send jobs released');
      },
    };
  };
}

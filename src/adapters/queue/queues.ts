import { Queue, QueueEvents, Worker, type ConnectionOptions, type JobsOptions, type Processor, type WorkerOptions } from 'bullmq';

/**
 * BullMQ queues of the platform: names, job payloads, job ids and one factory
 * that builds every Queue / Worker / QueueEvents with the same prefix and
 * connection options.
 *
 * Queues
 * - `scrape`: one job per execution attempt; a scraper worker runs it.
 * - `workflow-tick`: made only by job schedulers (one per workflow,
 *   workflow-schedulers.ts); a process manager turns each tick into an
 *   execution request.
 * - `proxy-health`: a repeating job whose worker probes every proxy
 *   (src/adapters/proxies/prober.ts) and records RecordHealthCheck commands.
 * - `mail`: the outbox of outgoing mail (mail-queue.ts).
 * - `message-send`: one job per outgoing private message (job id = message
 *   id; src/worker/message-send-job.ts), paced per platform account.
 * - `publish`: one publication's publish job (job id = publication id; 3
 *   attempts PUBLISH_RETRY_DELAY_MS apart), its unpublish and its metrics
 *   readings (publish-queue.ts; src/worker/publish-job.ts).
 * - `sms-send`: one job per SMS (job id = message id; sms-send-queue.ts,
 *   src/worker/sms-send-job.ts), sent through the SMS provider.
 *
 * Job ids of `scrape` (see `scrapeJobId`)
 * - attempt 1 is `{executionId}`: job id = execution id. BullMQ
 *   ignores an add whose job id already exists, so a redelivered
 *   ExecutionRequested (a process manager sees an event twice) enqueues
 *   nothing the second time.
 * - a deliberate re-enqueue (ProxyFailed moved the execution to another
 *   proxy, or a retry resumes from a cursor) is a new attempt n ≥ 2 with job
 *   id `{executionId}.{n}`: a new id, so it is not swallowed by the first
 *   job (which still exists: completed or failed, or still active on the
 *   dead proxy), yet a redelivery of the same re-enqueue (same n) is again
 *   one job. `n` is the execution attempt (ExecutionRetried.attempt).
 * - dedup lasts as long as the job is kept: finished jobs are kept for
 *   `KEEP_FINISHED_SECONDS` (far longer than any redelivery window).
 *   ':' is not allowed in custom ids (BullMQ builds keys with it), '.' is.
 */

// the job payloads are the process managers' contract with the workers (src/process-managers/ports.ts)
export type { MessageSendJobData, ScrapeJobData, WorkflowTickJobData } from '../../process-managers/ports.js';

export const QUEUE_NAMES = {
  scrape: 'scrape',
  workflowTick: 'workflow-tick',
  proxyHealth: 'proxy-health',
  mail: 'mail',
  messageSend: 'message-send',
  /** scheduled reports (src/adapters/queue/reports-queue.ts) */
  reports: 'reports',
  /** publications: publish, unpublish and metrics jobs (src/adapters/queue/publish-queue.ts) */
  publish: 'publish',
  /** SMS: one job per message, sent through the provider (sms-send-queue.ts; src/worker/sms-send-job.ts) */
  smsSend: 'sms-send',
} as const;
export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

export interface ProxyHealthJobData {
  /** URL fetched through each proxy; absent: the worker's configured default */
  target?: string;
  timeoutMs?: number;
  /** only these proxies; absent: every proxy that is not retired */
  proxyIds?: string[];
}

export const SCRAPE_JOB_NAME = 'scrape';
export const WORKFLOW_TICK_JOB_NAME = 'workflow-tick';
export const PROXY_HEALTH_JOB_NAME = 'proxy-health';

/** Finished jobs are kept a week: the window in which a repeated enqueue of the same id is a no-op. */
export const KEEP_FINISHED_SECONDS = 7 * 24 * 3600;

/** `{executionId}` for attempt 1, `{executionId}.{attempt}` after. */
export function scrapeJobId(executionId: string, attempt = 1): string {
  if (executionId === '' || executionId.includes(':')) throw new Error(`invalid execution id for a job id: ${JSON.stringify(executionId)}`);
  if (!Number.isInteger(attempt) || attempt < 1) throw new Error(`invalid attempt ${attempt}`);
  return attempt === 1 ? executionId : `${executionId}.${attempt}`;
}

/** The inverse of `scrapeJobId`. */
export function parseScrapeJobId(jobId: string): { executionId: string; attempt: number } {
  const match = /^(.*)\.(\d+)$/.exec(jobId);
  if (match && Number(match[2]) >= 2) return { executionId: match[1]!, attempt: Number(match[2]) };
  return { executionId: jobId, attempt: 1 };
}

export interface RetryPolicy {
  /** BullMQ attempts of one job (the first run included) */
  attempts: number;
  /** first back-off delay; doubles every attempt (delay · 2^(n-1)) */
  backoffMs: number;
  /** 0..1: each delay is randomised down by up to this fraction so retries spread */
  jitter?: number;
}

export const DEFAULT_SCRAPE_RETRY: RetryPolicy = { attempts: 4, backoffMs: 30_000, jitter: 0.2 };

/** The scrape jobs' retries from config: attempts and back-off are job options, set by whoever enqueues. */
export function scrapeRetryPolicy(config: { SCRAPE_MAX_ATTEMPTS: number; SCRAPE_BACKOFF_MS: number }): RetryPolicy {
  return { attempts: config.SCRAPE_MAX_ATTEMPTS, backoffMs: config.SCRAPE_BACKOFF_MS, jitter: DEFAULT_SCRAPE_RETRY.jitter };
}

/** Job options: attempts + exponential back-off, and the retention that makes job ids dedup. */
export function jobOptionsFor(retry: RetryPolicy): JobsOptions {
  return {
    attempts: retry.attempts,
    backoff: { type: 'exponential', delay: retry.backoffMs, ...(retry.jitter ? { jitter: retry.jitter } : {}) },
    removeOnComplete: { age: KEEP_FINISHED_SECONDS },
    removeOnFail: { age: KEEP_FINISHED_SECONDS },
  };
}

export interface QueueFactoryOptions {
  /** e.g. `redis://127.0.0.1:6379/0` (REDIS_URL) */
  redisUrl: string;
  /** BullMQ key prefix; default `bull`. Tests use a fresh one per run. */
  prefix?: string;
  /** label of the Redis connections (CLIENT LIST) */
  connectionName?: string;
}

/**
 * Builds BullMQ objects sharing a prefix and connection options. Every
 * object opens its own connections (BullMQ duplicates them anyway, and
 * workers need `maxRetriesPerRequest: null` for their blocking reads), so
 * closing one never closes another; close what you create.
 */
export class QueueFactory {
  readonly prefix: string;
  readonly redisUrl: string;

  constructor(private readonly options: QueueFactoryOptions) {
    this.prefix = options.prefix ?? 'bull';
    this.redisUrl = options.redisUrl;
  }

  /** Connection options for BullMQ: it makes the ioredis clients from them. */
  connection(kind: 'queue' | 'worker'): ConnectionOptions {
    return {
      url: this.options.redisUrl,
      connectionName: `${this.options.connectionName ?? 'collector'}:${kind}`,
      // workers block on Redis and must wait forever; a queue (a producer in
      // a request path) fails fast like the app's shared client
      maxRetriesPerRequest: kind === 'worker' ? null : 1,
    };
  }

  queue<D = unknown>(name: QueueName, defaultJobOptions?: JobsOptions): Queue<D> {
    return new Queue<D>(name, { connection: this.connection('queue'), prefix: this.prefix, defaultJobOptions });
  }

  worker<D = unknown, R = unknown>(name: QueueName, processor: Processor<D, R>, options: Omit<WorkerOptions, 'connection' | 'prefix'> = {}): Worker<D, R> {
    return new Worker<D, R>(name, processor, { ...options, connection: this.connection('worker'), prefix: this.prefix });
  }

  queueEvents(name: QueueName): QueueEvents {
    return new QueueEvents(name, { connection: this.connection('worker'), prefix: this.prefix });
  }
}

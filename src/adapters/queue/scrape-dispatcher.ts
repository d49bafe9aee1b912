import type { Job, JobsOptions, Queue } from 'bullmq';
import { DEFAULT_SCRAPE_RETRY, jobOptionsFor, parseScrapeJobId, SCRAPE_JOB_NAME, scrapeJobId, type RetryPolicy, type ScrapeJobData } from './queues.js';

/**
 * Puts scrape jobs on the `scrape` queue (job ids: queues.ts).
 *
 * - `enqueue(data)` is idempotent by job id: the id is derived from the
 *   execution id and attempt, and BullMQ does not add a job whose id exists,
 *   so a process manager that sees ExecutionRequested twice enqueues once.
 * - `reenqueue(executionId, cursor, reason)` starts a new attempt from a
 *   cursor (after a proxy move, ProxyFailed). It copies the
 *   payload of the execution's latest job. Pass `attempt` (the
 *   ExecutionRetried attempt) and a redelivered re-enqueue is one job too;
 *   without it the next attempt number is taken, except when the latest job
 *   has not started yet (waiting or delayed): then that job just gets the
 *   new cursor, so calling twice before a worker picks it up adds nothing.
 * - `enqueueMany(jobs)` adds many first-or-later attempts in one round trip
 *   (Queue.addBulk), idempotent by job id like `enqueue`: an id that exists
 *   is left as it is.
 * - `removeJob(jobId)` drops a job that is not running (cancel). An active
 *   job is locked by its worker and cannot be removed: that answers false.
 *
 * The superseded job of a re-enqueue may still be active on the dead proxy;
 * the scraper ends it when its results are refused (the execution aggregate
 * knows the current attempt) or when the proxy errors.
 */

export type { EnqueueResult, ReenqueueOptions } from '../../process-managers/ports.js';
import type { EnqueueResult, ReenqueueOptions, ScrapeJobs } from '../../process-managers/ports.js';

export interface ScrapeDispatcherOptions {
  retry?: RetryPolicy;
  /** how many attempts `reenqueue` looks through to find the latest job (default 50) */
  maxAttempts?: number;
}

/** jobs per addBulk: one Redis pipeline each */
const BULK_CHUNK = 1_000;

const PENDING_STATES = new Set(['waiting', 'delayed', 'prioritized', 'paused', 'waiting-children']);

export class ScrapeDispatcher implements ScrapeJobs {
  private readonly jobOptions: JobsOptions;
  private readonly maxAttempts: number;

  constructor(
    private readonly queue: Queue<ScrapeJobData>,
    options: ScrapeDispatcherOptions = {},
  ) {
    this.jobOptions = jobOptionsFor(options.retry ?? DEFAULT_SCRAPE_RETRY);
    this.maxAttempts = options.maxAttempts ?? 50;
  }

  async enqueue(data: ScrapeJobData, options: { delayMs?: number } = {}): Promise<EnqueueResult> {
    const jobId = scrapeJobId(data.executionId, data.attempt);
    // informational: two racing callers may both read "absent"; BullMQ still adds one job
    if (await this.queue.getJob(jobId)) return { jobId, created: false };
    await this.queue.add(SCRAPE_JOB_NAME, data, { ...this.jobOptions, jobId, ...(options.delayMs ? { delay: options.delayMs } : {}) });
    return { jobId, created: true };
  }

  /** Adds every job whose id does not exist yet, in chunks of one addBulk each. */
  async enqueueMany(jobs: readonly { data: ScrapeJobData; delayMs?: number }[]): Promise<void> {
    for (let i = 0; i < jobs.length; i += BULK_CHUNK) {
      await this.queue.addBulk(
        jobs.slice(i, i + BULK_CHUNK).map(({ data, delayMs }) => ({
          name: SCRAPE_JOB_NAME,
          data,
          opts: { ...this.jobOptions, jobId: scrapeJobId(data.executionId, data.attempt), ...(delayMs ? { delay: delayMs } : {}) },
        })),
      );
    }
  }

  async reenqueue(executionId: string, cursor: string | null, reason: string, options: ReenqueueOptions = {}): Promise<EnqueueResult> {
    const latest = await this.latestJob(executionId);
    if (!latest) throw new Error(`no scrape job of execution ${executionId} to re-enqueue`);
    const proxy = options.proxyId !== undefined ? { proxyId: options.proxyId } : {};

    if (options.attempt === undefined) {
      const state = await latest.getState();
      if (PENDING_STATES.has(state)) {
        // not started yet: moving its cursor is the whole re-enqueue
        await latest.updateData({ ...latest.data, ...proxy, cursor, reason });
        if (state === 'delayed' && !options.delayMs) await latest.promote().catch(() => undefined);
        return { jobId: latest.id!, created: false };
      }
    }
    const attempt = options.attempt ?? latest.data.attempt + 1;
    const data: ScrapeJobData = { ...latest.data, ...proxy, cursor, reason, attempt };
    return this.enqueue(data, options.delayMs ? { delayMs: options.delayMs } : {});
  }

  /** Removes a job that is not active; false when it is active (locked) or absent. */
  async removeJob(jobId: string): Promise<boolean> {
    const job = await this.queue.getJob(jobId);
    if (!job) return false;
    try {
      await job.remove();
      return true;
    } catch {
      return false; // locked by a worker
    }
  }

  /** The execution's job with the highest attempt, if any is still kept. */
  async latestJob(executionId: string): Promise<Job<ScrapeJobData> | undefined> {
    let latest: Job<ScrapeJobData> | undefined;
    let misses = 0;
    for (let attempt = 1; attempt <= this.maxAttempts && misses < 3; attempt += 1) {
      const job = await this.queue.getJob(scrapeJobId(executionId, attempt));
      if (job) {
        latest = job;
        misses = 0;
      } else {
        misses += 1; // a gap (an attempt enqueued elsewhere or removed) is tolerated
      }
    }
    return latest;
  }
}

export { parseScrapeJobId };

import { DelayedError, WaitingError, type Job, type Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from '../../logger.js';
import type { QueueFactory, QueueName } from './queues.js';

/**
 * A BullMQ Worker with the policies every job of the platform needs.
 *
 * - Retries and back-off are job options (queues.ts `jobOptionsFor`): a
 *   handler that throws is retried after delay · 2^(n-1) until its attempts
 *   are spent; an `UnrecoverableError` skips the remaining attempts.
 * - Dead letter: when a job's last attempt failed (or it was failed for
 *   stalling too often), `onDeadLetter(job, error)` runs once. It hangs on
 *   BullMQ's `failed` event, emitted once per failure after the job is in
 *   the failed set, and only the final failure qualifies. If the process
 *   dies between the two the hook is lost; the consumer of the hook (record
 *   ExecutionFailed) must be idempotent, and execution deadlines catch runs
 *   that never end. Pending hooks are awaited by `stop()`.
 * - Rate limit per key (e.g. per platform account): at most `max` jobs start
 *   per sliding `windowMs`, counted in a Redis sorted set shared by all
 *   workers (Redis TIME is the clock). A job over the limit is moved to the
 *   delayed set until a slot frees (`moveToDelayed` + DelayedError): not a
 *   failed attempt, and the worker takes other keys' jobs meanwhile.
 *   Several rules (e.g. per minute and per hour) are checked together, in
 *   one script: a job is counted in every window only when all admit it,
 *   and waits until the last of them has room.
 * - Graceful `stop(timeoutMs)`: stop fetching, let in-flight jobs finish
 *   until the timeout, then release the rest: their handlers' signal is
 *   aborted and each job is moved back to the wait list (front of it) with
 *   its lock dropped: not failed, no attempt spent, and another worker takes
 *   it at once. A handler released this way must tolerate running again
 *   (scrapers resume from their cursor and dedup items).
 */

export interface JobContext {
  /** aborted when the job is released by `stop()` (or cancelled by BullMQ) */
  signal: AbortSignal;
}

export type JobHandler<D, R> = (job: Job<D, R>, context: JobContext) => Promise<R>;

export interface RateLimitRule<D> {
  /** the key a job counts against; null/undefined: not limited */
  key: (job: Job<D>) => string | null | undefined;
  max: number;
  windowMs: number;
}

export interface WorkerRuntimeOptions<D, R> {
  factory: QueueFactory;
  queue: QueueName;
  handler: JobHandler<D, R>;
  /** jobs run at once by this process (default 1) */
  concurrency?: number;
  rateLimit?: RateLimitRule<D> | readonly RateLimitRule<D>[];
  /** called once after the last attempt of a job failed */
  onDeadLetter?: (job: Job<D, R>, error: Error) => Promise<void> | void;
  logger?: Logger;
  /** for the rate limiter; default: a connection of its own, closed by stop() */
  redis?: Redis;
  /** BullMQ lock duration (default 30 s; locks are renewed while a job runs) */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  maxStalledCount?: number;
}

export interface StopReport {
  /** jobs that were in flight when stop() began and finished by themselves */
  finished: string[];
  /** jobs moved back to the queue at the timeout */
  released: string[];
}

interface InFlight {
  job: Job;
  token: string | undefined;
  release: () => void;
}

// KEYS[1]: the key's sorted set; ARGV: max, windowMs, member.
// Answers 0 when admitted (and counts it), else ms until the oldest entry leaves the window.
const ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
`;

// KEYS: one sorted set per window; ARGV: member, then max and windowMs of each key in turn.
// Answers 0 when every window admits (and counts it in each), else ms until the last of them has room.
const ADMIT_ALL = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
for i, key in ipairs(KEYS) do
  local max = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local n = redis.call('ZCARD', key)
  if n >= max then
    local e = redis.call('ZRANGE', key, n - max, n - max, 'WITHSCORES')
    wait = math.max(wait, tonumber(e[2]) + window - now, 1)
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[1])
  redis.call('PEXPIRE', key, tonumber(ARGV[2 * i + 1]))
end
return 0
`;

const RELEASED = Symbol('released');

export class WorkerRuntime<D = unknown, R = unknown> {
  private worker: Worker<D, R> | null = null;
  private redis: Redis | null = null;
  private ownsRedis = false;
  private stopping = false;
  private stopped: Promise<StopReport> | null = null;
  private readonly inFlight = new Map<string, InFlight>();
  private readonly deadLetters = new Set<Promise<void>>();

  constructor(private readonly options: WorkerRuntimeOptions<D, R>) {}

  /** Starts taking jobs; resolves when the worker is connected. */
  async start(): Promise<void> {
    if (this.worker) return;
    const o = this.options;
    if (o.rateLimit) {
      this.redis = o.redis ?? new Redis(o.factory.redisUrl, { maxRetriesPerRequest: 1, connectionName: 'collector:rate-limit' });
      this.ownsRedis = o.redis === undefined;
    }
    const worker = o.factory.worker<D, R>(o.queue, (job, token, signal) => this.process(job, token, signal), {
      concurrency: o.concurrency ?? 1,
      ...(o.lockDurationMs ? { lockDuration: o.lockDurationMs } : {}),
      ...(o.stalledIntervalMs ? { stalledInterval: o.stalledIntervalMs } : {}),
      ...(o.maxStalledCount !== undefined ? { maxStalledCount: o.maxStalledCount } : {}),
    });
    worker.on('error', (error) => o.logger?.error({ err: error, queue: o.queue }, 'queue worker error'));
    worker.on('failed', (job, error) => this.onFailed(job, error));
    this.worker = worker;
    await worker.waitUntilReady();
  }

  /** Ids of the jobs this process runs now. */
  get activeJobIds(): string[] {
    return [...this.inFlight.keys()];
  }

  /**
   * Stops taking jobs, waits up to `timeoutMs` for the running ones, then
   * releases those still running back to the queue. Idempotent.
   */
  stop(options: { timeoutMs?: number } = {}): Promise<StopReport> {
    this.stopped ??= this.doStop(options.timeoutMs ?? 30_000);
    return this.stopped;
  }

  private async doStop(timeoutMs: number): Promise<StopReport> {
    this.stopping = true;
    const report: StopReport = { finished: [], released: [] };
    const worker = this.worker;
    if (worker) {
      const atStart = [...this.inFlight.keys()];
      const closing = worker.close(); // stops fetching; resolves when in-flight jobs are done
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        closing.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        for (const [id, entry] of this.inFlight) {
          report.released.push(id);
          entry.release();
        }
        await closing;
      }
      report.finished = atStart.filter((id) => !report.released.includes(id));
      if (report.released.length > 0)
        this.options.logger?.info({ queue: this.options.queue, released: report.released }, 'released in-flight jobs on shutdown');
    }
    await Promise.allSettled([...this.deadLetters]);
    if (this.redis && this.ownsRedis) {
      if (this.redis.status === 'ready') await this.redis.quit();
      else this.redis.disconnect();
    }
    return report;
  }

  private async process(job: Job<D, R>, token: string | undefined, bullSignal?: AbortSignal): Promise<R> {
    const id = job.id!;
    if (this.stopping) {
      // fetched while stopping: hand it back untouched
      await job.moveToWait(token);
      throw new WaitingError();
    }
    const delayMs = await this.admit(job);
    if (delayMs > 0) {
      // a little spread so jobs of one key do not all wake in the same ms
      await job.moveToDelayed(Date.now() + delayMs + Math.floor(Math.random() * 50), token);
      throw new DelayedError();
    }

    const controller = new AbortController();
    const onBullAbort = () => controller.abort(bullSignal?.reason);
    bullSignal?.addEventListener('abort', onBullAbort, { once: true });
    let release!: () => void;
    const released = new Promise<typeof RELEASED>((resolve) => {
      release = () => resolve(RELEASED);
    });
    this.inFlight.set(id, { job: job as Job, token, release });
    try {
      const run = this.options.handler(job, { signal: controller.signal }).then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      );
      const outcome = await Promise.race([run, released]);
      if (outcome === RELEASED) {
        controller.abort(new Error('worker stopping: job released'));
        await job.moveToWait(token);
        throw new WaitingError();
      }
      if (!outcome.ok) throw outcome.error;
      return outcome.value;
    } finally {
      bullSignal?.removeEventListener('abort', onBullAbort);
      this.inFlight.delete(id);
    }
  }

  /** 0: go; otherwise ms to wait. */
  private async admit(job: Job<D, R>): Promise<number> {
    const limit = this.options.rateLimit;
    if (!limit || !this.redis) return 0;
    if (Array.isArray(limit)) return this.admitAll(job, limit as readonly RateLimitRule<D>[]);
    const rule = limit as RateLimitRule<D>;
    const key = rule.key(job as Job<D>);
    if (key === null || key === undefined || key === '') return 0;
    const setKey = `${this.options.factory.prefix}:${this.options.queue}:rate:${key}`;
    const member = `${job.id}:${job.attemptsStarted}:${Math.random().toString(36).slice(2)}`;
    return Number(await this.redis.eval(ADMIT, 1, setKey, String(rule.max), String(rule.windowMs), member));
  }

  /** Several windows at once: each rule's set is `…:rate:{key}:{windowMs}`. */
  private async admitAll(job: Job<D, R>, rules: readonly RateLimitRule<D>[]): Promise<number> {
    const keys: string[] = [];
    const args: string[] = [`${job.id}:${job.attemptsStarted}:${Math.random().toString(36).slice(2)}`];
    for (const rule of rules) {
      const key = rule.key(job as Job<D>);
      if (key === null || key === undefined || key === '') continue;
      keys.push(`${this.options.factory.prefix}:${this.options.queue}:rate:${key}:${rule.windowMs}`);
      args.push(String(rule.max), String(rule.windowMs));
    }
    if (keys.length === 0) return 0;
    return Number(await this.redis!.eval(ADMIT_ALL, keys.length, ...keys, ...args));
  }

  private onFailed(job: Job<D, R> | undefined, error: Error): void {
    const hook = this.options.onDeadLetter;
    if (!job || !hook || !isFinalFailure(job, error)) return;
    const run = (async () => {
      try {
        await hook(job, error);
      } catch (hookError) {
        this.options.logger?.error({ err: hookError, jobId: job.id, queue: this.options.queue }, 'dead-letter hook failed');
      }
    })();
    this.deadLetters.add(run);
    void run.finally(() => this.deadLetters.delete(run));
  }
}

/** The job is in the failed set for good: no attempt left, or unrecoverable. */
export function isFinalFailure(job: Job, error: Error): boolean {
  if (typeof job.finishedOn === 'number' && job.finishedOn > 0) return true;
  if (error.name === 'UnrecoverableError') return true;
  return job.attemptsMade >= (job.opts.attempts ?? 1);
}

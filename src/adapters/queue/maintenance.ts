import { Queue, Worker, type Job } from 'bullmq';
import type { Knex } from 'knex';
import { runRetention } from '../../application/retention.js';
import type { EventStore } from '../../event-store/port.js';
import type { Logger } from '../../logger.js';
import type { QueueFactory } from './queues.js';

/**
 * The `maintenance` queue: housekeeping jobs made by job schedulers. For now
 * one, `retention` (src/application/retention.ts), daily at 04:00 in the
 * quota time zone (QUOTA_TIME_ZONE): after the day boundary, away from the
 * evening peak.
 *
 * - scheduler id `retention-daily`; upserting it again (every start of a
 *   worker) keeps one scheduler and one pending job, and a changed time
 *   zone or pattern replaces it;
 * - the job is not retried by BullMQ beyond 3 attempts: a failed run is
 *   harmless (what it deleted stays deleted) and tomorrow's run resumes;
 * - the job's return value is the run's report (kept a week, BullMQ UI).
 */

export const MAINTENANCE_QUEUE = 'maintenance';
export const RETENTION_JOB_NAME = 'retention';
export const RETENTION_SCHEDULER_ID = 'retention-daily';
export const RETENTION_CRON = '0 4 * * *';

export interface RetentionJobData {
  dryRun?: boolean;
}

export function createMaintenanceQueue(factory: QueueFactory): Queue<RetentionJobData> {
  return new Queue<RetentionJobData>(MAINTENANCE_QUEUE, { connection: factory.connection('queue'), prefix: factory.prefix });
}

/** Creates or updates the daily retention scheduler (idempotent). */
export async function upsertRetentionScheduler(queue: Queue<RetentionJobData>, options: { timeZone: string; pattern?: string }): Promise<void> {
  await queue.upsertJobScheduler(
    RETENTION_SCHEDULER_ID,
    { pattern: options.pattern ?? RETENTION_CRON, tz: options.timeZone },
    {
      name: RETENTION_JOB_NAME,
      data: {},
      opts: { attempts: 3, backoff: { type: 'exponential', delay: 60_000 }, removeOnComplete: { age: 7 * 86_400 }, removeOnFail: { age: 7 * 86_400 } },
    },
  );
}

export interface MaintenanceDeps {
  knex: Knex;
  store: EventStore;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** the clock; default the real one */
  now?: () => Date;
}

/** The processor: exported so it can be run without a worker. */
/** Other jobs of the maintenance queue, by job name (e.g. `rebuild-projection`). */
export type MaintenanceHandlers = Record<string, (job: Job) => Promise<unknown>>;

export function maintenanceProcessor(deps: MaintenanceDeps, handlers: MaintenanceHandlers = {}) {
  return async (job: Job<RetentionJobData>): Promise<unknown> => {
    if (job.name === RETENTION_JOB_NAME) {
      return runRetention({ knex: deps.knex, store: deps.store, logger: deps.logger, now: deps.now?.() ?? new Date(), dryRun: job.data.dryRun === true });
    }
    const handler = handlers[job.name];
    if (!handler) throw new Error(`unknown maintenance job ${job.name}`);
    return handler(job as Job);
  };
}

/**
 * Two jobs at a time: a long projection rebuild must not hold back the daily
 * retention run (which works on the live tables, not a rebuild's shadow).
 */
export function createMaintenanceWorker(factory: QueueFactory, deps: MaintenanceDeps, handlers: MaintenanceHandlers = {}): Worker<RetentionJobData, unknown> {
  const worker = new Worker<RetentionJobData, unknown>(MAINTENANCE_QUEUE, maintenanceProcessor(deps, handlers), {
    connection: factory.connection('worker'),
    prefix: factory.prefix,
    concurrency: 2,
  });
  worker.on('failed', (job, err) => deps.logger?.error({ queue: MAINTENANCE_QUEUE, jobId: job?.id, err }, 'maintenance job failed'));
  // a lost Redis connection is reported here; BullMQ reconnects by itself
  worker.on('error', (err) => deps.logger?.warn({ queue: MAINTENANCE_QUEUE, err }, 'maintenance worker error'));
  return worker;
}

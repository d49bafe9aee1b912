import type { Queue, Worker } from 'bullmq';
import { runDueReports, type ReportsDeps, type SweepReport } from '../../application/reports.js';
import { runPendingStatisticsExports } from '../../application/statistics-exports.js';
import type { Logger } from '../../logger.js';
import { TOKENS } from '../../tokens.js';
// types only: worker.ts imports the processors, and a runtime cycle with its top-level await would deadlock
import type { ProcessorFactory } from '../../main/worker.js';
import { BullMqMailOutbox, mailRetryPolicy } from './mail-queue.js';
import { QUEUE_NAMES, type QueueFactory } from './queues.js';
import { runStatisticsExportJob, STATISTICS_EXPORT_JOB_NAME } from './statistics-exports-queue.js';

/**
 * The `reports` queue: one repeatable job, `reports-due`, every
 * REPORTS_SWEEP_EVERY_MS (five minutes), made by the job scheduler
 * `reports-sweep` that every worker upserts at start (idempotent). Each run
 * generates the scheduled reports whose slot has come (runDueReports in
 * src/application/reports.ts: the file kept for download, ReportGenerated in
 * the run's own stream, the mail queued in the `mail` outbox) and deletes
 * the expired files. One sweep at a time (concurrency 1); a failed sweep is
 * not retried: the next one picks up what is still due. The same queue
 * carries the `statistics-export` jobs (statistics-exports-queue.ts); each
 * sweep also runs the statistics exports left pending.
 */
export const REPORTS_QUEUE = QUEUE_NAMES.reports;
export const REPORTS_JOB_NAME = 'reports-due';
export const REPORTS_SCHEDULER_ID = 'reports-sweep';
export const REPORTS_SWEEP_EVERY_MS = 5 * 60_000;

export async function upsertReportsScheduler(queue: Queue, everyMs: number = REPORTS_SWEEP_EVERY_MS): Promise<void> {
  await queue.upsertJobScheduler(
    REPORTS_SCHEDULER_ID,
    { every: everyMs },
    { name: REPORTS_JOB_NAME, data: {}, opts: { attempts: 1, removeOnComplete: { count: 50 }, removeOnFail: { count: 200 } } },
  );
}

export function createReportsWorker(factory: QueueFactory, deps: ReportsDeps & { logger?: Pick<Logger, 'info' | 'warn' | 'error'> }): Worker<unknown, unknown> {
  const worker = factory.worker<unknown, unknown>(
    REPORTS_QUEUE,
    async (job) => {
      if (job.name === STATISTICS_EXPORT_JOB_NAME) return runStatisticsExportJob(deps, job);
      const report: SweepReport & { statisticsExports?: { run: number; failed: number } } = await runDueReports(deps);
      report.statisticsExports = await runPendingStatisticsExports(deps);
      if (report.due > 0 || report.filesDeleted > 0 || report.statisticsExports.run > 0) deps.logger?.info({ ...report }, 'scheduled reports swept');
      return report;
    },
    { concurrency: 1 },
  );
  worker.on('failed', (job, err) => deps.logger?.error({ queue: REPORTS_QUEUE, jobId: job?.id, err }, 'reports sweep failed'));
  worker.on('error', (err) => deps.logger?.warn({ queue: REPORTS_QUEUE, err }, 'reports worker error'));
  return worker;
}

/** The worker process's reports processor: the scheduler upserted, the sweeps run, their mails queued in the `mail` queue. */
export function reportsProcessor(options: { everyMs?: number } = {}): ProcessorFactory {
  return (ctx) => {
    const { container, config, logger } = ctx;
    const queue = ctx.factory.queue(REPORTS_QUEUE);
    const mailQueue = ctx.factory.queue(QUEUE_NAMES.mail);
    let worker: Worker | undefined;
    return {
      name: REPORTS_QUEUE,
      async start() {
        await upsertReportsScheduler(queue, options.everyMs);
        worker = createReportsWorker(ctx.factory, {
          store: container.get(TOKENS.EventStore),
          knex: container.get(TOKENS.Knex),
          mail: new BullMqMailOutbox(mailQueue as never, mailRetryPolicy(config)),
          logger,
        });
      },
      async stop() {
        // a sweep in flight finishes its current report; what is left is due again on the next one
        await worker?.close();
        await queue.close();
        await mailQueue.close();
      },
    };
  };
}

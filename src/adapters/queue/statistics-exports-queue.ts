import type { Job, Queue } from 'bullmq';
import { runStatisticsExport, type StatisticsExportDeps, type StatisticsExportOutcome } from '../../application/statistics-exports.js';
import { KEEP_FINISHED_SECONDS } from './queues.js';

/**
 * Statistics exports ride the `reports` queue (src/adapters/queue/reports-queue.ts):
 * one `statistics-export` job per export, job id = export id (a repeated
 * add is a no-op), three attempts with back-off; the reports worker runs it
 * (runStatisticsExport). Exports whose job never got queued are run by the
 * reports sweep.
 */
export const STATISTICS_EXPORT_JOB_NAME = 'statistics-export';

export interface StatisticsExportJobData {
  exportId: string;
  correlationId: string;
  causationId: string;
}

/** Where the API queues an export's job. */
export interface StatisticsExportOutbox {
  enqueueStatisticsExport(job: StatisticsExportJobData): Promise<void>;
}

export class BullMqStatisticsExportOutbox implements StatisticsExportOutbox {
  constructor(private readonly queue: () => Queue) {}

  async enqueueStatisticsExport(job: StatisticsExportJobData): Promise<void> {
    await this.queue().add(STATISTICS_EXPORT_JOB_NAME, job, {
      jobId: job.exportId,
      attempts: 3,
      backoff: { type: 'exponential', delay: 5_000 },
      removeOnComplete: { age: KEEP_FINISHED_SECONDS, count: 1000 },
      removeOnFail: { age: KEEP_FINISHED_SECONDS, count: 1000 },
    });
  }
}

/** The reports worker's handling of a `statistics-export` job. */
export function runStatisticsExportJob(deps: StatisticsExportDeps, job: Job): Promise<StatisticsExportOutcome> {
  const data = job.data as StatisticsExportJobData;
  return runStatisticsExport(deps, data.exportId, { correlationId: data.correlationId, causationId: data.causationId, actor: 'reports-job' });
}

import type { JobsOptions, Queue } from 'bullmq';
import type { PublicationJobs, PublishJobData } from '../../process-managers/publication-ports.js';
import { KEEP_FINISHED_SECONDS } from './queues.js';

/**
 * The `publish` queue's producer side: one publication's jobs.
 *
 * - `publish` (job id = publication id): 3 attempts, PUBLISH_RETRY_DELAY_MS
 *   apart (fixed: a platform that failed a post is given the same time each
 *   time). A redelivered PublicationQueued adds nothing (BullMQ ignores an
 *   add whose id exists; finished jobs are kept a week), and the job never
 *   posts twice (findExisting first).
 * - `unpublish` (job id `{publicationId}.unpublish.{revision}`, one per
 *   request event): the same attempts and delay.
 * - `publication-metrics` (job id `{publicationId}.metrics.{n}`): reading n
 *   of PUBLICATION_METRICS_SCHEDULE, delayed that long after publishing;
 *   2 attempts (a missed reading is just missed).
 */

export const PUBLISH_JOB_NAME = 'publish';
export const UNPUBLISH_JOB_NAME = 'unpublish';
export const PUBLICATION_METRICS_JOB_NAME = 'publication-metrics';
export type PublicationJobName = typeof PUBLISH_JOB_NAME | typeof UNPUBLISH_JOB_NAME | typeof PUBLICATION_METRICS_JOB_NAME;

/** Attempts of a publish (and unpublish) job, the first included. */
export const PUBLISH_ATTEMPTS = 3;
const METRICS_ATTEMPTS = 2;

export type { PublishJobData } from '../../process-managers/publication-ports.js';

function publicationIdOf(job: PublishJobData): string {
  const id = job.publicationId;
  if (id === '' || id.includes(':')) throw new Error(`invalid publication id for a job id: ${JSON.stringify(id)}`);
  return id;
}

export function publishJobId(publicationId: string): string {
  return publicationIdOf({ publicationId } as PublishJobData);
}

export function unpublishJobId(publicationId: string, request: bigint): string {
  return `${publishJobId(publicationId)}.unpublish.${request}`;
}

export function metricsJobId(publicationId: string, reading: number): string {
  return `${publishJobId(publicationId)}.metrics.${reading}`;
}

/** Options of publish and unpublish jobs: fixed back-off, kept a week so ids dedup. */
export function publishJobOptions(retryDelayMs: number, attempts = PUBLISH_ATTEMPTS): JobsOptions {
  return {
    attempts,
    backoff: { type: 'fixed', delay: retryDelayMs },
    removeOnComplete: { age: KEEP_FINISHED_SECONDS },
    removeOnFail: { age: KEEP_FINISHED_SECONDS },
  };
}

export class BullMqPublicationJobs implements PublicationJobs {
  constructor(
    private readonly queue: Queue<PublishJobData>,
    private readonly retryDelayMs: number,
  ) {}

  async enqueuePublish(jobs: readonly PublishJobData[]): Promise<void> {
    if (jobs.length === 0) return;
    await this.queue.addBulk(
      jobs.map((data) => ({
        name: PUBLISH_JOB_NAME as never,
        data: data as never,
        opts: { ...publishJobOptions(this.retryDelayMs), jobId: publishJobId(data.publicationId) },
      })),
    );
  }

  async enqueueUnpublish(job: PublishJobData, request: bigint): Promise<void> {
    await this.queue.add(UNPUBLISH_JOB_NAME as never, job as never, {
      ...publishJobOptions(this.retryDelayMs),
      jobId: unpublishJobId(job.publicationId, request),
    });
  }

  async enqueueMetrics(job: PublishJobData, delaysMs: readonly number[]): Promise<void> {
    if (delaysMs.length === 0) return;
    await this.queue.addBulk(
      delaysMs.map((delay, i) => ({
        name: PUBLICATION_METRICS_JOB_NAME as never,
        data: { ...job, reading: i + 1 } as never,
        opts: { ...publishJobOptions(this.retryDelayMs, METRICS_ATTEMPTS), delay, jobId: metricsJobId(job.publicationId, i + 1) },
      })),
    );
  }
}

import type { Job, Queue } from 'bullmq';
import { projectionDefinitions, rebuildProjection, UnknownProjectionError } from '../../operations/projections.js';
import type { OpsDeps, RebuildProgress } from '../../operations/types.js';

/**
 * Projection rebuilds as jobs on the `maintenance` queue (the worker runs
 * them; the console's rebuild button and `enqueueRebuild` add them).
 *
 * - job name `rebuild-projection`, data `{ projection }`, job id
 *   `rebuild-<projection>-<time>`: while one for that projection is waiting,
 *   delayed or active, enqueueing again answers its id instead of adding one
 *   (BullMQ's deduplication, atomic in Redis: two calls at once add one job;
 *   the key goes when the job completes or fails);
 * - the processor calls rebuildProjection and reports every RebuildProgress
 *   with job.updateProgress; its return value is the last one (phase done);
 * - not retried by BullMQ: a failed rebuild resumes from its own checkpoint
 *   when it is started again, and a rebuild already running elsewhere (the
 *   advisory lock) fails the job with RebuildInProgressError.
 */

export const REBUILD_QUEUE = 'maintenance';
export const REBUILD_JOB_NAME = 'rebuild-projection';

export interface RebuildJobData {
  projection: string;
}

/** Adds a rebuild job, or answers the one already waiting or running for that projection. */
export async function enqueueRebuild(queue: Queue, name: string): Promise<{ jobId: string }> {
  const jobId = `rebuild-${name.replace(/[^A-Za-z0-9_.-]/g, '_')}-${Date.now()}`;
  const job = await queue.add(REBUILD_JOB_NAME, { projection: name } satisfies RebuildJobData, {
    jobId,
    // one pending rebuild per projection: an add while one waits or runs answers that job's id
    deduplication: { id: `${REBUILD_JOB_NAME}:${name}` },
    attempts: 1,
    removeOnComplete: { age: 7 * 86_400 },
    removeOnFail: { age: 7 * 86_400 },
  });
  return { jobId: job.id ?? jobId };
}

/** The processor the worker mounts on the maintenance queue for `rebuild-projection` jobs. */
export function rebuildProcessor(deps: OpsDeps) {
  return async (job: Job<RebuildJobData>): Promise<RebuildProgress> => {
    if (job.name !== REBUILD_JOB_NAME) throw new Error(`not a rebuild job: ${job.name}`);
    const name = job.data.projection;
    const known = projectionDefinitions(deps.timeZone).map((d) => d.name);
    if (!known.includes(name)) throw new UnknownProjectionError(name, known);
    let last = 0;
    return rebuildProjection(deps, name, {
      onProgress: (progress) => {
        // at most twice a second, and every phase change
        if (progress.phase === 'replaying' && Date.now() - last < 500) return;
        last = Date.now();
        void job.updateProgress({ ...progress }).catch(() => undefined);
      },
    });
  };
}

import type { Job } from 'bullmq';
import { requestScheduledExecution, type ScheduledExecutionDeps, type TickOutcome } from '../../application/scheduled-executions.js';
import type { Logger } from '../../logger.js';
import { QUEUE_NAMES, type QueueFactory, type WorkflowTickJobData } from './queues.js';
import { WorkerRuntime, type JobHandler } from './worker-runtime.js';

/**
 * The `workflow-tick` queue's processor: each tick a workflow's job
 * scheduler makes becomes one scheduled execution request
 * (application/scheduled-executions.ts), keyed by the tick's job id so a
 * retried or stalled tick requests once. A failure (the store unreachable)
 * throws and BullMQ retries the tick with the attempts its scheduler set.
 */
/** What a tick job returns (BullMQ keeps it as JSON: no bigint position). */
export interface TickJobResult {
  status: TickOutcome['status'];
  executionId: string;
  reason?: string;
}

export function workflowTickHandler(deps: ScheduledExecutionDeps, logger?: Pick<Logger, 'info'>): JobHandler<WorkflowTickJobData, TickJobResult> {
  return async (job: Job<WorkflowTickJobData, TickJobResult>) => {
    const outcome = await requestScheduledExecution(deps, { ...job.data, tickJobId: job.id! });
    const result: TickJobResult = {
      status: outcome.status,
      executionId: outcome.executionId,
      ...(outcome.status === 'skipped' ? { reason: outcome.reason } : {}),
    };
    logger?.info({ queue: QUEUE_NAMES.workflowTick, jobId: job.id, workflowId: job.data.workflowId, ...result }, 'workflow tick');
    return result;
  };
}

export interface WorkflowTickWorkerOptions {
  factory: QueueFactory;
  deps: ScheduledExecutionDeps;
  /** ticks handled at once (each is a couple of store reads and one append) */
  concurrency?: number;
  logger?: Logger;
}

/** A WorkerRuntime on `workflow-tick` (graceful stop, dead-letter logging); start() and stop() it. */
export function createWorkflowTickWorker(options: WorkflowTickWorkerOptions): WorkerRuntime<WorkflowTickJobData, TickJobResult> {
  return new WorkerRuntime<WorkflowTickJobData, TickJobResult>({
    factory: options.factory,
    queue: QUEUE_NAMES.workflowTick,
    handler: workflowTickHandler(options.deps, options.logger),
    concurrency: options.concurrency ?? 5,
    ...(options.logger ? { logger: options.logger } : {}),
    onDeadLetter: (job, error) => {
      options.logger?.error({ queue: QUEUE_NAMES.workflowTick, jobId: job.id, workflowId: job.data.workflowId, err: error }, 'workflow tick failed for good');
    },
  });
}

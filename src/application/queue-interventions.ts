import type { EventStore } from '../event-store/port.js';
import type { Logger } from '../logger.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import type { QueueInterventionCommand } from '../write-model/queue-intervention/commands.js';
import { queueInterventionAggregate, queueInterventionDayId } from '../write-model/queue-intervention/decider.js';
import type { QueueControl, QueueJobView } from './ports/queue-monitoring.js';

/**
 * Operators' manual interventions on the queues, each checked, carried out
 * and then recorded on the queue's intervention day stream
 * (`queue_intervention-{queue}_{YYYYMMDD}`) with the operator: the admin
 * API, the console and the CLI all come through here.
 *
 * - An unknown queue or job is NOT_FOUND; a job in a state the action does
 *   not apply to is CONFLICT (retry: failed jobs only; promote: delayed
 *   only; remove: anything but an active job, which a worker holds).
 * - An action that would change nothing is answered `changed: false` and
 *   recorded nowhere: pausing a paused queue, resuming a running one,
 *   retrying the failed jobs when there are none. Repeats are harmless.
 * - The action is carried out first and recorded after, so the audit holds
 *   only what was done; should the record fail, the error is logged with
 *   everything the event would have said, and the caller gets the error.
 */

export type InterventionAction = 'pause' | 'resume' | 'retry_failed' | 'retry_job' | 'promote_job' | 'remove_job';

export interface InterventionResult {
  queue: string;
  action: InterventionAction;
  /** false: nothing to do (nothing recorded) */
  changed: boolean;
  /** retry_failed: the failed jobs moved back to waiting */
  count?: number;
  jobId?: string;
  /** the job's state before the action (job actions) */
  previousState?: string;
  /** the recorded event's type; null when nothing changed */
  event: string | null;
}

export interface QueueInterventionsDeps {
  store: EventStore;
  control: QueueControl;
  logger?: Pick<Logger, 'error'>;
  now?: () => Date;
}

const utcDay = (at: Date) => at.toISOString().slice(0, 10).replaceAll('-', '');

export class QueueInterventions {
  constructor(private readonly deps: QueueInterventionsDeps) {}

  get names(): readonly string[] {
    return this.deps.control.names;
  }

  private known(queue: string): void {
    if (!this.deps.control.names.includes(queue)) throw new DomainError('NOT_FOUND', `no queue ${queue}`, { queue, queues: [...this.deps.control.names] });
  }

  private async job(queue: string, jobId: string): Promise<QueueJobView> {
    this.known(queue);
    const job = await this.deps.control.job(queue, jobId);
    if (!job) throw new DomainError('NOT_FOUND', `no job ${jobId} in queue ${queue}`, { queue, jobId });
    return job;
  }

  private async record(
    queue: string,
    operator: string,
    context: CommandContext,
    command: (base: { queue: string; day: string; operator: string; now: string }) => QueueInterventionCommand,
  ): Promise<string> {
    const at = this.deps.now?.() ?? new Date();
    const day = utcDay(at);
    const built = command({ queue, day, operator, now: at.toISOString() });
    try {
      const { events } = await handle(this.deps.store, queueInterventionAggregate, queueInterventionDayId(queue, day), built, { context });
      return events[0]?.type ?? built.type;
    } catch (error) {
      this.deps.logger?.error({ err: error, intervention: built }, 'a queue intervention was carried out but could not be recorded');
      throw error;
    }
  }

  async pause(queue: string, operator: string, context: CommandContext): Promise<InterventionResult> {
    this.known(queue);
    if (await this.deps.control.isPaused(queue)) return { queue, action: 'pause', changed: false, event: null };
    await this.deps.control.pause(queue);
    const event = await this.record(queue, operator, context, (b) => ({ type: 'RecordQueuePaused', ...b }));
    return { queue, action: 'pause', changed: true, event };
  }

  async resume(queue: string, operator: string, context: CommandContext): Promise<InterventionResult> {
    this.known(queue);
    if (!(await this.deps.control.isPaused(queue))) return { queue, action: 'resume', changed: false, event: null };
    await this.deps.control.resume(queue);
    const event = await this.record(queue, operator, context, (b) => ({ type: 'RecordQueueResumed', ...b }));
    return { queue, action: 'resume', changed: true, event };
  }

  async retryFailed(queue: string, operator: string, context: CommandContext): Promise<InterventionResult> {
    this.known(queue);
    const count = await this.deps.control.retryFailed(queue);
    if (count === 0) return { queue, action: 'retry_failed', changed: false, count: 0, event: null };
    const event = await this.record(queue, operator, context, (b) => ({ type: 'RecordFailedJobsRetried', ...b, count }));
    return { queue, action: 'retry_failed', changed: true, count, event };
  }

  async retryJob(queue: string, jobId: string, operator: string, context: CommandContext): Promise<InterventionResult> {
    const job = await this.job(queue, jobId);
    if (job.state !== 'failed') throw conflict(queue, jobId, job.state, 'only a failed job can be retried');
    await this.deps.control.retryJob(queue, jobId);
    const event = await this.record(queue, operator, context, (b) => ({ type: 'RecordJobRetried', ...b, jobId }));
    return { queue, action: 'retry_job', changed: true, jobId, previousState: job.state, event };
  }

  async promoteJob(queue: string, jobId: string, operator: string, context: CommandContext): Promise<InterventionResult> {
    const job = await this.job(queue, jobId);
    if (job.state !== 'delayed') throw conflict(queue, jobId, job.state, 'only a delayed job can be promoted');
    await this.deps.control.promoteJob(queue, jobId);
    const event = await this.record(queue, operator, context, (b) => ({ type: 'RecordJobPromoted', ...b, jobId }));
    return { queue, action: 'promote_job', changed: true, jobId, previousState: job.state, event };
  }

  async removeJob(queue: string, jobId: string, operator: string, context: CommandContext): Promise<InterventionResult> {
    const job = await this.job(queue, jobId);
    if (job.state === 'active') throw conflict(queue, jobId, job.state, 'an active job is held by a worker and cannot be removed');
    try {
      await this.deps.control.removeJob(queue, jobId);
    } catch (error) {
      // taken by a worker between the check and the removal (BullMQ refuses a locked job)
      throw conflict(queue, jobId, 'active', `the job could not be removed: ${error instanceof Error ? error.message : String(error)}`);
    }
    const event = await this.record(queue, operator, context, (b) => ({ type: 'RecordJobRemoved', ...b, jobId, state: job.state }));
    return { queue, action: 'remove_job', changed: true, jobId, previousState: job.state, event };
  }
}

function conflict(queue: string, jobId: string, state: string, message: string): DomainError {
  return new DomainError('CONFLICT', `${message} (job ${jobId} is ${state})`, { queue, jobId, state });
}

import type { WorkflowJobSchedulers } from '../../process-managers/ports.js';
import type { Queue } from 'bullmq';
import type { ScheduleInterval, WorkflowSchedule } from '../../write-model/workflow/events.js';
import { jobOptionsFor, WORKFLOW_TICK_JOB_NAME, type WorkflowTickJobData } from './queues.js';

/**
 * One BullMQ job scheduler per workflow on the `workflow-tick` queue
 * (WorkflowScheduled / Paused / Resumed). Each occurrence makes a
 * `workflow-tick` job whose data is {workflowId, ownerId, schedule}; a process
 * manager turns it into an execution request. The tick's job id is unique
 * per occurrence (BullMQ: `repeat:{schedulerId}:{millis}`), so it is the
 * natural idempotency key of that request.
 *
 * - scheduler id: `workflow-{workflowId}`;
 * - cron: the expression as BullMQ pattern, in `timeZone` (default UTC);
 * - interval: `every` ms: daily 24 h, hourly 1 h, realtime 5 min (the
 *   shortest a plan sells; one execution per 5 min per workflow keeps a
 *   platform account well under platform limits). Override with
 *   `intervals`;
 * - an interval schedule ticks once at upsert (a new schedule, or a resume),
 *   then every interval; upserting the same schedule again adds no tick;
 *   a cron schedule ticks at its next match;
 * - pause = remove, resume = upsert, a null schedule or a delete = remove;
 * - everything is idempotent: upserting the same schedule twice keeps one
 *   scheduler and one pending tick; removing a missing one answers false.
 */

export const DEFAULT_INTERVAL_MS: Record<ScheduleInterval, number> = {
  daily: 24 * 3600_000,
  hourly: 3600_000,
  realtime: 5 * 60_000,
};

export interface WorkflowSchedulersOptions {
  /** IANA time zone for cron expressions; default `UTC` */
  timeZone?: string;
  intervals?: Partial<Record<ScheduleInterval, number>>;
}

export function workflowSchedulerId(workflowId: string): string {
  return `workflow-${workflowId}`;
}

export class WorkflowSchedulers implements WorkflowJobSchedulers {
  private readonly intervals: Record<ScheduleInterval, number>;
  private readonly timeZone: string;

  constructor(
    private readonly queue: Queue<WorkflowTickJobData>,
    options: WorkflowSchedulersOptions = {},
  ) {
    this.intervals = { ...DEFAULT_INTERVAL_MS, ...options.intervals };
    this.timeZone = options.timeZone ?? 'UTC';
  }

  /** BullMQ repeat options for a schedule. */
  repeatOptions(schedule: WorkflowSchedule): { pattern: string; tz: string } | { every: number } {
    if (schedule.kind === 'cron') return { pattern: schedule.expression, tz: this.timeZone };
    return { every: this.intervals[schedule.every] };
  }

  /** Creates or updates the workflow's job scheduler. */
  async upsertJobScheduler(workflowId: string, ownerId: string, schedule: WorkflowSchedule): Promise<void> {
    const data: WorkflowTickJobData = { workflowId, ownerId, schedule };
    await this.queue.upsertJobScheduler(workflowSchedulerId(workflowId), this.repeatOptions(schedule), {
      name: WORKFLOW_TICK_JOB_NAME,
      data,
      // a tick that fails (the process manager could not reach the store) is retried a few times
      // finished ticks need no long retention: their ids never repeat
      opts: { ...jobOptionsFor({ attempts: 3, backoffMs: 5_000 }), removeOnComplete: { age: 24 * 3600, count: 100 } },
    });
  }

  /**
   * Removes the workflow's job scheduler and its tick that has not started
   * (BullMQ itself drops only a delayed one; the tick an interval schedule
   * makes at once may still be waiting). False when there was none. A tick
   * already running goes on: the tick's consumer checks the workflow is
   * still active.
   */
  async removeJobScheduler(workflowId: string): Promise<boolean> {
    const id = workflowSchedulerId(workflowId);
    const scheduler = await this.queue.getJobScheduler(id);
    const removed = await this.queue.removeJobScheduler(id);
    if (scheduler?.next !== undefined) {
      const pending = await this.queue.getJob(`repeat:${id}:${scheduler.next}`);
      if (pending && ['waiting', 'delayed', 'prioritized', 'paused'].includes(await pending.getState())) {
        await pending.remove().catch(() => undefined); // taken by a worker meanwhile
      }
    }
    return removed;
  }

  /**
   * Brings the scheduler in line with the workflow: it exists exactly when
   * the workflow has a schedule and is active (WorkflowScheduled carries
   * both; on WorkflowResumed pass the workflow's schedule and status).
   */
  async sync(workflowId: string, ownerId: string, schedule: WorkflowSchedule | null, status: 'active' | 'paused' | 'deleted'): Promise<'upserted' | 'removed'> {
    if (schedule !== null && status === 'active') {
      await this.upsertJobScheduler(workflowId, ownerId, schedule);
      return 'upserted';
    }
    await this.removeJobScheduler(workflowId);
    return 'removed';
  }

  pause(workflowId: string): Promise<boolean> {
    return this.removeJobScheduler(workflowId);
  }

  resume(workflowId: string, ownerId: string, schedule: WorkflowSchedule): Promise<void> {
    return this.upsertJobScheduler(workflowId, ownerId, schedule);
  }

  async get(workflowId: string): Promise<{ pattern?: string; every?: number; tz?: string; next?: number; data?: WorkflowTickJobData } | undefined> {
    const scheduler = await this.queue.getJobScheduler(workflowSchedulerId(workflowId));
    if (!scheduler) return undefined;
    return { pattern: scheduler.pattern, every: scheduler.every, tz: scheduler.tz, next: scheduler.next, data: scheduler.template?.data };
  }
}

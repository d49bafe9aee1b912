import type { WorkflowJobSchedulers } from './ports.js';
import type { Consumer } from '../consumers/consumer.js';
import { load } from '../write-model/core/command-handler.js';
import { workflowAggregate } from '../write-model/workflow/decider.js';
import { workflowEvents } from '../write-model/workflow/events.js';
import type { ProcessManagerDeps } from './shared.js';

export const WORKFLOW_SCHEDULES = 'pm-workflow-schedules';

export interface WorkflowSchedulesDeps extends ProcessManagerDeps {
  schedulers: WorkflowJobSchedulers;
}

/** The events after which a workflow's job scheduler may have to change. */
export const SCHEDULE_EVENT_TYPES = ['WorkflowScheduled', 'WorkflowPaused', 'WorkflowResumed', 'WorkflowDeleted'] as const;

/**
 * WorkflowScheduled / Paused / Resumed / Deleted → one BullMQ job
 * scheduler per workflow kept in step (src/adapters/queue/workflow-schedulers.ts).
 *
 * On any of these events the workflow's *current* state is read from its
 * stream and the scheduler is synced to it: it exists exactly while the
 * workflow has a schedule and is active. Reading the current state (not the
 * event's) makes the reaction convergent: a redelivered or stale event
 * re-applies the truth, an event whose successors are not read yet already
 * gets their outcome, and WorkflowResumed (which carries no schedule) needs
 * no bookkeeping. Upserting an unchanged schedule adds no tick and removing
 * a missing scheduler is a no-op, so redelivery is harmless. Each workflow
 * is synced once per batch.
 *
 * Schedules: a cron expression runs as given (in the schedulers' time zone);
 * an interval schedule's `every` is in the plan catalogue's words (daily /
 * hourly / realtime, = data_collection_frequency), checked against the plan
 * when the workflow was created or updated. A workflow without a schedule is
 * manual: it gets no scheduler (no default from the plan's frequency: the
 * user chose manual runs; the API offers the type's default schedule).
 *
 * No checkpointed writes of its own: Redis is not in the batch transaction,
 * which is why every sync must be (and is) idempotent. A failed sync throws,
 * the batch rolls back and is retried.
 */
export function createWorkflowSchedules(deps: WorkflowSchedulesDeps, name = WORKFLOW_SCHEDULES): Consumer {
  return {
    name,
    filter: { eventTypes: SCHEDULE_EVENT_TYPES },
    async handle(events) {
      const workflowIds = new Set<string>();
      for (const event of events) workflowIds.add(workflowEvents.decode(event).data.workflowId);
      for (const workflowId of workflowIds) {
        const { state } = await load(deps.store, workflowAggregate, workflowId);
        const ownerId = state.workflow?.ownerId ?? '';
        const status = state.status === 'none' ? 'deleted' : state.status;
        try {
          await deps.schedulers.sync(workflowId, ownerId, state.schedule, status);
        } catch (error) {
          deps.logger?.error({ processManager: name, workflowId, err: error }, 'job scheduler sync failed');
          throw error;
        }
      }
    },
  };
}

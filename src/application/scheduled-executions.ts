import type { Knex } from 'knex';
import type { WorkflowTickJobData } from '../process-managers/ports.js';
import type { EventStore } from '../event-store/port.js';
import type { Position } from '../event-store/position.js';
import { handle, load } from '../write-model/core/command-handler.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { eventIdsFrom, uuidFromName } from '../write-model/core/event-ids.js';
import type { WorkflowExecutionCommand } from '../write-model/workflow-execution/commands.js';
import { workflowExecutionAggregate } from '../write-model/workflow-execution/decider.js';
import { workflowAggregate } from '../write-model/workflow/decider.js';
import { resolveRunConfig } from './qidian-watchlist.js';

/** The actor of a scheduled run's events (there is no requesting user). */
export const SCHEDULER_ACTOR = 'scheduler';

export interface ScheduledExecutionDeps {
  store: EventStore;
  now: () => Date;
  /** what a Qidian watch-list run collects is resolved with it (src/application/qidian-watchlist.ts) */
  knex?: Knex;
}

export interface WorkflowTick extends WorkflowTickJobData {
  /** the tick job's id (BullMQ `repeat:{schedulerId}:{millis}`): unique per occurrence */
  tickJobId: string;
}

export type TickOutcome =
  | { status: 'requested'; executionId: string; position: Position | undefined }
  | { status: 'already_requested'; executionId: string }
  | { status: 'skipped'; executionId: string; reason: 'workflow_not_found' | 'workflow_paused' | 'workflow_deleted' | 'not_scheduled' | 'nothing_to_collect' };

/** The execution id of a tick: the same for a redelivered tick. */
export function tickExecutionId(tickJobId: string): string {
  return uuidFromName(`tick:${tickJobId}`);
}

/**
 * A workflow's job scheduler ticked → RequestExecution {trigger schedule,
 * requestedBy null} with the workflow's config as it is now. The
 * execution process manager takes it from there (quota, proxy, scrape job).
 *
 * - Once per tick: the execution id (and its event id) is named after the
 *   tick's job id, and an execution that already exists is answered
 *   `already_requested`, so a tick run twice (a retry, a stalled job)
 *   requests once. Two deliveries racing may both answer `requested` (the
 *   store takes the second append for a repeat of the first): still one
 *   ExecutionRequested, one execution id.
 * - Skipped (nothing recorded) when the workflow is paused, deleted, unknown
 *   or no longer scheduled: the scheduler is removed on those events, but a
 *   tick already taken by a worker still arrives.
 * - A new correlation starts per run (= the execution id); the tick job id
 *   is the causation, so an audit can find the BullMQ occurrence.
 */
export async function requestScheduledExecution(deps: ScheduledExecutionDeps, tick: WorkflowTick): Promise<TickOutcome> {
  const executionId = tickExecutionId(tick.tickJobId);
  const { state } = await load(deps.store, workflowAggregate, tick.workflowId);
  const workflow = state.workflow;
  const skip =
    !workflow || state.status === 'none'
      ? ('workflow_not_found' as const)
      : state.status === 'deleted'
        ? ('workflow_deleted' as const)
        : state.status === 'paused'
          ? ('workflow_paused' as const)
          : state.schedule === null
            ? ('not_scheduled' as const)
            : null;
  // what the run collects (a Qidian run: the novels tracked now); nothing: skipped
  const config = skip === null && workflow ? await resolveRunConfig({ store: deps.store, ...(deps.knex ? { knex: deps.knex } : {}) }, workflow) : null;
  const skipped = skip ?? (config === null ? ('nothing_to_collect' as const) : null);

  const context: CommandContext = { correlationId: executionId, causationId: tick.tickJobId, actor: SCHEDULER_ACTOR };
  // the execution stream is read once: a tick already requested decides nothing
  const result = await handle(
    deps.store,
    workflowExecutionAggregate,
    executionId,
    (execution): WorkflowExecutionCommand | [] =>
      execution.request || skipped !== null || !workflow || config === null
        ? []
        : {
            type: 'RequestExecution',
            executionId,
            workflowId: workflow.workflowId,
            ownerId: workflow.ownerId,
            platform: workflow.platform,
            workflowType: workflow.type,
            config,
            platformAccountId: workflow.platformAccountId,
            proxyRegion: workflow.proxyRegion ?? null,
            trigger: 'schedule',
            requestedBy: null,
            now: deps.now().toISOString(),
          },
    { context, eventIds: eventIdsFrom(`tick:${tick.tickJobId}`) },
  );
  if (result.events.length > 0) return { status: 'requested', executionId, position: result.position };
  if (result.state.request) return { status: 'already_requested', executionId };
  return { status: 'skipped', executionId, reason: skipped ?? 'workflow_not_found' };
}

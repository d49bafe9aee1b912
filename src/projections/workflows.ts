import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../subscriptions/consumer.js';
import { workflowExecutionEvents, type WorkflowExecutionEvent } from '../write-model/workflow-execution/events.js';
import { workflowEvents, type WorkflowEvent } from '../write-model/workflow/events.js';

/**
 * Read model of the WorkflowDefinition (`workflow-{id}`) and WorkflowExecution
 * (`workflow_execution-{id}`) streams:
 *
 * - `workflows`: one row per workflow, deleted ones kept with status
 *   `deleted` (the queries hide them), the pauses per reason, and the last
 *   execution requested / the last time one started.
 * - `workflow_executions`: one row per execution, its status, attempt,
 *   proxy, item count, cursor and how it ended. Items themselves are the
 *   platform read models' business, not this one's.
 *
 * Idempotent under redelivery: an event is applied only when its revision is
 * above its row's `last_revision`, moved in the consumer's transaction.
 */
export const WORKFLOWS_PROJECTION = 'workflows-v1';

export const WORKFLOW_STREAM_PREFIX = 'workflow-';
export const EXECUTION_STREAM_PREFIX = 'workflow_execution-';

export function createWorkflowsProjection(name: string = WORKFLOWS_PROJECTION): Consumer {
  return {
    name,
    filter: { streamPrefixes: [WORKFLOW_STREAM_PREFIX, EXECUTION_STREAM_PREFIX] },
    async handle(events, { tx }) {
      for (const event of events) await applyEvent(tx, event);
    },
  };
}

export const workflowsProjection: Consumer = createWorkflowsProjection();

type Db = Knex.Transaction | Knex;

/** Applies one recorded event unless its revision was applied already. Exported for tests. */
export async function applyEvent(tx: Db, recorded: RecordedEvent): Promise<void> {
  // 'workflow-' is not a prefix of 'workflow_execution-', so the two never mix
  if (recorded.streamName.startsWith(WORKFLOW_STREAM_PREFIX) && workflowEvents.owns(recorded.type)) {
    await applyWorkflowEvent(tx, recorded, workflowEvents.decode(recorded));
  } else if (recorded.streamName.startsWith(EXECUTION_STREAM_PREFIX) && workflowExecutionEvents.owns(recorded.type)) {
    await applyExecutionEvent(tx, recorded, workflowExecutionEvents.decode(recorded));
  }
}

interface PauseRow {
  reason: string;
  until: string | null;
  by: string | null;
  paused_at: string;
}

const json = (value: unknown) => JSON.stringify(value);

async function applyWorkflowEvent(tx: Db, recorded: RecordedEvent, event: WorkflowEvent): Promise<void> {
  const id = event.data.workflowId;
  const revision = recorded.revision.toString();
  const row = (await tx('workflows').where({ id }).forUpdate().first('last_revision', 'pauses')) as
    | { last_revision: string; pauses: PauseRow[] }
    | undefined;
  if (row && BigInt(row.last_revision) >= recorded.revision) return; // applied already
  if (!row && event.type !== 'WorkflowCreated') return; // cannot happen: Created is revision 0

  const update = (values: Record<string, unknown>) => tx('workflows').where({ id }).update({ ...values, last_revision: revision });

  switch (event.type) {
    case 'WorkflowCreated': {
      const d = event.data;
      await tx('workflows')
        .insert({
          id,
          stream_name: recorded.streamName,
          owner_id: d.ownerId,
          platform: d.platform,
          type: d.type,
          name: d.name,
          config: json(d.config),
          platform_account_id: d.platformAccountId,
          schedule: null,
          status: 'active',
          paused_for: json([]),
          pauses: json([]),
          created_at: d.createdAt,
          updated_at: d.createdAt,
          last_revision: revision,
        })
        .onConflict('id')
        .ignore();
      return;
    }
    case 'WorkflowUpdated': {
      const d = event.data;
      await update({ name: d.name, config: json(d.config), platform_account_id: d.platformAccountId, updated_at: d.updatedAt });
      return;
    }
    case 'WorkflowScheduled':
      await update({ schedule: event.data.schedule === null ? null : json(event.data.schedule), updated_at: event.data.scheduledAt });
      return;
    case 'WorkflowPaused': {
      const d = event.data;
      const record: PauseRow = { reason: d.reason, until: d.until, by: d.by, paused_at: d.pausedAt };
      const pauses = row!.pauses.some((p) => p.reason === d.reason)
        ? row!.pauses.map((p) => (p.reason === d.reason ? record : p))
        : [...row!.pauses, record];
      await update({ status: 'paused', paused_for: json(d.pausedFor), pauses: json(pauses), updated_at: d.pausedAt });
      return;
    }
    case 'WorkflowResumed': {
      const d = event.data;
      const lifted: readonly string[] = d.lifted;
      const pauses = row!.pauses.filter((p) => !lifted.includes(p.reason));
      await update({ status: d.status, paused_for: json(d.pausedFor), pauses: json(pauses), updated_at: d.resumedAt });
      return;
    }
    case 'WorkflowDeleted':
      await update({ status: 'deleted', deleted_at: event.data.deletedAt, updated_at: event.data.deletedAt });
      return;
  }
}

async function applyExecutionEvent(tx: Db, recorded: RecordedEvent, event: WorkflowExecutionEvent): Promise<void> {
  const id = event.data.executionId;
  const revision = recorded.revision.toString();
  const row = (await tx('workflow_executions').where({ id }).forUpdate().first('last_revision')) as { last_revision: string } | undefined;
  if (row && BigInt(row.last_revision) >= recorded.revision) return; // applied already
  if (!row && event.type !== 'ExecutionRequested') return; // cannot happen: Requested is revision 0

  const update = (values: Record<string, unknown>) => tx('workflow_executions').where({ id }).update({ ...values, last_revision: revision });

  switch (event.type) {
    case 'ExecutionRequested': {
      const d = event.data;
      await tx('workflow_executions')
        .insert({
          id,
          stream_name: recorded.streamName,
          workflow_id: d.workflowId,
          owner_id: d.ownerId,
          platform: d.platform,
          type: d.type,
          platform_account_id: d.platformAccountId,
          trigger: d.trigger,
          status: 'requested',
          requested_at: d.requestedAt,
          updated_at: d.requestedAt,
          last_revision: revision,
        })
        .onConflict('id')
        .ignore();
      // events are applied in global order, so the latest request wins here as in the store
      await tx('workflows').where({ id: d.workflowId }).update({ last_execution_id: id });
      return;
    }
    case 'ExecutionRejected': {
      const d = event.data;
      await update({
        status: 'rejected',
        rejection_reason: d.reason,
        rejection_details: json(d.details),
        finished_at: d.rejectedAt,
        updated_at: d.rejectedAt,
      });
      return;
    }
    case 'ExecutionStarted': {
      const d = event.data;
      // started_at is the first start; a retried attempt keeps it
      await update({
        status: 'running',
        attempt: d.attempt,
        worker_id: d.workerId,
        pause_reason: null,
        started_at: tx.raw('COALESCE(started_at, ?)', [d.startedAt]),
        updated_at: d.startedAt,
      });
      await tx('workflows')
        .where({ id: d.workflowId })
        .update({ last_run_at: tx.raw('GREATEST(COALESCE(last_run_at, ?::timestamptz), ?::timestamptz)', [d.startedAt, d.startedAt]) });
      return;
    }
    case 'ProxyAssigned':
      await update({ proxy_id: event.data.proxyId, updated_at: event.data.assignedAt });
      return;
    case 'ItemsCollected':
      await update({ item_count: event.data.itemCount, cursor: event.data.cursor, updated_at: event.data.collectedAt });
      return;
    case 'ExecutionRetried': {
      const d = event.data;
      await update({ status: 'retrying', attempt: d.attempt, worker_id: null, pause_reason: null, updated_at: d.retriedAt });
      return;
    }
    case 'ExecutionCompleted': {
      const d = event.data;
      await update({ status: 'completed', item_count: d.itemCount, finished_at: d.completedAt, updated_at: d.completedAt });
      return;
    }
    case 'ExecutionFailed': {
      const d = event.data;
      await update({ status: 'failed', failure_reason: d.reason, item_count: d.itemCount, finished_at: d.failedAt, updated_at: d.failedAt });
      return;
    }
    case 'ExecutionCancelled': {
      const d = event.data;
      await update({ status: 'cancelled', item_count: d.itemCount, finished_at: d.cancelledAt, updated_at: d.cancelledAt });
      return;
    }
    case 'ExecutionPaused': {
      const d = event.data;
      await update({ status: 'paused', pause_reason: d.reason, cursor: d.cursor, updated_at: d.pausedAt });
      return;
    }
  }
}

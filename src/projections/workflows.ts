import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../consumers/consumer.js';
import { workflowExecutionEvents, type WorkflowExecutionEvent } from '../write-model/workflow-execution/events.js';
import { workflowEvents, type WorkflowEvent } from '../write-model/workflow/events.js';
import { instantSql, micros } from './instants.js';
import { ITEMS_LEFT_OUT } from './items-collected-reads.js';
import { patchRows, selectRows, upsertRows, type Row } from './sql-batch.js';

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
 * A batch is folded per row in memory and written with one insert and one
 * update per table. Idempotent under redelivery: an event is applied only
 * when its revision is above its row's `last_revision` (read, locked, at the
 * start of the batch; the update is guarded the same way), moved in the
 * consumer's transaction.
 */
export const WORKFLOWS_PROJECTION = 'workflows-v1';

export const WORKFLOW_STREAM_PREFIX = 'workflow-';
export const EXECUTION_STREAM_PREFIX = 'workflow_execution-';

export function createWorkflowsProjection(name: string = WORKFLOWS_PROJECTION): Consumer {
  return {
    name,
    filter: { streamPrefixes: [WORKFLOW_STREAM_PREFIX, EXECUTION_STREAM_PREFIX] },
    // a run's row keeps the count and cursor of a batch, never its items
    rebuildData: { ItemsCollected: ITEMS_LEFT_OUT },
    async handle(events, { tx }) {
      await applyEvents(tx, events);
    },
  };
}

export const workflowsProjection: Consumer = createWorkflowsProjection();

type Db = Knex.Transaction | Knex;

/** Applies one recorded event unless its revision was applied already. Exported for tests. */
export async function applyEvent(tx: Db, recorded: RecordedEvent): Promise<void> {
  await applyEvents(tx, [recorded]);
}

interface PauseRow {
  reason: string;
  until: string | null;
  by: string | null;
  paused_at: string;
}

/** What the fold needs of a workflow row, and what the batch writes to it. */
interface WorkflowFold {
  revision: bigint;
  pauses: PauseRow[];
  /** last_run_at in microseconds (null: never ran) */
  lastRun: bigint | null;
  insert?: Row;
  patch?: Row;
}

interface ExecutionFold {
  revision: bigint;
  started: boolean;
  insert?: Row;
  patch?: Row;
}

type Decoded =
  | { kind: 'workflow'; recorded: RecordedEvent; event: WorkflowEvent }
  | { kind: 'execution'; recorded: RecordedEvent; event: WorkflowExecutionEvent };

/**
 * Applies a batch in its order: the rows it touches are read (and locked)
 * once, the events folded into them in memory exactly as one by one, and the
 * result written with one insert and one update per table.
 */
export async function applyEvents(tx: Db, events: readonly RecordedEvent[]): Promise<void> {
  const decoded: Decoded[] = [];
  for (const recorded of events) {
    // 'workflow-' is not a prefix of 'workflow_execution-', so the two never mix
    if (recorded.streamName.startsWith(WORKFLOW_STREAM_PREFIX) && workflowEvents.owns(recorded.type)) {
      decoded.push({ kind: 'workflow', recorded, event: workflowEvents.decode(recorded) });
    } else if (recorded.streamName.startsWith(EXECUTION_STREAM_PREFIX) && workflowExecutionEvents.owns(recorded.type)) {
      decoded.push({ kind: 'execution', recorded, event: workflowExecutionEvents.decode(recorded) });
    }
  }
  if (decoded.length === 0) return;

  const executionIds = new Set<string>();
  const workflowIds = new Set<string>();
  for (const d of decoded) {
    if (d.kind === 'workflow') workflowIds.add(d.event.data.workflowId);
    else {
      executionIds.add(d.event.data.executionId);
      // a request and a start also touch their workflow's row
      if (d.event.type === 'ExecutionRequested' || d.event.type === 'ExecutionStarted') workflowIds.add(d.event.data.workflowId);
    }
  }
  const executions = new Map<string, ExecutionFold>();
  for (const r of await selectRows<{ id: string; last_revision: string; started: boolean }>(tx, 'workflow_executions', keys(executionIds), {
    key: ['id'],
    columns: ['id', 'last_revision', 't.started_at IS NOT NULL AS started'],
    forUpdate: true,
  })) {
    executions.set(r.id, { revision: BigInt(r.last_revision), started: r.started });
  }
  const workflows = new Map<string, WorkflowFold>();
  for (const r of await selectRows<{ id: string; last_revision: string; pauses: PauseRow[]; last_run: string | null }>(tx, 'workflows', keys(workflowIds), {
    key: ['id'],
    columns: ['id', 'last_revision', 'pauses', instantSql('t.last_run_at', 'last_run')],
    forUpdate: true,
  })) {
    workflows.set(r.id, { revision: BigInt(r.last_revision), pauses: r.pauses, lastRun: r.last_run === null ? null : BigInt(r.last_run) });
  }

  for (const d of decoded) {
    if (d.kind === 'workflow') foldWorkflowEvent(workflows, d.recorded, d.event);
    else foldExecutionEvent(executions, workflows, d.recorded, d.event);
  }

  const inserts = <T extends { insert?: Row }>(folds: Map<string, T>) => [...folds.values()].flatMap((f) => (f.insert ? [f.insert] : []));
  await upsertRows(tx, 'workflow_executions', inserts(executions), { conflict: ['id'] });
  await upsertRows(tx, 'workflows', inserts(workflows), { conflict: ['id'] });
  const executionPatches = [...executions.values()].flatMap((f) => (f.patch ? [f.patch] : []));
  await patchRows(tx, 'workflow_executions', executionPatches, { key: ['id'], guard: 't.last_revision < n.last_revision' });
  // a workflow's patch carries its revision even when only an execution changed it (the last request, the last run)
  const workflowPatches = [...workflows.values()].flatMap((f) => (f.patch ? [{ ...f.patch, last_revision: f.revision.toString() }] : []));
  await patchRows(tx, 'workflows', workflowPatches, { key: ['id'], guard: 't.last_revision <= n.last_revision' });
}

const keys = (ids: Set<string>) => [...ids].map((id) => ({ id }));

/** The row an event's changes go to: the one the batch inserts, or the row's patch. */
const target = (fold: { insert?: Row; patch?: Row }, id: string): Row => fold.insert ?? (fold.patch ??= { id });

function foldWorkflowEvent(workflows: Map<string, WorkflowFold>, recorded: RecordedEvent, event: WorkflowEvent): void {
  const id = event.data.workflowId;
  const revision = recorded.revision;
  const fold = workflows.get(id);
  if (fold && fold.revision >= revision) return; // applied already
  if (event.type === 'WorkflowCreated') {
    if (fold) return;
    const d = event.data;
    workflows.set(id, {
      revision,
      pauses: [],
      lastRun: null,
      insert: {
        id,
        stream_name: recorded.streamName,
        owner_id: d.ownerId,
        platform: d.platform,
        type: d.type,
        name: d.name,
        config: d.config,
        platform_account_id: d.platformAccountId,
        proxy_region: d.proxyRegion ?? null,
        schedule: null,
        status: 'active',
        paused_for: [],
        pauses: [],
        created_at: d.createdAt,
        updated_at: d.createdAt,
        deleted_at: null,
        last_run_at: null,
        last_execution_id: null,
        last_revision: revision.toString(),
      },
    });
    return;
  }
  if (!fold) return; // cannot happen: Created is revision 0
  const changes = workflowChanges(fold, event);
  Object.assign(target(fold, id), changes, { last_revision: revision.toString() });
  fold.revision = revision;
}

/** The columns a workflow event after the creation sets (a pause or resume also moves the fold's pauses). */
function workflowChanges(fold: WorkflowFold, event: Exclude<WorkflowEvent, { type: 'WorkflowCreated' }>): Row {
  switch (event.type) {
    case 'WorkflowUpdated': {
      const d = event.data;
      return { name: d.name, config: d.config, platform_account_id: d.platformAccountId, proxy_region: d.proxyRegion ?? null, updated_at: d.updatedAt };
    }
    case 'WorkflowScheduled':
      return { schedule: event.data.schedule, updated_at: event.data.scheduledAt };
    case 'WorkflowPaused': {
      const d = event.data;
      const record: PauseRow = { reason: d.reason, until: d.until, by: d.by, paused_at: d.pausedAt };
      fold.pauses = fold.pauses.some((p) => p.reason === d.reason) ? fold.pauses.map((p) => (p.reason === d.reason ? record : p)) : [...fold.pauses, record];
      return { status: 'paused', paused_for: d.pausedFor, pauses: fold.pauses, updated_at: d.pausedAt };
    }
    case 'WorkflowResumed': {
      const d = event.data;
      const lifted: readonly string[] = d.lifted;
      fold.pauses = fold.pauses.filter((p) => !lifted.includes(p.reason));
      return { status: d.status, paused_for: d.pausedFor, pauses: fold.pauses, updated_at: d.resumedAt };
    }
    case 'WorkflowDeleted':
      return { status: 'deleted', deleted_at: event.data.deletedAt, updated_at: event.data.deletedAt };
  }
}

function foldExecutionEvent(
  executions: Map<string, ExecutionFold>,
  workflows: Map<string, WorkflowFold>,
  recorded: RecordedEvent,
  event: WorkflowExecutionEvent,
): void {
  const id = event.data.executionId;
  const revision = recorded.revision;
  const fold = executions.get(id);
  if (fold && fold.revision >= revision) return; // applied already
  if (event.type === 'ExecutionRequested') {
    if (fold) return;
    const d = event.data;
    executions.set(id, {
      revision,
      started: false,
      insert: {
        id,
        stream_name: recorded.streamName,
        workflow_id: d.workflowId,
        owner_id: d.ownerId,
        platform: d.platform,
        type: d.type,
        platform_account_id: d.platformAccountId,
        trigger: d.trigger,
        status: 'requested',
        attempt: 0,
        worker_id: null,
        proxy_id: null,
        item_count: 0,
        cursor: null,
        pause_reason: null,
        rejection_reason: null,
        rejection_details: null,
        failure_reason: null,
        requested_at: d.requestedAt,
        started_at: null,
        finished_at: null,
        updated_at: d.requestedAt,
        last_revision: revision.toString(),
      },
    });
    // events are applied in global order, so the latest request wins here as in the store
    const workflow = workflows.get(d.workflowId);
    if (workflow) target(workflow, d.workflowId).last_execution_id = id;
    return;
  }
  if (!fold) return; // cannot happen: Requested is revision 0
  const row = target(fold, id);
  Object.assign(row, executionChanges(event), { last_revision: revision.toString() });
  fold.revision = revision;
  if (event.type === 'ExecutionStarted') {
    const d = event.data;
    // started_at is the first start; a retried attempt keeps it
    if (!fold.started) {
      row.started_at = d.startedAt;
      fold.started = true;
    }
    const workflow = workflows.get(d.workflowId);
    const startedAt = micros(d.startedAt);
    if (workflow && (workflow.lastRun === null || startedAt > workflow.lastRun)) {
      workflow.lastRun = startedAt;
      target(workflow, d.workflowId).last_run_at = d.startedAt;
    }
  }
}

/** The columns an execution event after the request sets (the start's started_at aside). */
function executionChanges(event: Exclude<WorkflowExecutionEvent, { type: 'ExecutionRequested' }>): Row {
  switch (event.type) {
    case 'ExecutionRejected': {
      const d = event.data;
      return { status: 'rejected', rejection_reason: d.reason, rejection_details: d.details, finished_at: d.rejectedAt, updated_at: d.rejectedAt };
    }
    case 'ExecutionStarted': {
      const d = event.data;
      return { status: 'running', attempt: d.attempt, worker_id: d.workerId, pause_reason: null, updated_at: d.startedAt };
    }
    case 'ProxyAssigned':
      return { proxy_id: event.data.proxyId, updated_at: event.data.assignedAt };
    case 'ItemsCollected':
      return { item_count: event.data.itemCount, cursor: event.data.cursor, updated_at: event.data.collectedAt };
    case 'ExecutionRetried': {
      const d = event.data;
      return { status: 'retrying', attempt: d.attempt, worker_id: null, pause_reason: null, updated_at: d.retriedAt };
    }
    case 'ExecutionCompleted': {
      const d = event.data;
      return { status: 'completed', item_count: d.itemCount, finished_at: d.completedAt, updated_at: d.completedAt };
    }
    case 'ExecutionFailed': {
      const d = event.data;
      return { status: 'failed', failure_reason: d.reason, item_count: d.itemCount, finished_at: d.failedAt, updated_at: d.failedAt };
    }
    case 'ExecutionCancelled': {
      const d = event.data;
      return { status: 'cancelled', item_count: d.itemCount, finished_at: d.cancelledAt, updated_at: d.cancelledAt };
    }
    case 'ExecutionPaused': {
      const d = event.data;
      return { status: 'paused', pause_reason: d.reason, cursor: d.cursor, updated_at: d.pausedAt };
    }
  }
}

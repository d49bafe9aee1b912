import type { Knex } from 'knex';
import { pageOf, type Page, type PageRequest } from './page.js';
import { selectPage } from './page-query.js';
import { ownedBy, type Owners } from './owners.js';

/**
 * Queries of the `workflows-v1` read model (workflows, workflow_executions).
 * Every query names the owner: a row of someone else is never returned.
 * Deleted workflows are hidden.
 */

export interface WorkflowPauseView {
  reason: string;
  until: string | null;
  by: string | null;
  paused_at: string;
}

export interface WorkflowView {
  id: string;
  /** a user's id, or the organization's for a workflow it owns */
  owner_id: string;
  platform: string;
  type: string;
  name: string;
  config: Record<string, unknown>;
  platform_account_id: string | null;
  proxy_region: string | null;
  schedule: Record<string, unknown> | null;
  status: string;
  paused_for: string[];
  pauses: WorkflowPauseView[];
  created_at: string;
  updated_at: string;
  last_run_at: string | null;
  last_execution_id: string | null;
  /** the stream revision the row reflects (also the ETag) */
  revision: string;
}

export interface ExecutionView {
  id: string;
  workflow_id: string;
  platform: string;
  type: string;
  platform_account_id: string | null;
  trigger: string;
  status: string;
  attempt: number;
  proxy_id: string | null;
  item_count: number;
  cursor: string | null;
  pause_reason: string | null;
  rejection_reason: string | null;
  rejection_details: Record<string, unknown> | null;
  failure_reason: string | null;
  requested_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
  revision: string;
}

export interface WorkflowFilter {
  platform?: string;
  type?: string;
  status?: 'active' | 'paused';
}

const iso = (value: unknown): string => (value instanceof Date ? value : new Date(String(value))).toISOString();
const isoOrNull = (value: unknown): string | null => (value == null ? null : iso(value));

const WORKFLOW_COLUMNS = [
  'id',
  'owner_id',
  'platform',
  'type',
  'name',
  'config',
  'platform_account_id',
  'proxy_region',
  'schedule',
  'status',
  'paused_for',
  'pauses',
  'created_at',
  'updated_at',
  'last_run_at',
  'last_execution_id',
  'last_revision',
] as const;

const EXECUTION_COLUMNS = [
  'id',
  'workflow_id',
  'platform',
  'type',
  'platform_account_id',
  'trigger',
  'status',
  'attempt',
  'proxy_id',
  'item_count',
  'cursor',
  'pause_reason',
  'rejection_reason',
  'rejection_details',
  'failure_reason',
  'requested_at',
  'started_at',
  'finished_at',
  'updated_at',
  'last_revision',
] as const;

function toWorkflow(row: Record<string, any>): WorkflowView {
  return {
    id: row.id,
    owner_id: row.owner_id,
    platform: row.platform,
    type: row.type,
    name: row.name,
    config: row.config,
    platform_account_id: row.platform_account_id,
    proxy_region: row.proxy_region ?? null,
    schedule: row.schedule ?? null,
    status: row.status,
    paused_for: row.paused_for ?? [],
    pauses: (row.pauses ?? []).map((p: WorkflowPauseView) => ({ ...p, paused_at: iso(p.paused_at) })),
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    last_run_at: isoOrNull(row.last_run_at),
    last_execution_id: row.last_execution_id,
    revision: String(row.last_revision),
  };
}

function toExecution(row: Record<string, any>): ExecutionView {
  return {
    id: row.id,
    workflow_id: row.workflow_id,
    platform: row.platform,
    type: row.type,
    platform_account_id: row.platform_account_id,
    trigger: row.trigger,
    status: row.status,
    attempt: row.attempt,
    proxy_id: row.proxy_id,
    item_count: row.item_count,
    cursor: row.cursor,
    pause_reason: row.pause_reason,
    rejection_reason: row.rejection_reason,
    rejection_details: row.rejection_details ?? null,
    failure_reason: row.failure_reason,
    requested_at: iso(row.requested_at),
    started_at: isoOrNull(row.started_at),
    finished_at: isoOrNull(row.finished_at),
    updated_at: iso(row.updated_at),
    revision: String(row.last_revision),
  };
}

/** The owner's workflows, newest first. */
export async function listWorkflows(knex: Knex, ownerId: Owners, filter: WorkflowFilter, page: PageRequest): Promise<Page<WorkflowView>> {
  const base = () => {
    const q = ownedBy(knex('workflows'), ownerId).whereNot({ status: 'deleted' });
    if (filter.platform) q.where({ platform: filter.platform });
    if (filter.type) q.where({ type: filter.type });
    if (filter.status) q.where({ status: filter.status });
    return q;
  };
  const ordered = base()
    .select(WORKFLOW_COLUMNS)
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'asc' },
    ]);
  const { rows, total } = await selectPage(knex, ordered, page);
  return pageOf(rows.map(toWorkflow), page, total);
}

/** One of the owner's workflows; undefined when unknown, someone else's or deleted. */
export async function findWorkflow(knex: Knex, ownerId: Owners, id: string): Promise<WorkflowView | undefined> {
  const row = await ownedBy(knex('workflows').where({ id }), ownerId).whereNot({ status: 'deleted' }).first();
  return row ? toWorkflow(row) : undefined;
}

/** A workflow's executions, newest first (the caller checked the workflow is the owner's). */
export async function listExecutions(knex: Knex, ownerId: Owners, workflowId: string, page: PageRequest): Promise<Page<ExecutionView>> {
  const base = () => ownedBy(knex('workflow_executions').where({ workflow_id: workflowId }), ownerId);
  const ordered = base()
    .select(EXECUTION_COLUMNS)
    .orderBy([
      { column: 'requested_at', order: 'desc' },
      { column: 'id', order: 'asc' },
    ]);
  const { rows, total } = await selectPage(knex, ordered, page);
  return pageOf(rows.map(toExecution), page, total);
}

/** One of the owner's executions; undefined when unknown or someone else's. */
export async function findExecution(knex: Knex, ownerId: Owners, id: string): Promise<ExecutionView | undefined> {
  const row = await ownedBy(knex('workflow_executions').where({ id }), ownerId).first();
  return row ? toExecution(row) : undefined;
}

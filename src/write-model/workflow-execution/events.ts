import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec, plainObject } from '../core/event-codec.js';

/**
 * The WorkflowExecution aggregate's events, stream
 * `workflow_execution-{executionId}`: one run of a workflow. Times are
 * ISO-8601 strings. Item data is opaque here: the platform registry's item
 * schemas (src/platforms) give it shape; this aggregate only dedups by
 * `platformContentId`.
 */

/**
 * manual: the owner ran a workflow; schedule: its job scheduler did; one_off:
 * the owner asked for a collection without a saved workflow
 * (POST /xiaohongshu/contents/collect): no workflow exists, and the run is its
 * own — its workflowId is its execution id.
 */
export const EXECUTION_TRIGGERS = ['manual', 'schedule', 'one_off'] as const;
export type ExecutionTrigger = (typeof EXECUTION_TRIGGERS)[number];

/** Why a request was turned down before it ran (API error codes, plus the platform-side causes). */
export const REJECTION_CODES = [
  'QUOTA_EXCEEDED',
  'PERMISSION_DENIED',
  'NOT_FOUND',
  'VALIDATION_ERROR',
  'WORKFLOW_PAUSED',
  'ACCOUNT_INVALID',
  'NO_PROXY_AVAILABLE',
] as const;
export type RejectionCode = (typeof REJECTION_CODES)[number];

export const PROXY_ASSIGNMENT_REASONS = ['initial', 'proxy_failed', 'retry'] as const;
export type ProxyAssignmentReason = (typeof PROXY_ASSIGNMENT_REASONS)[number];

/** Why a running execution was put on hold (it goes on with a retry, or ends with a failure or cancel). */
export const EXECUTION_PAUSE_REASONS = ['quota_exceeded', 'account_invalidated', 'no_healthy_proxy', 'rate_limited', 'captcha'] as const;
export type ExecutionPauseReason = (typeof EXECUTION_PAUSE_REASONS)[number];

export interface CollectedItem {
  /** the platform's own id for the item: the dedup key */
  platformContentId: string;
  /** the item schema's name in the registry, e.g. `xiaohongshu.note` */
  kind: string;
  data: Record<string, unknown>;
}

export interface ProxyLease {
  proxyId: string;
  leaseId: string | null;
}

export interface ExecutionRequestedData {
  executionId: string;
  workflowId: string;
  ownerId: string;
  platform: string;
  type: string;
  /** the workflow's config when the run was requested: later edits do not change a run */
  config: Record<string, unknown>;
  platformAccountId: string | null;
  trigger: ExecutionTrigger;
  /** the user for a manual run; null for a scheduled one */
  requestedBy: string | null;
  /** the workflow's proxy region when the run was requested: only proxies of that region or country carry it; absent: any */
  proxyRegion?: string;
  requestedAt: string;
}

export interface ExecutionRejectedData {
  executionId: string;
  workflowId: string;
  ownerId: string;
  reason: RejectionCode;
  details: Record<string, unknown>;
  rejectedAt: string;
}

export interface ExecutionStartedData {
  executionId: string;
  workflowId: string;
  workerId: string | null;
  /** 1 for the first start, n after the (n-1)th retry */
  attempt: number;
  startedAt: string;
}

export interface ProxyAssignedData {
  executionId: string;
  workflowId: string;
  proxyId: string;
  leaseId: string | null;
  reason: ProxyAssignmentReason;
  /** the proxy it replaces, so its lease can be released */
  previous: ProxyLease | null;
  assignedAt: string;
}

/** A batch of new items; what the read models store. Duplicates were dropped before the event. */
export interface ItemsCollectedData {
  executionId: string;
  workflowId: string;
  ownerId: string;
  platform: string;
  type: string;
  platformAccountId: string | null;
  batchId: string;
  attempt: number;
  items: CollectedItem[];
  /** where a retry resumes (opaque to everyone but the collector); null: from the start */
  cursor: string | null;
  /** items of the execution so far, this batch included */
  itemCount: number;
  collectedAt: string;
}

export interface ExecutionRetriedData {
  executionId: string;
  workflowId: string;
  /** the attempt about to run */
  attempt: number;
  reason: string;
  resumeFrom: string | null;
  retriedAt: string;
}

export interface ExecutionCompletedData {
  executionId: string;
  workflowId: string;
  ownerId: string;
  itemCount: number;
  attempt: number;
  /** the lease to release; null when none was held */
  proxy: ProxyLease | null;
  completedAt: string;
}

export interface ExecutionFailedData {
  executionId: string;
  workflowId: string;
  ownerId: string;
  reason: string;
  attempt: number;
  itemCount: number;
  proxy: ProxyLease | null;
  failedAt: string;
}

export interface ExecutionCancelledData {
  executionId: string;
  workflowId: string;
  ownerId: string;
  by: string;
  itemCount: number;
  proxy: ProxyLease | null;
  cancelledAt: string;
}

export interface ExecutionPausedData {
  executionId: string;
  workflowId: string;
  reason: ExecutionPauseReason;
  attempt: number;
  cursor: string | null;
  pausedAt: string;
}

export type WorkflowExecutionEvent =
  | DomainEvent<'ExecutionRequested', ExecutionRequestedData>
  | DomainEvent<'ExecutionRejected', ExecutionRejectedData>
  | DomainEvent<'ExecutionStarted', ExecutionStartedData>
  | DomainEvent<'ProxyAssigned', ProxyAssignedData>
  | DomainEvent<'ItemsCollected', ItemsCollectedData>
  | DomainEvent<'ExecutionRetried', ExecutionRetriedData>
  | DomainEvent<'ExecutionCompleted', ExecutionCompletedData>
  | DomainEvent<'ExecutionFailed', ExecutionFailedData>
  | DomainEvent<'ExecutionCancelled', ExecutionCancelledData>
  | DomainEvent<'ExecutionPaused', ExecutionPausedData>;

export type WorkflowExecutionEventType = WorkflowExecutionEvent['type'];

// ---------------------------------------------------------------- decoding

const json = plainObject;
const lease = z.object({ proxyId: z.string(), leaseId: z.string().nullable() });
const ref = { executionId: z.string(), workflowId: z.string() };
const attempt = z.number().int();
const item = z.object({ platformContentId: z.string(), kind: z.string(), data: json });

/** The decode boundary of this aggregate's stored events (see core/event-codec.ts). */
export const workflowExecutionEvents = eventCodec<WorkflowExecutionEvent>({
  ExecutionRequested: {
    schema: z.object({
      ...ref,
      ownerId: z.string(),
      platform: z.string(),
      type: z.string(),
      config: json,
      platformAccountId: z.string().nullable(),
      trigger: z.enum(EXECUTION_TRIGGERS),
      requestedBy: z.string().nullable(),
      proxyRegion: z.string().optional(),
      requestedAt: z.string(),
    }),
  },
  ExecutionRejected: {
    schema: z.object({ ...ref, ownerId: z.string(), reason: z.enum(REJECTION_CODES), details: json, rejectedAt: z.string() }),
  },
  ExecutionStarted: { schema: z.object({ ...ref, workerId: z.string().nullable(), attempt, startedAt: z.string() }) },
  ProxyAssigned: {
    schema: z.object({
      ...ref,
      proxyId: z.string(),
      leaseId: z.string().nullable(),
      reason: z.enum(PROXY_ASSIGNMENT_REASONS),
      previous: lease.nullable(),
      assignedAt: z.string(),
    }),
  },
  ItemsCollected: {
    schema: z.object({
      ...ref,
      ownerId: z.string(),
      platform: z.string(),
      type: z.string(),
      platformAccountId: z.string().nullable(),
      batchId: z.string(),
      attempt,
      items: z.array(item),
      cursor: z.string().nullable(),
      itemCount: z.number().int(),
      collectedAt: z.string(),
    }),
  },
  ExecutionRetried: {
    schema: z.object({ ...ref, attempt, reason: z.string(), resumeFrom: z.string().nullable(), retriedAt: z.string() }),
  },
  ExecutionCompleted: {
    schema: z.object({ ...ref, ownerId: z.string(), itemCount: z.number().int(), attempt, proxy: lease.nullable(), completedAt: z.string() }),
  },
  ExecutionFailed: {
    schema: z.object({
      ...ref,
      ownerId: z.string(),
      reason: z.string(),
      attempt,
      itemCount: z.number().int(),
      proxy: lease.nullable(),
      failedAt: z.string(),
    }),
  },
  ExecutionCancelled: {
    schema: z.object({ ...ref, ownerId: z.string(), by: z.string(), itemCount: z.number().int(), proxy: lease.nullable(), cancelledAt: z.string() }),
  },
  ExecutionPaused: {
    schema: z.object({ ...ref, reason: z.enum(EXECUTION_PAUSE_REASONS), attempt, cursor: z.string().nullable(), pausedAt: z.string() }),
  },
});

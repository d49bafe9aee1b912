import type { CollectedItem, ExecutionPauseReason, ExecutionTrigger, ProxyAssignmentReason, RejectionCode } from './events.js';

/**
 * Commands of the WorkflowExecution aggregate (stream
 * `workflow_execution-{executionId}`). Each names its execution and carries
 * `now`. RequestExecution is sent by the API (manual) or the scheduler; the
 * others by the execution process manager, the proxy process manager and the
 * collector worker — except CancelExecution, the owner's.
 */

/**
 * Record a run. The caller has read the workflow (exists, not paused or deleted, owner) and snapshots its config;
 * a one-off run (trigger one_off) has no workflow, and brings its own type and config.
 */
export interface RequestExecution {
  type: 'RequestExecution';
  executionId: string;
  /** a one-off run: its executionId */
  workflowId: string;
  ownerId: string;
  platform: string;
  workflowType: string;
  config: Record<string, unknown>;
  platformAccountId: string | null;
  trigger: ExecutionTrigger;
  /** manual runs: the user, who must be the owner; scheduled runs: null */
  requestedBy: string | null;
  /** the workflow's proxy region, if it has one */
  proxyRegion?: string | null;
  now: string;
}

/** Turn a request down before it runs (quota, paused workflow, invalid account, …). */
export interface RejectExecution {
  type: 'RejectExecution';
  executionId: string;
  reason: RejectionCode;
  details?: Record<string, unknown>;
  now: string;
}

/** A worker picked the job up (first run or after a retry). */
export interface StartExecution {
  type: 'StartExecution';
  executionId: string;
  workerId?: string | null;
  now: string;
}

export interface AssignProxy {
  type: 'AssignProxy';
  executionId: string;
  proxyId: string;
  leaseId?: string | null;
  reason: ProxyAssignmentReason;
  now: string;
}

/** A batch from the collector; `batchId` makes a re-sent batch a no-op. */
export interface CollectItems {
  type: 'CollectItems';
  executionId: string;
  batchId: string;
  items: CollectedItem[];
  cursor: string | null;
  now: string;
}

/** Run again from the last cursor; `attempt` is the attempt about to run (current + 1). */
export interface RetryExecution {
  type: 'RetryExecution';
  executionId: string;
  attempt: number;
  reason: string;
  now: string;
}

export interface CompleteExecution {
  type: 'CompleteExecution';
  executionId: string;
  now: string;
}

export interface FailExecution {
  type: 'FailExecution';
  executionId: string;
  reason: string;
  now: string;
}

export interface CancelExecution {
  type: 'CancelExecution';
  executionId: string;
  requestedBy: string;
  now: string;
}

export interface PauseExecution {
  type: 'PauseExecution';
  executionId: string;
  reason: ExecutionPauseReason;
  now: string;
}

export type WorkflowExecutionCommand =
  | RequestExecution
  | RejectExecution
  | StartExecution
  | AssignProxy
  | CollectItems
  | RetryExecution
  | CompleteExecution
  | FailExecution
  | CancelExecution
  | PauseExecution;

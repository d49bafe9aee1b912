import type { IdSet } from '../core/id-set.js';
import type { ExecutionPauseReason, ExecutionRequestedData, ProxyLease } from './events.js';

/**
 * `none` → `requested` → `rejected` | `running`. A running execution may be
 * `paused` or `retrying` (waiting for a worker to start the next attempt),
 * and ends `completed`, `failed` or `cancelled`. The four endings and
 * `rejected` are terminal.
 */
export type ExecutionStatus = 'none' | 'requested' | 'rejected' | 'running' | 'retrying' | 'paused' | 'completed' | 'failed' | 'cancelled';

export const TERMINAL_STATUSES: readonly ExecutionStatus[] = ['rejected', 'completed', 'failed', 'cancelled'];

/** What decisions need, as plain JSON (like every state: a snapshot could keep it). */
export interface WorkflowExecutionState {
  status: ExecutionStatus;
  /** what was requested; null while `none` */
  request: ExecutionRequestedData | null;
  /** 0 before the first start; the attempt running or about to run */
  attempt: number;
  workerId: string | null;
  proxy: ProxyLease | null;
  cursor: string | null;
  itemCount: number;
  /** platformContentIds already collected in this execution */
  seenItems: IdSet;
  batches: IdSet;
  pausedFor: ExecutionPauseReason | null;
}

export function initialState(): WorkflowExecutionState {
  return {
    status: 'none',
    request: null,
    attempt: 0,
    workerId: null,
    proxy: null,
    cursor: null,
    itemCount: 0,
    seenItems: {},
    batches: {},
    pausedFor: null,
  };
}

export function isTerminal(state: WorkflowExecutionState): boolean {
  return TERMINAL_STATUSES.includes(state.status);
}

import { addId, hasId } from '../core/id-set.js';
import type { Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, optionalText, requireOneOf, requireText } from '../core/validate.js';
import type {
  AssignProxy,
  CancelExecution,
  CollectItems,
  CompleteExecution,
  FailExecution,
  PauseExecution,
  RejectExecution,
  RequestExecution,
  RetryExecution,
  StartExecution,
  WorkflowExecutionCommand,
} from './commands.js';
import {
  EXECUTION_PAUSE_REASONS,
  EXECUTION_TRIGGERS,
  PROXY_ASSIGNMENT_REASONS,
  REJECTION_CODES,
  type CollectedItem,
  type ExecutionRequestedData,
  type WorkflowExecutionEvent,
  workflowExecutionEvents,
} from './events.js';
import { initialState, isTerminal, type ExecutionStatus, type WorkflowExecutionState } from './state.js';

/**
 * The WorkflowExecution aggregate: one run of a workflow, from the request
 * to its end, with its proxy, its retries and the items it collected.
 *
 * Rules (see also the specs):
 * - A request is checked (quota, account) by the execution process manager,
 *   which then either rejects it or assigns a proxy; a worker starts it.
 * - Items: a batch id seen before is a no-op; items whose platformContentId
 *   this execution already has are dropped from the event (a batch of only
 *   known items is a no-op). The cursor moves with each batch, so a retry
 *   resumes where the last recorded batch stopped.
 * - Retries carry the number of the attempt about to run: an attempt already
 *   reached is a no-op, skipping one is a CONFLICT. Paused executions go on
 *   through a retry.
 * - Terminal (rejected, completed, failed, cancelled): nothing more is
 *   accepted (CONFLICT), except the repeat of the command that ended it ([]).
 * - Cancel is the owner's (PERMISSION_DENIED for anyone else).
 * - A manual or one-off request is the owner's; a one-off one (a collection
 *   without a saved workflow) carries its own execution id as its workflowId.
 */

export function workflowExecutionStream(executionId: string): string {
  return `workflow_execution-${executionId}`;
}

type Event = WorkflowExecutionEvent;
type State = WorkflowExecutionState;

function existing(state: State, executionId: string): ExecutionRequestedData {
  if (!state.request) throw new DomainError('NOT_FOUND', `execution ${executionId} does not exist`, { executionId });
  return state.request;
}

function conflict(state: State, request: ExecutionRequestedData, action: string): DomainError {
  return new DomainError('CONFLICT', `execution ${request.executionId} is ${state.status}: cannot ${action}`, {
    executionId: request.executionId,
    status: state.status,
  });
}

function requireStatus(state: State, request: ExecutionRequestedData, allowed: readonly ExecutionStatus[], action: string): void {
  if (!allowed.includes(state.status)) throw conflict(state, request, action);
}

function requireObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${field} must be a JSON object`, { field });
  return value as Record<string, unknown>;
}

function sameRequest(a: ExecutionRequestedData, b: Omit<ExecutionRequestedData, 'requestedAt'>): boolean {
  return (
    a.workflowId === b.workflowId &&
    a.ownerId === b.ownerId &&
    a.platform === b.platform &&
    a.type === b.type &&
    a.platformAccountId === b.platformAccountId &&
    a.trigger === b.trigger &&
    a.requestedBy === b.requestedBy &&
    (a.proxyRegion ?? null) === (b.proxyRegion ?? null) &&
    JSON.stringify(a.config) === JSON.stringify(b.config)
  );
}

function request(command: RequestExecution, state: State): Event[] {
  const data = {
    executionId: requireText(command.executionId, 'executionId'),
    workflowId: requireText(command.workflowId, 'workflowId'),
    ownerId: requireText(command.ownerId, 'ownerId'),
    platform: requireText(command.platform, 'platform'),
    type: requireText(command.workflowType, 'workflowType'),
    config: requireObject(command.config, 'config'),
    platformAccountId: optionalText(command.platformAccountId, 'platformAccountId'),
    trigger: requireOneOf(command.trigger, EXECUTION_TRIGGERS, 'trigger'),
    requestedBy: command.requestedBy ?? null,
    ...(command.proxyRegion != null ? { proxyRegion: requireText(command.proxyRegion, 'proxyRegion') } : {}),
  };
  instant(command.now, 'now');
  // a one-off run is always the caller's own; a manual run may be asked by whoever the access policy lets run the owner's workflow (docs/rbac.md)
  if (data.trigger === 'one_off' && data.requestedBy !== data.ownerId) {
    throw new DomainError('PERMISSION_DENIED', `only the owner may run workflow ${data.workflowId}`, { workflowId: data.workflowId });
  }
  if (data.trigger === 'manual') requireText(data.requestedBy, 'requestedBy');
  // a one-off run has no workflow: it stands for itself, so every reader that groups by workflow sees it alone
  if (data.trigger === 'one_off' && data.workflowId !== data.executionId) {
    throw invalid('a one-off run has no workflow: its workflowId is its executionId', { field: 'workflowId' });
  }
  if (data.trigger === 'schedule' && data.requestedBy !== null) {
    throw invalid('a scheduled run has no requesting user', { field: 'requestedBy' });
  }
  if (state.request) {
    if (sameRequest(state.request, data)) return [];
    throw new DomainError('CONFLICT', `execution ${data.executionId} already exists`, { executionId: data.executionId, status: state.status });
  }
  return [{ type: 'ExecutionRequested', data: { ...data, requestedAt: command.now } }];
}

function reject(command: RejectExecution, state: State): Event[] {
  const req = existing(state, command.executionId);
  const reason = requireOneOf(command.reason, REJECTION_CODES, 'reason');
  const details = command.details === undefined ? {} : requireObject(command.details, 'details');
  instant(command.now, 'now');
  if (state.status === 'rejected') return [];
  requireStatus(state, req, ['requested'], 'reject');
  return [
    {
      type: 'ExecutionRejected',
      data: { executionId: req.executionId, workflowId: req.workflowId, ownerId: req.ownerId, reason, details, rejectedAt: command.now },
    },
  ];
}

function start(command: StartExecution, state: State): Event[] {
  const req = existing(state, command.executionId);
  const workerId = optionalText(command.workerId, 'workerId');
  instant(command.now, 'now');
  if (state.status === 'running') {
    // the same worker telling us again; another worker on a running attempt needs a retry first
    if (state.workerId === workerId) return [];
    throw new DomainError('CONFLICT', `execution ${req.executionId} is already running on another worker`, {
      executionId: req.executionId,
      status: state.status,
      workerId: state.workerId,
    });
  }
  requireStatus(state, req, ['requested', 'retrying'], 'start');
  const attempt = state.status === 'requested' ? 1 : state.attempt;
  return [{ type: 'ExecutionStarted', data: { executionId: req.executionId, workflowId: req.workflowId, workerId, attempt, startedAt: command.now } }];
}

function assignProxy(command: AssignProxy, state: State): Event[] {
  const req = existing(state, command.executionId);
  const proxyId = requireText(command.proxyId, 'proxyId');
  const leaseId = optionalText(command.leaseId, 'leaseId');
  const reason = requireOneOf(command.reason, PROXY_ASSIGNMENT_REASONS, 'reason');
  instant(command.now, 'now');
  if (isTerminal(state)) throw conflict(state, req, 'assign a proxy');
  // the proxy in place, whoever leased it: the move was recorded once (the failover manager, which assigns
  // without a lease, and a worker that leased the proxy it was given can both ask for it)
  if (state.proxy && state.proxy.proxyId === proxyId) return [];
  return [
    {
      type: 'ProxyAssigned',
      data: { executionId: req.executionId, workflowId: req.workflowId, proxyId, leaseId, reason, previous: state.proxy, assignedAt: command.now },
    },
  ];
}

function requireItems(value: unknown): CollectedItem[] {
  if (!Array.isArray(value)) throw invalid('items must be an array', { field: 'items' });
  return value.map((item: unknown, i) => {
    const it = (item ?? {}) as Partial<CollectedItem>;
    return {
      platformContentId: requireText(it.platformContentId, `items[${i}].platformContentId`),
      kind: requireText(it.kind, `items[${i}].kind`),
      data: requireObject(it.data, `items[${i}].data`),
    };
  });
}

function collect(command: CollectItems, state: State): Event[] {
  const req = existing(state, command.executionId);
  const batchId = requireText(command.batchId, 'batchId');
  const items = requireItems(command.items);
  const cursor = command.cursor === null ? null : requireText(command.cursor, 'cursor');
  instant(command.now, 'now');
  if (hasId(state.batches, batchId)) return [];
  // late batches of an attempt being wound down (retrying, paused) still count: the data is real
  requireStatus(state, req, ['running', 'retrying', 'paused'], 'collect items');

  // drops items collected earlier in this execution, and repeats within the batch (the first one stays)
  const inBatch = new Set<string>();
  const fresh: CollectedItem[] = [];
  for (const item of items) {
    if (hasId(state.seenItems, item.platformContentId) || inBatch.has(item.platformContentId)) continue;
    inBatch.add(item.platformContentId);
    fresh.push(item);
  }
  if (fresh.length === 0) return [];
  return [
    {
      type: 'ItemsCollected',
      data: {
        executionId: req.executionId,
        workflowId: req.workflowId,
        ownerId: req.ownerId,
        platform: req.platform,
        type: req.type,
        platformAccountId: req.platformAccountId,
        batchId,
        attempt: state.attempt,
        items: fresh,
        cursor,
        itemCount: state.itemCount + fresh.length,
        collectedAt: command.now,
      },
    },
  ];
}

function retry(command: RetryExecution, state: State): Event[] {
  const req = existing(state, command.executionId);
  const attempt = command.attempt;
  if (!Number.isSafeInteger(attempt) || attempt < 1) throw invalid('attempt must be a positive whole number', { field: 'attempt', got: attempt });
  const reason = requireText(command.reason, 'reason');
  instant(command.now, 'now');
  if (isTerminal(state)) throw conflict(state, req, 'retry');
  requireStatus(state, req, ['running', 'retrying', 'paused'], 'retry');
  if (attempt <= state.attempt) return [];
  if (attempt !== state.attempt + 1) {
    throw new DomainError('CONFLICT', `execution ${req.executionId} is at attempt ${state.attempt}; the next is ${state.attempt + 1}`, {
      executionId: req.executionId,
      attempt: state.attempt,
      got: attempt,
    });
  }
  return [
    {
      type: 'ExecutionRetried',
      data: { executionId: req.executionId, workflowId: req.workflowId, attempt, reason, resumeFrom: state.cursor, retriedAt: command.now },
    },
  ];
}

function complete(command: CompleteExecution, state: State): Event[] {
  const req = existing(state, command.executionId);
  instant(command.now, 'now');
  if (state.status === 'completed') return [];
  requireStatus(state, req, ['running'], 'complete');
  return [
    {
      type: 'ExecutionCompleted',
      data: {
        executionId: req.executionId,
        workflowId: req.workflowId,
        ownerId: req.ownerId,
        itemCount: state.itemCount,
        attempt: state.attempt,
        proxy: state.proxy,
        completedAt: command.now,
      },
    },
  ];
}

function fail(command: FailExecution, state: State): Event[] {
  const req = existing(state, command.executionId);
  const reason = requireText(command.reason, 'reason');
  instant(command.now, 'now');
  if (state.status === 'failed') return [];
  // a request that never started is rejected, not failed
  requireStatus(state, req, ['running', 'retrying', 'paused'], 'fail');
  return [
    {
      type: 'ExecutionFailed',
      data: {
        executionId: req.executionId,
        workflowId: req.workflowId,
        ownerId: req.ownerId,
        reason,
        attempt: state.attempt,
        itemCount: state.itemCount,
        proxy: state.proxy,
        failedAt: command.now,
      },
    },
  ];
}

function cancel(command: CancelExecution, state: State): Event[] {
  const req = existing(state, command.executionId);
  // who may cancel whose execution is the access policy's (the application checks the data scope); someone must have asked
  requireText(command.requestedBy, 'requestedBy');
  instant(command.now, 'now');
  if (state.status === 'cancelled') return [];
  if (isTerminal(state)) throw conflict(state, req, 'cancel');
  return [
    {
      type: 'ExecutionCancelled',
      data: {
        executionId: req.executionId,
        workflowId: req.workflowId,
        ownerId: req.ownerId,
        by: command.requestedBy,
        itemCount: state.itemCount,
        proxy: state.proxy,
        cancelledAt: command.now,
      },
    },
  ];
}

function pause(command: PauseExecution, state: State): Event[] {
  const req = existing(state, command.executionId);
  const reason = requireOneOf(command.reason, EXECUTION_PAUSE_REASONS, 'reason');
  instant(command.now, 'now');
  if (state.status === 'paused' && state.pausedFor === reason) return [];
  requireStatus(state, req, ['running', 'retrying', 'paused'], 'pause');
  return [
    {
      type: 'ExecutionPaused',
      data: { executionId: req.executionId, workflowId: req.workflowId, reason, attempt: state.attempt, cursor: state.cursor, pausedAt: command.now },
    },
  ];
}

export const workflowExecutionDecider: Decider<WorkflowExecutionState, WorkflowExecutionCommand, WorkflowExecutionEvent> = {
  initialState,
  decide(command, state) {
    switch (command.type) {
      case 'RequestExecution':
        return request(command, state);
      case 'RejectExecution':
        return reject(command, state);
      case 'StartExecution':
        return start(command, state);
      case 'AssignProxy':
        return assignProxy(command, state);
      case 'CollectItems':
        return collect(command, state);
      case 'RetryExecution':
        return retry(command, state);
      case 'CompleteExecution':
        return complete(command, state);
      case 'FailExecution':
        return fail(command, state);
      case 'CancelExecution':
        return cancel(command, state);
      case 'PauseExecution':
        return pause(command, state);
    }
  },
  evolve,
};

/**
 * Folds in place (the fold owns its state): O(1) per event, O(items) for a
 * batch; the sets grow, they are never copied. Objects taken from events are
 * replaced, never changed.
 */
function evolve(state: State, event: Event): State {
  switch (event.type) {
    case 'ExecutionRequested':
      state.status = 'requested';
      state.request = event.data;
      return state;
    case 'ExecutionRejected':
      state.status = 'rejected';
      return state;
    case 'ExecutionStarted':
      state.status = 'running';
      state.attempt = event.data.attempt;
      state.workerId = event.data.workerId;
      state.pausedFor = null;
      return state;
    case 'ProxyAssigned':
      state.proxy = { proxyId: event.data.proxyId, leaseId: event.data.leaseId };
      return state;
    case 'ItemsCollected':
      for (const item of event.data.items) addId(state.seenItems, item.platformContentId);
      addId(state.batches, event.data.batchId);
      state.itemCount = event.data.itemCount;
      state.cursor = event.data.cursor;
      return state;
    case 'ExecutionRetried':
      state.status = 'retrying';
      state.attempt = event.data.attempt;
      state.workerId = null;
      state.pausedFor = null;
      return state;
    case 'ExecutionCompleted':
      state.status = 'completed';
      return state;
    case 'ExecutionFailed':
      state.status = 'failed';
      return state;
    case 'ExecutionCancelled':
      state.status = 'cancelled';
      return state;
    case 'ExecutionPaused':
      state.status = 'paused';
      state.pausedFor = event.data.reason;
      return state;
  }
}

/** The binding the command handler uses: stream `workflow_execution-{executionId}`, one run, short-lived (no snapshots). */
export const workflowExecutionAggregate: Aggregate<WorkflowExecutionState, WorkflowExecutionCommand, WorkflowExecutionEvent> = {
  name: 'workflow_execution',
  streamName: workflowExecutionStream,
  decider: workflowExecutionDecider,
  events: workflowExecutionEvents,
};

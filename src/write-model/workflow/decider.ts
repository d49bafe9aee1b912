import { SNAPSHOT_EVERY, type Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, optionalText, requireOneOf, requireText } from '../core/validate.js';
import type { CreateWorkflow, DeleteWorkflow, PauseWorkflow, ResumeWorkflow, ScheduleWorkflow, UpdateWorkflow, WorkflowCommand } from './commands.js';
import {
  PAUSE_REASONS,
  SCHEDULE_INTERVALS,
  type PauseReason,
  type WorkflowConfig,
  type WorkflowCreatedData,
  type WorkflowEvent,
  type WorkflowSchedule,
  type WorkflowUpdatedData,
  workflowEvents,
} from './events.js';
import { initialState, type WorkflowDefinition, type WorkflowState } from './state.js';
import { characterCount } from '../core/characters.js';

/**
 * The WorkflowDefinition aggregate: what a user wants collected, from which
 * platform and account, and when.
 *
 * Rules (see also the specs):
 * - Owner only: every user command's `requestedBy` must be the owner
 *   (PERMISSION_DENIED). Ownership is checked before the deleted state, so a
 *   stranger learns nothing about a deleted workflow.
 * - The config is opaque: the platform registry validated it. Only its shape
 *   (a JSON object) is checked here; the cron expression only for its 5 fields.
 * - The schedule is set only by WorkflowScheduled (also on create and update).
 * - Pauses are kept per reason. A process manager pauses for a system reason
 *   and lifts only that reason; the owner's resume lifts every reason (the
 *   owner decides: e.g. after an upgrade they need not wait for the quota PM).
 *   Resuming an active workflow is already satisfied: [].
 * - Deleted is final: everything is a CONFLICT except a repeated delete ([]).
 */

export function workflowStream(workflowId: string): string {
  return `workflow-${workflowId}`;
}

type Event = WorkflowEvent;

const NAME_MAX = 200; // workflow_definitions.workflow_name VARCHAR(200)
const CRON_FIELD = /^[0-9A-Za-z*/,?#-]+$/;

function requireSchedule(value: unknown): WorkflowSchedule | null {
  if (value === null) return null;
  const schedule = value as Partial<Record<string, unknown>> | undefined;
  if (schedule?.kind === 'cron') {
    const fields = typeof schedule.expression === 'string' ? schedule.expression.trim().split(/\s+/) : [];
    if (fields.length !== 5 || !fields.every((f) => CRON_FIELD.test(f))) {
      throw invalid('schedule.expression must be a cron expression of 5 fields', { field: 'schedule.expression', got: schedule.expression });
    }
    return { kind: 'cron', expression: fields.join(' ') };
  }
  if (schedule?.kind === 'interval') {
    return { kind: 'interval', every: requireOneOf(schedule.every, SCHEDULE_INTERVALS, 'schedule.every') };
  }
  throw invalid('schedule must be a cron or an interval schedule, or null', { field: 'schedule', got: value });
}

function requireName(value: unknown): string {
  const name = requireText(value, 'name').trim();
  if (characterCount(name) > NAME_MAX) throw invalid(`name must be at most ${NAME_MAX} characters`, { field: 'name', max: NAME_MAX });
  return name;
}

function requireConfig(value: unknown): WorkflowConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('config must be a JSON object', { field: 'config' });
  }
  return value as WorkflowConfig;
}

/** JSON equality with keys in any order (configs come from different requests). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const sameJson = (a: unknown, b: unknown) => canonical(a) === canonical(b);

function existing(state: WorkflowState, workflowId: string): WorkflowDefinition {
  if (!state.workflow) throw new DomainError('NOT_FOUND', `workflow ${workflowId} does not exist`, { workflowId });
  return state.workflow;
}

/**
 * Someone must have asked. Who may change whose workflow is the access
 * policy's (an organization admin changes a member's: docs/rbac.md),
 * checked by the application against the caller's data scope before the
 * command is sent; the decider records who it was.
 */
function checkOwner(workflow: WorkflowDefinition, requestedBy: unknown): void {
  if (typeof requestedBy !== 'string' || requestedBy === '') {
    throw new DomainError('PERMISSION_DENIED', `a user must ask to change workflow ${workflow.workflowId}`, { workflowId: workflow.workflowId });
  }
}

function notDeleted(state: WorkflowState, workflow: WorkflowDefinition): void {
  if (state.status === 'deleted') {
    throw new DomainError('CONFLICT', `workflow ${workflow.workflowId} was deleted`, {
      workflowId: workflow.workflowId,
      status: state.status,
    });
  }
}

function scheduled(state: WorkflowState, workflow: WorkflowDefinition, schedule: WorkflowSchedule | null, now: string): Event {
  return {
    type: 'WorkflowScheduled',
    data: {
      workflowId: workflow.workflowId,
      ownerId: workflow.ownerId,
      schedule,
      previous: state.schedule,
      status: state.status === 'paused' ? 'paused' : 'active',
      scheduledAt: now,
    },
  };
}

/** A proxy region: a region or country code as proxies are registered with (letters, digits, _ -), or null for any. */
function optionalRegion(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || !/^[\p{L}\p{N}][\p{L}\p{N}_-]{0,63}$/u.test(value)) {
    throw invalid('proxyRegion must be a region or country code (letters, digits, _ or -, at most 64)', { field: 'proxyRegion', got: value });
  }
  return value;
}

function create(command: CreateWorkflow, state: WorkflowState): Event[] {
  const workflowId = requireText(command.workflowId, 'workflowId');
  const ownerId = requireText(command.ownerId, 'ownerId');
  const platform = requireText(command.platform, 'platform');
  const type = requireText(command.workflowType, 'workflowType');
  if (!type.startsWith(`${platform}.`)) {
    throw invalid(`workflowType must be one of ${platform}'s types (${platform}.<name>)`, { field: 'workflowType', got: type });
  }
  const name = requireName(command.name);
  const config = requireConfig(command.config);
  const platformAccountId = optionalText(command.platformAccountId, 'platformAccountId');
  const proxyRegion = optionalRegion(command.proxyRegion);
  const schedule = requireSchedule(command.schedule);
  instant(command.now, 'now');

  if (state.createdWith) {
    const first = state.createdWith;
    const repeat =
      state.status !== 'deleted' &&
      first.ownerId === ownerId &&
      first.platform === platform &&
      first.type === type &&
      first.name === name &&
      first.platformAccountId === platformAccountId &&
      (first.proxyRegion ?? null) === proxyRegion &&
      sameJson(first.config, config);
    // a retried request: its schedule may since have been changed by the owner, so it is not compared
    if (repeat) return [];
    throw new DomainError('CONFLICT', `workflow ${workflowId} already exists`, { workflowId, status: state.status });
  }

  const data: WorkflowCreatedData = {
    workflowId,
    ownerId,
    platform,
    type,
    name,
    config,
    platformAccountId,
    ...(proxyRegion !== null ? { proxyRegion } : {}),
    createdAt: command.now,
  };
  const events: Event[] = [{ type: 'WorkflowCreated', data }];
  if (schedule) {
    const workflow: WorkflowDefinition = { ...data };
    events.push(scheduled({ ...state, status: 'active' }, workflow, schedule, command.now));
  }
  return events;
}

function update(command: UpdateWorkflow, state: WorkflowState): Event[] {
  const workflow = existing(state, command.workflowId);
  checkOwner(workflow, command.requestedBy);
  notDeleted(state, workflow);
  instant(command.now, 'now');
  const name = command.name === undefined ? workflow.name : requireName(command.name);
  const config = command.config === undefined ? workflow.config : requireConfig(command.config);
  const platformAccountId = command.platformAccountId === undefined ? workflow.platformAccountId : optionalText(command.platformAccountId, 'platformAccountId');
  const schedule = command.schedule === undefined ? state.schedule : requireSchedule(command.schedule);
  const region = workflow.proxyRegion ?? null;
  const proxyRegion = command.proxyRegion === undefined ? region : optionalRegion(command.proxyRegion);

  const changed: WorkflowUpdatedData['changed'] = [];
  if (name !== workflow.name) changed.push('name');
  if (!sameJson(config, workflow.config)) changed.push('config');
  if (platformAccountId !== workflow.platformAccountId) changed.push('platformAccountId');
  if (proxyRegion !== region) changed.push('proxyRegion');

  const events: Event[] = [];
  if (changed.length > 0) {
    const data: WorkflowUpdatedData = {
      workflowId: workflow.workflowId,
      ownerId: workflow.ownerId,
      name,
      config,
      platformAccountId,
      changed,
      updatedAt: command.now,
    };
    if (proxyRegion !== null || changed.includes('proxyRegion')) data.proxyRegion = proxyRegion;
    events.push({ type: 'WorkflowUpdated', data });
  }
  if (!sameJson(schedule, state.schedule)) events.push(scheduled(state, workflow, schedule, command.now));
  return events;
}

function schedule(command: ScheduleWorkflow, state: WorkflowState): Event[] {
  const workflow = existing(state, command.workflowId);
  checkOwner(workflow, command.requestedBy);
  notDeleted(state, workflow);
  const wanted = requireSchedule(command.schedule);
  instant(command.now, 'now');
  if (sameJson(wanted, state.schedule)) return [];
  return [scheduled(state, workflow, wanted, command.now)];
}

function pause(command: PauseWorkflow, state: WorkflowState): Event[] {
  const workflow = existing(state, command.workflowId);
  const reason = requireOneOf(command.reason, PAUSE_REASONS, 'reason');
  if (reason === 'user') checkOwner(workflow, command.requestedBy);
  else if (command.requestedBy !== null) {
    throw invalid(`only the system pauses a workflow for ${reason}`, { field: 'requestedBy', reason });
  }
  notDeleted(state, workflow);
  const until = command.until === undefined || command.until === null ? null : command.until;
  if (until !== null) instant(until, 'until');
  instant(command.now, 'now');

  const earlier = state.pauses.find((p) => p.reason === reason);
  // the same pause again; a new `until` (e.g. the next quota reset) is recorded
  if (earlier && earlier.until === until) return [];
  const pausedFor = earlier ? state.pauses.map((p) => p.reason) : [...state.pauses.map((p) => p.reason), reason];
  return [
    {
      type: 'WorkflowPaused',
      data: {
        workflowId: workflow.workflowId,
        ownerId: workflow.ownerId,
        reason,
        until,
        by: command.requestedBy,
        pausedFor,
        pausedAt: command.now,
      },
    },
  ];
}

function resume(command: ResumeWorkflow, state: WorkflowState): Event[] {
  const workflow = existing(state, command.workflowId);
  let lifted: PauseReason[];
  if (command.requestedBy === null) {
    const reason = requireOneOf(command.reason, ['quota_exceeded', 'account_invalidated'] as const, 'reason');
    notDeleted(state, workflow);
    lifted = state.pauses.some((p) => p.reason === reason) ? [reason] : [];
  } else {
    checkOwner(workflow, command.requestedBy);
    notDeleted(state, workflow);
    lifted = state.pauses.map((p) => p.reason);
  }
  instant(command.now, 'now');
  // not paused (for that reason): already satisfied
  if (lifted.length === 0) return [];
  const pausedFor = state.pauses.map((p) => p.reason).filter((r) => !lifted.includes(r));
  return [
    {
      type: 'WorkflowResumed',
      data: {
        workflowId: workflow.workflowId,
        ownerId: workflow.ownerId,
        lifted,
        pausedFor,
        status: pausedFor.length === 0 ? 'active' : 'paused',
        by: command.requestedBy,
        resumedAt: command.now,
      },
    },
  ];
}

function remove(command: DeleteWorkflow, state: WorkflowState): Event[] {
  const workflow = existing(state, command.workflowId);
  checkOwner(workflow, command.requestedBy);
  instant(command.now, 'now');
  if (state.status === 'deleted') return [];
  return [
    {
      type: 'WorkflowDeleted',
      data: {
        workflowId: workflow.workflowId,
        ownerId: workflow.ownerId,
        platform: workflow.platform,
        type: workflow.type,
        schedule: state.schedule,
        deletedAt: command.now,
      },
    },
  ];
}

export const workflowDecider: Decider<WorkflowState, WorkflowCommand, WorkflowEvent> = {
  initialState,
  decide(command, state) {
    switch (command.type) {
      case 'CreateWorkflow':
        return create(command, state);
      case 'UpdateWorkflow':
        return update(command, state);
      case 'ScheduleWorkflow':
        return schedule(command, state);
      case 'PauseWorkflow':
        return pause(command, state);
      case 'ResumeWorkflow':
        return resume(command, state);
      case 'DeleteWorkflow':
        return remove(command, state);
    }
  },
  evolve,
};

/**
 * Folds in place (the fold owns its state): O(1) per event, the pauses are
 * at most one per reason. Objects taken from events are replaced, never
 * changed, so the events stay as recorded.
 */
function evolve(state: WorkflowState, event: WorkflowEvent): WorkflowState {
  switch (event.type) {
    case 'WorkflowCreated':
      state.status = 'active';
      state.workflow = { ...event.data };
      state.createdWith = event.data;
      return state;
    case 'WorkflowUpdated': {
      const { name, config, platformAccountId } = event.data;
      // state.workflow is this fold's own copy (see WorkflowCreated); an update without proxyRegion leaves none
      if (state.workflow) {
        Object.assign(state.workflow, { name, config, platformAccountId });
        if (typeof event.data.proxyRegion === 'string') state.workflow.proxyRegion = event.data.proxyRegion;
        else delete state.workflow.proxyRegion;
      }
      return state;
    }
    case 'WorkflowScheduled':
      state.schedule = event.data.schedule;
      return state;
    case 'WorkflowPaused': {
      const { reason, until, by, pausedAt } = event.data;
      const record = { reason, until, by, pausedAt };
      // a new pause for a reason already there replaces it in place (pausedFor keeps its order)
      const at = state.pauses.findIndex((p) => p.reason === reason);
      if (at >= 0) state.pauses[at] = record;
      else state.pauses.push(record);
      state.status = 'paused';
      return state;
    }
    case 'WorkflowResumed': {
      const lifted: readonly string[] = event.data.lifted;
      for (let i = state.pauses.length - 1; i >= 0; i--) if (lifted.includes(state.pauses[i]!.reason)) state.pauses.splice(i, 1);
      state.status = state.pauses.length === 0 ? 'active' : 'paused';
      return state;
    }
    case 'WorkflowDeleted':
      state.status = 'deleted';
      state.deletedAt = event.data.deletedAt;
      return state;
  }
}

/**
 * The binding the command handler uses: stream `workflow-{workflowId}`.
 * The stream stays long (updates, schedules, pauses and resumes over the
 * workflow's life, quota pauses up to a pair a day), so it is snapshotted;
 * executions and ticks never write to it.
 */
export const workflowAggregate: Aggregate<WorkflowState, WorkflowCommand, WorkflowEvent> = {
  name: 'workflow',
  streamName: workflowStream,
  decider: workflowDecider,
  events: workflowEvents,
  snapshot: { version: 1, every: SNAPSHOT_EVERY.lifecycle },
};

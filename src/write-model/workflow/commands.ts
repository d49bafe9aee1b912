import type { PauseReason, WorkflowConfig, WorkflowSchedule } from './events.js';

/**
 * Commands of the WorkflowDefinition aggregate (stream `workflow-{workflowId}`).
 * User commands carry `requestedBy` (the caller's user id) and are refused
 * with PERMISSION_DENIED unless it is the owner. Pause and Resume may also
 * come from a process manager: then `requestedBy` is null.
 */

/**
 * Define a workflow. `config` was validated by the platform registry
 * (src/platforms) against the type's schema and the owner's plan; here it is
 * an opaque JSON object. A non-null `schedule` is recorded as a
 * WorkflowScheduled right after WorkflowCreated.
 */
export interface CreateWorkflow {
  type: 'CreateWorkflow';
  workflowId: string;
  ownerId: string;
  platform: string;
  workflowType: string;
  name: string;
  config: WorkflowConfig;
  platformAccountId: string | null;
  schedule: WorkflowSchedule | null;
  /** the region (or country code) its runs' proxies must be in; absent or null: any */
  proxyRegion?: string | null;
  now: string;
}

/** Change some of name / config / account / schedule; an absent field stays as it is. */
export interface UpdateWorkflow {
  type: 'UpdateWorkflow';
  workflowId: string;
  requestedBy: string;
  name?: string;
  config?: WorkflowConfig;
  /** null: no account */
  platformAccountId?: string | null;
  /** null: no schedule */
  schedule?: WorkflowSchedule | null;
  /** null: proxies of any region */
  proxyRegion?: string | null;
  now: string;
}

/** Set (or with null, remove) the schedule. */
export interface ScheduleWorkflow {
  type: 'ScheduleWorkflow';
  workflowId: string;
  requestedBy: string;
  schedule: WorkflowSchedule | null;
  now: string;
}

/**
 * Pause for a reason. `reason: 'user'` needs the owner as `requestedBy`; the
 * system reasons need `requestedBy: null` (a user cannot claim them).
 */
export interface PauseWorkflow {
  type: 'PauseWorkflow';
  workflowId: string;
  reason: PauseReason;
  requestedBy: string | null;
  until?: string | null;
  now: string;
}

/**
 * Lift a pause. The owner (`requestedBy` = owner) lifts every reason. A
 * process manager (`requestedBy: null`) lifts only the reason it names, which
 * must be a system reason: it never resumes what the user or another
 * manager paused.
 */
export interface ResumeWorkflow {
  type: 'ResumeWorkflow';
  workflowId: string;
  requestedBy: string | null;
  /** required when requestedBy is null */
  reason?: Exclude<PauseReason, 'user'>;
  now: string;
}

export interface DeleteWorkflow {
  type: 'DeleteWorkflow';
  workflowId: string;
  requestedBy: string;
  now: string;
}

export type WorkflowCommand = CreateWorkflow | UpdateWorkflow | ScheduleWorkflow | PauseWorkflow | ResumeWorkflow | DeleteWorkflow;

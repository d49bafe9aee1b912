import type { PauseReason, WorkflowCreatedData, WorkflowSchedule } from './events.js';

/** `none`: nothing in the stream. `deleted` is final. */
export type WorkflowStatus = 'none' | 'active' | 'paused' | 'deleted';

/** What a workflow is, as created (then changed by WorkflowUpdated). */
export type WorkflowDefinition = WorkflowCreatedData;

export interface PauseRecord {
  reason: PauseReason;
  until: string | null;
  by: string | null;
  pausedAt: string;
}

export interface WorkflowState {
  status: WorkflowStatus;
  /** the definition in force; null while `none` */
  workflow: WorkflowDefinition | null;
  /** what WorkflowCreated recorded, to recognise a repeated create after updates */
  createdWith: WorkflowCreatedData | null;
  schedule: WorkflowSchedule | null;
  /** one record per reason; the workflow is paused while this is not empty */
  pauses: PauseRecord[];
  deletedAt: string | null;
}

export function initialState(): WorkflowState {
  return { status: 'none', workflow: null, createdWith: null, schedule: null, pauses: [], deletedAt: null };
}

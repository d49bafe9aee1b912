import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec, plainObject } from '../core/event-codec.js';

/**
 * The WorkflowDefinition aggregate's events, stream
 * `workflow-{workflowId}`. Times are ISO-8601 strings.
 *
 * `platform` and `type` are kept as plain strings on purpose: the platform
 * registry (src/platforms) owns the vocabulary and has validated the config
 * before a command is built, so a new platform needs no change here.
 */

/** Slowest first; the same words as the plan catalogue's data_collection_frequency. */
export const SCHEDULE_INTERVALS = ['daily', 'hourly', 'realtime'] as const;
export type ScheduleInterval = (typeof SCHEDULE_INTERVALS)[number];

export type WorkflowSchedule = { kind: 'cron'; expression: string } | { kind: 'interval'; every: ScheduleInterval };

/**
 * Why a workflow is paused. `user`: its owner paused it. The others are set by
 * process managers: the service's quota ran out, or the platform account the
 * workflow uses was invalidated.
 */
export const PAUSE_REASONS = ['user', 'quota_exceeded', 'account_invalidated'] as const;
export type PauseReason = (typeof PAUSE_REASONS)[number];

/** A JSON object, opaque to this aggregate (the registry's config schema gives it meaning). */
export type WorkflowConfig = Record<string, unknown>;

export interface WorkflowCreatedData {
  workflowId: string;
  ownerId: string;
  platform: string;
  /** `<platform>.<name>`, e.g. `xiaohongshu.notes` */
  type: string;
  name: string;
  config: WorkflowConfig;
  platformAccountId: string | null;
  /** the region (or country code) its runs' proxies must be in; absent: any */
  proxyRegion?: string;
  createdAt: string;
}

/** Name, config or account changed; carries the values after the change and which of them changed. */
export interface WorkflowUpdatedData {
  workflowId: string;
  ownerId: string;
  name: string;
  config: WorkflowConfig;
  platformAccountId: string | null;
  /** present when the workflow has a proxy region or it changed (null: cleared) */
  proxyRegion?: string | null;
  changed: ('name' | 'config' | 'platformAccountId' | 'proxyRegion')[];
  updatedAt: string;
}

/**
 * The schedule was set, changed or removed (`schedule: null`). The only event
 * that sets a schedule, so the scheduler process manager follows one event.
 * `status` is the workflow's status at that moment: a paused workflow keeps
 * its schedule but its job scheduler must not run.
 */
export interface WorkflowScheduledData {
  workflowId: string;
  ownerId: string;
  schedule: WorkflowSchedule | null;
  previous: WorkflowSchedule | null;
  status: 'active' | 'paused';
  scheduledAt: string;
}

export interface WorkflowPausedData {
  workflowId: string;
  ownerId: string;
  reason: PauseReason;
  /** when a system pause is expected to end (e.g. the quota's reset); null: until resumed */
  until: string | null;
  /** the user who paused; null for a process manager */
  by: string | null;
  /** every reason the workflow is paused for after this event */
  pausedFor: PauseReason[];
  pausedAt: string;
}

/**
 * One or more pause reasons were lifted. `status` says whether the workflow
 * runs again (`active`) or is still paused for the reasons in `pausedFor`.
 */
export interface WorkflowResumedData {
  workflowId: string;
  ownerId: string;
  lifted: PauseReason[];
  pausedFor: PauseReason[];
  status: 'active' | 'paused';
  by: string | null;
  resumedAt: string;
}

/** Final: the stream accepts nothing after it (a repeated delete is a no-op). */
export interface WorkflowDeletedData {
  workflowId: string;
  ownerId: string;
  platform: string;
  type: string;
  /** the schedule it had, so the scheduler knows a job scheduler must go */
  schedule: WorkflowSchedule | null;
  deletedAt: string;
}

export type WorkflowEvent =
  | DomainEvent<'WorkflowCreated', WorkflowCreatedData>
  | DomainEvent<'WorkflowUpdated', WorkflowUpdatedData>
  | DomainEvent<'WorkflowScheduled', WorkflowScheduledData>
  | DomainEvent<'WorkflowPaused', WorkflowPausedData>
  | DomainEvent<'WorkflowResumed', WorkflowResumedData>
  | DomainEvent<'WorkflowDeleted', WorkflowDeletedData>;

export type WorkflowEventType = WorkflowEvent['type'];

// ---------------------------------------------------------------- decoding

const config = plainObject;
const schedule = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('cron'), expression: z.string() }),
  z.object({ kind: z.literal('interval'), every: z.enum(SCHEDULE_INTERVALS) }),
]);
const reason = z.enum(PAUSE_REASONS);
const ref = { workflowId: z.string(), ownerId: z.string() };

/** The decode boundary of this aggregate's stored events (see core/event-codec.ts). */
export const workflowEvents = eventCodec<WorkflowEvent>({
  WorkflowCreated: {
    schema: z.object({
      ...ref,
      platform: z.string(),
      type: z.string(),
      name: z.string(),
      config,
      platformAccountId: z.string().nullable(),
      proxyRegion: z.string().optional(),
      createdAt: z.string(),
    }),
  },
  WorkflowUpdated: {
    schema: z.object({
      ...ref,
      name: z.string(),
      config,
      platformAccountId: z.string().nullable(),
      proxyRegion: z.string().nullable().optional(),
      changed: z.array(z.enum(['name', 'config', 'platformAccountId', 'proxyRegion'])),
      updatedAt: z.string(),
    }),
  },
  WorkflowScheduled: {
    schema: z.object({
      ...ref,
      schedule: schedule.nullable(),
      previous: schedule.nullable(),
      status: z.enum(['active', 'paused']),
      scheduledAt: z.string(),
    }),
  },
  WorkflowPaused: {
    schema: z.object({
      ...ref,
      reason,
      until: z.string().nullable(),
      by: z.string().nullable(),
      pausedFor: z.array(reason),
      pausedAt: z.string(),
    }),
  },
  WorkflowResumed: {
    schema: z.object({
      ...ref,
      lifted: z.array(reason),
      pausedFor: z.array(reason),
      status: z.enum(['active', 'paused']),
      by: z.string().nullable(),
      resumedAt: z.string(),
    }),
  },
  WorkflowDeleted: {
    schema: z.object({ ...ref, platform: z.string(), type: z.string(), schedule: schedule.nullable(), deletedAt: z.string() }),
  },
});

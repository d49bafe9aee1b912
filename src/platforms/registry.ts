import type { z } from 'zod';
import {
  allowsCollectionFrequency,
  type AnyPlan,
  type CollectionFrequency,
  type Feature,
  type FeatureLimit,
  type Plan,
  type Service,
} from '../write-model/subscription/plans.js';
import type { WorkflowSchedule } from '../write-model/workflow/events.js';
import { qidian } from './qidian/index.js';
import { xiaohongshu } from './xiaohongshu/index.js';

/**
 * The platforms the product collects from. Each is one folder exporting a
 * PlatformModule; adding a platform is that folder plus one line in
 * PLATFORM_MODULES (and its service's plans in the subscription catalogue).
 * See README.md.
 */

/** What one run of a workflow needs, for the process managers and the API to explain. */
export interface RunNeeds {
  /** the plan feature the run is measured against (= the type's quotaFeature) */
  feature: Feature;
  /** consume: a daily counter used per run; hold: resources held while the workflow exists; access: a list the run reads */
  use: 'consume' | 'hold' | 'access';
  /** units consumed or held, or entries of the list read */
  amount: number;
  /** the plan's limit on a counted feature; null for a list feature */
  limit: FeatureLimit | null;
  /** platform requests one run is expected to make (job timeouts, pacing) */
  requests: number;
  /** the run needs a connected platform account (cookies) */
  needsAccount: boolean;
}

export type RefusalReason =
  | 'unknown_type'
  | 'wrong_service'
  | 'invalid_config'
  | 'not_in_plan'
  | 'over_limit'
  | 'ranking_not_in_plan'
  | 'frequency_not_in_plan';

/** Why a plan does not allow a workflow; `feature` is null when no plan feature is at stake. */
export interface Refusal {
  feature: Feature | null;
  reason: RefusalReason;
  message: string;
  details?: Record<string, unknown>;
}

export interface WorkflowTypeSpec<Config = unknown, S extends Service = Service> {
  description: string;
  configSchema: z.ZodType<Config>;
  /** the plan feature a run consumes (daily counter), holds (resource limit) or checks (list) */
  quotaFeature: Feature;
  /** the item kinds (keys of the platform's itemSchemas) a run produces */
  itemKinds: readonly string[];
  defaultSchedule: WorkflowSchedule;
  limits(plan: Plan<S>, config: Config): RunNeeds;
  /** the type's own plan rules; the registry adds the service and frequency checks */
  check(plan: Plan<S>, config: Config): Refusal[];
  /**
   * Kept by the platform, not the user (qidian.watchlist): a process manager
   * creates and schedules it; POST /workflows refuses the type, PUT and
   * DELETE refuse such a workflow. Pause, resume and execute stay the owner's.
   */
  managed?: boolean;
}

export interface ItemSpec<Item = unknown> {
  schema: z.ZodType<Item>;
  /** the stable dedup key (CollectedItem.platformContentId) */
  key(item: Item): string;
}

export interface PlatformModule<Id extends string = string, S extends Service = Service> {
  id: Id;
  /** the subscription service runs bill to */
  service: S;
  displayName: string;
  /** what a user gives when connecting an account (clear text at the API edge; sealed before any command) */
  credentialsSchema: z.ZodType;
  /** keyed by the full type name, `<platform id>.<name>` */
  workflowTypes: Record<string, WorkflowTypeSpec<unknown, S>>;
  /** keyed by item kind, `<platform id>.<name>` */
  itemSchemas: Record<string, ItemSpec>;
}

// one line per platform
export const PLATFORM_MODULES = [xiaohongshu, qidian] as const;

export type PlatformId = (typeof PLATFORM_MODULES)[number]['id'];
export const PLATFORM_IDS: readonly PlatformId[] = PLATFORM_MODULES.map((m) => m.id);

const modules: readonly PlatformModule[] = PLATFORM_MODULES;

export function platformModule(id: string): PlatformModule | undefined {
  return modules.find((m) => m.id === id);
}

export function isPlatformId(value: unknown): value is PlatformId {
  return typeof value === 'string' && platformModule(value) !== undefined;
}

export interface ResolvedWorkflowType {
  platform: PlatformModule;
  type: string;
  spec: WorkflowTypeSpec;
}

export function workflowType(type: string): ResolvedWorkflowType | undefined {
  const platform = modules.find((m) => Object.hasOwn(m.workflowTypes, type));
  const spec = platform?.workflowTypes[type];
  return platform && spec ? { platform, type, spec } : undefined;
}

export function workflowTypeNames(): string[] {
  return modules.flatMap((m) => Object.keys(m.workflowTypes));
}

/** The types a user may create (every type but the managed ones). */
export function userWorkflowTypeNames(): string[] {
  return modules.flatMap((m) =>
    Object.entries(m.workflowTypes)
      .filter(([, spec]) => !spec.managed)
      .map(([name]) => name),
  );
}

export function itemSpec(kind: string): ItemSpec | undefined {
  for (const m of modules) if (Object.hasOwn(m.itemSchemas, kind)) return m.itemSchemas[kind];
  return undefined;
}

export type ParsedConfig = { ok: true; config: Record<string, unknown> } | { ok: false; issues: z.core.$ZodIssue[] };

/** The type's config schema applied (unknown type → one issue). */
export function parseConfig(type: string, config: unknown): ParsedConfig {
  const resolved = workflowType(type);
  if (!resolved) return { ok: false, issues: [{ code: 'custom', path: ['type'], message: `unknown workflow type ${type}`, input: type }] };
  const result = resolved.spec.configSchema.safeParse(config);
  return result.success ? { ok: true, config: result.data as Record<string, unknown> } : { ok: false, issues: result.error.issues };
}

/**
 * How often a schedule runs, in the plan catalogue's words. Cron is read
 * lightly: a minute field other than one number means more than hourly
 * (realtime), an hour field other than one number means more than daily.
 */
export function scheduleFrequency(schedule: WorkflowSchedule): CollectionFrequency {
  if (schedule.kind === 'interval') return schedule.every;
  const [minute = '*', hour = '*'] = schedule.expression.trim().split(/\s+/);
  if (!/^\d+$/.test(minute)) return 'realtime';
  if (!/^\d+$/.test(hour)) return 'hourly';
  return 'daily';
}

/**
 * Everything the plan refuses about this workflow (empty: allowed). The
 * config is parsed first; `schedule`, when given, is checked against the
 * plan's data_collection_frequency where the service has one (qidian).
 */
export function checkAgainstPlan(type: string, config: unknown, plan: AnyPlan, schedule?: WorkflowSchedule | null): Refusal[] {
  const resolved = workflowType(type);
  if (!resolved) return [{ feature: null, reason: 'unknown_type', message: `unknown workflow type ${type}`, details: { type } }];
  if (plan.service !== resolved.platform.service) {
    return [
      {
        feature: null,
        reason: 'wrong_service',
        message: `${type} bills to ${resolved.platform.service}, not ${plan.service}`,
        details: { expected: resolved.platform.service, got: plan.service },
      },
    ];
  }
  const parsed = resolved.spec.configSchema.safeParse(config);
  if (!parsed.success) {
    return [{ feature: null, reason: 'invalid_config', message: `config does not fit ${type}`, details: { issues: parsed.error.issues } }];
  }
  const refusals = resolved.spec.check(plan, parsed.data);
  if (schedule && plan.service === 'qidian') {
    const wanted = scheduleFrequency(schedule);
    if (!allowsCollectionFrequency(plan, wanted)) {
      refusals.push({
        feature: 'data_collection_frequency',
        reason: 'frequency_not_in_plan',
        message: `${plan.name} collects at most ${plan.features.data_collection_frequency}, not ${wanted}`,
        details: { allowed: plan.features.data_collection_frequency, wanted },
      });
    }
  }
  return refusals;
}

/** What one run needs under this plan; undefined for an unknown type, a plan of another service or an invalid config. */
export function runNeeds(type: string, config: unknown, plan: AnyPlan): RunNeeds | undefined {
  const resolved = workflowType(type);
  if (!resolved || plan.service !== resolved.platform.service) return undefined;
  const parsed = resolved.spec.configSchema.safeParse(config);
  return parsed.success ? resolved.spec.limits(plan, parsed.data) : undefined;
}

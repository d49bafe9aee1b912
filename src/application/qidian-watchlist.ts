import type { Knex } from 'knex';
import type { EventStore } from '../event-store/port.js';
import { MAX_WATCHED_KEYWORDS } from '../platforms/qidian/workflow-types.js';
import { uuidFromName } from '../write-model/core/event-ids.js';
import { featureLimit, type Plan } from '../write-model/subscription/plans.js';
import type { WorkflowConfig, WorkflowCreatedData } from '../write-model/workflow/events.js';
import { loadTracking, novelTrackingId } from './novel-trackings.js';
import { currentPlan } from './subscription-quotas.js';

/**
 * What a Qidian run collects, resolved when the run is requested (a manual
 * execute, or a schedule's tick), so that the tracked novels are the one list
 * novel_tracking_limit counts:
 *
 * - `qidian.watchlist`, the workflow the platform keeps per user
 *   (pm-qidian-watchlist): the owner's tracked novels (oldest tracking
 *   first, at most the plan's novel_tracking_limit) and, when the plan has
 *   custom_keywords, their watched keywords (at most MAX_WATCHED_KEYWORDS),
 *   from the process manager's own list (`pm_qidian_watchlist`, written
 *   before it creates the workflow, so the first run finds the first novel);
 * - `qidian.novels`: the workflow's novels that are tracked now (creating
 *   or changing such a workflow tracks its novels; one untracked since is
 *   left out), read from the trackings' own streams, at most the limit;
 * - any other type: the workflow's config as it is.
 *
 * The execution records the resolved config (later changes do not change a
 * run); null: nothing to collect (the request is refused or the tick skipped).
 */

export const WATCHLIST_TYPE = 'qidian.watchlist';
export const NOVELS_TYPE = 'qidian.novels';

/** The watch-list workflow of a user: one per user, named after them. */
export function watchlistWorkflowId(userId: string): string {
  return uuidFromName(`qidian_watchlist:${userId}`);
}

export interface RunConfigDeps {
  store: EventStore;
  /** the database of the process manager's list; without it a watch-list run finds nothing */
  knex?: Knex;
}

type Workflow = Pick<WorkflowCreatedData, 'ownerId' | 'type' | 'config'>;

/** How many of the listed novels a run may collect under the plan (null: all). */
function novelCap(plan: Plan<'qidian'>): number | null {
  const limit = featureLimit(plan, 'novel_tracking_limit');
  if (limit.kind === 'unlimited') return null;
  return limit.kind === 'limited' ? limit.limit : 0;
}

const CHECK_CONCURRENCY = 16;

/** The novels among `novelIds` the user tracks now (write side), in their order. */
export async function trackedAmong(store: EventStore, userId: string, novelIds: readonly string[]): Promise<string[]> {
  const tracked = new Array<boolean>(novelIds.length).fill(false);
  let next = 0;
  const worker = async () => {
    while (next < novelIds.length) {
      const i = next++;
      const { state } = await loadTracking(store, novelTrackingId(userId, novelIds[i]!));
      tracked[i] = state.status === 'tracking';
    }
  };
  await Promise.all(Array.from({ length: Math.min(CHECK_CONCURRENCY, novelIds.length) }, worker));
  return novelIds.filter((_, i) => tracked[i]);
}

/** What a watch-list run of this user collects now: their tracked novels and watched keywords. */
export async function watchlistOf(
  knex: Knex,
  userId: string,
  limits: { novels: number | null; keywords: number },
): Promise<{ novelIds: string[]; keywords: string[] }> {
  const rows = (kind: 'novel' | 'keyword', max: number | null) => {
    const q = knex('pm_qidian_watchlist')
      .where({ user_id: userId, kind, active: true })
      .orderBy([{ column: 'since' }, { column: 'value' }])
      .select<{ value: string }[]>('value');
    return max === null ? q : q.limit(max);
  };
  const [novels, keywords] = await Promise.all([
    limits.novels === 0 ? [] : rows('novel', limits.novels),
    limits.keywords === 0 ? [] : rows('keyword', limits.keywords),
  ]);
  return { novelIds: novels.map((r) => r.value), keywords: keywords.map((r) => r.value) };
}

/** The config a run of this workflow records; null when there is nothing to collect. */
export async function resolveRunConfig(deps: RunConfigDeps, workflow: Workflow): Promise<WorkflowConfig | null> {
  if (workflow.type !== WATCHLIST_TYPE && workflow.type !== NOVELS_TYPE) return workflow.config;
  const plan = await currentPlan(deps.store, workflow.ownerId, 'qidian');
  const cap = novelCap(plan);
  if (workflow.type === NOVELS_TYPE) {
    const listed = Array.isArray(workflow.config['novelIds']) ? (workflow.config['novelIds'] as string[]) : [];
    const tracked = await trackedAmong(deps.store, workflow.ownerId, listed);
    const novelIds = cap === null ? tracked : tracked.slice(0, cap);
    return novelIds.length > 0 ? { ...workflow.config, novelIds } : null;
  }
  if (!deps.knex) return null;
  const { novelIds, keywords } = await watchlistOf(deps.knex, workflow.ownerId, {
    novels: cap,
    keywords: plan.features.custom_keywords === true ? MAX_WATCHED_KEYWORDS : 0,
  });
  if (novelIds.length === 0 && keywords.length === 0) return null;
  return { ...(novelIds.length > 0 ? { novelIds } : {}), ...(keywords.length > 0 ? { keywords } : {}) };
}

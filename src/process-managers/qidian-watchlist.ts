import type { Knex } from 'knex';
import { watchlistWorkflowId, WATCHLIST_TYPE } from '../application/qidian-watchlist.js';
import { usersOfHolder } from '../application/plan-holder.js';
import { currentPlan } from '../application/subscription-quotas.js';
import type { RecordedEvent } from '../event-store/port.js';
import { upsertRows, type Row } from '../projections/sql-batch.js';
import type { Consumer } from '../consumers/consumer.js';
import { contextFromEvent } from '../write-model/core/command-context.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { eventIdsFrom } from '../write-model/core/event-ids.js';
import { novelTrackingEvents } from '../write-model/novel-tracking/events.js';
import { keywordWatchEvents } from '../write-model/qidian-keyword/events.js';
import { subscriptionEvents } from '../write-model/subscription/events.js';
import type { WorkflowCommand } from '../write-model/workflow/commands.js';
import { workflowAggregate } from '../write-model/workflow/decider.js';
import type { WorkflowSchedule } from '../write-model/workflow/events.js';
import { react, type ProcessManagerDeps } from './shared.js';

export const QIDIAN_WATCHLIST = 'pm-qidian-watchlist';

/** The Subscription events after which the plan in force (and its data_collection_frequency) may differ. */
const PLAN_EVENT_TYPES = ['SubscriptionStarted', 'SubscriptionUpgraded', 'SubscriptionDowngraded', 'SubscriptionExpired'] as const;
const LIST_EVENT_TYPES = ['NovelTracked', 'NovelUntracked', 'KeywordWatched', 'KeywordUnwatched'] as const;

export const WATCHLIST_NAME = '起点追踪 · Qidian watch list';

/**
 * Tracking a novel (or watching a keyword) leads to its collection without
 * the user writing a workflow: this process manager keeps one workflow per
 * user, `qidian.watchlist` (id named after the user, src/application/
 * qidian-watchlist.ts), scheduled at the plan's data_collection_frequency.
 *
 * - NovelTracked / NovelUntracked / KeywordWatched / KeywordUnwatched →
 *   the user's list (`pm_qidian_watchlist`, one row per tracking or watch
 *   stream, guarded by its revision, written outside the batch transaction
 *   and before any command, so the run the new workflow starts at once finds
 *   the first novel). What a run collects is read from it when the run is
 *   requested; the workflow's own stream holds only its lifecycle (created
 *   once, rescheduled on plan changes), so it does not grow with trackings.
 * - The first NovelTracked or KeywordWatched of a user → CreateWorkflow
 *   {type qidian.watchlist, config {}, schedule interval at the plan's
 *   data_collection_frequency} (event ids named after the user: a repeat is
 *   a no-op). An interval schedule ticks once at once (the first run), then
 *   every interval.
 * - A plan change of the user's qidian subscription (started, upgraded,
 *   downgraded, expired) → the workflow, when there is one, rescheduled to
 *   the plan now in force (ScheduleWorkflow; nothing when it is already so).
 *   A plan change of an organization's subscription does so for each of
 *   its members (their plan holder's plan is theirs: plan-holder.ts). A
 *   member joining or leaving is rescheduled at the next plan change, or
 *   at their next tracking.
 *
 * Convergent: each user touched by a batch is brought to "a workflow exists
 * when the user ever tracked or watched, scheduled at the current plan's
 * frequency", read from the streams as they are now; redelivery changes
 * nothing. A paused watch list stays paused (its owner's choice).
 */
export function createQidianWatchlist(deps: ProcessManagerDeps, name = QIDIAN_WATCHLIST): Consumer {
  return {
    name,
    filter: { eventTypes: [...LIST_EVENT_TYPES, ...PLAN_EVENT_TYPES] },
    batchSize: 200,
    async handle(events, { tx, db }) {
      const rows = new Map<string, Row & { last_revision: string }>();
      /** users whose list gained something: their watch list must exist; the event is the causation */
      const grown = new Map<string, RecordedEvent>();
      /** users whose qidian plan may have changed */
      const replanned = new Map<string, RecordedEvent>();
      for (const event of events) {
        if (novelTrackingEvents.owns(event.type) && event.streamName.startsWith('novel_tracking-')) {
          const e = novelTrackingEvents.decode(event);
          if (e.type === 'NovelTrackingUpdated') continue;
          const d = e.data;
          const active = e.type === 'NovelTracked';
          const since = e.type === 'NovelTracked' ? e.data.trackedAt : e.data.untrackedAt;
          rows.set(d.trackingId, {
            stream_id: d.trackingId,
            user_id: d.userId,
            kind: 'novel',
            value: d.novelId,
            active,
            since,
            last_revision: event.revision.toString(),
          });
          if (active) grown.set(d.userId, event);
        } else if (keywordWatchEvents.owns(event.type) && event.streamName.startsWith('qidian_keyword-')) {
          const e = keywordWatchEvents.decode(event);
          const d = e.data;
          const active = e.type === 'KeywordWatched';
          const since = e.type === 'KeywordWatched' ? e.data.watchedAt : e.data.unwatchedAt;
          rows.set(d.watchId, {
            stream_id: d.watchId,
            user_id: d.userId,
            kind: 'keyword',
            value: d.keyword,
            active,
            since,
            last_revision: event.revision.toString(),
          });
          if (active) grown.set(d.userId, event);
        } else if (subscriptionEvents.owns(event.type) && event.streamName.startsWith('subscription-')) {
          const e = subscriptionEvents.decode(event);
          if (e.data.service !== 'qidian') continue;
          // an organization's plan is its members' plan: each of their watch lists follows it
          const holder = { kind: e.data.holderKind === 'organization' ? 'organization' : 'user', id: e.data.userId } as const;
          for (const userId of await usersOfHolder(deps.store, holder)) replanned.set(userId, event);
        }
      }
      const writer: Knex = db ?? tx;
      await upsertRows(writer, 'pm_qidian_watchlist', [...rows.values()], {
        conflict: ['stream_id'],
        update: ['active', 'since', 'value', 'last_revision'],
        guard: 't.last_revision < excluded.last_revision',
      });

      const users = new Map<string, { cause: RecordedEvent; create: boolean }>();
      for (const [userId, cause] of replanned) users.set(userId, { cause, create: false });
      for (const [userId, cause] of grown) users.set(userId, { cause, create: true });
      for (const [userId, { cause, create }] of users) {
        await react(deps, name, cause, () => keepWatchlist(deps, name, userId, cause, create));
      }
    },
  };
}

/** The schedule the user's watch list runs on: every data_collection_frequency of the qidian plan in force (their organization's for a member). */
async function plannedSchedule(deps: ProcessManagerDeps, userId: string): Promise<WorkflowSchedule> {
  const plan = await currentPlan(deps.store, userId, 'qidian');
  return { kind: 'interval', every: plan.features.data_collection_frequency };
}

const sameSchedule = (a: WorkflowSchedule | null, b: WorkflowSchedule) => JSON.stringify(a) === JSON.stringify(b);

async function keepWatchlist(deps: ProcessManagerDeps, name: string, userId: string, cause: RecordedEvent, create: boolean): Promise<void> {
  const workflowId = watchlistWorkflowId(userId);
  const { state } = await load(deps.store, workflowAggregate, workflowId);
  if (state.status === 'deleted' || (state.status === 'none' && !create)) return;
  const schedule = await plannedSchedule(deps, userId);
  const context = contextFromEvent(cause, name);
  if (state.status === 'none') {
    await handle(
      deps.store,
      workflowAggregate,
      workflowId,
      {
        type: 'CreateWorkflow',
        workflowId,
        ownerId: userId,
        platform: 'qidian',
        workflowType: WATCHLIST_TYPE,
        name: WATCHLIST_NAME,
        config: {},
        platformAccountId: null,
        schedule,
        now: cause.created.toISOString(),
      },
      { context, eventIds: eventIdsFrom(`${name}:create:${userId}`) },
    );
    return;
  }
  if (sameSchedule(state.schedule, schedule)) return;
  const command: WorkflowCommand = { type: 'ScheduleWorkflow', workflowId, requestedBy: userId, schedule, now: cause.created.toISOString() };
  await handle(deps.store, workflowAggregate, workflowId, command, { context, eventIds: eventIdsFrom(`${name}:${cause.id}:schedule`) });
}

import type { Knex } from 'knex';
import { usersOfHolder, usersOfHolderId } from '../application/plan-holder.js';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../consumers/consumer.js';
import { subscriptionEvents } from '../write-model/subscription/events.js';
import { subscriptionUsageEvents } from '../write-model/subscription-usage/events.js';
import { workflowEvents } from '../write-model/workflow/events.js';
import type { WorkflowCommand } from '../write-model/workflow/commands.js';
import { workflowStream } from '../write-model/workflow/decider.js';
import { cancelDeadline, scheduleDeadline } from './deadlines/deadline-table.js';
import { RESUME_AFTER_QUOTA } from './deadlines/resume-actions.js';
import type { ProcessManagerDeps } from './shared.js';
import { commandWorkflow, indexWorkflowEvent, WORKFLOW_EVENT_TYPES, workflowsOfOwner } from './workflow-index.js';

export const PAUSE_ON_QUOTA_EXCEEDED = 'pm-pause-on-quota-exceeded';

export interface PauseOnQuotaDeps extends ProcessManagerDeps {
  /** the wall clock, only to skip pauses whose day is already over (a replay); default: now */
  now?: () => Date;
  /** whether the user's runs past the quota are paid from their balance (ledger overage): then nothing is paused */
  overageOn?: (userId: string) => Promise<boolean>;
}

/**
 * QuotaExceeded → pause the user's scheduled workflows of that
 * service until the quota resets, or until the plan is upgraded; then resume.
 *
 * - QuotaExceeded of `daily_api_calls`, the daily counter runs spend (a
 *   resource limit stops nothing that runs) → PauseWorkflow {reason quota_exceeded, until resetsAt,
 *   requestedBy null} for every live workflow of the owner billed to that
 *   service that has a schedule. Workflows already paused for another reason
 *   (the user, an account) get the quota pause too: pauses are per reason,
 *   so lifting the other one must not make them run into the spent quota.
 *   Manual workflows are left alone: a manual run asks the quota itself.
 *   A QuotaExceeded whose reset has passed (read late, or replayed) pauses
 *   nothing.
 * - WorkflowPaused for quota_exceeded with an `until` → a
 *   `workflows.resume_after_quota` deadline at `until` (the sweeper resumes,
 *   deadlines/resume-actions.ts); WorkflowResumed lifting that reason, or
 *   WorkflowDeleted → the deadline is cancelled. Deadlines are written from
 *   the events, in the batch transaction, so a replay rebuilds them.
 * - SubscriptionUpgraded → ResumeWorkflow {reason quota_exceeded} at once for
 *   each of the owner's workflows of the service paused for it (a higher plan
 *   has a higher daily limit), and their deadlines are cancelled.
 *
 * An organization's subscription (the one its members share) pauses and
 * resumes the workflows of each of its members at the time of the event.
 *
 * Which workflows: this consumer keeps its own index from the Workflow
 * events (workflow-index.ts), read in the same ordered feed as the triggers,
 * so it never depends on the `workflows` projection's lag.
 *
 * Idempotent: event ids are named `${name}:${event.id}:${workflowId}` (a
 * redelivered trigger appends nothing, even after the workflow moved on);
 * a repeated pause with the same `until` is the decider's no-op; a workflow
 * deleted on the write side meanwhile (CONFLICT) is skipped.
 */
export function createPauseOnQuotaExceeded(deps: PauseOnQuotaDeps, name = PAUSE_ON_QUOTA_EXCEEDED): Consumer {
  const now = deps.now ?? (() => new Date());

  const command = (event: RecordedEvent, workflowId: string, cmd: WorkflowCommand) => commandWorkflow(deps, name, event, workflowId, cmd);

  async function onQuotaExceeded(tx: Knex, event: RecordedEvent): Promise<void> {
    const decoded = subscriptionUsageEvents.decode(event);
    if (decoded.type !== 'QuotaExceeded') return;
    const d = decoded.data;
    // only the counter runs spend stops them: daily_publications running out stops publishing, not collecting
    if (d.kind !== 'daily_counter' || d.feature !== 'daily_api_calls' || Date.parse(d.resetsAt) <= now().getTime()) return;
    // an organization's quota is its members': each of them is stopped
    for (const owner of await usersOfHolderId(deps.store, d.userId)) {
      // runs past the quota are charged to the balance instead (docs/ledger.md): they keep running while it covers them
      if (deps.overageOn && (await deps.overageOn(owner))) continue;
      for (const wf of await workflowsOfOwner(tx, name, owner, d.service)) {
        if (!wf.scheduled) continue;
        await command(event, wf.workflowId, {
          type: 'PauseWorkflow',
          workflowId: wf.workflowId,
          reason: 'quota_exceeded',
          requestedBy: null,
          until: d.resetsAt,
          now: d.exceededAt,
        });
      }
    }
  }

  async function onUpgraded(tx: Knex, event: RecordedEvent): Promise<void> {
    const decoded = subscriptionEvents.decode(event);
    if (decoded.type !== 'SubscriptionUpgraded') return;
    const d = decoded.data;
    const owners = await usersOfHolder(deps.store, { kind: d.holderKind === 'organization' ? 'organization' : 'user', id: d.userId });
    for (const owner of owners) {
      // every one, not only those the index shows paused: this manager's own pause for the quota just run out may
      // land after this upgrade in the feed; the decider lifts it, or does nothing when none is there
      for (const wf of await workflowsOfOwner(tx, name, owner, d.service)) {
        await command(event, wf.workflowId, {
          type: 'ResumeWorkflow',
          workflowId: wf.workflowId,
          requestedBy: null,
          reason: 'quota_exceeded',
          now: d.upgradedAt,
        });
        await cancelDeadline(tx, RESUME_AFTER_QUOTA, workflowStream(wf.workflowId));
      }
    }
  }

  /** The resume deadline follows the workflow's own quota pause. */
  async function trackDeadline(tx: Knex, event: RecordedEvent): Promise<void> {
    if (event.type === 'WorkflowPaused') {
      const decoded = workflowEvents.decode(event);
      if (decoded.type !== 'WorkflowPaused' || decoded.data.reason !== 'quota_exceeded') return;
      if (decoded.data.until !== null) await scheduleDeadline(tx, RESUME_AFTER_QUOTA, event.streamName, decoded.data.until, event);
      else await cancelDeadline(tx, RESUME_AFTER_QUOTA, event.streamName);
    } else if (event.type === 'WorkflowResumed') {
      const decoded = workflowEvents.decode(event);
      if (decoded.type === 'WorkflowResumed' && decoded.data.lifted.includes('quota_exceeded')) await cancelDeadline(tx, RESUME_AFTER_QUOTA, event.streamName);
    } else if (event.type === 'WorkflowDeleted') {
      await cancelDeadline(tx, RESUME_AFTER_QUOTA, event.streamName);
    }
  }

  return {
    name,
    // the pauses and resumes too: the resume deadline follows them
    filter: { eventTypes: [...WORKFLOW_EVENT_TYPES, 'WorkflowPaused', 'WorkflowResumed', 'QuotaExceeded', 'SubscriptionUpgraded'] },
    async handle(events, { tx: batchTx, db }) {
      const tx = db ?? batchTx; // own tables commit as written: nothing waits on commands holding a transaction id
      for (const event of events) {
        if (event.type === 'QuotaExceeded') await onQuotaExceeded(tx, event);
        else if (event.type === 'SubscriptionUpgraded') await onUpgraded(tx, event);
        else {
          await trackDeadline(tx, event);
          await indexWorkflowEvent(tx, name, event);
        }
      }
    },
  };
}

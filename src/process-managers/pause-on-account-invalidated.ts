import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../consumers/consumer.js';
import { platformAccountEvents } from '../write-model/platform-account/events.js';
import type { WorkflowCommand } from '../write-model/workflow/commands.js';
import type { ProcessManagerDeps } from './shared.js';
import { commandWorkflow, indexWorkflowEvent, WORKFLOW_EVENT_TYPES, workflowsOfAccount } from './workflow-index.js';

export const PAUSE_ON_ACCOUNT_INVALIDATED = 'pm-pause-on-account-invalidated';

/**
 * AccountInvalidated → pause the workflows that use the account.
 *
 * - AccountInvalidated → PauseWorkflow {reason account_invalidated, until
 *   null, requestedBy null} for every live workflow using the account,
 *   scheduled or manual (a paused workflow also refuses manual runs, which
 *   would hit the same login wall).
 * - AccountVerified (the account works again, whatever it went through:
 *   invalid → rotated credentials → pending → verified) → ResumeWorkflow
 *   {reason account_invalidated} for each workflow using it; the decider
 *   lifts that pause where there is one (this manager's pause for an
 *   invalidation just before may not be in its feed yet) and does nothing
 *   elsewhere. Only that reason is lifted: a user's or a quota pause stays.
 *
 * The workflows come from this consumer's own index (workflow-index.ts),
 * kept from the Workflow events in the same ordered feed, so the answer is
 * the workflows that used the account when the event happened.
 *
 * Idempotent: event ids `${name}:${event.id}:${workflowId}`; a repeated
 * pause is the decider's no-op; a workflow deleted meanwhile (CONFLICT) is
 * skipped.
 */
export function createPauseOnAccountInvalidated(deps: ProcessManagerDeps, name = PAUSE_ON_ACCOUNT_INVALIDATED): Consumer {
  const command = (event: RecordedEvent, workflowId: string, cmd: WorkflowCommand) => commandWorkflow(deps, name, event, workflowId, cmd);

  return {
    name,
    filter: { eventTypes: [...WORKFLOW_EVENT_TYPES, 'AccountInvalidated', 'AccountVerified'] },
    async handle(events, { tx: batchTx, db }) {
      const tx = db ?? batchTx; // own tables commit as written: nothing waits on commands holding a transaction id
      for (const event of events) {
        const account = platformAccountEvents.owns(event.type) ? platformAccountEvents.decode(event) : null;
        if (account?.type === 'AccountInvalidated') {
          const d = account.data;
          for (const wf of await workflowsOfAccount(tx, name, d.accountId)) {
            await command(event, wf.workflowId, {
              type: 'PauseWorkflow',
              workflowId: wf.workflowId,
              reason: 'account_invalidated',
              requestedBy: null,
              until: null,
              now: d.invalidatedAt,
            });
          }
        } else if (account?.type === 'AccountVerified') {
          const d = account.data;
          // every one, not only those the index shows paused: this manager's own pause for an invalidation just
          // before may land after this verification in the feed; the decider lifts it, or does nothing when none is there
          for (const wf of await workflowsOfAccount(tx, name, d.accountId)) {
            await command(event, wf.workflowId, {
              type: 'ResumeWorkflow',
              workflowId: wf.workflowId,
              requestedBy: null,
              reason: 'account_invalidated',
              now: d.verifiedAt,
            });
          }
        } else if (!account) {
          await indexWorkflowEvent(tx, name, event);
        }
      }
    },
  };
}

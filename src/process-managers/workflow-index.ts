import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/port.js';
import { platformModule } from '../platforms/registry.js';
import { handle } from '../write-model/core/command-handler.js';
import { contextFromEvent } from '../write-model/core/command-context.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { eventIdsFrom } from '../write-model/core/event-ids.js';
import type { WorkflowCommand } from '../write-model/workflow/commands.js';
import { workflowAggregate } from '../write-model/workflow/decider.js';
import { workflowEvents } from '../write-model/workflow/events.js';
import { react, type ProcessManagerDeps } from './shared.js';

/**
 * A process manager's own index of live workflows (table pm_workflow_index,
 * rows keyed by the consumer's name), written from the Workflow events it
 * reads through its batch transaction. Because the manager reads the
 * Workflow events and its triggers (QuotaExceeded, AccountInvalidated, …)
 * from one ordered feed, the index answers "which workflows existed when
 * this event happened" exactly, whatever a projection's lag.
 */

/** The Workflow events the index is kept from. */
export const WORKFLOW_EVENT_TYPES = ['WorkflowCreated', 'WorkflowUpdated', 'WorkflowScheduled', 'WorkflowDeleted'] as const;

const TABLE = 'pm_workflow_index';

export interface IndexedWorkflow {
  workflowId: string;
  ownerId: string;
  service: string | null;
  platformAccountId: string | null;
  scheduled: boolean;
}

interface Row {
  workflow_id: string;
  owner_id: string;
  service: string | null;
  platform_account_id: string | null;
  scheduled: boolean;
}

const toWorkflow = (r: Row): IndexedWorkflow => ({
  workflowId: r.workflow_id,
  ownerId: r.owner_id,
  service: r.service,
  platformAccountId: r.platform_account_id,
  scheduled: r.scheduled,
});

/** Applies a Workflow event to the consumer's index; other events are ignored. */
export async function indexWorkflowEvent(tx: Knex, consumer: string, recorded: RecordedEvent): Promise<void> {
  if (!workflowEvents.owns(recorded.type)) return;
  const event = workflowEvents.decode(recorded);
  const row = tx(TABLE).where({ consumer, workflow_id: event.data.workflowId });
  switch (event.type) {
    case 'WorkflowCreated': {
      const d = event.data;
      await tx(TABLE)
        .insert({
          consumer,
          workflow_id: d.workflowId,
          owner_id: d.ownerId,
          // unknown platform (removed from the registry): no service, never paused for a quota
          service: platformModule(d.platform)?.service ?? null,
          platform_account_id: d.platformAccountId,
          scheduled: false,
        })
        .onConflict(['consumer', 'workflow_id'])
        .ignore();
      return;
    }
    case 'WorkflowUpdated':
      await row.update({ platform_account_id: event.data.platformAccountId });
      return;
    case 'WorkflowScheduled':
      await row.update({ scheduled: event.data.schedule !== null });
      return;
    case 'WorkflowDeleted':
      await row.delete();
      return;
  }
}

/** The owner's live workflows billed to `service`. */
export async function workflowsOfOwner(tx: Knex, consumer: string, ownerId: string, service: string): Promise<IndexedWorkflow[]> {
  const rows = (await tx(TABLE).where({ consumer, owner_id: ownerId, service }).orderBy('workflow_id')) as Row[];
  return rows.map(toWorkflow);
}

/** The live workflows that use a platform account. */
export async function workflowsOfAccount(tx: Knex, consumer: string, platformAccountId: string): Promise<IndexedWorkflow[]> {
  const rows = (await tx(TABLE).where({ consumer, platform_account_id: platformAccountId }).orderBy('workflow_id')) as Row[];
  return rows.map(toWorkflow);
}

/**
 * Sends a workflow command in reaction to `event`: event ids named after the
 * event and the workflow (a redelivery appends nothing), the event as cause,
 * and a workflow deleted meanwhile (CONFLICT) skipped.
 */
export async function commandWorkflow(
  deps: ProcessManagerDeps,
  name: string,
  event: RecordedEvent,
  workflowId: string,
  command: WorkflowCommand,
): Promise<void> {
  await react(
    deps,
    name,
    event,
    async () => {
      await handle(deps.store, workflowAggregate, workflowId, command, {
        context: contextFromEvent(event, name),
        eventIds: eventIdsFrom(`${name}:${event.id}:${workflowId}`),
      });
    },
    (error) => error instanceof DomainError && error.code === 'CONFLICT',
  );
}

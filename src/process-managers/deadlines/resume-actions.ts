import type { EventStore } from '../../event-store/port.js';
import { handle } from '../../write-model/core/command-handler.js';
import { eventIdsFrom } from '../../write-model/core/event-ids.js';
import { workflowAggregate } from '../../write-model/workflow/decider.js';
import type { DeadlineKind } from './deadline-table.js';
import type { DeadlineAction } from './expiry-actions.js';

export const RESUME_AFTER_QUOTA: DeadlineKind = 'workflows.resume_after_quota';

/**
 * `workflows.resume_after_quota`: the subject is a workflow stream
 * (`workflow-{id}`), due when its quota pause ends (WorkflowPaused.until =
 * the quota's reset). The command lifts only the quota_exceeded reason (a
 * user's or an account pause stays); a workflow no longer paused for it is
 * the decider's no-op, a deleted one its CONFLICT (the sweeper then drops
 * the row). Event ids are named after the deadline and its time, so a sweep
 * that crashed after appending repeats nothing.
 */
export function resumeActions(store: EventStore): Record<'workflows.resume_after_quota', DeadlineAction> {
  return {
    'workflows.resume_after_quota': async (deadline, now, context) => {
      const workflowId = deadline.subjectId.replace(/^workflow-/, '');
      await handle(
        store,
        workflowAggregate,
        workflowId,
        { type: 'ResumeWorkflow', workflowId, requestedBy: null, reason: 'quota_exceeded', now: now.toISOString() },
        { context, eventIds: eventIdsFrom(`deadline:${deadline.key}:${deadline.dueAt}`) },
      );
    },
  };
}

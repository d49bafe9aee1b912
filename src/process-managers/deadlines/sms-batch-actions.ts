import type { EventStore } from '../../event-store/port.js';
import { handle } from '../../write-model/core/command-handler.js';
import { eventIdsFrom } from '../../write-model/core/event-ids.js';
import { smsBatchAggregate } from '../../write-model/sms-batch/decider.js';
import type { DeadlineKind } from './deadline-table.js';
import type { DeadlineAction } from './expiry-actions.js';

export const SMS_BATCH_DUE_DEADLINE: DeadlineKind = 'sms_batch.due';

/**
 * `sms_batch.due`: the subject is a batch stream (`sms_batch-{id}`), due at
 * its scheduledAt (pm-sms-batch-deadlines sets it). StartSmsBatchSending →
 * SmsBatchSendingStarted when the batch is approved by then; one still in
 * review, rejected or cancelled is the decider's no-op (an approval after
 * the time starts it at once). Event ids are named after the deadline and
 * its time, so a sweep that crashed after appending repeats nothing.
 */
export function smsBatchActions(store: EventStore): Record<'sms_batch.due', DeadlineAction> {
  return {
    'sms_batch.due': async (deadline, now, context) => {
      const batchId = deadline.subjectId.replace(/^sms_batch-/, '');
      await handle(
        store,
        smsBatchAggregate,
        batchId,
        { type: 'StartSmsBatchSending', batchId, now: now.toISOString() },
        { context, eventIds: eventIdsFrom(`deadline:${deadline.key}:${deadline.dueAt}`) },
      );
    },
  };
}

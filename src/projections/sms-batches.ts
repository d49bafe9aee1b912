import type { Consumer } from '../consumers/consumer.js';
import { smsBatchEvents } from '../write-model/sms-batch/events.js';
import { smsKeywordEvents } from '../write-model/sms-keyword/decider.js';
import { patchRows, upsertRows, type Row } from './sql-batch.js';

/**
 * Read models of SMS for organizations (migrations/20261210140000_sms_batches_read_model.ts):
 *
 * - `sms_batches`: one row per `sms_batch-{id}` stream — the text, sender,
 *   recipient count, schedule, status and the review's outcome. Its
 *   messages' progress is counted from `sms_messages.batch_id` (sms-v1).
 * - `sms_keywords`: one row per `sms_keyword-{KEYWORD}` stream, the last
 *   reservation (`released` once given back; a release keeps the time of
 *   the reservation it gives back, whichever batch that came in).
 *
 * A batch is folded in memory and written with a few statements: creations
 * inserted (an existing row stays), then one patch per batch, guarded by the
 * stream revision; keyword rows upserted whole, guarded the same way. An
 * event the row already reflects is not applied again, so a redelivered
 * batch leaves the same rows.
 */
export const SMS_BATCHES_PROJECTION = 'sms-batches-v1';

const BATCH = 'sms_batch-';
const KEYWORD = 'sms_keyword-';

export function createSmsBatchesProjection(name: string = SMS_BATCHES_PROJECTION): Consumer {
  return {
    name,
    filter: {
      streamPrefixes: [BATCH, KEYWORD],
      eventTypes: [...smsBatchEvents.types.filter((t) => t !== 'SmsBatchRecipientsAdded'), ...smsKeywordEvents.types],
    },
    async handle(events, { tx }) {
      const inserts = new Map<string, Row>();
      const patches = new Map<string, Row>();
      const keywords = new Map<string, Row>();
      // the keywords this batch saw reserved: their rows carry the reservation's time; a release alone keeps the row's
      const reserved = new Set<string>();
      for (const recorded of events) {
        const revision = recorded.revision.toString();
        if (recorded.streamName.startsWith(KEYWORD) && smsKeywordEvents.owns(recorded.type)) {
          const event = smsKeywordEvents.decode(recorded);
          const d = event.data;
          const before = keywords.get(d.keyword);
          if (event.type === 'SmsKeywordReserved') reserved.add(d.keyword);
          keywords.set(
            d.keyword,
            event.type === 'SmsKeywordReserved'
              ? {
                  keyword: d.keyword,
                  owner_id: d.ownerId,
                  organization_id: d.organizationId,
                  released: false,
                  reserved_at: event.data.reservedAt,
                  released_at: null,
                  last_revision: revision,
                }
              : {
                  keyword: d.keyword,
                  owner_id: d.ownerId,
                  organization_id: d.organizationId,
                  released: true,
                  reserved_at: before?.reserved_at ?? event.data.releasedAt,
                  released_at: event.data.releasedAt,
                  last_revision: revision,
                },
          );
          continue;
        }
        if (!recorded.streamName.startsWith(BATCH) || !smsBatchEvents.owns(recorded.type)) continue;
        const event = smsBatchEvents.decode(recorded);
        if (event.type === 'SmsBatchRecipientsAdded') continue;
        if (event.type === 'SmsBatchCreated') {
          const c = event.data;
          if (!inserts.has(c.batchId))
            inserts.set(c.batchId, {
              id: c.batchId,
              owner_id: c.ownerId,
              organization_id: c.organizationId,
              text: c.text,
              sender_id: c.senderId,
              encoding: c.encoding,
              segments: c.segments,
              recipient_count: c.recipientCount,
              invalid_skipped: c.invalidSkipped,
              duplicates_removed: c.duplicatesRemoved,
              scheduled_at: c.scheduledAt,
              status: 'pending_review',
              review_id: null,
              hit_count: null,
              reviewer_id: null,
              review_comment: null,
              created_at: c.createdAt,
              decided_at: null,
              started_at: null,
              cancelled_at: null,
              cancelled_by: null,
              last_revision: revision,
            });
          continue;
        }
        const id = event.data.batchId;
        const patch: Row = { ...(patches.get(id) ?? { id }), last_revision: revision };
        switch (event.type) {
          case 'SmsBatchPreReviewPassed':
            Object.assign(patch, { status: 'approved', hit_count: 0, decided_at: event.data.passedAt });
            break;
          case 'SmsBatchPreReviewFlagged':
            Object.assign(patch, { status: 'in_review', hit_count: event.data.hitCount, review_id: event.data.reviewId });
            break;
          case 'SmsBatchApproved':
          case 'SmsBatchRejected':
            Object.assign(patch, {
              status: event.type === 'SmsBatchApproved' ? 'approved' : 'rejected',
              reviewer_id: event.data.reviewerId,
              review_comment: event.data.comment,
              decided_at: event.data.decidedAt,
            });
            break;
          case 'SmsBatchSendingStarted':
            Object.assign(patch, { status: 'sending', started_at: event.data.startedAt });
            break;
          case 'SmsBatchCancelled':
            Object.assign(patch, { status: 'cancelled', cancelled_at: event.data.cancelledAt, cancelled_by: event.data.by });
            break;
        }
        patches.set(id, patch);
      }
      await upsertRows(tx, 'sms_batches', [...inserts.values()], { conflict: ['id'] });
      await patchRows(tx, 'sms_batches', [...patches.values()], { key: ['id'], guard: 't.last_revision < n.last_revision' });
      const update = ['owner_id', 'organization_id', 'released', 'released_at', 'last_revision'];
      const guard = 't.last_revision < excluded.last_revision';
      const rows = [...keywords];
      const withReservation = rows.filter(([k]) => reserved.has(k)).map(([, row]) => row);
      const releasesOnly = rows.filter(([k]) => !reserved.has(k)).map(([, row]) => row);
      await upsertRows(tx, 'sms_keywords', withReservation, { conflict: ['keyword'], update: [...update, 'reserved_at'], guard });
      await upsertRows(tx, 'sms_keywords', releasesOnly, { conflict: ['keyword'], update, guard });
    },
  };
}

export const smsBatchesProjection: Consumer = createSmsBatchesProjection();

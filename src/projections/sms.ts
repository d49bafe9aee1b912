import type { Consumer } from '../consumers/consumer.js';
import { smsInboundEvents } from '../write-model/sms-message/inbound.js';
import { smsMessageEvents } from '../write-model/sms-message/events.js';
import { patchRows, upsertRows, type Row } from './sql-batch.js';

/**
 * Read model of SMS: `sms_messages`, one row per `sms_message-{id}` stream
 * (requested → sent → delivered / undelivered, or failed), and
 * `sms_inbound`, one row per `sms_inbound-{providerMessageId}` stream.
 *
 * A batch is folded in memory and written with three statements: the
 * requests and the inbound messages inserted (an existing row stays), then
 * one patch per message carrying what its later events set, guarded by the
 * stream revision (`last_revision`): an event the row already reflects is
 * not applied again, so a redelivered batch, or the same events split into
 * other batches, leaves the same rows.
 */
export const SMS_PROJECTION = 'sms-v1';

const MESSAGE = 'sms_message-';
const INBOUND = 'sms_inbound-';

export function createSmsProjection(name: string = SMS_PROJECTION): Consumer {
  return {
    name,
    filter: { streamPrefixes: [MESSAGE, INBOUND], eventTypes: [...smsMessageEvents.types, ...smsInboundEvents.types] },
    async handle(events, { tx }) {
      const inserts = new Map<string, Row>();
      const patches = new Map<string, Row>();
      const inbound = new Map<string, Row>();
      for (const recorded of events) {
        if (recorded.streamName.startsWith(INBOUND) && smsInboundEvents.owns(recorded.type)) {
          const d = smsInboundEvents.decode(recorded).data;
          if (!inbound.has(d.providerMessageId)) {
            inbound.set(d.providerMessageId, {
              provider_message_id: d.providerMessageId,
              owner_id: d.ownerId,
              route: d.route,
              reply_to: d.replyTo,
              organization_id: d.organizationId ?? null,
              keyword: d.keyword ?? null,
              from_number: d.from,
              to_number: d.to,
              text: d.text,
              received_at: d.receivedAt,
              recorded_at: d.recordedAt,
            });
          }
          continue;
        }
        if (!recorded.streamName.startsWith(MESSAGE) || !smsMessageEvents.owns(recorded.type)) continue;
        const event = smsMessageEvents.decode(recorded);
        const revision = recorded.revision.toString();
        if (event.type === 'SmsRequested') {
          const r = event.data;
          if (!inserts.has(r.messageId)) {
            inserts.set(r.messageId, {
              id: r.messageId,
              owner_id: r.ownerId,
              to_number: r.to,
              country: r.country,
              calling_code: r.callingCode,
              text: r.text,
              encoding: r.encoding,
              segments: r.segments,
              unit_price_fen: r.unitPriceFen,
              price_fen: r.priceFen,
              status: 'pending',
              provider_message_id: null,
              sender_number: null,
              provider_price_micros: null,
              provider_currency: null,
              receipt_id: null,
              error_code: null,
              error_reason: null,
              failure_code: null,
              failure_reason: null,
              requested_at: r.requestedAt,
              sent_at: null,
              done_at: null,
              finished_at: null,
              batch_id: r.batchId ?? null,
              organization_id: r.organizationId ?? null,
              last_revision: revision,
            });
          }
          continue;
        }
        const id = event.data.messageId;
        const patch: Row = { ...(patches.get(id) ?? { id }), last_revision: revision };
        switch (event.type) {
          case 'SmsSent': {
            const s = event.data;
            Object.assign(patch, {
              status: 'sent',
              provider_message_id: s.providerMessageId,
              sender_number: s.senderNumber,
              provider_price_micros: s.providerPriceMicros,
              provider_currency: s.providerCurrency,
              sent_at: s.sentAt,
            });
            break;
          }
          case 'SmsDelivered': {
            const d = event.data;
            Object.assign(patch, { status: 'delivered', receipt_id: d.receiptId, done_at: d.deliveredAt, finished_at: d.recordedAt });
            break;
          }
          case 'SmsUndelivered': {
            const u = event.data;
            Object.assign(patch, {
              status: 'undelivered',
              receipt_id: u.receiptId,
              error_code: u.errorCode,
              error_reason: u.errorReason,
              done_at: u.doneAt,
              finished_at: u.recordedAt,
            });
            break;
          }
          case 'SmsFailed': {
            const f = event.data;
            Object.assign(patch, { status: 'failed', failure_code: f.code, failure_reason: f.reason, finished_at: f.failedAt });
            break;
          }
        }
        patches.set(id, patch);
      }
      await upsertRows(tx, 'sms_messages', [...inserts.values()], { conflict: ['id'] });
      await upsertRows(tx, 'sms_inbound', [...inbound.values()], { conflict: ['provider_message_id'] });
      await patchRows(tx, 'sms_messages', [...patches.values()], { key: ['id'], guard: 't.last_revision < n.last_revision' });
    },
  };
}

export const smsProjection: Consumer = createSmsProjection();

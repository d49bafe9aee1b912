import type { Consumer } from '../consumers/consumer.js';
import { outgoingMessageEvents } from '../write-model/outgoing-message/events.js';
import { patchRows, upsertRows, type Row } from './sql-batch.js';

/**
 * Read model of outgoing private messages: `xiaohongshu_outgoing_messages`,
 * one row per `outgoing_message-{id}` stream (requested → sent or failed).
 *
 * A batch is folded in memory and written with two statements: the
 * requests inserted (an existing row stays), then one patch per message
 * carrying what its later events set, guarded by the stream revision
 * (`last_revision`): an event the row already reflects is not applied again,
 * so a redelivered batch, or the same events split into other batches,
 * leaves the same rows.
 */
export const OUTGOING_MESSAGES_PROJECTION = 'xiaohongshu-outgoing-messages-v1';

const PREFIX = 'outgoing_message-';

export function createOutgoingMessagesProjection(name: string = OUTGOING_MESSAGES_PROJECTION): Consumer {
  return {
    name,
    filter: { streamPrefixes: [PREFIX], eventTypes: [...outgoingMessageEvents.types] },
    async handle(events, { tx }) {
      const inserts = new Map<string, Row>();
      const patches = new Map<string, Row>();
      for (const recorded of events) {
        if (!recorded.streamName.startsWith(PREFIX) || !outgoingMessageEvents.owns(recorded.type)) continue;
        const event = outgoingMessageEvents.decode(recorded);
        const revision = recorded.revision.toString();
        const d = event.data;
        if (event.type === 'MessageSendRequested') {
          const r = event.data;
          if (!inserts.has(r.messageId)) {
            inserts.set(r.messageId, {
              id: r.messageId,
              owner_id: r.ownerId,
              platform_account_id: r.platformAccountId,
              conversation_id: r.conversationId,
              peer_id: r.peerId,
              text: r.text,
              status: 'pending',
              platform_message_id: null,
              failure_code: null,
              failure_reason: null,
              recovered: false,
              requested_at: r.requestedAt,
              sent_at: null,
              finished_at: null,
              last_revision: revision,
            });
          }
          continue;
        }
        const patch: Row = { ...(patches.get(d.messageId) ?? { id: d.messageId }), last_revision: revision };
        if (event.type === 'MessageSent') {
          const s = event.data;
          Object.assign(patch, {
            status: 'sent',
            platform_message_id: s.platformMessageId,
            conversation_id: s.conversationId,
            recovered: s.recovered,
            sent_at: s.sentAt,
            finished_at: s.recordedAt,
            ...(s.peerId !== null ? { peer_id: s.peerId } : {}),
          });
        } else {
          const f = event.data;
          Object.assign(patch, { status: 'failed', failure_code: f.code, failure_reason: f.reason, finished_at: f.failedAt });
        }
        patches.set(d.messageId, patch);
      }
      await upsertRows(tx, 'xiaohongshu_outgoing_messages', [...inserts.values()], { conflict: ['id'] });
      await patchRows(tx, 'xiaohongshu_outgoing_messages', [...patches.values()], { key: ['id'], guard: 't.last_revision < n.last_revision' });
    },
  };
}

export const outgoingMessagesProjection: Consumer = createOutgoingMessagesProjection();

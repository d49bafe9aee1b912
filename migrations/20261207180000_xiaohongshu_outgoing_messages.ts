import type { Knex } from 'knex';

/**
 * The read model of outgoing private messages (projection
 * `xiaohongshu-outgoing-messages-v1`, src/projections/outgoing-messages.ts):
 * one row per message sent through POST /api/v1/xiaohongshu/messages
 * (`outgoing_message-{id}` stream) for GET /api/v1/xiaohongshu/messages/outgoing:
 * what was asked (account, conversation or peer, text), its status
 * (pending, sent, failed) and how it ended. `last_revision` is the stream
 * revision the row reflects: an event at or below it is not applied again.
 *
 * - `xiaohongshu_outgoing_messages_owner_newest`: a user's messages, newest first.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE xiaohongshu_outgoing_messages (
      id                   text        PRIMARY KEY,
      owner_id             text        NOT NULL,
      platform_account_id  text        NOT NULL,
      conversation_id      text,
      peer_id              text,
      text                 text        NOT NULL,
      status               text        NOT NULL,
      platform_message_id  text,
      failure_code         text,
      failure_reason       text,
      recovered            boolean     NOT NULL DEFAULT false,
      requested_at         timestamptz NOT NULL,
      sent_at              timestamptz,
      finished_at          timestamptz,
      last_revision        bigint      NOT NULL
    )`);
  await knex.raw('CREATE INDEX xiaohongshu_outgoing_messages_owner_newest ON xiaohongshu_outgoing_messages (owner_id, requested_at DESC, id DESC)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS xiaohongshu_outgoing_messages');
}

import type { Knex } from 'knex';

/**
 * Projection `xiaohongshu-content-v1` (src/projections/xiaohongshu-content.ts):
 *
 * - xiaohongshu_deleted_contents: one tombstone per (owner, note) the owner
 *   deleted (CollectedContentDeleted). The note's rows are gone, and a later
 *   collection of it by the same owner adds nothing. Kept for good (it is
 *   what the deletion event says, not collected data): it is not subject to
 *   retention.
 * - xiaohongshu_messages.peer_user_id / peer_nickname: the other side of
 *   the message's conversation, as the collector saw it in the conversation
 *   list (NULL for messages collected before it was recorded: the read side
 *   then falls back to the sender of a received message).
 * - an index for a conversation's messages, newest first (the conversation
 *   list and the message list filtered by conversation).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE xiaohongshu_deleted_contents (
      owner_id   text        NOT NULL,
      note_id    text        NOT NULL,
      deleted_at timestamptz NOT NULL,
      PRIMARY KEY (owner_id, note_id)
    )`);
  await knex.raw('ALTER TABLE xiaohongshu_messages ADD COLUMN peer_user_id text, ADD COLUMN peer_nickname text');
  await knex.raw('CREATE INDEX xiaohongshu_messages_conversation ON xiaohongshu_messages (owner_id, conversation_id, sent_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS xiaohongshu_messages_conversation');
  await knex.raw('ALTER TABLE xiaohongshu_messages DROP COLUMN IF EXISTS peer_user_id, DROP COLUMN IF EXISTS peer_nickname');
  await knex.raw('DROP TABLE IF EXISTS xiaohongshu_deleted_contents');
}

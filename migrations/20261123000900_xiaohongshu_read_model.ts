import type { Knex } from 'knex';

/**
 * Collected Xiaohongshu data (projection `xiaohongshu-content-v1`,
 * src/projections/xiaohongshu-content.ts), from WorkflowExecution's
 * ItemsCollected. Seed 000's xiaohongshu_contents / xiaohongshu_messages,
 * keyed by owner instead of account (a note collected through two accounts
 * of one user is one row).
 *
 * - xiaohongshu_contents: one row per (owner, note id); a later collection
 *   updates the counts and last_collected_at, first_collected_at stays.
 * - xiaohongshu_content_history: the counts of each collection, one row per
 *   (owner, note, execution): the trends.
 * - xiaohongshu_messages: private messages, one row per (owner, conversation, message).
 * - xiaohongshu_processed_batches: the (execution, batch) pairs applied, so a
 *   redelivered or replayed event changes nothing.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE xiaohongshu_contents (
      owner_id            text        NOT NULL,
      note_id             text        NOT NULL,
      content_type        text        NOT NULL CHECK (content_type IN ('note', 'video')),
      title               text        NOT NULL,
      content             text        NOT NULL,
      author_id           text        NOT NULL,
      author_name         text        NOT NULL,
      published_at        timestamptz,
      like_count          integer     NOT NULL,
      comment_count       integer     NOT NULL,
      share_count         integer     NOT NULL,
      collect_count       integer     NOT NULL,
      images              jsonb       NOT NULL,
      tags                text[]      NOT NULL,
      location            text,
      url                 text        NOT NULL,
      workflow_ids        text[]      NOT NULL,
      last_workflow_id    text        NOT NULL,
      last_execution_id   text        NOT NULL,
      platform_account_id text,
      times_collected     integer     NOT NULL DEFAULT 1,
      first_collected_at  timestamptz NOT NULL,
      last_collected_at   timestamptz NOT NULL,
      PRIMARY KEY (owner_id, note_id)
    )`);
  await knex.raw('CREATE INDEX xiaohongshu_contents_collected ON xiaohongshu_contents (owner_id, last_collected_at)');
  await knex.raw('CREATE INDEX xiaohongshu_contents_published ON xiaohongshu_contents (owner_id, published_at)');
  await knex.raw('CREATE INDEX xiaohongshu_contents_likes ON xiaohongshu_contents (owner_id, like_count)');
  await knex.raw('CREATE INDEX xiaohongshu_contents_tags ON xiaohongshu_contents USING gin (tags)');
  await knex.raw('CREATE INDEX xiaohongshu_contents_workflows ON xiaohongshu_contents USING gin (workflow_ids)');

  await knex.raw(`
    CREATE TABLE xiaohongshu_content_history (
      owner_id      text        NOT NULL,
      note_id       text        NOT NULL,
      execution_id  text        NOT NULL,
      workflow_id   text        NOT NULL,
      collected_at  timestamptz NOT NULL,
      like_count    integer     NOT NULL,
      comment_count integer     NOT NULL,
      share_count   integer     NOT NULL,
      collect_count integer     NOT NULL,
      PRIMARY KEY (owner_id, note_id, execution_id)
    )`);
  await knex.raw('CREATE INDEX xiaohongshu_content_history_collected ON xiaohongshu_content_history (owner_id, collected_at)');

  await knex.raw(`
    CREATE TABLE xiaohongshu_messages (
      owner_id            text        NOT NULL,
      conversation_id     text        NOT NULL,
      message_id          text        NOT NULL,
      direction           text        NOT NULL CHECK (direction IN ('sent', 'received')),
      content             text        NOT NULL,
      message_type        text        NOT NULL DEFAULT 'text',
      from_user_id        text        NOT NULL,
      from_nickname       text,
      sent_at             timestamptz NOT NULL,
      platform_account_id text,
      workflow_id         text        NOT NULL,
      execution_id        text        NOT NULL,
      collected_at        timestamptz NOT NULL,
      PRIMARY KEY (owner_id, conversation_id, message_id)
    )`);
  await knex.raw('CREATE INDEX xiaohongshu_messages_sent ON xiaohongshu_messages (owner_id, sent_at)');

  await knex.raw(`
    CREATE TABLE xiaohongshu_processed_batches (
      execution_id text        NOT NULL,
      batch_id     text        NOT NULL,
      processed_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (execution_id, batch_id)
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS xiaohongshu_processed_batches');
  await knex.raw('DROP TABLE IF EXISTS xiaohongshu_messages');
  await knex.raw('DROP TABLE IF EXISTS xiaohongshu_content_history');
  await knex.raw('DROP TABLE IF EXISTS xiaohongshu_contents');
}

import type { Knex } from 'knex';

/**
 * Where each projection and process manager has got to in $all. Written in
 * the same transaction as the consumer's own rows, so the two never disagree.
 * `epoch` fences a consumer instance that lost its advisory lock: only the
 * instance holding the newest epoch may move the checkpoint.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE consumer_checkpoints (
      consumer         text PRIMARY KEY,
      commit_position  bigint      NOT NULL DEFAULT 0,
      prepare_position bigint      NOT NULL DEFAULT 0,
      epoch            bigint      NOT NULL DEFAULT 0,
      updated_at       timestamptz NOT NULL DEFAULT now()
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS consumer_checkpoints');
}

import type { Knex } from 'knex';

/**
 * The `pm-end-sessions` process manager's own index
 * (src/process-managers/end-sessions.ts), kept from the Session and User
 * events it reads, in the same transaction as its checkpoint:
 * - pm_session_index: the sessions not ended yet (rows of expired ones are
 *   pruned as the user's later events pass), so a suspension or password
 *   change finds the sessions to end without a projection's lag;
 * - pm_session_revocations: each user's last mass revocation, so a session
 *   whose login raced it (started in an older epoch) is ended as it appears
 *   (its position in $all: 20261204214500_pm_session_revocation_position).
 * Rows are per consumer. Resetting the consumer's checkpoint to the start
 * should delete its rows (the replay rebuilds them).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE pm_session_index (
      consumer      text        NOT NULL,
      session_id    text        NOT NULL,
      user_id       text        NOT NULL,
      session_epoch integer     NOT NULL,
      expires_at    timestamptz NOT NULL,
      PRIMARY KEY (consumer, session_id)
    )`);
  await knex.raw('CREATE INDEX pm_session_index_user ON pm_session_index (consumer, user_id)');
  await knex.raw(`
    CREATE TABLE pm_session_revocations (
      consumer         text        NOT NULL,
      user_id          text        NOT NULL,
      session_epoch    integer     NOT NULL,
      kept_session_id  text,
      kept_since_epoch integer,
      reason           text        NOT NULL,
      PRIMARY KEY (consumer, user_id)
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS pm_session_revocations');
  await knex.raw('DROP TABLE IF EXISTS pm_session_index');
}

import type { Knex } from 'knex';

/**
 * The `users-v1` projection's tables (src/projections/users.ts). Never a
 * password hash, refresh-token hash or reset-token hash: those stay in the
 * events. `revision` is the user stream's revision the row reflects; the
 * projection only applies an event with a higher one, so a replay changes nothing.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE users (
      id            text        PRIMARY KEY,
      email         text        NOT NULL,
      display_name  text        NOT NULL,
      avatar_url    text,
      timezone      text,
      role          text        NOT NULL,
      status        text        NOT NULL,
      registered_at timestamptz NOT NULL,
      updated_at    timestamptz NOT NULL,
      revision      bigint      NOT NULL
    )`);
  await knex.raw('CREATE UNIQUE INDEX users_email ON users (email)');
  await knex.raw(`
    CREATE TABLE user_sessions (
      id                text        PRIMARY KEY,
      user_id           text        NOT NULL,
      user_agent        text,
      ip                text,
      started_at        timestamptz NOT NULL,
      last_refreshed_at timestamptz,
      expires_at        timestamptz NOT NULL,
      ended_at          timestamptz,
      end_reason        text
    )`);
  await knex.raw('CREATE INDEX user_sessions_user ON user_sessions (user_id, started_at DESC)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS user_sessions');
  await knex.raw('DROP TABLE IF EXISTS users');
}

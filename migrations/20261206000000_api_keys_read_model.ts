import type { Knex } from 'knex';

/**
 * The read model of the personal API keys (projection `api-keys-v1`,
 * src/projections/api-keys.ts): one row per key (`api_key-{id}` stream) for
 * GET /api/v1/users/api-keys — name, scopes, the non-secret prefix, when it
 * was created, expires, was revoked, and the last day it was used
 * (`api_key_usage-…` streams; YYYY-MM-DD in the quota time zone). No
 * secret and no hash of one is kept here.
 *
 * - `api_keys_user_newest`: a user's keys, newest first.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE api_keys (
      id              text        PRIMARY KEY,
      user_id         text        NOT NULL,
      name            text        NOT NULL,
      scopes          text[]      NOT NULL,
      prefix          text        NOT NULL,
      created_at      timestamptz NOT NULL,
      expires_at      timestamptz,
      revoked_at      timestamptz,
      last_used_day   text
    )`);
  await knex.raw('CREATE INDEX api_keys_user_newest ON api_keys (user_id, created_at DESC, id DESC)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS api_keys');
}

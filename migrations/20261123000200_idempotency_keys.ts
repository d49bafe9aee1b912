import type { Knex } from 'knex';

/**
 * Idempotency-Key for POST commands. A row is first inserted as a
 * placeholder (response_status NULL: "in progress"), then completed with the
 * response once the handler has answered. Keys are per owner (a user id or
 * 'anonymous') and expire; an expired row may be taken over by a new request.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE http_idempotency_keys (
      owner            text        NOT NULL,
      key              text        NOT NULL,
      request_method   text        NOT NULL,
      request_path     text        NOT NULL,
      request_hash     text        NOT NULL,
      response_status  integer,
      response_headers jsonb       NOT NULL DEFAULT '{}'::jsonb,
      response_body    jsonb,
      created_at       timestamptz NOT NULL DEFAULT now(),
      expires_at       timestamptz NOT NULL,
      PRIMARY KEY (owner, key)
    )`);
  await knex.raw('CREATE INDEX http_idempotency_keys_expires_at ON http_idempotency_keys (expires_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS http_idempotency_keys');
}

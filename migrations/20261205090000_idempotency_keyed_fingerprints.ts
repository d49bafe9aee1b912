import type { Knex } from 'knex';

/**
 * Idempotency fingerprints are now a keyed HMAC of the request body. The
 * rows written before held a plain sha256 of bodies that may contain a
 * password (a registration): they are dropped rather than kept for their
 * remaining hours. A client retrying one of those requests with its old key
 * runs it again, as a first request; the commands behind it refuse a repeat
 * (a taken email, a stale revision) as they always do.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('DELETE FROM http_idempotency_keys');
}

export async function down(): Promise<void> {
  // nothing to restore: the old fingerprints are gone on purpose
}

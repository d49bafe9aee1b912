import type { Knex } from 'knex';

/**
 * Snapshots of long streams (src/event-store/snapshots.ts): one row per
 * stream, the newest. Used by both event store adapters. Not part of the
 * event log: dropping every row only makes the next loads fold whole streams.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE IF NOT EXISTS es_snapshots (
      stream_name text PRIMARY KEY,
      revision bigint NOT NULL,
      version integer NOT NULL,
      state jsonb NOT NULL,
      written_at timestamptz NOT NULL DEFAULT now()
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS es_snapshots');
}

import type { Knex } from 'knex';

/**
 * The console and the CLI follow a correlation id across aggregates (the
 * timeline, `events search --correlation`): without this, each such query
 * scans es_events. One index only: every index costs every append, and
 * searches by user (`--user`, `audit export`) are rare enough to scan.
 *
 * Every index on es_events is built CONCURRENTLY (outside a transaction):
 * a plain CREATE INDEX would block every append for as long as it reads the
 * whole event log.
 */
export const config = { transaction: false };

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX CONCURRENTLY IF NOT EXISTS es_events_correlation ON es_events ((metadata->>'$correlationId'))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX CONCURRENTLY IF EXISTS es_events_correlation');
}

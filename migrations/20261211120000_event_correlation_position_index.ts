import type { Knex } from 'knex';

/**
 * The correlation index carries the $all position after the id: a page of a
 * correlation (`GET /admin/correlations/{id}?from_position=`, the console's
 * Load more) then starts at its position in the index and reads only its
 * page, where the id alone made every page read and sort all of the
 * correlation's events (a bulk command sets off thousands). Still one index
 * on es_events for correlations: the new one replaces the old.
 *
 * Built CONCURRENTLY (outside a transaction), as every index on es_events: a
 * plain CREATE INDEX would block every append while it reads the event log.
 */
export const config = { transaction: false };

export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    `CREATE INDEX CONCURRENTLY IF NOT EXISTS es_events_correlation_position ON es_events ((metadata->>'$correlationId'), transaction_id, global_position)`,
  );
  await knex.raw('DROP INDEX CONCURRENTLY IF EXISTS es_events_correlation');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX CONCURRENTLY IF NOT EXISTS es_events_correlation ON es_events ((metadata->>'$correlationId'))`);
  await knex.raw('DROP INDEX CONCURRENTLY IF EXISTS es_events_correlation_position');
}

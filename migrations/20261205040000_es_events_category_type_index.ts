import type { Knex } from 'knex';

/**
 * Rebuilds read only the events of their projection: for each (stream
 * category, event type) pair a filter can match, the positions in global
 * order, straight off this index. The category is the stream name up to its
 * first dash (`workflow_execution-42` → `workflow_execution`), so a filter by
 * stream prefix (`workflow_execution-`) and one by event type both land on
 * it (src/adapters/event-store/postgres/catch-up-reader.ts). Without it a
 * rebuild of a projection that wants one event in a hundred reads all of
 * them.
 *
 * Built CONCURRENTLY (outside a transaction), as every index on es_events: a
 * plain CREATE INDEX would block every append while it reads the whole log.
 * A build that failed half-way leaves an invalid index; it is dropped first.
 */
export const config = { transaction: false };

const NAME = 'es_events_category_type';

export async function up(knex: Knex): Promise<void> {
  const { rows } = await knex.raw<{ rows: { valid: boolean }[] }>(`SELECT i.indisvalid AS valid FROM pg_index i WHERE i.indexrelid = to_regclass(?)`, [NAME]);
  if (rows[0] && !rows[0].valid) await knex.raw(`DROP INDEX CONCURRENTLY IF EXISTS ${NAME}`);
  await knex.raw(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ${NAME} ON es_events (split_part(stream_name, '-', 1), event_type, transaction_id, global_position)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP INDEX CONCURRENTLY IF EXISTS ${NAME}`);
}

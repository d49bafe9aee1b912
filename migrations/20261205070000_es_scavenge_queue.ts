import type { Knex } from 'knex';

/**
 * The scavenge's work queue (src/adapters/event-store/postgres/scavenge.ts):
 * `es_streams.scavenge_at` is when a stream may next hold events that stream
 * reads hide (past its maxAge, maxCount or truncateBefore) and the scavenge
 * has not deleted yet. A run visits only streams that are due, so its cost
 * follows what expires, not how many streams ever had a retention.
 *
 * A trigger queues a stream (scavenge_at = now()) whenever its retention
 * metadata changes, whoever writes it (setStreamMetadata, soft delete), and
 * unqueues it when the retention is removed. Appends never touch es_streams.
 *
 * Outside a transaction: the index is built CONCURRENTLY and the backfill
 * goes in batches, so neither holds back appends.
 */
export const config = { transaction: false };

const RETAINS = '(max_age IS NOT NULL OR max_count IS NOT NULL OR truncate_before IS NOT NULL)';

export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE es_streams ADD COLUMN IF NOT EXISTS scavenge_at timestamptz');
  await knex.raw(`
    CREATE OR REPLACE FUNCTION es_streams_queue_scavenge() RETURNS trigger
    LANGUAGE plpgsql AS $fn$
    BEGIN
      IF TG_OP = 'INSERT' OR (NEW.max_age, NEW.max_count, NEW.truncate_before) IS DISTINCT FROM (OLD.max_age, OLD.max_count, OLD.truncate_before) THEN
        NEW.scavenge_at := CASE WHEN NEW.max_age IS NOT NULL OR NEW.max_count IS NOT NULL OR NEW.truncate_before IS NOT NULL THEN now() END;
      END IF;
      RETURN NEW;
    END $fn$`);
  await knex.raw('DROP TRIGGER IF EXISTS es_streams_queue_scavenge ON es_streams');
  await knex.raw(`
    CREATE TRIGGER es_streams_queue_scavenge
      BEFORE INSERT OR UPDATE OF max_age, max_count, truncate_before ON es_streams
      FOR EACH ROW EXECUTE FUNCTION es_streams_queue_scavenge()`);
  // streams that had a retention before the queue existed: due now
  for (;;) {
    const { rowCount } = (await knex.raw(`
      UPDATE es_streams SET scavenge_at = now()
       WHERE stream_name IN (SELECT stream_name FROM es_streams WHERE scavenge_at IS NULL AND ${RETAINS} LIMIT 5000)`)) as { rowCount: number };
    if (rowCount === 0) break;
  }
  await knex.raw('CREATE INDEX CONCURRENTLY IF NOT EXISTS es_streams_scavenge_at ON es_streams (scavenge_at, stream_name) WHERE scavenge_at IS NOT NULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX CONCURRENTLY IF EXISTS es_streams_scavenge_at');
  await knex.raw('DROP TRIGGER IF EXISTS es_streams_queue_scavenge ON es_streams');
  await knex.raw('DROP FUNCTION IF EXISTS es_streams_queue_scavenge()');
  await knex.raw('ALTER TABLE es_streams DROP COLUMN IF EXISTS scavenge_at');
}

import type { Knex } from 'knex';

/**
 * The slow append path (and soft delete) serialise on a transaction-level
 * advisory lock per stream, taken before anything is written. A transaction
 * gets its id (the event's commit position) at its first write; the old
 * function wrote (the es_streams upsert, the FOR UPDATE row lock) before it
 * waited for the stream, so a writer that waited behind another could append
 * revision r+1 under an older transaction id than revision r, and $all would
 * deliver r+1 first. Now the revision is read after the lock and before the
 * first write, so the id comes after the commit of every revision it builds on.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE OR REPLACE FUNCTION es_lock_stream(p_stream text, p_kind text, p_revision bigint, OUT last_revision bigint, OUT deleted boolean)
    LANGUAGE plpgsql AS $fn$
    DECLARE
      v_exists boolean;
    BEGIN
      PERFORM pg_advisory_xact_lock(hashtextextended('es_stream:' || p_stream, 0));
      SELECT coalesce(bool_or(s.deleted), false) INTO deleted FROM es_streams s WHERE s.stream_name = p_stream;
      SELECT coalesce(max(e.stream_revision), -1) INTO last_revision FROM es_events e WHERE e.stream_name = p_stream;
      v_exists := last_revision >= 0 AND NOT deleted;
      IF NOT (p_kind = 'any'
         OR (p_kind = 'no_stream' AND NOT v_exists)
         OR (p_kind = 'stream_exists' AND v_exists)
         OR (p_kind = 'exact' AND v_exists AND last_revision = p_revision)) THEN
        RAISE EXCEPTION 'wrong expected version for %', p_stream
          USING ERRCODE = 'ES001', DETAIL = CASE WHEN v_exists THEN last_revision::text ELSE 'no_stream' END;
      END IF;
      INSERT INTO es_streams (stream_name) VALUES (p_stream) ON CONFLICT DO NOTHING;
    END $fn$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE OR REPLACE FUNCTION es_lock_stream(p_stream text, p_kind text, p_revision bigint, OUT last_revision bigint, OUT deleted boolean)
    LANGUAGE plpgsql AS $fn$
    DECLARE
      v_exists boolean;
    BEGIN
      INSERT INTO es_streams (stream_name) VALUES (p_stream) ON CONFLICT DO NOTHING;
      SELECT s.deleted INTO deleted FROM es_streams s WHERE s.stream_name = p_stream FOR UPDATE;
      SELECT coalesce(max(e.stream_revision), -1) INTO last_revision FROM es_events e WHERE e.stream_name = p_stream;
      v_exists := last_revision >= 0 AND NOT deleted;
      IF NOT (p_kind = 'any'
         OR (p_kind = 'no_stream' AND NOT v_exists)
         OR (p_kind = 'stream_exists' AND v_exists)
         OR (p_kind = 'exact' AND v_exists AND last_revision = p_revision)) THEN
        RAISE EXCEPTION 'wrong expected version for %', p_stream
          USING ERRCODE = 'ES001', DETAIL = CASE WHEN v_exists THEN last_revision::text ELSE 'no_stream' END;
      END IF;
    END $fn$;
  `);
}

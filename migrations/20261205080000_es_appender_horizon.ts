import type { Knex } from 'knex';
import { up as lockStreamWithoutAppenderLock } from './20261205000000_stream_lock_before_xid.js';

/**
 * The delivery horizon counts only transactions that append events.
 *
 * Readers of $all read below the oldest transaction that may still commit an
 * event. That used to be pg_snapshot_xmin: the oldest transaction in flight
 * anywhere in the cluster, so a projection batch, a process manager's table
 * write or an idle transaction in another database held back every
 * subscriber for as long as it stayed open.
 *
 * Now every connection that appends holds a shared session-level advisory
 * lock (the appender lock), taken before its transaction has an id, and
 * es_horizon() is the oldest in-flight transaction id that belongs to such a
 * connection; an in-flight id whose transaction ended while the horizon was
 * being worked out counts too (it might have been an appender). Transactions
 * that never append no longer count.
 *
 * A statement-level trigger on es_events takes the lock for a connection
 * that appends without it, and refuses (ES002) when that transaction already
 * holds an id: it could then have been passed over already. A transaction
 * that writes before it appends takes the lock first: es_lock_stream (the
 * slow append path and soft delete, which write es_streams first) does.
 */
export const APPENDER_LOCK = [1163084112, 1] as const;

export async function up(knex: Knex): Promise<void> {
  const [k1, k2] = APPENDER_LOCK;
  await knex.raw(`
    CREATE OR REPLACE FUNCTION es_register_appender() RETURNS void
    LANGUAGE plpgsql AS $fn$
    BEGIN
      IF current_setting('es.appender', true) = 'on' THEN RETURN; END IF;
      IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
        RAISE EXCEPTION 'this transaction wrote before its first append without the appender lock'
          USING ERRCODE = 'ES002',
                HINT = 'run SELECT es_register_appender() on the connection before the transaction''s first write';
      END IF;
      PERFORM pg_advisory_lock_shared(${k1}, ${k2});
      PERFORM set_config('es.appender', 'on', false);
    END $fn$;

    CREATE OR REPLACE FUNCTION es_events_register_appender() RETURNS trigger
    LANGUAGE plpgsql AS $fn$
    BEGIN
      IF current_setting('es.appender', true) IS DISTINCT FROM 'on' THEN PERFORM es_register_appender(); END IF;
      RETURN NULL;
    END $fn$;

    DROP TRIGGER IF EXISTS es_events_register_appender ON es_events;
    CREATE TRIGGER es_events_register_appender BEFORE INSERT ON es_events
      FOR EACH STATEMENT EXECUTE FUNCTION es_events_register_appender();

    -- STABLE: it works on the calling statement's snapshot. The appenders'
    -- transaction ids are read before any transaction's status: an appender
    -- in flight then is found by one or the other, however its end falls.
    CREATE OR REPLACE FUNCTION es_horizon() RETURNS xid8
    LANGUAGE plpgsql STABLE AS $fn$
    DECLARE
      v_snapshot pg_snapshot := pg_current_snapshot();
      v_appending xid[];
      v_horizon xid8;
    BEGIN
      IF NOT EXISTS (SELECT FROM pg_snapshot_xip(v_snapshot)) THEN RETURN pg_snapshot_xmax(v_snapshot); END IF;
      SELECT array_agg(t.transactionid) INTO v_appending
        FROM pg_locks t JOIN pg_locks a ON a.pid = t.pid
       WHERE t.locktype = 'transactionid' AND t.granted AND a.locktype = 'advisory' AND a.granted
         AND a.classid = ${k1} AND a.objid = ${k2} AND a.objsubid = 2
         AND a.database = (SELECT oid FROM pg_database WHERE datname = current_database());
      SELECT min(x) INTO v_horizon FROM pg_snapshot_xip(v_snapshot) AS x
       WHERE xid(x) = ANY (v_appending) OR pg_xact_status(x) IS DISTINCT FROM 'in progress';
      RETURN coalesce(v_horizon, pg_snapshot_xmax(v_snapshot));
    END $fn$;

    CREATE OR REPLACE FUNCTION es_lock_stream(p_stream text, p_kind text, p_revision bigint, OUT last_revision bigint, OUT deleted boolean)
    LANGUAGE plpgsql AS $fn$
    DECLARE
      v_exists boolean;
    BEGIN
      PERFORM es_register_appender(); -- before the es_streams write gives the transaction its id
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
    DROP TRIGGER IF EXISTS es_events_register_appender ON es_events;
    DROP FUNCTION IF EXISTS es_events_register_appender();
    DROP FUNCTION IF EXISTS es_horizon();
  `);
  await lockStreamWithoutAppenderLock(knex); // es_lock_stream as it was before
  await knex.raw('DROP FUNCTION IF EXISTS es_register_appender()');
}

import type { Knex } from 'knex';

/**
 * The Postgres event store.
 *
 * Global order is (transaction_id, global_position): EventStoreDB's
 * (commit, prepare). Readers of $all only look below the oldest transaction
 * still in flight (pg_snapshot_xmin), so an event whose transaction commits
 * after a later-numbered one is never skipped — the sequence-gap problem.
 *
 * A stream's revision is its newest event's: the unique index on
 * (stream_name, stream_revision) is the optimistic-concurrency guard, so an
 * append is one INSERT and touches no other row. es_streams holds only what
 * some streams have: metadata and soft deletion.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE es_events (
      transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
      global_position bigint      NOT NULL GENERATED ALWAYS AS IDENTITY,
      stream_name     text        NOT NULL,
      stream_revision bigint      NOT NULL,
      event_id        uuid        NOT NULL,
      event_type      text        NOT NULL,
      data            jsonb       NOT NULL,
      metadata        jsonb       NOT NULL,
      created_at      timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (transaction_id, global_position)
    );
    CREATE UNIQUE INDEX es_events_stream_revision ON es_events (stream_name, stream_revision);
    CREATE UNIQUE INDEX es_events_event_id ON es_events (event_id);

    CREATE TABLE es_streams (
      stream_name     text PRIMARY KEY,
      deleted         boolean NOT NULL DEFAULT false,
      truncate_before bigint,
      max_age         integer,
      max_count       integer,
      custom_metadata jsonb
    );

    -- The slow paths, which lock the stream's metadata row: soft delete, and
    -- the first append after one. p_kind: no_stream | stream_exists | any | exact.
    -- Raises ES001 (wrong expected version, DETAIL = actual revision or no_stream).
    CREATE FUNCTION es_lock_stream(p_stream text, p_kind text, p_revision bigint, OUT last_revision bigint, OUT deleted boolean)
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

    -- Soft delete: reads say not found; an append recreates the stream after its old events.
    -- Fast-path appends do not take this row's lock: one racing the delete can land just after
    -- the marker and reappear when the stream is recreated. Nothing is lost; delete streams at rest.
    CREATE FUNCTION es_delete_stream(p_stream text, p_kind text, p_revision bigint) RETURNS void
    LANGUAGE plpgsql AS $fn$
    DECLARE
      v_stream record;
    BEGIN
      v_stream := es_lock_stream(p_stream, p_kind, p_revision);
      IF v_stream.last_revision >= 0 THEN
        UPDATE es_streams SET deleted = true, truncate_before = v_stream.last_revision + 1 WHERE stream_name = p_stream;
      END IF;
    END $fn$;

    -- Appends to a soft-deleted stream, bringing it back; p_events as for the fast path.
    CREATE FUNCTION es_append_recreating(p_stream text, p_kind text, p_revision bigint, p_events jsonb,
      OUT stream_revision bigint, OUT transaction_id xid8, OUT global_position bigint)
    LANGUAGE plpgsql AS $fn$
    DECLARE
      v_stream record;
    BEGIN
      v_stream := es_lock_stream(p_stream, p_kind, p_revision);
      UPDATE es_streams SET deleted = false WHERE stream_name = p_stream;
      WITH inserted AS (
        INSERT INTO es_events (stream_name, stream_revision, event_id, event_type, data, metadata)
        SELECT p_stream, v_stream.last_revision + x.ord, (x.value->>'id')::uuid, x.value->>'type',
               x.value->'data', coalesce(x.value->'metadata', '{}'::jsonb)
          FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(value, ord)
        RETURNING es_events.stream_revision, es_events.transaction_id, es_events.global_position)
      SELECT i.stream_revision, i.transaction_id, i.global_position
        INTO stream_revision, transaction_id, global_position
        FROM inserted i ORDER BY i.global_position DESC LIMIT 1;
    END $fn$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP FUNCTION IF EXISTS es_append_recreating(text, text, bigint, jsonb);
    DROP FUNCTION IF EXISTS es_delete_stream(text, text, bigint);
    DROP FUNCTION IF EXISTS es_lock_stream(text, text, bigint);
    DROP TABLE IF EXISTS es_streams;
    DROP TABLE IF EXISTS es_events;
  `);
}

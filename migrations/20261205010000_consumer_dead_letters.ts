import type { Knex } from 'knex';

/**
 * Events a projection or process manager could not handle: after its retry
 * budget an event is parked here (in the same transaction that moves the
 * consumer's checkpoint past it), so one bad event never stalls a consumer.
 * An operator retries it through the consumer's handler (status `retried`)
 * or gives up on it (`skipped`): `npm run cli -- consumers dead-letters …`.
 * One row per consumer and event: parked again (a replay), the row is reused.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE consumer_dead_letters (
      id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      consumer         text        NOT NULL,
      event_id         text        NOT NULL,
      stream_name      text        NOT NULL,
      stream_revision  bigint      NOT NULL,
      event_type       text        NOT NULL,
      commit_position  bigint      NOT NULL,
      prepare_position bigint      NOT NULL,
      error            text        NOT NULL,
      attempts         integer     NOT NULL,
      first_failed_at  timestamptz NOT NULL,
      last_failed_at   timestamptz NOT NULL,
      status           text        NOT NULL DEFAULT 'parked' CHECK (status IN ('parked', 'retried', 'skipped')),
      resolved_at      timestamptz,
      UNIQUE (consumer, event_id)
    )`);
  // what operators and the metrics ask for: the parked ones, per consumer, in $all order
  await knex.raw(`CREATE INDEX consumer_dead_letters_parked ON consumer_dead_letters (consumer, commit_position, prepare_position) WHERE status = 'parked'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS consumer_dead_letters');
}

import type { Knex } from 'knex';

/**
 * Deadlines: things that must happen at a time, not in reaction to an event
 * (a paid period ends, an unpaid order runs out). Rows are written by the
 * `pm-deadlines` consumer from the events (so a replay rebuilds them) and
 * worked off by the sweeper in the projector process.
 *
 * `key` names the deadline (`<kind>:<subject>`): one per subject, moved when
 * the events move it. `retry_at` pushes a failed attempt back without losing
 * the original due time. The cause columns carry the scheduling event into
 * the command's metadata, so an audit can follow the chain.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE deadlines (
      key             text        PRIMARY KEY,
      kind            text        NOT NULL,
      subject_id      text        NOT NULL,
      due_at          timestamptz NOT NULL,
      retry_at        timestamptz,
      attempts        integer     NOT NULL DEFAULT 0,
      last_error      text,
      cause_event_id  text        NOT NULL,
      correlation_id  text        NOT NULL,
      updated_at      timestamptz NOT NULL DEFAULT now()
    )`);
  await knex.raw('CREATE INDEX deadlines_next_attempt ON deadlines ((coalesce(retry_at, due_at)))');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS deadlines');
}

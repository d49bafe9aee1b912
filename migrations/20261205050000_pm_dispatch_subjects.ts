import type { Knex } from 'knex';

/**
 * The `pm-dispatch-executions` process manager's own index of what it checks
 * a run against (src/process-managers/dispatch/subjects.ts): per subscription
 * and platform account stream, the state folded by the aggregate's own
 * evolve from the events the manager reads beside its requests, written in
 * the same transaction as its checkpoint. A batch reads the rows it needs in
 * one query instead of one stream per request, and sees each subscription
 * and account as it stood at the request. `revision` is the stream revision
 * the state stands at: events at or below it are skipped, so a redelivered
 * batch or a replay from an earlier checkpoint changes nothing, and a stream
 * with no row is loaded from the store when a request first needs it.
 * Account rows keep the status and owner only (never credentials).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE pm_dispatch_subjects (
      consumer    text   NOT NULL,
      stream_name text   NOT NULL,
      revision    bigint NOT NULL,
      state       jsonb  NOT NULL,
      PRIMARY KEY (consumer, stream_name)
    )`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS pm_dispatch_subjects');
}

import type { Knex } from 'knex';

/**
 * Scheduled reports (plan feature custom_reports):
 *
 * - `reports`, `report_runs`: the read model `reports-v1`
 *   (src/projections/reports.ts) of the Report streams (`report-{id}`) and
 *   the ReportRun streams (`report_run-{id}`). `next_run_at` is the next
 *   slot of the schedule after the definition, its last change or its last
 *   scheduled run, what the reports job (src/application/reports.ts) picks due reports by.
 * - `report_files`: the generated files, kept a bounded time (`expires_at`,
 *   deleted by the reports job) for the download route and the mail. Not a
 *   projection: the bytes are made by the job, never in an event; a rebuild
 *   of `reports-v1` leaves them.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE reports (
      id            text        PRIMARY KEY,
      user_id       text        NOT NULL,
      name          text        NOT NULL,
      service       text        NOT NULL,
      kind          text        NOT NULL,
      format        text        NOT NULL,
      days          integer     NOT NULL,
      schedule      jsonb       NOT NULL,
      status        text        NOT NULL CHECK (status IN ('active', 'deleted')),
      created_at    timestamptz NOT NULL,
      updated_at    timestamptz NOT NULL,
      next_run_at   timestamptz,
      last_run_id   text,
      last_run_at   timestamptz,
      last_revision bigint      NOT NULL
    )`);
  await knex.raw('CREATE INDEX reports_user ON reports (user_id, status, created_at DESC)');
  await knex.raw("CREATE INDEX reports_due ON reports (next_run_at) WHERE status = 'active'");

  await knex.raw(`
    CREATE TABLE report_runs (
      id            text        PRIMARY KEY,
      report_id     text        NOT NULL,
      user_id       text        NOT NULL,
      trigger       text        NOT NULL,
      slot          timestamptz,
      status        text        NOT NULL CHECK (status IN ('generated', 'skipped')),
      reason        text,
      format        text,
      file_name     text,
      content_type  text,
      bytes         integer,
      period_from   date,
      period_to     date,
      generated_at  timestamptz NOT NULL,
      expires_at    timestamptz,
      mailed_at     timestamptz,
      message_id    text,
      last_revision bigint      NOT NULL
    )`);
  await knex.raw('CREATE INDEX report_runs_report ON report_runs (report_id, generated_at DESC)');

  await knex.raw(`
    CREATE TABLE report_files (
      run_id       text        PRIMARY KEY,
      report_id    text        NOT NULL,
      user_id      text        NOT NULL,
      file_name    text        NOT NULL,
      content_type text        NOT NULL,
      content      bytea       NOT NULL,
      created_at   timestamptz NOT NULL DEFAULT now(),
      expires_at   timestamptz NOT NULL
    )`);
  await knex.raw('CREATE INDEX report_files_expiry ON report_files (expires_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS report_files');
  await knex.raw('DROP TABLE IF EXISTS report_runs');
  await knex.raw('DROP TABLE IF EXISTS reports');
}

import type { Knex } from 'knex';

/**
 * Usage statistics (docs/statistics.md):
 *
 * - the read model `usage-statistics-v1` (src/projections/usage-statistics.ts):
 *   `usage_statistics_daily` (daily rollups, days in QUOTA_TIME_ZONE) and
 *   `usage_statistics_hourly` (live counters per UTC hour, a rolling window
 *   of 48 hours), one integer per owner, bucket, platform, country, platform
 *   account, workflow, channel and metric; '' where a dimension does not
 *   apply or is not known (so the key can be a primary key). Its guard
 *   tables: `usage_statistics_subjects` (per counted stream: its owner and
 *   dimensions, for the events that do not repeat them, and the last
 *   revision applied) and `usage_statistics_proxies` (each proxy's country).
 * - `statistics_exports`: the read model `statistics-exports-v1`
 *   (src/projections/statistics-exports.ts) of the StatisticsExport streams
 *   (`statistics_export-{id}`); the files themselves go to `report_files`
 *   (report_id `statistics`) and expire with the scheduled reports' files.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE usage_statistics_daily (
      user_id     text   NOT NULL,
      day         date   NOT NULL,
      platform    text   NOT NULL,
      country     text   NOT NULL,
      account_id  text   NOT NULL,
      workflow_id text   NOT NULL,
      channel     text   NOT NULL,
      metric      text   NOT NULL,
      value       bigint NOT NULL,
      PRIMARY KEY (user_id, day, platform, country, account_id, workflow_id, channel, metric)
    )`);
  await knex.raw(`
    CREATE TABLE usage_statistics_hourly (
      user_id     text        NOT NULL,
      hour        timestamptz NOT NULL,
      platform    text        NOT NULL,
      country     text        NOT NULL,
      account_id  text        NOT NULL,
      workflow_id text        NOT NULL,
      channel     text        NOT NULL,
      metric      text        NOT NULL,
      value       bigint      NOT NULL,
      PRIMARY KEY (user_id, hour, platform, country, account_id, workflow_id, channel, metric)
    )`);
  // the rolling window is cut by hour
  await knex.raw('CREATE INDEX usage_statistics_hourly_hour ON usage_statistics_hourly (hour)');
  await knex.raw(`
    CREATE TABLE usage_statistics_subjects (
      id            text    PRIMARY KEY,
      user_id       text    NOT NULL,
      platform      text    NOT NULL,
      country       text    NOT NULL,
      account_id    text    NOT NULL,
      workflow_id   text    NOT NULL,
      units         integer NOT NULL,
      last_revision bigint  NOT NULL
    )`);
  await knex.raw(`
    CREATE TABLE usage_statistics_proxies (
      proxy_id text PRIMARY KEY,
      country  text NOT NULL
    )`);
  await knex.raw(`
    CREATE TABLE statistics_exports (
      id            text        PRIMARY KEY,
      user_id       text        NOT NULL,
      status        text        NOT NULL CHECK (status IN ('pending', 'ready', 'failed')),
      format        text        NOT NULL,
      query         jsonb       NOT NULL,
      owners        integer     NOT NULL,
      file_name     text,
      content_type  text,
      bytes         integer,
      rows          integer,
      reason        text,
      message       text,
      requested_at  timestamptz NOT NULL,
      finished_at   timestamptz,
      expires_at    timestamptz,
      last_revision bigint      NOT NULL
    )`);
  await knex.raw('CREATE INDEX statistics_exports_user_newest ON statistics_exports (user_id, requested_at DESC, id DESC)');
  await knex.raw("CREATE INDEX statistics_exports_pending ON statistics_exports (requested_at) WHERE status = 'pending'");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS statistics_exports');
  await knex.raw('DROP TABLE IF EXISTS usage_statistics_proxies');
  await knex.raw('DROP TABLE IF EXISTS usage_statistics_subjects');
  await knex.raw('DROP TABLE IF EXISTS usage_statistics_hourly');
  await knex.raw('DROP TABLE IF EXISTS usage_statistics_daily');
}

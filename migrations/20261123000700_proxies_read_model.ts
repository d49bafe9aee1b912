import type { Knex } from 'knex';

/**
 * Read models of the proxy pool.
 *
 * Projection `proxies-v1` (src/projections/proxies.ts), from the Proxy streams:
 * - `proxies`: one row per proxy with its health counters. No credentials
 *   column: only `has_credentials`. Average latency is `latency_sum_ms /
 *   latency_samples`; the success rate `successful_checks / total_checks`
 *   (probes and explicit checks; job failures are counted apart, as the
 *   aggregate does). `last_revision` guards against redelivery.
 * - `proxy_bans`: the platform bans in force (an unban deletes the row; a ban
 *   whose `until` has passed stays until replaced, and queries ignore it).
 *
 * Projection `proxy-usage-v1` (src/projections/proxy-usage.ts), from the
 * WorkflowExecution streams:
 * - `proxy_usage_executions`: its own execution → owner, platform, current
 *   proxy mapping (consumers never read each other's tables); `last_revision`
 *   guards against redelivery, `counted_proxies` the proxies that already
 *   counted this execution.
 * - `proxy_usage_stats`: per proxy, user, platform and day (quota time zone):
 *   executions through the proxy, items collected, executions failed.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE proxies (
      id                     text        PRIMARY KEY,
      stream_name            text        NOT NULL,
      host                   text        NOT NULL,
      port                   integer     NOT NULL,
      protocol               text        NOT NULL,
      has_credentials        boolean     NOT NULL,
      country                text,
      region                 text,
      provider               text,
      registered_by          text        NOT NULL,
      status                 text        NOT NULL CHECK (status IN ('healthy', 'failed', 'retired')),
      consecutive_failures   integer     NOT NULL DEFAULT 0,
      consecutive_successes  integer     NOT NULL DEFAULT 0,
      total_checks           integer     NOT NULL DEFAULT 0,
      successful_checks      integer     NOT NULL DEFAULT 0,
      job_failures           integer     NOT NULL DEFAULT 0,
      latency_sum_ms         bigint      NOT NULL DEFAULT 0,
      latency_samples        integer     NOT NULL DEFAULT 0,
      last_latency_ms        integer,
      last_checked_at        timestamptz,
      last_success_at        timestamptz,
      last_error             text,
      failure_reason         text,
      failed_at              timestamptz,
      recovered_at           timestamptz,
      retired_at             timestamptz,
      retire_reason          text,
      registered_at          timestamptz NOT NULL,
      updated_at             timestamptz NOT NULL,
      last_revision          bigint      NOT NULL
    )`);
  await knex.raw('CREATE INDEX proxies_status ON proxies (status, registered_at)');

  await knex.raw(`
    CREATE TABLE proxy_bans (
      proxy_id   text        NOT NULL REFERENCES proxies (id) ON DELETE CASCADE,
      platform   text        NOT NULL,
      reason     text        NOT NULL,
      until      timestamptz,
      banned_at  timestamptz NOT NULL,
      PRIMARY KEY (proxy_id, platform)
    )`);

  await knex.raw(`
    CREATE TABLE proxy_usage_executions (
      execution_id     text    PRIMARY KEY,
      owner_id         text    NOT NULL,
      platform         text    NOT NULL,
      proxy_id         text,
      counted_proxies  text[]  NOT NULL DEFAULT '{}',
      last_revision    bigint  NOT NULL
    )`);

  await knex.raw(`
    CREATE TABLE proxy_usage_stats (
      proxy_id    text        NOT NULL,
      user_id     text        NOT NULL,
      platform    text        NOT NULL,
      day         date        NOT NULL,
      executions  integer     NOT NULL DEFAULT 0,
      items       integer     NOT NULL DEFAULT 0,
      failures    integer     NOT NULL DEFAULT 0,
      updated_at  timestamptz NOT NULL,
      PRIMARY KEY (proxy_id, user_id, platform, day)
    )`);
  await knex.raw('CREATE INDEX proxy_usage_stats_user_day ON proxy_usage_stats (user_id, day)');
  await knex.raw('CREATE INDEX proxy_usage_stats_day ON proxy_usage_stats (day)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS proxy_usage_stats');
  await knex.raw('DROP TABLE IF EXISTS proxy_usage_executions');
  await knex.raw('DROP TABLE IF EXISTS proxy_bans');
  await knex.raw('DROP TABLE IF EXISTS proxies');
}

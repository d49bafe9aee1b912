import type { Knex } from 'knex';

/**
 * The read model of the Subscription aggregate (projection `subscriptions-v1`,
 * src/projections/subscriptions.ts). `subscriptions.last_revision` is the
 * stream revision of the last event applied: the projection skips events at
 * or below it, so a redelivered or replayed batch changes nothing.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE subscriptions (
      id                    text        PRIMARY KEY,
      stream_name           text        NOT NULL,
      user_id               text        NOT NULL,
      service               text        NOT NULL,
      plan                  text        NOT NULL,
      status                text        NOT NULL CHECK (status IN ('active', 'cancelled', 'expired')),
      period_start          timestamptz NOT NULL,
      period_end            timestamptz,
      pending_downgrade     text,
      pending_downgrade_at  timestamptz,
      cancel_at_period_end  boolean     NOT NULL DEFAULT false,
      cancelled_at          timestamptz,
      last_expired_at       timestamptz,
      started_at            timestamptz NOT NULL,
      updated_at            timestamptz NOT NULL,
      last_revision         bigint      NOT NULL
    )`);
  await knex.raw('CREATE INDEX subscriptions_user_service ON subscriptions (user_id, service)');
  await knex.raw('CREATE INDEX subscriptions_period_end ON subscriptions (period_end) WHERE period_end IS NOT NULL');

  await knex.raw(`
    CREATE TABLE feature_usage_stats (
      subscription_id text        NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
      user_id         text        NOT NULL,
      service         text        NOT NULL,
      feature         text        NOT NULL,
      day             date        NOT NULL,
      used            integer     NOT NULL DEFAULT 0,
      "limit"         integer,
      exceeded_at     timestamptz,
      updated_at      timestamptz NOT NULL,
      PRIMARY KEY (subscription_id, feature, day)
    )`);
  await knex.raw('CREATE INDEX feature_usage_stats_user_day ON feature_usage_stats (user_id, day)');

  await knex.raw(`
    CREATE TABLE subscription_reservations (
      subscription_id text        NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
      user_id         text        NOT NULL,
      service         text        NOT NULL,
      feature         text        NOT NULL,
      resource_id     text        NOT NULL,
      reserved_at     timestamptz NOT NULL,
      PRIMARY KEY (subscription_id, feature, resource_id)
    )`);
  await knex.raw('CREATE INDEX subscription_reservations_user ON subscription_reservations (user_id, service, feature)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS subscription_reservations');
  await knex.raw('DROP TABLE IF EXISTS feature_usage_stats');
  await knex.raw('DROP TABLE IF EXISTS subscriptions');
}

import type { Knex } from 'knex';

/**
 * The read model of the PlatformAccount aggregate (projection
 * `platform-accounts-v1`, src/projections/platform-accounts.ts). It holds no
 * credentials, sealed or not: they live only in the events, and
 * the verify route reads them from the write side. `last_revision` is the
 * stream revision of the last event applied, so redelivery changes nothing.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE platform_accounts (
      id                       text        PRIMARY KEY,
      owner_id                 text        NOT NULL,
      platform                 text        NOT NULL,
      platform_user_id         text,
      display_name             text        NOT NULL,
      nickname                 text,
      status                   text        NOT NULL CHECK (status IN ('pending_verification', 'active', 'invalid', 'disconnected')),
      health_score             integer     NOT NULL CHECK (health_score BETWEEN 0 AND 100),
      health_level             text        NOT NULL,
      last_invalidation_reason text,
      invalidated_at           timestamptz,
      verified_at              timestamptz,
      connected_at             timestamptz NOT NULL,
      disconnected_at          timestamptz,
      updated_at               timestamptz NOT NULL,
      last_revision            bigint      NOT NULL
    )`);
  await knex.raw('CREATE INDEX platform_accounts_owner ON platform_accounts (owner_id, platform, status, connected_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS platform_accounts');
}

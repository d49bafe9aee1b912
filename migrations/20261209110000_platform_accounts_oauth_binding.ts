import type { Knex } from 'knex';

/**
 * Platform accounts bound through OAuth (projection `platform-accounts-v1`):
 * `binding` says how an account is bound — `cookies` (every account before
 * this) or `oauth` — and `token_expires_at` when an OAuth account's access
 * token expires (null for cookies). The tokens themselves stay sealed in the
 * events; no column holds them.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE platform_accounts
      ADD COLUMN binding text NOT NULL DEFAULT 'cookies',
      ADD COLUMN token_expires_at timestamptz`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE platform_accounts DROP COLUMN IF EXISTS token_expires_at, DROP COLUMN IF EXISTS binding');
}

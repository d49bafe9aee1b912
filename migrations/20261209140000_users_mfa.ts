import type { Knex } from 'knex';

/**
 * The user's second factor as the profile and the admin list show it
 * (TotpEnrollmentStarted, TotpEnabled, RecoveryCodeUsed,
 * RecoveryCodesRegenerated, TotpDisabled): `off`, `pending` or `on`, and the
 * unused recovery codes. Never the secret or a code's hash. Rows from before
 * hold no such events: the defaults are their state.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE users ADD COLUMN IF NOT EXISTS mfa_totp text NOT NULL DEFAULT 'off'`);
  await knex.raw('ALTER TABLE users ADD COLUMN IF NOT EXISTS mfa_recovery_codes_left integer NOT NULL DEFAULT 0');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE users DROP COLUMN IF EXISTS mfa_recovery_codes_left');
  await knex.raw('ALTER TABLE users DROP COLUMN IF EXISTS mfa_totp');
}

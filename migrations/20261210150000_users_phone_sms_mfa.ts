import type { Knex } from 'knex';

/**
 * The user's verified phone number and the SMS second factor, as the profile
 * and the admin list show them (PhoneNumberVerified, PhoneNumberRemoved,
 * SmsMfaEnabled, SmsMfaDisabled, MfaReset). Never a code's hash. Rows from
 * before hold no such events: the defaults are their state.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE users ADD COLUMN IF NOT EXISTS phone_e164 text');
  await knex.raw('ALTER TABLE users ADD COLUMN IF NOT EXISTS phone_verified_at timestamptz');
  await knex.raw('ALTER TABLE users ADD COLUMN IF NOT EXISTS mfa_sms boolean NOT NULL DEFAULT false');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE users DROP COLUMN IF EXISTS mfa_sms');
  await knex.raw('ALTER TABLE users DROP COLUMN IF EXISTS phone_verified_at');
  await knex.raw('ALTER TABLE users DROP COLUMN IF EXISTS phone_e164');
}

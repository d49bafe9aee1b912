import type { Knex } from 'knex';

/**
 * The user's username (null: none chosen; unique through its reservation
 * stream, not through this read table) and notification preferences (per
 * notification kind: { inApp, mail }; a kind left out is delivered on both).
 * Pattern indexes serve the admin user search by prefix (both are stored in lower case).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE users ADD COLUMN IF NOT EXISTS username text');
  await knex.raw(`ALTER TABLE users ADD COLUMN IF NOT EXISTS notification_preferences jsonb NOT NULL DEFAULT '{}'::jsonb`);
  await knex.raw('CREATE INDEX IF NOT EXISTS users_username_idx ON users (username text_pattern_ops)');
  await knex.raw('CREATE INDEX IF NOT EXISTS users_email_pattern_idx ON users (email text_pattern_ops)');
  await knex.raw('CREATE INDEX IF NOT EXISTS users_registered_idx ON users (registered_at DESC, id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS users_registered_idx');
  await knex.raw('DROP INDEX IF EXISTS users_email_pattern_idx');
  await knex.raw('DROP INDEX IF EXISTS users_username_idx');
  await knex.raw('ALTER TABLE users DROP COLUMN IF EXISTS notification_preferences');
  await knex.raw('ALTER TABLE users DROP COLUMN IF EXISTS username');
}

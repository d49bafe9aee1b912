import type { Knex } from 'knex';

/**
 * Organization-held subscriptions in the `subscriptions-v1` read model: an
 * organization's subscription (shared by its members) has `holder_kind`
 * organization and its id in `organization_id` (`user_id` holds the same
 * id: the holder's, as its events name it). Rows from before are users'
 * own: the defaults are their state.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE subscriptions ADD COLUMN IF NOT EXISTS holder_kind text NOT NULL DEFAULT 'user'");
  await knex.raw('ALTER TABLE subscriptions ADD COLUMN IF NOT EXISTS organization_id text');
  await knex.raw('CREATE INDEX IF NOT EXISTS subscriptions_organization_service ON subscriptions (organization_id, service) WHERE organization_id IS NOT NULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS subscriptions_organization_service');
  await knex.raw('ALTER TABLE subscriptions DROP COLUMN IF EXISTS organization_id');
  await knex.raw('ALTER TABLE subscriptions DROP COLUMN IF EXISTS holder_kind');
}

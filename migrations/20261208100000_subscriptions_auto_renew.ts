import type { Knex } from 'knex';

/**
 * Automatic renewal on the subscriptions read model (`subscriptions-v1`):
 * whether it is on and with which provider / channel (AutoRenewChanged;
 * cancelling and falling back to free turn it off), and the renewal order
 * placed before the period ends (SubscriptionRenewalOrdered; cleared when the
 * period changes).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE subscriptions
    ADD COLUMN IF NOT EXISTS auto_renew boolean NOT NULL DEFAULT false,
    ADD COLUMN IF NOT EXISTS auto_renew_provider text,
    ADD COLUMN IF NOT EXISTS auto_renew_channel text,
    ADD COLUMN IF NOT EXISTS renewal_order_id text`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE subscriptions
    DROP COLUMN IF EXISTS auto_renew,
    DROP COLUMN IF EXISTS auto_renew_provider,
    DROP COLUMN IF EXISTS auto_renew_channel,
    DROP COLUMN IF EXISTS renewal_order_id`);
}

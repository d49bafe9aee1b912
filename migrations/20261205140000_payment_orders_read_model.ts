import type { Knex } from 'knex';

/**
 * The read model of the payment orders (projection `payment-orders-v1`,
 * src/projections/payment-orders.ts): one row per order (`payment-{id}`
 * stream), its status, where it is paid (pay_url / code_url), the payment,
 * failure, expiry and refunds. `last_revision` is the order stream's revision
 * last applied (a redelivered event changes nothing).
 *
 * - `payment_orders_user_newest`: a user's billing history, newest first;
 * - `payment_orders_pending`: the reconcile job's pending orders, oldest first;
 * - `payment_orders_refunds_pending`: orders with a refund waiting for the provider.
 * No secret is kept here (the pay URL is a signed request, not a key).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE payment_orders (
      id                   text        PRIMARY KEY,
      user_id              text        NOT NULL,
      service              text        NOT NULL,
      plan                 text        NOT NULL,
      billing_cycle        text        NOT NULL,
      amount_fen           integer     NOT NULL,
      provider             text        NOT NULL,
      status               text        NOT NULL,
      channel              text,
      pay_url              text,
      code_url             text,
      placed_at            timestamptz,
      provider_trade_no    text,
      paid_at              timestamptz,
      failure_reason       text,
      failed_at            timestamptz,
      expired_at           timestamptz,
      refunded_fen         integer     NOT NULL DEFAULT 0,
      refunds_pending      jsonb       NOT NULL DEFAULT '{}'::jsonb,
      refund_pending_since timestamptz,
      created_at           timestamptz NOT NULL,
      expires_at           timestamptz NOT NULL,
      updated_at           timestamptz NOT NULL,
      last_revision        bigint      NOT NULL
    )`);
  await knex.raw('CREATE INDEX payment_orders_user_newest ON payment_orders (user_id, created_at DESC, id DESC)');
  await knex.raw(`CREATE INDEX payment_orders_pending ON payment_orders (created_at) WHERE status = 'pending'`);
  await knex.raw('CREATE INDEX payment_orders_refunds_pending ON payment_orders (refund_pending_since) WHERE refund_pending_since IS NOT NULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS payment_orders');
}

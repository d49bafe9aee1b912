import type { Knex } from 'knex';

/**
 * The read model of SMS (projection `sms-v1`, src/projections/sms.ts):
 *
 * - `sms_messages`: one row per `sms_message-{id}` stream (POST
 *   /api/v1/sms/messages) for GET /api/v1/sms/messages: the number, text,
 *   segments and price, the status (pending, sent, delivered, undelivered,
 *   failed), the provider's id and charge, the receipt's outcome.
 *   `last_revision` is the stream revision the row reflects: an event at or
 *   below it is not applied again.
 * - `sms_inbound`: one row per `sms_inbound-{providerMessageId}` stream, for
 *   GET /api/v1/sms/inbound (the owner's) — unrouted ones have no owner.
 *
 * Indexes: a user's messages newest first; the latest message to a number
 * (routing a reply to whoever sent to its sender); a user's inbound newest first.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE sms_messages (
      id                     text        PRIMARY KEY,
      owner_id               text        NOT NULL,
      to_number              text        NOT NULL,
      country                text        NOT NULL,
      calling_code           text        NOT NULL,
      text                   text        NOT NULL,
      encoding               text        NOT NULL,
      segments               integer     NOT NULL,
      unit_price_fen         integer     NOT NULL,
      price_fen              integer     NOT NULL,
      status                 text        NOT NULL,
      provider_message_id    text,
      sender_number          text,
      provider_price_micros  bigint,
      provider_currency      text,
      receipt_id             text,
      error_code             text,
      error_reason           text,
      failure_code           text,
      failure_reason         text,
      requested_at           timestamptz NOT NULL,
      sent_at                timestamptz,
      done_at                timestamptz,
      finished_at            timestamptz,
      last_revision          bigint      NOT NULL
    )`);
  await knex.raw('CREATE INDEX sms_messages_owner_newest ON sms_messages (owner_id, requested_at DESC, id DESC)');
  await knex.raw('CREATE INDEX sms_messages_to_newest ON sms_messages (to_number, requested_at DESC)');
  await knex.raw(`
    CREATE TABLE sms_inbound (
      provider_message_id  text        PRIMARY KEY,
      owner_id             text,
      route                text        NOT NULL,
      reply_to             text,
      from_number          text        NOT NULL,
      to_number            text        NOT NULL,
      text                 text        NOT NULL,
      received_at          timestamptz NOT NULL,
      recorded_at          timestamptz NOT NULL
    )`);
  await knex.raw('CREATE INDEX sms_inbound_owner_newest ON sms_inbound (owner_id, received_at DESC, provider_message_id DESC)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS sms_inbound');
  await knex.raw('DROP TABLE IF EXISTS sms_messages');
}

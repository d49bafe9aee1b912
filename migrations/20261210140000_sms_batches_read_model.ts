import type { Knex } from 'knex';

/**
 * SMS for organizations (docs/sms.md):
 *
 * - `sms_messages.batch_id`, `.organization_id` (projection `sms-v1`): the
 *   batch a message is one recipient of, the owner's organization; a batch's
 *   progress counts its messages by status.
 * - `sms_inbound.organization_id`, `.keyword`: an inbound message's owner's
 *   organization (listed to all of it) and the keyword it was routed by.
 * - `sms_batches` (projection `sms-batches-v1`): one row per `sms_batch-{id}`.
 * - `sms_keywords` (projection `sms-batches-v1`): one row per keyword ever
 *   reserved, `released` once given back (the inbound routing reads the others).
 * - `reviews.subject` (projection `reviews-v1`): publication or sms_batch.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE sms_messages ADD COLUMN batch_id text, ADD COLUMN organization_id text');
  await knex.raw('CREATE INDEX sms_messages_batch ON sms_messages (batch_id, status) WHERE batch_id IS NOT NULL');
  await knex.raw('ALTER TABLE sms_inbound ADD COLUMN organization_id text, ADD COLUMN keyword text');
  await knex.raw(
    'CREATE INDEX sms_inbound_organization_newest ON sms_inbound (organization_id, received_at DESC, provider_message_id DESC) WHERE organization_id IS NOT NULL',
  );
  await knex.raw("ALTER TABLE reviews ADD COLUMN subject text NOT NULL DEFAULT 'publication'");
  await knex.raw(`
    CREATE TABLE sms_batches (
      id                  text        PRIMARY KEY,
      owner_id            text        NOT NULL,
      organization_id     text,
      text                text        NOT NULL,
      sender_id           text        NOT NULL,
      encoding            text        NOT NULL,
      segments            integer     NOT NULL,
      recipient_count     integer     NOT NULL,
      invalid_skipped     integer     NOT NULL,
      duplicates_removed  integer     NOT NULL,
      scheduled_at        timestamptz,
      status              text        NOT NULL,
      review_id           text,
      hit_count           integer,
      reviewer_id         text,
      review_comment      text,
      created_at          timestamptz NOT NULL,
      decided_at          timestamptz,
      started_at          timestamptz,
      cancelled_at        timestamptz,
      cancelled_by        text,
      last_revision       bigint      NOT NULL
    )`);
  await knex.raw('CREATE INDEX sms_batches_owner_newest ON sms_batches (owner_id, created_at DESC, id DESC)');
  await knex.raw(`
    CREATE TABLE sms_keywords (
      keyword          text        PRIMARY KEY,
      owner_id         text        NOT NULL,
      organization_id  text,
      released         boolean     NOT NULL,
      reserved_at      timestamptz NOT NULL,
      released_at      timestamptz,
      last_revision    bigint      NOT NULL
    )`);
  await knex.raw('CREATE INDEX sms_keywords_organization ON sms_keywords (organization_id, keyword) WHERE NOT released');
  await knex.raw('CREATE INDEX sms_keywords_owner ON sms_keywords (owner_id, keyword) WHERE NOT released');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS sms_keywords');
  await knex.raw('DROP TABLE IF EXISTS sms_batches');
  await knex.raw('ALTER TABLE reviews DROP COLUMN IF EXISTS subject');
  await knex.raw('DROP INDEX IF EXISTS sms_inbound_organization_newest');
  await knex.raw('ALTER TABLE sms_inbound DROP COLUMN IF EXISTS organization_id, DROP COLUMN IF EXISTS keyword');
  await knex.raw('DROP INDEX IF EXISTS sms_messages_batch');
  await knex.raw('ALTER TABLE sms_messages DROP COLUMN IF EXISTS batch_id, DROP COLUMN IF EXISTS organization_id');
}

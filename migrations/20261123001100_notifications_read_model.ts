import type { Knex } from 'knex';

/**
 * The read model of the notification inboxes (projection `notifications-v1`,
 * src/projections/notifications.ts).
 *
 * - `notifications`: one row per notification; `read_at` null while unread,
 *   `emailed_at` once mailed; `seq` is the stream revision of its
 *   NotificationSent (the order within the inbox).
 * - `notification_inboxes`: per user, the stream revision last applied
 *   (`last_revision`), so a redelivered event changes nothing — mark-all
 *   touches many rows, so the revision lives on the inbox, not the row.
 *
 * The partial index serves the unread count and `?unread=true`.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE notification_inboxes (
      user_id       text   PRIMARY KEY,
      last_revision bigint NOT NULL
    )`);
  await knex.raw(`
    CREATE TABLE notifications (
      id          text        PRIMARY KEY,
      user_id     text        NOT NULL,
      kind        text        NOT NULL,
      title       text        NOT NULL,
      body        text        NOT NULL,
      data        jsonb       NOT NULL DEFAULT '{}'::jsonb,
      seq         bigint      NOT NULL,
      created_at  timestamptz NOT NULL,
      read_at     timestamptz,
      emailed_at  timestamptz
    )`);
  await knex.raw('CREATE INDEX notifications_user_newest ON notifications (user_id, created_at DESC, seq DESC)');
  await knex.raw('CREATE INDEX notifications_user_unread ON notifications (user_id, created_at DESC, seq DESC) WHERE read_at IS NULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS notifications');
  await knex.raw('DROP TABLE IF EXISTS notification_inboxes');
}

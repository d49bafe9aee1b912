import type { Knex } from 'knex';

/**
 * `pm_queue_alert_admins` (pm-queue-alerts): every user's role and status as
 * their user stream says (UserRegistered, RoleChanged, UserSuspended,
 * UserReactivated), guarded by the stream revision, so a blockage detected
 * is told to the admins of that moment with one query; `changed_at` (the
 * event's time) keeps a replayed detection from reaching users whose row
 * changed after it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE pm_queue_alert_admins (
      user_id       text    PRIMARY KEY,
      role          text    NOT NULL,
      active        boolean NOT NULL,
      last_revision bigint  NOT NULL,
      changed_at    timestamptz NOT NULL
    )`);
  await knex.raw("CREATE INDEX pm_queue_alert_admins_active ON pm_queue_alert_admins (user_id) WHERE role = 'admin' AND active");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS pm_queue_alert_admins');
}

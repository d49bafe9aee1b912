import type { Knex } from 'knex';

/**
 * Where in $all each user's last mass revocation stands (`<commit>-<prepare>`):
 * `pm-end-sessions` ends a raced login only for a revocation before it, so a
 * replay from an earlier checkpoint never applies a later revocation early.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE pm_session_revocations ADD COLUMN position text NOT NULL DEFAULT '0-0'`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE pm_session_revocations DROP COLUMN IF EXISTS position');
}

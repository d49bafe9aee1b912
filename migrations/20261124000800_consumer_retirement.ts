import type { Knex } from 'knex';

/**
 * A projection version replaced by a rebuilt newer one is retired: its
 * checkpoint row says by which, so an instance still running the old code
 * stops instead of writing into the new version's tables.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE consumer_checkpoints ADD COLUMN retired_by text');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE consumer_checkpoints DROP COLUMN IF EXISTS retired_by');
}

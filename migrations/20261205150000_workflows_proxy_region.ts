import type { Knex } from 'knex';

/** The region (or country code) a workflow's runs must use proxies of; null: any. */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE workflows ADD COLUMN IF NOT EXISTS proxy_region text');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE workflows DROP COLUMN IF EXISTS proxy_region');
}

import type { Knex } from 'knex';

/**
 * The Qidian competitor analysis (GET /api/v1/qidian/analytics/competitors/{novel_id},
 * src/read-api/qidian-competitors.ts) reads an owner's snapshots and board
 * entries of one category over a period; without these it walked all of an
 * owner's rows.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE INDEX IF NOT EXISTS qidian_novel_snapshots_owner_category ON qidian_novel_snapshots (owner_id, category, captured_at)');
  await knex.raw('CREATE INDEX IF NOT EXISTS qidian_rankings_owner_category ON qidian_rankings (owner_id, category, day)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS qidian_novel_snapshots_owner_category');
  await knex.raw('DROP INDEX IF EXISTS qidian_rankings_owner_category');
}

import type { Knex } from 'knex';

/**
 * The Qidian author analytics (GET /api/v1/qidian/analytics/author/{author},
 * src/read-api/qidian-analytics.ts) read an owner's books, snapshots and
 * ranking entries by author name; these tables had no index on (owner,
 * author), so each request walked all of an owner's rows. The market
 * analytics need none: they read qidian_rankings by its primary key (owner,
 * ranking, day, rank) and qidian_novel_snapshots by (owner, captured_at).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE INDEX IF NOT EXISTS qidian_novels_owner_author ON qidian_novels (owner_id, author)');
  await knex.raw('CREATE INDEX IF NOT EXISTS qidian_novel_snapshots_owner_author ON qidian_novel_snapshots (owner_id, author, captured_at)');
  await knex.raw('CREATE INDEX IF NOT EXISTS qidian_rankings_owner_author ON qidian_rankings (owner_id, author, day)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS qidian_novels_owner_author');
  await knex.raw('DROP INDEX IF EXISTS qidian_novel_snapshots_owner_author');
  await knex.raw('DROP INDEX IF EXISTS qidian_rankings_owner_author');
}

import type { Knex } from 'knex';

/**
 * The retention job deletes per owner by time; these tables had no index on
 * (owner, time), so each delete walked all of an owner's rows.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE INDEX IF NOT EXISTS xiaohongshu_messages_owner_collected ON xiaohongshu_messages (owner_id, collected_at)');
  await knex.raw('CREATE INDEX IF NOT EXISTS qidian_rankings_owner_captured ON qidian_rankings (owner_id, captured_at)');
  await knex.raw('CREATE INDEX IF NOT EXISTS qidian_novel_snapshots_owner_captured ON qidian_novel_snapshots (owner_id, captured_at)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS xiaohongshu_messages_owner_collected');
  await knex.raw('DROP INDEX IF EXISTS qidian_rankings_owner_captured');
  await knex.raw('DROP INDEX IF EXISTS qidian_novel_snapshots_owner_captured');
}

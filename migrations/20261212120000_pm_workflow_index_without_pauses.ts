import type { Knex } from 'knex';

/**
 * The process managers' workflow index no longer keeps a workflow's pauses:
 * they ask every workflow of an account (or owner) to resume and the decider
 * lifts the pause where there is one, since their own pause may land after
 * the verification or upgrade in their feed. Nothing read these columns.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE pm_workflow_index DROP COLUMN IF EXISTS status, DROP COLUMN IF EXISTS paused_for');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE pm_workflow_index
    ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    ADD COLUMN IF NOT EXISTS paused_for jsonb NOT NULL DEFAULT '[]'::jsonb`);
}

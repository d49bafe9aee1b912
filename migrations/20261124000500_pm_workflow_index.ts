import type { Knex } from 'knex';

/**
 * The workflows a process manager knows of, kept by that process manager
 * itself (src/process-managers/workflow-index.ts) from the Workflow events it
 * reads, in the same transaction as its checkpoint. Rows are per consumer:
 * a manager never depends on another consumer's (or a projection's) lag, and
 * the index reflects exactly the events before the one being handled.
 * Deleted workflows have no row. Resetting a consumer's checkpoint must
 * delete its rows too (they are rebuilt by the replay).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE pm_workflow_index (
      consumer            text    NOT NULL,
      workflow_id         text    NOT NULL,
      owner_id            text    NOT NULL,
      service             text,
      platform_account_id text,
      scheduled           boolean NOT NULL DEFAULT false,
      status              text    NOT NULL CHECK (status IN ('active', 'paused')),
      paused_for          jsonb   NOT NULL DEFAULT '[]'::jsonb,
      PRIMARY KEY (consumer, workflow_id)
    )`);
  await knex.raw('CREATE INDEX pm_workflow_index_owner ON pm_workflow_index (consumer, owner_id, service)');
  await knex.raw('CREATE INDEX pm_workflow_index_account ON pm_workflow_index (consumer, platform_account_id) WHERE platform_account_id IS NOT NULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS pm_workflow_index');
}

import type { Knex } from 'knex';

/**
 * The read model of the WorkflowDefinition and WorkflowExecution aggregates
 * (projection `workflows-v1`, src/projections/workflows.ts). Each row's
 * `last_revision` is the revision of its own stream last applied: the
 * projection skips events at or below it, so a replayed batch changes nothing.
 * Configs hold no secrets (platform credentials live on platform accounts).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE workflows (
      id                  text        PRIMARY KEY,
      stream_name         text        NOT NULL,
      owner_id            text        NOT NULL,
      platform            text        NOT NULL,
      type                text        NOT NULL,
      name                text        NOT NULL,
      config              jsonb       NOT NULL,
      platform_account_id text,
      schedule            jsonb,
      status              text        NOT NULL CHECK (status IN ('active', 'paused', 'deleted')),
      paused_for          jsonb       NOT NULL DEFAULT '[]'::jsonb,
      pauses              jsonb       NOT NULL DEFAULT '[]'::jsonb,
      created_at          timestamptz NOT NULL,
      updated_at          timestamptz NOT NULL,
      deleted_at          timestamptz,
      last_run_at         timestamptz,
      last_execution_id   text,
      last_revision       bigint      NOT NULL
    )`);
  await knex.raw('CREATE INDEX workflows_owner ON workflows (owner_id, created_at DESC, id)');
  await knex.raw('CREATE INDEX workflows_account ON workflows (platform_account_id) WHERE platform_account_id IS NOT NULL');

  await knex.raw(`
    CREATE TABLE workflow_executions (
      id                  text        PRIMARY KEY,
      stream_name         text        NOT NULL,
      workflow_id         text        NOT NULL,
      owner_id            text        NOT NULL,
      platform            text        NOT NULL,
      type                text        NOT NULL,
      platform_account_id text,
      trigger             text        NOT NULL,
      status              text        NOT NULL,
      attempt             integer     NOT NULL DEFAULT 0,
      worker_id           text,
      proxy_id            text,
      item_count          integer     NOT NULL DEFAULT 0,
      cursor              text,
      pause_reason        text,
      rejection_reason    text,
      rejection_details   jsonb,
      failure_reason      text,
      requested_at        timestamptz NOT NULL,
      started_at          timestamptz,
      finished_at         timestamptz,
      updated_at          timestamptz NOT NULL,
      last_revision       bigint      NOT NULL
    )`);
  await knex.raw('CREATE INDEX workflow_executions_workflow ON workflow_executions (workflow_id, requested_at DESC, id)');
  await knex.raw('CREATE INDEX workflow_executions_owner ON workflow_executions (owner_id, requested_at DESC)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS workflow_executions');
  await knex.raw('DROP TABLE IF EXISTS workflows');
}

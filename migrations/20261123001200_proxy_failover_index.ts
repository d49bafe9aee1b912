import type { Knex } from 'knex';

/**
 * The non-terminal executions per proxy, kept by the `pm-proxy-failover`
 * process manager (src/process-managers/proxy-failover.ts) from the
 * ProxyAssigned and terminal WorkflowExecution events it reads, in the same
 * transaction as its checkpoint: on ProxyFailed / ProxyBanned it finds the
 * executions to move here. Rows are per consumer (a test's consumer never
 * sees another's). A row is a lookup only: the execution's stream decides.
 * Resetting the consumer's checkpoint to the start should delete its rows
 * (the replay rebuilds them).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE pm_proxy_failover_index (
      consumer      text        NOT NULL,
      execution_id  text        NOT NULL,
      proxy_id      text        NOT NULL,
      assigned_at   timestamptz NOT NULL,
      PRIMARY KEY (consumer, execution_id)
    )`);
  await knex.raw('CREATE INDEX pm_proxy_failover_index_proxy ON pm_proxy_failover_index (consumer, proxy_id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS pm_proxy_failover_index');
}

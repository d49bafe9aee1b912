// default import: knex is CommonJS and Node cannot see its named exports
import knexFactory, { type Knex } from 'knex';

export type { Knex };

export interface SessionLimits {
  /** ms a statement may run (0: no limit) */
  statementTimeoutMs?: number;
  /** ms a session may sit idle inside a transaction before Postgres closes it (0: no limit) */
  idleInTransactionTimeoutMs?: number;
}

/** pg connection settings with the session limits applied. */
export function sessionSettings(connectionString: string, limits: SessionLimits = {}) {
  return {
    connectionString,
    ...(limits.statementTimeoutMs ? { statement_timeout: limits.statementTimeoutMs } : {}),
    ...(limits.idleInTransactionTimeoutMs ? { idle_in_transaction_session_timeout: limits.idleInTransactionTimeoutMs } : {}),
  };
}

/** The read side's connection pool (read tables, checkpoints, migrations). */
export function createKnex(connectionString: string, poolMax: number, limits: SessionLimits = {}): Knex {
  return knexFactory({
    client: 'pg',
    connection: sessionSettings(connectionString, limits),
    // min 0: idle connections are released, so a stopped database does not leave dead ones behind
    pool: { min: 0, max: poolMax },
    acquireConnectionTimeout: 10_000,
  });
}

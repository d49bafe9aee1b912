// default import: knex is CommonJS and Node cannot see its named exports
import knexFactory, { type Knex } from 'knex';

export type { Knex };

/** The read side's connection pool (read tables, checkpoints, migrations). */
export function createKnex(connectionString: string, poolMax: number): Knex {
  return knexFactory({
    client: 'pg',
    connection: connectionString,
    // min 0: idle connections are released, so a stopped database does not leave dead ones behind
    pool: { min: 0, max: poolMax },
    acquireConnectionTimeout: 10_000,
  });
}

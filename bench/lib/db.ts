import path from 'node:path';
import { fileURLToPath } from 'node:url';
import knexFactory from 'knex';
import pg from 'pg';

export const PG_HOST = process.env.BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432';

export function databaseUrl(database: string): string {
  return `${PG_HOST}/${database}`;
}

/** Drops (kicking out any leftover sessions) and creates the database. */
export async function recreateDatabase(database: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(database)) throw new Error(`unsafe database name ${database}`);
  const admin = new pg.Client({ connectionString: databaseUrl('postgres') });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${database}`);
  } finally {
    await admin.end();
  }
  return databaseUrl(database);
}

const MIGRATIONS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

/** Our schema, the way production gets it: knex migrations. */
export async function migrate(connectionString: string): Promise<void> {
  const knex = knexFactory({ client: 'pg', connection: connectionString });
  try {
    await knex.migrate.latest({ directory: MIGRATIONS, loadExtensions: ['.ts'] });
  } finally {
    await knex.destroy();
  }
}

/** One-off query on a short-lived client. */
export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(connectionString: string, text: string): Promise<R[]> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return (await client.query<R>(text)).rows;
  } finally {
    await client.end();
  }
}

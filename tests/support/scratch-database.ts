import knexFactory from 'knex';
import { ensureDatabase } from '../../src/adapters/db/ensure-database.js';
import { runMigrations } from '../../src/adapters/db/migrate.js';
import { testDatabaseUrl } from '../setup/test-env.js';

/**
 * A database of its own for a test that swaps tables or rewinds consumers,
 * migrated, on the test server; `drop()` removes it (CI and developer
 * machines keep one Postgres: nothing may pile up there).
 */
export async function scratchDatabase(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix)) throw new Error(`unsafe database prefix ${prefix}`);
  const name = `${prefix}_${Math.random().toString(16).slice(2, 12)}`;
  const url = new URL(testDatabaseUrl);
  url.pathname = `/${name}`;
  await ensureDatabase(url.toString());
  const migrator = knexFactory({ client: 'pg', connection: url.toString(), pool: { min: 0, max: 2 } });
  try {
    await runMigrations(migrator);
  } finally {
    await migrator.destroy();
  }
  return {
    url: url.toString(),
    async drop() {
      const admin = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 1 } });
      try {
        await admin.raw(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await admin.destroy();
      }
    },
  };
}

import { createKnex } from '../../src/adapters/db/knex.js';
import { ensureDatabase } from '../../src/adapters/db/ensure-database.js';
import { runMigrations } from '../../src/adapters/db/migrate.js';
import { testDatabaseUrl } from './test-env.js';

/** Once per test run: the test database exists and its schema is current. */
export const mochaHooks = {
  async beforeAll(): Promise<void> {
    await ensureDatabase(testDatabaseUrl);
    const knex = createKnex(testDatabaseUrl, 2);
    try {
      await runMigrations(knex);
    } finally {
      await knex.destroy();
    }
  },
};

import { createKnex } from '../adapters/db/knex.js';
import { ensureDatabase } from '../adapters/db/ensure-database.js';
import { runMigrations } from '../adapters/db/migrate.js';
import { loadConfigOrExit } from './boot.js';

/** `npm run migrate`: creates the database if needed and applies pending migrations. */
const config = loadConfigOrExit();
const database = new URL(config.DATABASE_URL);
const where = `${database.pathname.slice(1)} on ${database.host}`;

const knex = createKnex(config.DATABASE_URL, 2);
try {
  if (await ensureDatabase(config.DATABASE_URL)) console.log(`created database ${where}`);
  const { batch, ran } = await runMigrations(knex);
  if (ran.length === 0) console.log(`database ${where} is up to date`);
  else console.log(`migrated ${where} (batch ${batch}):\n${ran.map((name) => `  ${name}`).join('\n')}`);
} catch (error) {
  console.error(`migrating ${where} failed:`, error);
  process.exitCode = 1;
} finally {
  await knex.destroy();
}

import { ConfigError, loadConfig, type Config } from '../config.js';
import { ensureDatabase } from '../adapters/db/ensure-database.js';
import { runMigrations } from '../adapters/db/migrate.js';
import type { Knex } from '../adapters/db/knex.js';
import type { Logger } from '../logger.js';
import { assertTransactionIdsAhead, RestoredClusterError } from '../adapters/event-store/postgres/restore-guard.js';

/** The configuration, or the list of what is wrong with it on stderr and exit 1. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`Invalid configuration:\n${error.problems.map((line) => `  ${line}`).join('\n')}`);
    process.exit(1);
  }
}

/**
 * Every process starts from an up-to-date schema, even on a machine that has
 * never run the platform, and never on an event log restored into a cluster
 * whose transaction ids are behind it.
 */
export async function prepareDatabase(config: Config, knex: Knex, logger: Logger): Promise<void> {
  if (await ensureDatabase(config.DATABASE_URL)) logger.info('created the database');
  const { ran } = await runMigrations(knex);
  if (ran.length > 0) logger.info({ migrations: ran }, `ran ${ran.length} migration(s)`);
  if (config.EVENTSTORE_CONNECTION_STRING) return;
  try {
    await assertTransactionIdsAhead(knex);
  } catch (error) {
    if (!(error instanceof RestoredClusterError)) throw error;
    logger.fatal(error.message); // one line that says what to do
    process.exit(1);
  }
}


import { ConfigError, loadConfig, type Config } from '../config.js';
import { ensureDatabase } from '../adapters/db/ensure-database.js';
import { runMigrations } from '../adapters/db/migrate.js';
import type { Knex } from '../adapters/db/knex.js';
import type { Logger } from '../logger.js';
import { assertTransactionIdsAhead, RestoredClusterError } from '../adapters/event-store/postgres/restore-guard.js';
import { argon2BindingProblem } from '../adapters/crypto/argon2-binding.js';
import { accessSync, constants, statSync } from 'node:fs';

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
 * The worker drives the browser at CHROMIUM_PATH: one that is not there is
 * a configuration error at start, not a failure of every scrape job later.
 */
export function chromiumProblem(path: string): string | undefined {
  try {
    if (!statSync(path).isFile()) return `CHROMIUM_PATH: ${path} is not a file (install Debian's chromium package, or set CHROMIUM_PATH to the browser)`;
    accessSync(path, constants.X_OK);
    return undefined;
  } catch {
    return `CHROMIUM_PATH: no executable browser at ${path} (install Debian's chromium package, or set CHROMIUM_PATH to the browser)`;
  }
}

/** The worker's configuration: loadConfigOrExit, and a browser at CHROMIUM_PATH. */
export function loadWorkerConfigOrExit(): Config {
  const config = loadConfigOrExit();
  const problem = chromiumProblem(config.CHROMIUM_PATH);
  if (problem) {
    console.error(`Invalid configuration:\n  ${problem}`);
    process.exit(1);
  }
  return config;
}

/**
 * Outside production the secrets are the public development defaults: say so
 * loudly at start, so nobody mistakes such a process for a deployment.
 */
export function warnIfDevelopment(config: Config): void {
  if (config.NODE_ENV === 'production') return;
  const lines = [
    `DEVELOPMENT MODE (NODE_ENV=${config.NODE_ENV}): NOT FOR A NETWORK ANYONE ELSE CAN REACH`,
    'JWT_SECRET and ENCRYPTION_KEYS default to public values from this repository: anyone can forge tokens.',
    `Listening on ${config.HOST}. For a deployment set NODE_ENV=production and real secrets (README: Configuration).`,
  ];
  const width = Math.max(...lines.map((l) => l.length));
  const bar = '!'.repeat(width + 4);
  console.error([bar, ...lines.map((l) => `! ${l.padEnd(width)} !`), bar].join('\n'));
}

/** A process that hashes passwords tries the argon2 binding first: a bad one is one clear line and exit 1, not a segfault at the first login. */
export function checkPasswordHasherOrExit(): void {
  const problem = argon2BindingProblem();
  if (problem === null) return;
  console.error(problem);
  process.exit(1);
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

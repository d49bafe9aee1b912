import { fileURLToPath } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';

export const MIGRATIONS_DIRECTORY = fileURLToPath(new URL('../../../migrations', import.meta.url));

/** Any constant shared by everyone who migrates this database (ASCII "migr"). */
const MIGRATION_LOCK_KEY = 0x6d696772;

export interface MigrationResult {
  /** knex's batch number; 0 when there was nothing to run */
  batch: number;
  /** file names of the migrations that ran, in order */
  ran: string[];
}

/**
 * Brings the schema up to date with the TypeScript files in `migrations/`.
 *
 * knex's own lock fails ("Migration table is already locked") instead of
 * waiting, so the api and the projector starting together would crash one of
 * them: a Postgres advisory lock makes the later one wait and then find
 * nothing to do. It is a session lock on a connection of its own, never a
 * transaction's: CREATE INDEX CONCURRENTLY waits for every open transaction
 * of the database, and would wait for the lock's forever. For the same
 * reason a process waits by trying again, not in pg_advisory_lock: a session
 * blocked there holds a snapshot, CREATE INDEX CONCURRENTLY waits for every
 * older snapshot, and the api, projector and worker started together on a new
 * database would wait for each other forever.
 */
export async function runMigrations(knex: Knex): Promise<MigrationResult> {
  const settings = knex.client.connectionSettings as string | pg.ClientConfig;
  const unlimited = { ...(typeof settings === 'string' ? { connectionString: settings } : settings), statement_timeout: 0 };
  const lock = new pg.Client(unlimited);
  // an index built on a long event log may take longer than the platform lets a statement run
  const migrator = knexFactory({ client: 'pg', connection: unlimited as Knex.PgConnectionConfig, pool: { min: 0, max: 2 } });
  await lock.connect();
  try {
    await takeLock(lock);
    const options = { directory: MIGRATIONS_DIRECTORY, loadExtensions: ['.ts'] };
    // the advisory lock is the real one: a knex lock still set now was left by a process killed mid-migration,
    // and would stop every process from starting until someone freed it by hand
    await migrator.migrate.forceFreeMigrationsLock(options);
    const [batch, ran] = (await migrator.migrate.latest(options)) as [number, string[]];
    return { batch: ran.length > 0 ? batch : 0, ran };
  } finally {
    await migrator.destroy();
    await lock.end().catch(() => undefined); // ending the session releases the lock
  }
}

const LOCK_RETRY_MS = 100;

/** Takes the migration lock, trying every LOCK_RETRY_MS (holding no snapshot in between). */
async function takeLock(lock: pg.Client): Promise<void> {
  for (;;) {
    const { rows } = await lock.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [MIGRATION_LOCK_KEY]);
    if (rows[0]!.locked) return;
    await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
  }
}

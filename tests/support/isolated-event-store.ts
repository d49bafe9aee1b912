import knexFactory from 'knex';
import { randomUUID } from 'node:crypto';
import { up as createEventStoreSchema } from '../../migrations/20261123000000_event_store.js';
import { up as createSnapshotTable } from '../../migrations/20261204000000_snapshots.js';
import { up as lockStreamBeforeXid } from '../../migrations/20261205000000_stream_lock_before_xid.js';
import { up as appenderHorizon } from '../../migrations/20261205080000_es_appender_horizon.js';

/**
 * A Postgres event store of its own, in a fresh schema of the test database:
 * for tests that must control its sequence or see no other test's events.
 * Returns the connection string that puts that schema first on the search path.
 */
export async function isolatedEventStoreSchema(databaseUrl: string): Promise<{ connectionString: string; schema: string; drop(): Promise<void> }> {
  const schema = `es_iso_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const admin = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 1 } });
  await admin.raw('CREATE SCHEMA ??', [schema]);
  const scoped = knexFactory({ client: 'pg', connection: databaseUrl, searchPath: [schema], pool: { min: 0, max: 1 } });
  try {
    await createEventStoreSchema(scoped);
    await createSnapshotTable(scoped); // snapshots live beside the streams (snapshotted aggregates)
    await lockStreamBeforeXid(scoped);
    await appenderHorizon(scoped);
  } finally {
    await scoped.destroy();
  }
  const url = new URL(databaseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    connectionString: url.toString(),
    schema,
    async drop() {
      await admin.raw('DROP SCHEMA ?? CASCADE', [schema]);
      await admin.destroy();
    },
  };
}

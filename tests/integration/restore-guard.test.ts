import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { assertTransactionIdsAhead, RestoredClusterError } from '../../src/adapters/event-store/postgres/restore-guard.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';

describe('restore guard: no process starts on an event log ahead of the cluster', () => {
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  let knex: Knex;
  before(async () => {
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    knex = knexFactory({ client: 'pg', connection: iso.connectionString, pool: { min: 0, max: 1 } });
  });
  after(async () => {
    await knex.destroy();
    await iso.drop();
  });

  const insertAt = (xid: string) =>
    knex.raw(
      `INSERT INTO es_events (transaction_id, stream_name, stream_revision, event_id, event_type, data, metadata)
              VALUES (?::xid8, ?, 0, ?, 'Restored', '{}', '{}')`,
      [xid, `restored-${randomUUID()}`, randomUUID()],
    );

  it('passes on an empty log and on one written by this cluster', async () => {
    await assertTransactionIdsAhead(knex);
    await knex.raw(`INSERT INTO es_events (stream_name, stream_revision, event_id, event_type, data, metadata) VALUES (?, 0, ?, 'Here', '{}', '{}')`, [
      `here-${randomUUID()}`,
      randomUUID(),
    ]);
    await assertTransactionIdsAhead(knex);
  });

  it('refuses, with one line naming both ids and the procedure, when the newest stored id is not below the next one', async () => {
    const { rows } = await knex.raw<{ rows: { next: string }[] }>('SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS next');
    const restored = (BigInt(rows[0]!.next) + 1_000_000n).toString(); // a history written by an older, busier cluster
    await insertAt(restored);
    const error = await assertTransactionIdsAhead(knex).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(RestoredClusterError);
    const message = (error as Error).message;
    expect(message).to.include(restored).and.to.include('Restoring the event store');
    expect(message).not.to.include('\n');
  });
});

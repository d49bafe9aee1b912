import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { comparePositions, START, type RecordedEvent } from '../../src/event-store/index.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';

describe('Postgres event store: what only Postgres can get wrong', () => {
  let isolated: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  let store: PostgresEventStore;

  before(async () => {
    isolated = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: isolated.connectionString, poolSize: 4 });
  });
  after(async () => {
    await store.close();
    await isolated.drop();
  });

  it('resumes across positions that gain a digit (9 → 10, 99 → 100, 999 → 1000) without repeating an event', async () => {
    // positions travel as text; a window's end must still be found in numeric order
    const client = new pg.Client({ connectionString: isolated.connectionString });
    await client.connect();
    await client.query(`SELECT setval(pg_get_serial_sequence('es_events', 'global_position'), 994)`);
    await client.end();
    await store.append(
      'digits-1',
      Array.from({ length: 12 }, (_, i) => ({ id: randomUUID(), type: 'T', data: { i } })),
    );
    for (let i = 0; i < 5; i++) await store.append(`digits-${i}`, [{ id: randomUUID(), type: 'U', data: { i } }]);

    const seen: RecordedEvent[] = [];
    const subscription = store.subscribeToAll({ fromPosition: START, batchSize: 3 });
    for await (const batch of subscription) {
      seen.push(...batch.events);
      if (seen.length >= 17 || batch.caughtUp) break;
    }
    await subscription.close();
    expect(seen.map((e) => Number(e.position.prepare))).to.deep.equal(Array.from({ length: 17 }, (_, i) => 995 + i));
    for (let i = 1; i < seen.length; i++) expect(comparePositions(seen[i - 1]!.position, seen[i]!.position)).to.equal(-1);
  });

  it('keeps an append and its stream revision whole when a writer in a held transaction collides with it', async () => {
    await store.append('held-1', [{ id: randomUUID(), type: 'A', data: {} }], 'no_stream');
    const client = new pg.Client({ connectionString: isolated.connectionString });
    await client.connect();
    await client.query('BEGIN');
    await client.query(`INSERT INTO es_events (stream_name, stream_revision, event_id, event_type, data, metadata) VALUES ('held-1', 1, $1, 'B', '{}', '{}')`, [
      randomUUID(),
    ]);
    const racing = store.append('held-1', [{ id: randomUUID(), type: 'C', data: {} }], 0n).then(
      () => undefined,
      (e: unknown) => e,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    await client.query('COMMIT');
    await client.end();
    const error = await racing;
    expect(error).to.have.property('name', 'WrongExpectedVersionError');
    expect((await store.readStream('held-1')).map((e) => e.type)).to.deep.equal(['A', 'B']);
  });

  const groupEvent = (data: Record<string, string> = {}) => ({ id: randomUUID(), type: 'G', data });

  it('commits concurrent appends to different streams together (group commit)', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => store.append(`group-${i}`, [groupEvent(), groupEvent()], 'no_stream')));
    expect(results.every((r) => r.nextExpectedRevision === 1n)).to.equal(true);
    expect(new Set(results.map((r) => r.position.commit)).size, 'fewer transactions than appends').to.be.below(8);
    for (let i = 0; i < 8; i++) expect(await store.readStream(`group-${i}`)).to.have.length(2);
  });

  it("gives each append of a group its own outcome: one's conflict or bad data fails only that one", async () => {
    await store.append('grouped-stale', [groupEvent()], 'no_stream');
    const outcomes = await Promise.allSettled([
      ...Array.from({ length: 6 }, (_, i) => store.append(`grouped-${i}`, [groupEvent()], 'no_stream')),
      store.append('grouped-stale', [groupEvent()], 7n), // a wrong expectation
      store.append('grouped-poison', [groupEvent({ text: 'nul \u0000 byte' })]), // jsonb refuses NUL
    ]);
    expect(outcomes.slice(0, 6).map((o) => o.status)).to.deep.equal(Array(6).fill('fulfilled'));
    expect((outcomes[6] as PromiseRejectedResult).reason).to.have.property('name', 'WrongExpectedVersionError');
    expect(outcomes[7]).to.have.property('status', 'rejected');
    expect(await store.readStream('grouped-stale')).to.have.length(1);
    expect(await store.readStream('grouped-poison').catch((e: Error) => e.name)).to.equal('StreamNotFoundError');
  });
});

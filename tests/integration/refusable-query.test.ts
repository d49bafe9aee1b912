import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { appendEvents } from '../../src/adapters/event-store/postgres/append.js';
import { createPostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { refusableQuery } from '../../src/adapters/event-store/postgres/refusable-query.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';

/** A refused append must not cost a connection (and the statements prepared on it). */
describe('Postgres event store: a refusal keeps its connection', () => {
  let isolated: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  let pool: pg.Pool;
  const backend = async () => (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;

  before(async () => {
    isolated = await isolatedEventStoreSchema(testDatabaseUrl);
    // the schema exists once a store has been opened on it
    await createPostgresEventStore({ connectionString: isolated.connectionString, poolSize: 1 }).close();
  });
  beforeEach(() => {
    pool = new pg.Pool({ connectionString: isolated.connectionString, max: 1 });
  });
  afterEach(async () => {
    await pool.end();
  });
  after(async () => {
    await isolated.drop();
  });

  it('hands the connection back after an error the server answered', async () => {
    const before = await backend();
    const refused = await refusableQuery(pool, { text: 'SELECT 1 / 0' }).catch((error: Error) => error);
    expect(refused).to.be.instanceOf(pg.DatabaseError);
    expect(await backend()).to.equal(before);
  });

  it('keeps the connection through a wrong expected version', async () => {
    const event = () => ({ id: randomUUID(), type: 'Tested', data: {}, metadata: {} });
    await appendEvents(pool, 'kept-1', [event()], 'no_stream');
    const before = await backend();
    const refused = await appendEvents(pool, 'kept-1', [event()], 5n).catch((error: Error) => error);
    expect(refused).to.have.property('name', 'WrongExpectedVersionError');
    expect(await backend()).to.equal(before);
  });

  it('still discards a connection that was lost', async () => {
    const before = await backend();
    const lost = await refusableQuery(pool, { text: 'SELECT pg_terminate_backend(pg_backend_pid())' }).catch((error: Error) => error);
    expect(lost).to.be.instanceOf(Error);
    expect(await backend()).to.not.equal(before);
  });
});

import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { fastAppendStatement } from '../../src/adapters/event-store/postgres/append.js';
import { horizonStatus, horizonWarning } from '../../src/adapters/event-store/postgres/horizon.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import type { RecordedEvent } from '../../src/event-store/index.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { waitFor } from '../support/wait-for.js';

/** A transaction holding a transaction id that appends nothing: in this database, or in another of the cluster. */
async function bystander(database?: string): Promise<{ client: pg.Client; pid: number }> {
  const url = new URL(testDatabaseUrl);
  if (database) url.pathname = `/${database}`;
  const client = new pg.Client({ connectionString: url.toString(), application_name: 'horizon-test-bystander' });
  await client.connect();
  await client.query('BEGIN');
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid, pg_current_xact_id()');
  return { client, pid: rows[0]!.pid };
}

/** An append left open: a transaction that inserted an event and has not committed (rolled back at the end). */
async function openAppend(): Promise<{ client: pg.Client; pid: number }> {
  const client = new pg.Client({ connectionString: testDatabaseUrl, application_name: 'horizon-test-blocker' });
  await client.connect();
  await client.query('BEGIN');
  await client.query(fastAppendStatement(`open-${randomUUID()}`, [{ id: randomUUID(), type: 'LeftOpen', data: {} }], 'any'));
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  return { client, pid: rows[0]!.pid };
}

const endAll = async (...clients: pg.Client[]) => {
  for (const client of clients) {
    await client.query('ROLLBACK').catch(() => undefined);
    await client.end().catch(() => undefined);
  }
};

describe('the $all horizon: held back only by appends in flight, named, and followed closely', function () {
  this.timeout(30_000);
  let store: PostgresEventStore;
  let knex: Knex;

  before(() => {
    // a long idle back-off: a reader that backed off while held would wait seconds after the blocker ends
    store = createPostgresEventStore({ connectionString: testDatabaseUrl, poolSize: 3, polling: { maxPollIntervalMs: 5_000 } });
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(async () => {
    await store.close();
    await knex.destroy();
  });

  it('a subscriber held back by an append left open gets the later event soon after that transaction ends', async () => {
    const type = `Held${randomUUID().replaceAll('-', '').slice(0, 8)}`;
    const seen: { event: RecordedEvent; at: number }[] = [];
    const subscription = store.subscribeToAll({ fromPosition: 'end', filter: { eventTypes: [type] } });
    const reading = (async () => {
      for await (const batch of subscription) for (const event of batch.events) seen.push({ event, at: performance.now() });
    })();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const blocker = await openAppend();
    let ended = 0;
    try {
      await store.append(`held-${randomUUID()}`, [{ id: randomUUID(), type, data: {} }]);
      await new Promise((resolve) => setTimeout(resolve, 1_700));
      expect(seen, 'held back while the append is open').to.have.length(0);
    } finally {
      await endAll(blocker.client); // its end wakes nobody: the subscriber must be polling
      ended = performance.now();
    }
    await waitFor('the held event delivered', () => seen.length === 1);
    await subscription.close();
    await reading;
    expect(seen[0]!.at - ended, 'ms from the blocker ending to delivery').to.be.below(150);
  });

  it('a transaction that appends nothing, in this database or another, holds back nobody', async () => {
    const type = `Free${randomUUID().replaceAll('-', '').slice(0, 8)}`;
    const seen: RecordedEvent[] = [];
    const subscription = store.subscribeToAll({ fromPosition: 'end', filter: { eventTypes: [type] } });
    const reading = (async () => {
      for await (const batch of subscription) seen.push(...batch.events);
    })();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const here = await bystander();
    const elsewhere = await bystander('postgres');
    try {
      await knex.schema.createTableIfNotExists('horizon_test_writes', (t) => t.text('id'));
      await here.client.query('INSERT INTO horizon_test_writes VALUES ($1)', [randomUUID()]); // holds an id and a write
      const stream = `free-${randomUUID()}`;
      await store.append(stream, [{ id: randomUUID(), type, data: {} }]);
      await waitFor('delivered while both stay open', () => seen.length === 1, 2_000);
      expect(seen[0]!.streamName).to.equal(stream);
      // while both stay open (another append of this process may be in flight for a moment: not them)
      await waitFor('nothing waits behind them', async () => !(await horizonStatus(knex)).lagging, 2_000);
      expect(
        (await store.readAll({ fromPosition: 'start', filter: { eventTypes: [type] } })).map((e) => e.streamName),
        'readAll sees it too',
      ).to.deep.equal([stream]);
    } finally {
      await endAll(here.client, elsewhere.client);
      await subscription.close();
      await reading;
      await knex.schema.dropTableIfExists('horizon_test_writes');
    }
  });

  it('a transaction that wrote before its first append is refused (ES002) unless its connection took the appender lock first', async () => {
    await knex.schema.createTableIfNotExists('horizon_test_writes', (t) => t.text('id'));
    const late = new pg.Client({ connectionString: testDatabaseUrl });
    const early = new pg.Client({ connectionString: testDatabaseUrl });
    await late.connect();
    await early.connect();
    try {
      await late.query('BEGIN');
      await late.query('INSERT INTO horizon_test_writes VALUES ($1)', [randomUUID()]);
      const refused = await late.query(fastAppendStatement(`late-${randomUUID()}`, [{ id: randomUUID(), type: 'Late', data: {} }], 'any')).then(
        () => undefined,
        (error: { code?: string }) => error,
      );
      expect(refused?.code).to.equal('ES002');

      await early.query('SELECT es_register_appender()');
      await early.query('BEGIN');
      await early.query('INSERT INTO horizon_test_writes VALUES ($1)', [randomUUID()]);
      const { rows } = await early.query(fastAppendStatement(`early-${randomUUID()}`, [{ id: randomUUID(), type: 'Early', data: {} }], 'any'));
      expect(rows).to.have.length(1);
    } finally {
      await endAll(late, early);
      await knex.schema.dropTableIfExists('horizon_test_writes');
    }
  });

  it('names the append that holds the horizon: pid, database, age', async () => {
    const blocker = await openAppend();
    const database = new URL(testDatabaseUrl).pathname.slice(1);
    try {
      await store.append(`held-${randomUUID()}`, [{ id: randomUUID(), type: 'HeldNamed', data: {} }]);
      const status = await horizonStatus(knex);
      expect(status.lagging).to.equal(true);
      expect(status.blocker).to.include({ pid: blocker.pid, database, applicationName: 'horizon-test-blocker', state: 'idle in transaction' });
      expect(horizonWarning(status, 0)).to.include(`pid ${blocker.pid}`).and.to.include(`database ${database}`);
      expect(horizonWarning(status), 'not yet worth a warning').to.equal(undefined);
    } finally {
      await endAll(blocker.client);
    }
    await waitFor('horizon free', async () => !(await horizonStatus(knex)).lagging);
  });
});

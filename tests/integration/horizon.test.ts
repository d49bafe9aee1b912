import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { horizonStatus, horizonWarning } from '../../src/adapters/event-store/postgres/horizon.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import type { RecordedEvent } from '../../src/event-store/index.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { waitFor } from '../support/wait-for.js';

/** A transaction holding a transaction id in another database of the cluster: it appends nothing, so its end wakes nobody. */
async function blockerElsewhere(): Promise<{ client: pg.Client; pid: number }> {
  const url = new URL(testDatabaseUrl);
  url.pathname = '/postgres';
  const client = new pg.Client({ connectionString: url.toString(), application_name: 'horizon-test-blocker' });
  await client.connect();
  await client.query('BEGIN');
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid, pg_current_xact_id()');
  return { client, pid: rows[0]!.pid };
}

describe('the $all horizon: held back by a transaction in flight, named, and followed closely', function () {
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

  it('a subscriber held back by a transaction that appends nothing gets the event soon after that transaction ends', async () => {
    const type = `Held${randomUUID().replaceAll('-', '').slice(0, 8)}`;
    const seen: { event: RecordedEvent; at: number }[] = [];
    const subscription = store.subscribeToAll({ fromPosition: 'end', filter: { eventTypes: [type] } });
    const reading = (async () => {
      for await (const batch of subscription) for (const event of batch.events) seen.push({ event, at: performance.now() });
    })();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const blocker = await blockerElsewhere();
    try {
      await store.append(`held-${randomUUID()}`, [{ id: randomUUID(), type, data: {} }]);
      await new Promise((resolve) => setTimeout(resolve, 1_700));
      expect(seen, 'held back while the transaction is open').to.have.length(0);
    } finally {
      await blocker.client.query('COMMIT');
      await blocker.client.end();
    }
    const ended = performance.now();
    await waitFor('the held event delivered', () => seen.length === 1);
    await subscription.close();
    await reading;
    expect(seen[0]!.at - ended, 'ms from the blocker ending to delivery').to.be.below(150);
  });

  it('names the transaction that holds the horizon: pid, database, age', async () => {
    const blocker = await blockerElsewhere();
    try {
      await store.append(`held-${randomUUID()}`, [{ id: randomUUID(), type: 'HeldNamed', data: {} }]);
      const status = await horizonStatus(knex);
      expect(status.lagging).to.equal(true);
      expect(status.blocker).to.include({ pid: blocker.pid, database: 'postgres', applicationName: 'horizon-test-blocker', state: 'idle in transaction' });
      expect(horizonWarning(status, 0)).to.include(`pid ${blocker.pid}`).and.to.include('database postgres');
      expect(horizonWarning(status), 'not yet worth a warning').to.equal(undefined);
    } finally {
      await blocker.client.query('COMMIT');
      await blocker.client.end();
    }
    await waitFor('horizon free', async () => !(await horizonStatus(knex)).lagging);
  });
});

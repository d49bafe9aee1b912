import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { resetCheckpoint, retireCheckpoint, waitForCheckpoint } from '../../src/consumers/checkpoints.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';

describe('read-your-writes waits on the version that serves the tables', () => {
  let knex: Knex;
  const base = `ryw-${randomUUID().slice(0, 8)}`;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(async () => {
    await knex('consumer_checkpoints').where('consumer', 'like', `${base}-%`).delete();
    await knex.destroy();
  });

  it('a query naming a retired version waits on the version that replaced it', async () => {
    const written = { commit: 500n, prepare: 40n };
    await resetCheckpoint(knex, `${base}-v1`, { commit: 100n, prepare: 1n }); // stopped when it was retired
    await resetCheckpoint(knex, `${base}-v2`, { commit: 90n, prepare: 1n });
    await retireCheckpoint(knex, `${base}-v1`, `${base}-v2`);
    expect(await waitForCheckpoint(knex, `${base}-v1`, written, 50), 'v2 not there yet').to.equal(false);
    await resetCheckpoint(knex, `${base}-v2`, written);
    expect(await waitForCheckpoint(knex, `${base}-v1`, written, 2_000), 'v2 passed it').to.equal(true);
  });

  it('an unretired consumer is waited on itself', async () => {
    await resetCheckpoint(knex, `${base}-solo-v1`, { commit: 10n, prepare: 1n });
    expect(await waitForCheckpoint(knex, `${base}-solo-v1`, { commit: 10n, prepare: 1n }, 100)).to.equal(true);
    expect(await waitForCheckpoint(knex, `${base}-solo-v1`, { commit: 11n, prepare: 1n }, 50)).to.equal(false);
  });

  describe('given the events the consumer wants', () => {
    let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
    let store: PostgresEventStore;
    before(async () => {
      iso = await isolatedEventStoreSchema(testDatabaseUrl);
      store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 2 });
    });
    after(async () => {
      await store.close();
      await iso.drop();
    });
    const event = (type: string) => ({ id: randomUUID(), type, data: {} });

    it('a checkpoint short of the position is there when only events the consumer does not want lie between', async () => {
      const name = `${base}-wanted-v1`;
      const filter = { streamPrefixes: ['wanted_order-'] };
      const handled = await store.append(`wanted_order-${randomUUID()}`, [event('OrderPlaced')], 'no_stream');
      await resetCheckpoint(knex, name, handled.position);
      // the head moves on with events of other streams: the consumer would write its checkpoint only at its next idle interval
      await store.append(`other-${randomUUID()}`, [event('SomethingElse')], 'no_stream');
      const head = await store.headPosition();
      expect(await waitForCheckpoint(knex, name, head, 50), 'the checkpoint alone').to.equal(false);
      expect(await waitForCheckpoint(knex, name, head, 2_000, { store, filter }), 'nothing wanted in between').to.equal(true);
      // one it wants in between: waited for until handled
      await store.append(`wanted_order-${randomUUID()}`, [event('OrderPlaced')], 'no_stream');
      const later = await store.headPosition();
      expect(await waitForCheckpoint(knex, name, later, 100, { store, filter }), 'a wanted event not handled yet').to.equal(false);
      await resetCheckpoint(knex, name, later);
      expect(await waitForCheckpoint(knex, name, later, 2_000, { store, filter })).to.equal(true);
    });
  });
});

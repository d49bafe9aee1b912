import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { resetCheckpoint, retireCheckpoint, waitForCheckpoint } from '../../src/consumers/checkpoints.js';
import { testDatabaseUrl } from '../setup/test-env.js';

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
});

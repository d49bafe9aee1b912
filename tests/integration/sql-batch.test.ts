import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { insertNewRows, insertSkipped, upsertRows } from '../../src/projections/sql-batch.js';
import { testDatabaseUrl } from '../setup/test-env.js';

/** The set-based writes of the projections, on a real table with column defaults. */
describe('sql-batch: rows that leave out different columns', () => {
  let knex: Knex;
  const table = `sql_batch_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  before(async () => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
    await knex.raw(`CREATE TABLE ${table} (id text PRIMARY KEY, state text NOT NULL DEFAULT 'off', count integer NOT NULL DEFAULT 0, note text)`);
  });
  after(async () => {
    await knex.raw(`DROP TABLE IF EXISTS ${table}`);
    await knex.destroy();
  });
  beforeEach(() => knex(table).delete());

  const rows = () => knex(table).select('id', 'state', 'count', 'note').orderBy('id');

  it('upsertRows gives a column a row leaves out its default, not NULL, whatever the other rows have', async () => {
    const written = await upsertRows(knex, table, [{ id: 'a' }, { id: 'b', state: 'on', count: 3 }, { id: 'c', note: 'n' }, { id: 'd' }], {
      conflict: ['id'],
    });
    expect(written).to.equal(4);
    expect(await rows()).to.deep.equal([
      { id: 'a', state: 'off', count: 0, note: null },
      { id: 'b', state: 'on', count: 3, note: null },
      { id: 'c', state: 'off', count: 0, note: 'n' },
      { id: 'd', state: 'off', count: 0, note: null },
    ]);
  });

  it('insertNewRows and insertSkipped answer across the groups as for one statement', async () => {
    await upsertRows(knex, table, [{ id: 'old' }], { conflict: ['id'] });
    const fresh = await insertNewRows<{ id: string }>(knex, table, [{ id: 'x' }, { id: 'old', state: 'on' }, { id: 'y', state: 'on' }], {
      conflict: ['id'],
      returning: ['id'],
    });
    expect(fresh.map((r) => r.id).sort()).to.deep.equal(['x', 'y']);
    const skipped = await insertSkipped<{ id: string }>(knex, table, [{ id: 'z', count: 2 }, { id: 'x' }, { id: 'old', state: 'on' }], {
      conflict: ['id'],
      key: ['id'],
    });
    expect(skipped.map((r) => r.id).sort()).to.deep.equal(['old', 'x']);
    expect(await rows()).to.deep.equal([
      { id: 'old', state: 'off', count: 0, note: null },
      { id: 'x', state: 'off', count: 0, note: null },
      { id: 'y', state: 'on', count: 0, note: null },
      { id: 'z', state: 'off', count: 2, note: null },
    ]);
  });
});

import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { deleteRows, patchRows, selectRows, upsertRows } from '../../src/projections/sql-batch.js';
import { testDatabaseUrl } from '../setup/test-env.js';

/**
 * The projections' rows travel as one text array per column (sql-rows.ts):
 * every kind of value a projection writes arrives as it would have as JSON,
 * text that looks like array syntax or NULL included.
 */
describe('sql-batch: values as the columns read them', () => {
  let knex: Knex;
  const table = `sql_rows_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  before(async () => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
    await knex.raw(
      `CREATE TABLE ${table} (id text PRIMARY KEY, label text, short varchar(5), n integer, big bigint, ratio double precision,
         flag boolean, day date, at timestamptz, ref uuid, doc jsonb, tags text[], grid text[])`,
    );
  });
  after(async () => {
    await knex.raw(`DROP TABLE IF EXISTS ${table}`);
    await knex.destroy();
  });
  beforeEach(() => knex(table).delete());

  const read = async (id: string) =>
    (
      await knex.raw(
        `SELECT label, short, n, big::text AS big, ratio, flag, day::text AS day, at, ref::text AS ref, doc, tags, grid FROM ${table} WHERE id = ?`,
        [id],
      )
    ).rows[0];

  it('keeps text that looks like array syntax, quotes, backslashes, NULL and characters beyond the BMP as they are', async () => {
    const texts = ['a"b', 'back\\slash', '{x,y}', 'NULL', '', ' spaced ', 'line\nbreak', '表情😀', 'comma, and "quote"\\'];
    await upsertRows(
      knex,
      table,
      texts.map((label, i) => ({ id: `t${i}`, label, tags: [label, 'NULL', null] })),
      { conflict: ['id'] },
    );
    for (const [i, label] of texts.entries()) {
      const row = await read(`t${i}`);
      expect(row.label).to.equal(label);
      expect(row.tags).to.deep.equal([label, 'NULL', null]);
    }
  });

  it('reads numbers, bigints, booleans, dates, times, uuids, JSON and arrays in the column types; NULL where a row has nothing', async () => {
    const at = new Date('2026-12-07T01:02:03.456Z');
    const ref = randomUUID();
    await upsertRows(
      knex,
      table,
      [
        {
          id: 'full',
          label: 42,
          n: -7,
          big: 9007199254740993n,
          ratio: 0.125,
          flag: false,
          day: '2026-12-07',
          at,
          ref,
          doc: { a: [1, 'two', null], big: 12n, s: 'x"y' },
          tags: [],
          grid: [
            ['a', 'b'],
            ['c', null],
          ],
        },
        {
          id: 'empty',
          label: null,
          n: Number.NaN,
          big: '12',
          ratio: Number.POSITIVE_INFINITY,
          flag: true,
          day: null,
          at: '2026-12-07T09:00:00+08:00',
          doc: 'just text',
        },
      ],
      { conflict: ['id'] },
    );
    const full = await read('full');
    expect(full).to.deep.include({ label: '42', n: -7, big: '9007199254740993', ratio: 0.125, flag: false, day: '2026-12-07', ref, tags: [] });
    expect(full.grid).to.deep.equal([
      ['a', 'b'],
      ['c', null],
    ]);
    expect(full.at.toISOString()).to.equal(at.toISOString());
    expect(full.doc).to.deep.equal({ a: [1, 'two', null], big: '12', s: 'x"y' });
    const empty = await read('empty');
    expect(empty).to.deep.include({ label: null, n: null, big: '12', ratio: null, flag: true, day: null, ref: null, tags: null, grid: null });
    expect(empty.at.toISOString()).to.equal('2026-12-07T01:00:00.000Z');
    // a string in a jsonb column is a JSON string, as JSON carried it
    expect(empty.doc).to.equal('just text');
  });

  it('still refuses text longer than a varchar holds (the cast does not cut it)', async () => {
    let error: unknown;
    try {
      await upsertRows(knex, table, [{ id: 'long', short: 'toolong' }], { conflict: ['id'] });
    } catch (e) {
      error = e;
    }
    expect(String(error)).to.match(/too long/);
    expect(await knex(table).where({ id: 'long' }).first()).to.equal(undefined);
  });

  it('patches, selects and deletes by keys carried the same way', async () => {
    await upsertRows(knex, table, [{ id: 'a"1' }, { id: '{b}' }, { id: 'NULL' }], { conflict: ['id'] });
    const patched = await patchRows(
      knex,
      table,
      [
        { id: 'a"1', label: 'one', n: 1 },
        { id: 'NULL', label: 'null', n: 2 },
      ],
      { key: ['id'], guard: 'n.n > 0 AND t.big IS NULL' },
    );
    expect(patched).to.equal(2);
    const selected = await selectRows<{ id: string; label: string | null }>(knex, table, [{ id: '{b}' }, { id: 'NULL' }, { id: 'missing' }], {
      key: ['id'],
      columns: ['id', 'label'],
    });
    expect(selected.sort((x, y) => (x.id < y.id ? -1 : 1))).to.deep.equal([
      { id: 'NULL', label: 'null' },
      { id: '{b}', label: null },
    ]);
    expect(await deleteRows(knex, table, [{ id: 'a"1' }, { id: '{b}' }], { key: ['id'] })).to.equal(2);
    expect((await knex(table).select('id', 'label', 'n')).map((r) => ({ ...r }))).to.deep.equal([{ id: 'NULL', label: 'null', n: 2 }]);
  });
});

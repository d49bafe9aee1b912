import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { selectPage } from '../../src/read-api/page-query.js';
import { testDatabaseUrl } from '../setup/test-env.js';

describe('a page and its totals in one query (read API)', () => {
  let knex: Knex;
  const table = `page_query_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
  const owner = 'owner-1';

  before(async () => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
    await knex.schema.createTable(table, (t) => {
      t.integer('n').primary();
      t.text('owner').notNullable();
      t.boolean('read').notNullable();
      t.jsonb('data').notNullable();
      t.timestamp('at', { useTz: true }).notNullable();
    });
    const rows = Array.from({ length: 7 }, (_, i) => ({ n: i + 1, owner, read: i % 3 === 0, data: { i }, at: new Date(Date.UTC(2026, 0, i + 1)) }));
    await knex(table).insert([...rows, { n: 100, owner: 'someone-else', read: false, data: {}, at: new Date() }]);
  });
  after(async () => {
    await knex.schema.dropTable(table);
    await knex.destroy();
  });

  const COLUMNS = ['n', 'owner', 'read', 'data', 'at'];
  const mine = () => knex(table).select(COLUMNS).where({ owner }).orderBy('n', 'desc');

  it('gives the page in order, typed as a plain select would, with the total of every page', async () => {
    const { rows, total, counts } = await selectPage<{ n: number; data: unknown; at: Date }>(
      knex,
      mine(),
      { page: 2, per_page: 3 },
      { unread: knex(table).where({ owner, read: false }) },
    );
    expect(rows.map((r) => r.n)).to.deep.equal([4, 3, 2]);
    expect(Object.keys(rows[0]!).sort()).to.deep.equal(['at', 'data', 'n', 'owner', 'read']);
    expect(rows[0]!.data).to.deep.equal({ i: 3 });
    expect(rows[0]!.at).to.be.instanceOf(Date);
    expect(total).to.equal(7);
    expect(counts).to.deep.equal({ unread: 4 });
  });

  it('still counts on a page past the end, and on an empty set', async () => {
    expect(await selectPage(knex, mine(), { page: 9, per_page: 3 })).to.deep.equal({ rows: [], total: 7, counts: {} });
    const none = knex(table).select(COLUMNS).where({ owner: 'nobody' }).orderBy('n');
    expect(await selectPage(knex, none, { page: 1, per_page: 3 }, { unread: knex(table).where({ owner: 'nobody' }) })).to.deep.equal({
      rows: [],
      total: 0,
      counts: { unread: 0 },
    });
  });

  it('runs as a prepared statement, so it refuses a page of `*` (a prepared `*` fails once a new version changes the columns)', async () => {
    let refused: unknown;
    await selectPage(knex, knex(table).select('*').where({ owner }), { page: 1, per_page: 3 }).catch((e) => (refused = e));
    expect(refused)
      .to.be.instanceOf(Error)
      .with.property('message')
      .that.matches(/name the columns/);
    const single = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 1, max: 1 } });
    try {
      await selectPage(single, knex(table).select(COLUMNS).where({ owner }).orderBy('n'), { page: 1, per_page: 3 });
      const { rows } = (await single.raw('SELECT statement FROM pg_prepared_statements')) as { rows: { statement: string }[] };
      expect(rows.map((r) => r.statement).join('\n')).to.include('page_total__');
    } finally {
      await single.destroy();
    }
  });
});

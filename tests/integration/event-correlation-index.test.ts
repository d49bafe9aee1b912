import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { testDatabaseUrl } from '../setup/test-env.js';

/**
 * A page of a correlation (the admin route and the console's Load more page
 * on from the last position) is read from the correlation index starting at
 * that position: the id and the position are both index conditions, so a
 * deep page of a large correlation reads its page, not all of it.
 */
describe('es_events: the correlation index serves a page from its position', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 1 } });
  });
  after(() => knex.destroy());

  it('plans the id, the position and the order from one index', async () => {
    // the shape of searchEventPages' query for a correlation (operations/streams.ts)
    const plan = await knex.transaction(async (trx) => {
      // what a large correlation's deep page gets; with the few rows of a test table a scan, or a bitmap scan and a sort, is cheapest
      await trx.raw('SET LOCAL enable_seqscan = off');
      await trx.raw('SET LOCAL enable_bitmapscan = off');
      await trx.raw('SET LOCAL enable_sort = off');
      const { rows } = await trx.raw<{ rows: { 'QUERY PLAN': unknown }[] }>(
        `EXPLAIN (FORMAT JSON) SELECT global_position FROM es_events
          WHERE (transaction_id, global_position) > (?::text::xid8, ?::bigint) AND event_type NOT LIKE '$%'
            AND transaction_id < (SELECT es_horizon()) AND metadata->>'$correlationId' = ?
          ORDER BY transaction_id, global_position LIMIT ?`,
        ['812', '40', 'c-1', 100],
      );
      return JSON.stringify(rows[0]!['QUERY PLAN']);
    });
    expect(plan).to.include('"Index Name":"es_events_correlation_position"');
    expect(plan, 'the position is an index condition').to.match(/"Index Cond":"[^"]*ROW\(transaction_id, global_position\) > ROW/);
    expect(plan, 'no sort: the index gives the order (a sort would be planned, at a penalty, if it could not)').not.to.include('"Node Type":"Sort"');
  });

  it('replaced the index on the id alone (one index for correlations: each costs every append)', async () => {
    const { rows } = await knex.raw<{ rows: { indexname: string }[] }>(
      `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'es_events' AND indexdef LIKE '%correlationId%'`,
    );
    expect(rows.map((r) => r.indexname)).to.deep.equal(['es_events_correlation_position']);
  });
});

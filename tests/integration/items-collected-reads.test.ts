import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { ITEMS_COUNTED, ITEMS_LEFT_OUT, itemsCounted, itemsOfKinds } from '../../src/projections/items-collected-reads.js';
import { recorded, throughExpression } from '../support/projection-spec.js';
import { testDatabaseUrl } from '../setup/test-env.js';

describe('what a rebuild reads of ItemsCollected (itemsOfKinds, ITEMS_LEFT_OUT, ITEMS_COUNTED)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 1 } });
  });
  after(() => knex.destroy());

  const read = (expression: string, data: unknown) => throughExpression(knex, expression, data);
  const item = (kind: string, id: string) => ({ platformContentId: id, kind, data: { id } });

  it('keeps the items of the kinds, in order, and the rest of the data as it is', async () => {
    const data = { executionId: 'x', itemCount: 4, items: [item('a.one', '1'), item('b.other', '2'), item('a.two', '3'), item('a.one', '4')] };
    expect(await read(itemsOfKinds(['a.one', 'a.two']), data)).to.deep.equal({ ...data, items: [data.items[0], data.items[2], data.items[3]] });
    expect(await read(itemsOfKinds(['c.none']), data)).to.deep.equal({ ...data, items: [] });
    expect(await read(itemsOfKinds(['a.one', 'a.two', 'b.other']), data)).to.deep.equal(data);
    expect(await read(itemsOfKinds(['a.one']), { ...data, items: [] })).to.deep.equal({ ...data, items: [] });
  });

  it('matches a kind with quotes and backslashes literally', async () => {
    const odd = `it's "quoted" \\ here`;
    const data = { items: [item(odd, '1'), item('plain', '2')] };
    expect(await read(itemsOfKinds([odd]), data)).to.deep.equal({ items: [data.items[0]] });
  });

  it('leaves every item out and keeps the rest of the data; data that is not an object is read as stored', async () => {
    const data = { executionId: 'x', itemCount: 2, cursor: 'c', items: [item('a.one', '1'), item('b.other', '2')] };
    expect(await read(ITEMS_LEFT_OUT, data)).to.deep.equal({ ...data, items: [] });
    expect(await read(ITEMS_LEFT_OUT, { executionId: 'x' })).to.deep.equal({ executionId: 'x', items: [] });
    expect(await read(ITEMS_LEFT_OUT, [1, 2])).to.deep.equal([1, 2]);
    expect(await read(ITEMS_LEFT_OUT, 'text')).to.equal('text');
  });

  it('refuses an empty list of kinds', () => {
    expect(() => itemsOfKinds([])).to.throw(/no kinds/);
  });

  it('counts the items in Postgres, and itemsCounted reads the same from the whole event and from the count', async () => {
    const data = {
      executionId: 'x1',
      workflowId: 'wf-1',
      ownerId: 'u1',
      platform: 'qidian',
      type: 'qidian.rankings',
      platformAccountId: null,
      batchId: 'b1',
      attempt: 1,
      items: [item('qidian.ranking_entry', '1'), item('qidian.ranking_entry', '2')],
      cursor: null,
      itemCount: 2,
      collectedAt: '2026-12-01T00:00:00.000Z',
    };
    const { items: _items, ...rest } = data;
    const slim = await read(ITEMS_COUNTED, data);
    expect(slim).to.deep.equal({ ...rest, batchItemCount: 2 });
    const expected = {
      executionId: 'x1',
      workflowId: 'wf-1',
      ownerId: 'u1',
      platform: 'qidian',
      platformAccountId: null,
      collectedAt: data.collectedAt,
      batchItemCount: 2,
    };
    expect(itemsCounted(recorded('workflow_execution-x1', 'ItemsCollected', data))).to.deep.equal(expected);
    expect(itemsCounted(recorded('workflow_execution-x1', 'ItemsCollected', slim))).to.deep.equal(expected);
    expect(() => itemsCounted(recorded('workflow_execution-x1', 'ItemsCollected', { ...slim, batchItemCount: -1 }))).to.throw(/read as its count is not one/);
    // items that are no array: a count of null, which the handler refuses as it would the whole data, not a failed read
    const scalar = await read(ITEMS_COUNTED, { ...data, items: 'none' });
    expect(scalar).to.deep.equal({ ...rest, batchItemCount: null });
    expect(() => itemsCounted(recorded('workflow_execution-x1', 'ItemsCollected', scalar))).to.throw(/read as its count is not one/);
  });
});

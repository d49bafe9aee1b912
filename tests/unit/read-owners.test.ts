import { expect } from 'chai';
import knexFactory from 'knex';
import { ownedBy } from '../../src/read-api/owners.js';

describe('read API: ownedBy, the owner filter of every read', () => {
  const knex = knexFactory({ client: 'pg' });
  const sql = (owners: string | string[]) => ownedBy(knex('workflows').select('id'), owners).toSQL().toNative();

  it('one owner is an equality', () => {
    expect(sql('u1')).to.deep.equal({ sql: 'select "id" from "workflows" where "owner_id" = $1', bindings: ['u1'] });
  });

  it("a scope's owners are one array binding: the statement text is the same for 1, 2 or 50 owners (it is prepared by its text)", () => {
    const texts = new Set([['u1'], ['u1', 'u2'], Array.from({ length: 50 }, (_, i) => `u${i}`)].map((owners) => sql(owners).sql));
    expect([...texts]).to.deep.equal(['select "id" from "workflows" where "owner_id" = ANY($1)']);
    expect(sql(['u1', 'u2']).bindings).to.deep.equal([['u1', 'u2']]);
  });

  it('names a qualified column', () => {
    const { sql: text } = ownedBy(knex('qidian_alerts as a').select('a.id'), ['u1'], 'a.user_id').toSQL().toNative();
    expect(text).to.equal('select "a"."id" from "qidian_alerts" as "a" where "a"."user_id" = ANY($1)');
  });
});

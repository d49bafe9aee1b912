import type { Knex } from 'knex';
import { prepared } from './prepared.js';
import { offsetOf, type PageRequest } from './page.js';

const TOTAL = 'page_total__';
const PRESENT = 'page_row__';

export interface SelectedPage<Row> {
  rows: Row[];
  /** the rows the query matches, on every page */
  total: number;
  /** the other counts asked for, by name */
  counts: Record<string, number>;
}

/**
 * A page of `query` (filtered, ordered, its columns selected) and the number
 * of rows it matches, in one round trip: the count is a subquery beside the
 * page (`count(*) OVER ()` would fetch every matching row to count it; a
 * count of its own can use an index alone). `counts` adds more such counts
 * (e.g. the unread ones), each a filtered builder whose rows are counted.
 *
 * The statement is prepared (prepared.ts), so `query` must name
 * its columns: after a projection's new version is swapped in, a prepared
 * `*` would fail if the table's columns changed.
 */
export async function selectPage<Row extends Record<string, unknown>>(
  knex: Knex,
  query: Knex.QueryBuilder,
  request: PageRequest,
  counts: Record<string, Knex.QueryBuilder> = {},
): Promise<SelectedPage<Row>> {
  const countOf = (q: Knex.QueryBuilder) => q.clone().clearSelect().clearOrder().count('*');
  const page = query
    .clone()
    .select(knex.raw(`true AS ${PRESENT}`))
    .offset(offsetOf(request))
    .limit(request.per_page);
  const names = Object.keys(counts);
  const extra = names.map((_, i) => `, (?) AS count_${i}__`).join('');
  const statement = knex.raw(`SELECT (?) AS ${TOTAL}${extra}, p.* FROM (SELECT 1) one LEFT JOIN LATERAL (?) p ON true`, [
    countOf(query),
    ...names.map((name) => countOf(counts[name]!)),
    page,
  ]);
  if (/select \*|\.\*/i.test(page.toSQL().sql)) throw new Error('selectPage: name the columns (the statement is prepared)');
  const { rows } = (await prepared(statement)) as { rows: Record<string, unknown>[] };
  const first = rows[0]!;
  const total = Number(first[TOTAL]);
  const named = Object.fromEntries(names.map((name, i) => [name, Number(first[`count_${i}__`])]));
  const found = first[PRESENT] === null ? [] : rows;
  for (const row of found) {
    delete row[TOTAL];
    delete row[PRESENT];
    for (let i = 0; i < names.length; i++) delete row[`count_${i}__`];
  }
  return { rows: found as Row[], total, counts: named };
}

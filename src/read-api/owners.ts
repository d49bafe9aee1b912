import type { Knex } from 'knex';

/** One owner, or the owners a caller's data scope reaches (ctx.state.access.ownerIds: docs/rbac.md). */
export type Owners = string | readonly string[];

/**
 * Filters the query to rows of the owners: every read by owner goes through here, never unfiltered.
 * Several owners are one array binding, not an IN list: the text stays the same whatever the scope's
 * size, so a prepared page query (prepared.ts) is one statement, not one per team size.
 */
export function ownedBy<Q extends Knex.QueryBuilder>(query: Q, owners: Owners, column = 'owner_id'): Q {
  return (typeof owners === 'string' ? query.where(column, owners) : query.whereRaw('?? = ANY(?)', [column, [...owners]])) as Q;
}

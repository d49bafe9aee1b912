import type { Knex } from 'knex';

/**
 * Positions in $all are transaction ids (xid8), so they rise only as long as
 * the cluster that assigns them is the one that wrote the history. A logical
 * dump restored into a new cluster starts counting low again: every event
 * appended there would sort before the whole history, and every consumer
 * would silently skip it. Every process checks before it starts.
 */
export class RestoredClusterError extends Error {
  override readonly name = 'RestoredClusterError';
  constructor(
    readonly newest: bigint,
    readonly next: bigint,
  ) {
    super(
      `refusing to start: the event log's newest transaction id (${newest}) is not below this cluster's next one (${next}), ` +
        `as after a pg_dump/pg_restore into a new cluster; new events would sort before the history. ` +
        `Advance the cluster's transaction id epoch first: docs/operations.md, "Restoring the event store".`,
    );
  }
}

export async function assertTransactionIdsAhead(db: Knex): Promise<void> {
  const { rows } = await db.raw<{ rows: { newest: string | null; next: string }[] }>(
    `SELECT (SELECT max(transaction_id) FROM es_events)::text AS newest, pg_snapshot_xmax(pg_current_snapshot())::text AS next`,
  );
  const row = rows[0]!;
  if (row.newest !== null && BigInt(row.newest) >= BigInt(row.next)) throw new RestoredClusterError(BigInt(row.newest), BigInt(row.next));
}

import type { Knex } from 'knex';
import { Gauge, type Registry } from 'prom-client';

/**
 * Subscribers of $all on Postgres read only below the oldest appending
 * transaction still in flight (es_horizon(): a transaction on a connection
 * that holds the appender lock). An append transaction left open, say by a
 * caller that appends inside its own transaction and then waits, holds back
 * every subscriber until it ends. This names it.
 */
export interface HorizonBlocker {
  /** the backend's process id (`SELECT pg_terminate_backend(pid)` ends it) */
  pid: number | null;
  database: string | null;
  applicationName: string | null;
  /** active, idle in transaction, … ; `prepared` for a prepared (two-phase) transaction */
  state: string | null;
  /** how long its transaction has been open */
  transactionAgeMs: number;
}

export interface HorizonStatus {
  /** events were appended at or after the horizon: subscribers wait for it to move */
  lagging: boolean;
  /** the transaction that holds the horizon, when events wait behind it */
  blocker: HorizonBlocker | null;
}

const HORIZON_QUERY = `
  WITH x AS MATERIALIZED (SELECT es_horizon() AS xmin),
  behind AS (SELECT (SELECT true FROM es_events WHERE transaction_id >= (SELECT xmin FROM x)
                      ORDER BY transaction_id DESC, global_position DESC LIMIT 1) IS NOT NULL AS lagging),
  holder AS (
    SELECT a.pid, a.datname::text AS database, a.application_name, a.state,
           (extract(epoch FROM now() - a.xact_start) * 1000)::bigint AS age_ms
      FROM pg_stat_activity a WHERE a.backend_xid = xid((SELECT xmin FROM x))
    UNION ALL
    SELECT NULL, p.database::text, p.gid, 'prepared', (extract(epoch FROM now() - p.prepared) * 1000)::bigint
      FROM pg_prepared_xacts p WHERE p.transaction = xid((SELECT xmin FROM x))
    LIMIT 1)
  SELECT behind.lagging, holder.* FROM behind LEFT JOIN holder ON behind.lagging`;

interface Row {
  lagging: boolean;
  pid: number | null;
  database: string | null;
  application_name: string | null;
  state: string | null;
  age_ms: string | null;
}

export async function horizonStatus(db: Knex): Promise<HorizonStatus> {
  const { rows } = await db.raw<{ rows: Row[] }>(HORIZON_QUERY);
  const row = rows[0];
  if (!row?.lagging) return { lagging: false, blocker: null };
  const blocker =
    row.age_ms === null
      ? null
      : { pid: row.pid, database: row.database, applicationName: row.application_name, state: row.state, transactionAgeMs: Number(row.age_ms) };
  return { lagging: true, blocker };
}

/** How long a transaction may hold the horizon before operators are told. */
export const HORIZON_WARNING_MS = 5_000;

/** One line for logs, /readyz and the CLI; undefined when nothing has held the horizon for long. */
export function horizonWarning(status: HorizonStatus, thresholdMs = HORIZON_WARNING_MS): string | undefined {
  const b = status.blocker;
  if (!status.lagging || !b || b.transactionAgeMs < thresholdMs) return undefined;
  const who =
    b.pid === null ? `prepared transaction "${b.applicationName}"` : `backend pid ${b.pid} (${b.applicationName || 'no application name'}, ${b.state})`;
  return `$all delivery is held back by ${who} in database ${b.database ?? '?'}, open for ${Math.round(b.transactionAgeMs / 1000)} s: end it (or SELECT pg_terminate_backend(${b.pid ?? 'pid'}))`;
}

/**
 * `event_store_horizon_blocked_seconds`: while events wait behind a
 * transaction in flight, that transaction's age; else 0. Read when scraped.
 */
export function horizonMetrics(registry: Registry, db: Knex): void {
  const name = 'event_store_horizon_blocked_seconds';
  if (registry.getSingleMetric(name)) return;
  new Gauge({
    name,
    help: 'Age of the transaction holding back $all delivery while events wait behind it (0 when none)',
    registers: [registry],
    async collect() {
      const status = await horizonStatus(db).catch(() => undefined);
      this.set(status?.blocker ? status.blocker.transactionAgeMs / 1000 : 0);
    },
  });
}

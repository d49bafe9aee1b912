import type { Knex } from 'knex';
import type { EventStore } from '../event-store/port.js';
import type { Logger } from '../logger.js';
import { retentionFor } from '../read-api/retention.js';
import { PLAN_CODES, SERVICES, plan as catalogue, type Service } from '../write-model/subscription/plans.js';

/**
 * The retention job: deletes collected rows older than the
 * owner's current plan's data_retention_days, per service. The cutoff is
 * retentionFor's (src/read-api/retention.ts), so the job deletes exactly the
 * rows the read API already hides (`column < cutoff`).
 *
 * Deletes go in batches of `batchSize` rows, each its own statement (its own
 * short transaction, row locks only): the projections keep writing meanwhile.
 * The age test is repeated in the DELETE itself, so a row a projection
 * refreshed between the pick and the delete is kept. Running twice, or two
 * runs at once, deletes nothing more.
 */

const DAY_MS = 86_400_000;

interface RetainedTable {
  table: string;
  /** the time a row's age is measured from (what the read API filters on) */
  column: string;
}

/** Collected data per service; tables keyed by owner_id. Trackings (qidian_trackings) are settings, not collected data. */
export const RETAINED_TABLES: { readonly [S in Service]: readonly RetainedTable[] } = {
  xiaohongshu: [
    { table: 'xiaohongshu_contents', column: 'last_collected_at' },
    { table: 'xiaohongshu_content_history', column: 'collected_at' },
    { table: 'xiaohongshu_messages', column: 'collected_at' },
  ],
  qidian: [
    { table: 'qidian_novels', column: 'last_captured_at' },
    { table: 'qidian_novel_snapshots', column: 'captured_at' },
    { table: 'qidian_rankings', column: 'captured_at' },
  ],
};

/**
 * The projection's (execution, batch) ledger has no owner: it is kept for the
 * longest retention any plan has, so a replayed batch is still recognised
 * (and not re-inserted) for as long as any owner could still have its rows.
 */
export const LEDGER_TABLE = { table: 'xiaohongshu_processed_batches', column: 'processed_at' } as const;

export function longestRetentionDays(): number {
  return Math.max(...SERVICES.flatMap((s) => PLAN_CODES.map((c) => catalogue(s, c).features.data_retention_days)));
}

export interface RetentionDeps {
  knex: Knex;
  store: EventStore;
  now: Date;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** count what would go, delete nothing */
  dryRun?: boolean;
  /** rows per DELETE (default 1000) */
  batchSize?: number;
}

export interface RetentionReport {
  dryRun: boolean;
  /** the instant the cutoffs were measured from */
  now: string;
  /** rows deleted (or, dry, that would be) per table; every table listed, zeros included */
  deleted: Record<string, number>;
  total: number;
  /** owners whose plan was looked up, per service */
  owners: Record<Service, number>;
}

export async function runRetention(deps: RetentionDeps): Promise<RetentionReport> {
  const { knex, now, logger } = deps;
  const dryRun = deps.dryRun ?? false;
  const batchSize = deps.batchSize ?? 1000;
  const deleted: Record<string, number> = {};
  const owners = {} as Record<Service, number>;

  for (const service of SERVICES) {
    const tables = RETAINED_TABLES[service];
    for (const t of tables) deleted[t.table] = 0;
    const ownerIds = await ownersOf(
      knex,
      tables.map((t) => t.table),
    );
    owners[service] = ownerIds.length;
    for (const ownerId of ownerIds) {
      const { days, cutoff } = await retentionFor(deps.store, ownerId, service, now);
      if (days < 0) continue; // -1 would mean "keep forever"; no plan sells it today
      for (const t of tables) {
        const n = await purge(knex, t, { ownerId, cutoff }, { dryRun, batchSize });
        deleted[t.table]! += n;
        if (n > 0)
          logger?.info({ table: t.table, ownerId, service, days, cutoff: cutoff.toISOString(), rows: n, dryRun }, "retention: rows past the plan's retention");
      }
    }
  }

  const ledgerCutoff = new Date(now.getTime() - longestRetentionDays() * DAY_MS);
  deleted[LEDGER_TABLE.table] = await purge(knex, LEDGER_TABLE, { cutoff: ledgerCutoff }, { dryRun, batchSize });

  const total = Object.values(deleted).reduce((a, b) => a + b, 0);
  logger?.info({ deleted, total, owners, dryRun }, 'retention run finished');
  return { dryRun, now: now.toISOString(), deleted, total, owners };
}

/** Distinct owner_id over the tables, by skipping through each table's owner-leading index (no full scan). */
async function ownersOf(knex: Knex, tables: readonly string[]): Promise<string[]> {
  const all = new Set<string>();
  for (const table of tables) {
    const { rows } = (await knex.raw(
      `WITH RECURSIVE o(owner_id) AS (
         (SELECT owner_id FROM ?? ORDER BY owner_id LIMIT 1)
         UNION ALL
         SELECT (SELECT t.owner_id FROM ?? t WHERE t.owner_id > o.owner_id ORDER BY t.owner_id LIMIT 1) FROM o WHERE o.owner_id IS NOT NULL)
       SELECT owner_id FROM o WHERE owner_id IS NOT NULL`,
      [table, table],
    )) as { rows: { owner_id: string }[] };
    for (const r of rows) all.add(r.owner_id);
  }
  return [...all].sort();
}

async function purge(
  knex: Knex,
  t: RetainedTable,
  scope: { ownerId?: string; cutoff: Date },
  options: { dryRun: boolean; batchSize: number },
): Promise<number> {
  const where = scope.ownerId === undefined ? '?? < ?' : 'owner_id = ? AND ?? < ?';
  const params = scope.ownerId === undefined ? [t.column, scope.cutoff] : [scope.ownerId, t.column, scope.cutoff];
  if (options.dryRun) {
    const { rows } = (await knex.raw(`SELECT count(*)::bigint AS n FROM ?? WHERE ${where}`, [t.table, ...params])) as { rows: { n: string }[] };
    return Number(rows[0]!.n);
  }
  let total = 0;
  for (;;) {
    // one bounded statement per batch; the repeated condition re-checks a row updated meanwhile
    const { rowCount } = (await knex.raw(`DELETE FROM ?? WHERE ctid = ANY (ARRAY(SELECT ctid FROM ?? WHERE ${where} LIMIT ?)) AND ${where}`, [
      t.table,
      t.table,
      ...params,
      options.batchSize,
      ...params,
    ])) as { rowCount: number };
    total += rowCount;
    if (rowCount < options.batchSize) return total;
  }
}

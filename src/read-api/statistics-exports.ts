import type { Knex } from 'knex';
import { pageOf, type Page, type PageRequest } from './page.js';
import { selectPage } from './page-query.js';
import type { StatisticsQuery } from '../write-model/statistics-export/catalogue.js';

/** Queries of the `statistics-exports-v1` read model (statistics_exports) and the kept files (report_files, report_id `statistics`); always the requester's own. */

export interface StatisticsExportView {
  id: string;
  status: 'pending' | 'ready' | 'failed' | 'expired';
  format: string;
  from: string;
  to: string;
  metrics: string[];
  group_by: string[];
  granularity: string;
  /** how many owners' statistics it covers (the requester's data scope when asked) */
  owners: number;
  requested_at: string;
  finished_at: string | null;
  file_name: string | null;
  content_type: string | null;
  bytes: number | null;
  rows: number | null;
  expires_at: string | null;
  failure: { reason: string; message: string } | null;
  /** while the file is kept */
  download_url: string | null;
}

const COLUMNS = [
  'id',
  'status',
  'format',
  'query',
  'owners',
  'requested_at',
  'finished_at',
  'file_name',
  'content_type',
  'bytes',
  'rows',
  'reason',
  'message',
  'expires_at',
];

const iso = (v: unknown): string => (v instanceof Date ? v : new Date(String(v))).toISOString();
const isoOrNull = (v: unknown): string | null => (v == null ? null : iso(v));

function view(r: Record<string, any>, now: Date): StatisticsExportView {
  const q = r.query as StatisticsQuery;
  const expired = r.status === 'ready' && r.expires_at != null && new Date(r.expires_at).getTime() <= now.getTime();
  const status = expired ? 'expired' : (r.status as 'pending' | 'ready' | 'failed');
  return {
    id: r.id,
    status,
    format: r.format,
    from: q.from,
    to: q.to,
    metrics: q.metrics,
    group_by: q.groupBy,
    granularity: q.granularity,
    owners: Number(r.owners),
    requested_at: iso(r.requested_at),
    finished_at: isoOrNull(r.finished_at),
    file_name: r.file_name ?? null,
    content_type: r.content_type ?? null,
    bytes: r.bytes == null ? null : Number(r.bytes),
    rows: r.rows == null ? null : Number(r.rows),
    expires_at: isoOrNull(r.expires_at),
    failure: r.status === 'failed' ? { reason: r.reason, message: r.message } : null,
    download_url: status === 'ready' ? `/api/v1/statistics/exports/${r.id}/file` : null,
  };
}

export async function listStatisticsExports(knex: Knex, userId: string, page: PageRequest, now: Date): Promise<Page<StatisticsExportView>> {
  const q = knex('statistics_exports')
    .where({ user_id: userId })
    .select(COLUMNS)
    .orderBy([
      { column: 'requested_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ]);
  const { rows, total } = await selectPage<Record<string, any>>(knex, q, page);
  return pageOf(
    rows.map((r) => view(r, now)),
    page,
    total,
  );
}

export async function findStatisticsExport(knex: Knex, userId: string, id: string, now: Date): Promise<StatisticsExportView | undefined> {
  const row = (await knex('statistics_exports').where({ id, user_id: userId }).first(COLUMNS)) as Record<string, any> | undefined;
  return row ? view(row, now) : undefined;
}

/** The requester's kept file of an export; undefined when unknown, another's, not made yet or expired. */
export async function findStatisticsExportFile(
  knex: Knex,
  userId: string,
  id: string,
  now: Date,
): Promise<{ file_name: string; content_type: string; content: Buffer } | undefined> {
  return (await knex('report_files')
    .where({ run_id: id, report_id: 'statistics', user_id: userId })
    .andWhere('expires_at', '>', now)
    .first('file_name', 'content_type', 'content')) as { file_name: string; content_type: string; content: Buffer } | undefined;
}

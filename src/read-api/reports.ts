import type { Knex } from 'knex';
import { pageOf, type Page, type PageRequest } from './page.js';
import { selectPage } from './page-query.js';
import type { ReportSchedule } from '../write-model/report/schedule.js';

/** Queries of the `reports-v1` read model (reports, report_runs) and the kept files (report_files); always one owner's. */

const iso = (v: unknown): string => (v instanceof Date ? v : new Date(String(v))).toISOString();
const isoOrNull = (v: unknown): string | null => (v == null ? null : iso(v));
const dayOrNull = (v: unknown): string | null =>
  v == null
    ? null
    : v instanceof Date
      ? `${v.getFullYear()}-${String(v.getMonth() + 1).padStart(2, '0')}-${String(v.getDate()).padStart(2, '0')}`
      : String(v).slice(0, 10);

export interface ReportView {
  id: string;
  name: string;
  service: string;
  kind: string;
  format: string;
  days: number;
  schedule: { frequency: string; hour: number; weekday: number | null; day_of_month: number | null; time_zone: string };
  recipients: string[];
  next_run_at: string | null;
  last_run_id: string | null;
  last_run_at: string | null;
  created_at: string;
  updated_at: string;
  revision: string;
}

export interface RunView {
  id: string;
  report_id: string;
  trigger: string;
  slot: string | null;
  status: 'generated' | 'skipped';
  reason: string | null;
  format: string | null;
  file_name: string | null;
  bytes: number | null;
  period_from: string | null;
  period_to: string | null;
  generated_at: string;
  expires_at: string | null;
  mailed_at: string | null;
  /** null once the file is gone (expired) or for a skipped run */
  download_url: string | null;
}

export function scheduleView(s: ReportSchedule): ReportView['schedule'] {
  return { frequency: s.frequency, hour: s.hour, weekday: s.weekday, day_of_month: s.dayOfMonth, time_zone: s.timeZone };
}

function reportView(r: Record<string, any>, email: string | null): ReportView {
  return {
    id: r.id,
    name: r.name,
    service: r.service,
    kind: r.kind,
    format: r.format,
    days: Number(r.days),
    schedule: scheduleView(r.schedule as ReportSchedule),
    recipients: email ? [email] : [],
    next_run_at: isoOrNull(r.next_run_at),
    last_run_id: r.last_run_id ?? null,
    last_run_at: isoOrNull(r.last_run_at),
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
    revision: String(r.last_revision),
  };
}

const REPORT_COLUMNS = [
  'id',
  'name',
  'service',
  'kind',
  'format',
  'days',
  'schedule',
  'next_run_at',
  'last_run_id',
  'last_run_at',
  'created_at',
  'updated_at',
  'last_revision',
];

export async function listReports(knex: Knex, userId: string, email: string | null, page: PageRequest): Promise<Page<ReportView>> {
  const q = knex('reports')
    .where({ user_id: userId, status: 'active' })
    .select(REPORT_COLUMNS)
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ]);
  const { rows, total } = await selectPage<Record<string, any>>(knex, q, page);
  return pageOf(
    rows.map((r) => reportView(r, email)),
    page,
    total,
  );
}

export async function findReport(knex: Knex, userId: string, id: string, email: string | null): Promise<ReportView | undefined> {
  const row = (await knex('reports').where({ id, user_id: userId, status: 'active' }).first()) as Record<string, any> | undefined;
  return row ? reportView(row, email) : undefined;
}

/** The report's latest runs (newest first, at most `limit`), with a download link while the file is kept. */
export async function listRuns(knex: Knex, userId: string, reportId: string, now: Date, limit: number): Promise<RunView[]> {
  const rows = (await knex('report_runs as r')
    .leftJoin('report_files as f', 'f.run_id', 'r.id')
    .where({ 'r.report_id': reportId, 'r.user_id': userId })
    .select('r.*', knex.raw('(f.run_id IS NOT NULL AND f.expires_at > ?) AS kept', [now]))
    .orderBy([
      { column: 'r.generated_at', order: 'desc' },
      { column: 'r.id', order: 'desc' },
    ])
    .limit(limit)) as Record<string, any>[];
  return rows.map((r) => ({
    id: r.id,
    report_id: r.report_id,
    trigger: r.trigger,
    slot: isoOrNull(r.slot),
    status: r.status,
    reason: r.reason ?? null,
    format: r.format ?? null,
    file_name: r.file_name ?? null,
    bytes: r.bytes == null ? null : Number(r.bytes),
    period_from: dayOrNull(r.period_from),
    period_to: dayOrNull(r.period_to),
    generated_at: iso(r.generated_at),
    expires_at: isoOrNull(r.expires_at),
    mailed_at: isoOrNull(r.mailed_at),
    download_url: r.kept ? `/api/v1/reports/${r.report_id}/runs/${r.id}/download` : null,
  }));
}

/** A kept file of one of the owner's runs of this report; undefined when unknown, another's or expired. */
export async function findFile(
  knex: Knex,
  userId: string,
  reportId: string,
  runId: string,
  now: Date,
): Promise<{ file_name: string; content_type: string; content: Buffer } | undefined> {
  return (await knex('report_files')
    .where({ run_id: runId, report_id: reportId, user_id: userId })
    .andWhere('expires_at', '>', now)
    .first('file_name', 'content_type', 'content')) as { file_name: string; content_type: string; content: Buffer } | undefined;
}

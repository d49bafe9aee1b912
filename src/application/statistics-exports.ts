import type { Knex } from 'knex';
import type { EventStore } from '../event-store/port.js';
import type { Logger } from '../logger.js';
import { CONTENT_TYPES, exportFileName, exportStream, type ExportColumn } from '../read-api/export.js';
import { statisticsPages, statisticsRowCount, type StatisticsRow } from '../read-api/statistics.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { eventIdsFrom } from '../write-model/core/event-ids.js';
import { statisticsExportAggregate, type StatisticsExportFormat, type StatisticsQuery } from '../write-model/statistics-export/index.js';
import { REPORT_FILE_TTL_DAYS } from './reports.js';

/**
 * Statistics exports (docs/statistics.md): POST /api/v1/statistics/exports
 * records StatisticsExportRequested in the export's own stream
 * (`statistics_export-{id}`) and queues a `statistics-export` job on the
 * `reports` queue; the reports worker makes the file (xlsx or csv, through
 * the shared export writer), keeps it in `report_files` (report_id
 * `statistics`) for REPORT_FILE_TTL_DAYS — the reports job deletes expired
 * files — and records StatisticsExportGenerated, or StatisticsExportFailed
 * when the query has more than STATISTICS_EXPORT_MAX_ROWS rows or the file
 * cannot be made for EXPORT_GIVE_UP_MS. The reports job's sweep also runs
 * exports left pending (a job that was never queued, or lost).
 */

/** report_files.report_id of the statistics exports' files (never a report's id: those are UUIDs). */
export const STATISTICS_FILE_REPORT_ID = 'statistics';
/** Rows one export holds at most. */
export const STATISTICS_EXPORT_MAX_ROWS = 100_000;
/** An export that still cannot be made this long after it was asked for is given up (failed). */
export const EXPORT_GIVE_UP_MS = 60 * 60_000;
/** A pending export the sweep takes over: older than this (its job had its chance). */
export const PENDING_SWEEP_AFTER_MS = 2 * 60_000;
/** Pending exports one sweep runs at most. */
export const EXPORTS_PER_SWEEP = 20;
const DAY_MS = 86_400_000;

export interface StatisticsExportDeps {
  store: EventStore;
  knex: Knex;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  now?: () => Date;
}

export interface StatisticsExportRequest {
  exportId: string;
  userId: string;
  ownerIds: readonly string[];
  query: StatisticsQuery;
  format: StatisticsExportFormat;
  now: Date;
  context: CommandContext;
}

export async function requestStatisticsExport(store: EventStore, request: StatisticsExportRequest) {
  return handle(
    store,
    statisticsExportAggregate,
    request.exportId,
    {
      type: 'RequestStatisticsExport',
      exportId: request.exportId,
      userId: request.userId,
      ownerIds: request.ownerIds,
      query: request.query,
      format: request.format,
      now: request.now.toISOString(),
    },
    { context: request.context, expectedRevision: 'no_stream' },
  );
}

/** The file's columns: the dimensions grouped by, then the metrics. */
function columnsOf(query: StatisticsQuery): ExportColumn<StatisticsRow>[] {
  return [
    ...query.groupBy.map((d) => ({ header: d, value: (r: StatisticsRow) => r[d] ?? null, width: d === 'day' ? 12 : 20 })),
    ...query.metrics.map((m) => ({ header: m, value: (r: StatisticsRow) => r.metrics[m] ?? 0, width: 16 })),
  ];
}

/** The export's bytes, whole (bounded by STATISTICS_EXPORT_MAX_ROWS). */
export async function renderStatisticsFile(
  knex: Knex,
  ownerIds: readonly string[],
  query: StatisticsQuery,
  format: StatisticsExportFormat,
): Promise<{ content: Buffer; rows: number }> {
  let rows = 0;
  const pages = (async function* () {
    for await (const page of statisticsPages(knex, ownerIds, query)) {
      rows += page.length;
      yield page;
    }
  })();
  const chunks: Buffer[] = [];
  for await (const chunk of exportStream({ format, columns: columnsOf(query), pages, sheetName: 'statistics' })) chunks.push(Buffer.from(chunk));
  return { content: Buffer.concat(chunks), rows };
}

export type StatisticsExportOutcome = 'generated' | 'failed' | 'done-before' | 'unknown';

/**
 * Makes one export's file and records the outcome; an export with its
 * outcome recorded already (or never requested) is left as it is. The
 * outcome events have ids named after the export, so two workers racing on
 * one export record it once. An error is thrown (the job retries) until the
 * export is EXPORT_GIVE_UP_MS old; then it is recorded failed.
 */
export async function runStatisticsExport(deps: StatisticsExportDeps, exportId: string, context?: CommandContext): Promise<StatisticsExportOutcome> {
  const { store, knex } = deps;
  const now = deps.now?.() ?? new Date();
  const { state } = await load(store, statisticsExportAggregate, exportId);
  if (state.status === 'none') return 'unknown';
  if (state.status !== 'requested') return 'done-before';
  const ctx = context ?? { correlationId: exportId, causationId: exportId, actor: 'reports-job' };
  const outcome = { context: ctx, eventIds: eventIdsFrom(`statistics-export:${exportId}:outcome`) };
  const fail = async (reason: 'too_many_rows' | 'generation_failed', message: string) => {
    await handle(
      store,
      statisticsExportAggregate,
      exportId,
      { type: 'RecordStatisticsExportFailed', exportId, reason, message, now: now.toISOString() },
      outcome,
    );
    deps.logger?.info({ exportId, reason }, 'statistics export failed');
    return 'failed' as const;
  };
  try {
    const count = await statisticsRowCount(knex, state.ownerIds, state.query);
    if (count > STATISTICS_EXPORT_MAX_ROWS)
      return await fail('too_many_rows', `${count} rows: at most ${STATISTICS_EXPORT_MAX_ROWS} per export; narrow the period or group by fewer dimensions`);
    const { content, rows } = await renderStatisticsFile(knex, state.ownerIds, state.query, state.format);
    const fileName = exportFileName('statistics', state.format, now);
    const contentType = CONTENT_TYPES[state.format];
    const expiresAt = new Date(now.getTime() + REPORT_FILE_TTL_DAYS * DAY_MS).toISOString();
    await knex('report_files')
      .insert({
        run_id: exportId,
        report_id: STATISTICS_FILE_REPORT_ID,
        user_id: state.userId,
        file_name: fileName,
        content_type: contentType,
        content,
        created_at: now,
        expires_at: expiresAt,
      })
      .onConflict('run_id')
      .ignore();
    await handle(
      store,
      statisticsExportAggregate,
      exportId,
      { type: 'RecordStatisticsExportGenerated', exportId, fileName, contentType, bytes: content.length, rows, expiresAt, now: now.toISOString() },
      outcome,
    );
    return 'generated';
  } catch (error) {
    if (now.getTime() - Date.parse(state.requestedAt) < EXPORT_GIVE_UP_MS) throw error;
    deps.logger?.error({ exportId, err: error }, 'statistics export could not be made; given up');
    return fail('generation_failed', 'the file could not be made; ask again');
  }
}

/** The reports job's part: runs exports still pending PENDING_SWEEP_AFTER_MS after they were asked for. */
export async function runPendingStatisticsExports(deps: StatisticsExportDeps, options: { limit?: number } = {}): Promise<{ run: number; failed: number }> {
  const now = deps.now?.() ?? new Date();
  const pending = (await deps
    .knex('statistics_exports')
    .where('status', 'pending')
    .andWhere('requested_at', '<', new Date(now.getTime() - PENDING_SWEEP_AFTER_MS))
    .orderBy('requested_at')
    .limit(options.limit ?? EXPORTS_PER_SWEEP)
    .select('id')) as { id: string }[];
  let failed = 0;
  for (const { id } of pending) {
    try {
      await runStatisticsExport(deps, id);
    } catch (error) {
      failed++;
      deps.logger?.error({ exportId: id, err: error }, 'pending statistics export failed; tried again on the next sweep');
    }
  }
  return { run: pending.length, failed };
}

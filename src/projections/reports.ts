import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../consumers/consumer.js';
import { reportEvents, type ReportEvent } from '../write-model/report/events.js';
import { nextSlotAfter, type ReportSchedule } from '../write-model/report/schedule.js';
import { reportRunEvents, type ReportRunEvent } from '../write-model/report-run/events.js';
import { patchRows, selectRows, upsertRows, type Row } from './sql-batch.js';

/**
 * The read model of scheduled reports (migration 20261207110000_reports_read_model),
 * GET /api/v1/reports and the reports job:
 *
 * - `reports` from the Report streams (`report-{id}`): one row per report,
 *   deleted ones kept as `deleted`; `next_run_at` = the schedule's next slot
 *   after the definition or its last change, and after each scheduled run's
 *   slot (never moved back);
 * - `report_runs` from the ReportRun streams (`report_run-{id}`): one row per
 *   run (generated or skipped), its mailing added.
 *
 * A batch is folded in memory per row over the rows as it finds them (read
 * and locked once), then written with one insert and one patch per table;
 * each event applies only above its row's `last_revision`, and the reports'
 * run columns only forward (guarded), so a redelivered batch changes nothing.
 */
export const REPORTS_PROJECTION = 'reports-v1';

const REPORT_PREFIX = 'report-';
const RUN_PREFIX = 'report_run-';

export function createReportsProjection(name: string = REPORTS_PROJECTION): Consumer {
  return {
    name,
    filter: { streamPrefixes: [REPORT_PREFIX, RUN_PREFIX], eventTypes: [...reportEvents.types, ...reportRunEvents.types] },
    async handle(events, { tx }) {
      await applyEvents(tx, events);
    },
  };
}

export const reportsProjection: Consumer = createReportsProjection();

type Db = Knex.Transaction | Knex;

interface Fold {
  revision: bigint;
  insert?: Row;
  patch?: Row;
}

const next = (schedule: ReportSchedule, after: string) => nextSlotAfter(schedule, new Date(after)).toISOString();

/** Applies a batch in its order (exported for tests). */
export async function applyEvents(tx: Db, events: readonly RecordedEvent[]): Promise<void> {
  const reports: { revision: bigint; event: ReportEvent }[] = [];
  const runs: { revision: bigint; event: ReportRunEvent }[] = [];
  for (const recorded of events) {
    if (reportEvents.owns(recorded.type) && recorded.streamName.startsWith(REPORT_PREFIX))
      reports.push({ revision: recorded.revision, event: reportEvents.decode(recorded) });
    else if (reportRunEvents.owns(recorded.type) && recorded.streamName.startsWith(RUN_PREFIX))
      runs.push({ revision: recorded.revision, event: reportRunEvents.decode(recorded) });
  }
  await fold(tx, 'reports', reports, (e) => e.data.reportId, reportRow);
  await fold(tx, 'report_runs', runs, (e) => e.data.runId, runRow);
  await advanceReports(
    tx,
    runs.map((r) => r.event),
  );
}

function reportRow(event: ReportEvent, id: string): { insert?: Row; set: Row } {
  switch (event.type) {
    case 'ReportDefined': {
      const d = event.data;
      return {
        insert: {
          id,
          user_id: d.userId,
          name: d.name,
          service: d.service,
          kind: d.kind,
          format: d.format,
          days: d.days,
          schedule: d.schedule,
          status: 'active',
          created_at: d.definedAt,
          updated_at: d.definedAt,
          next_run_at: next(d.schedule, d.definedAt),
        },
        set: {},
      };
    }
    case 'ReportChanged': {
      const d = event.data;
      return {
        set: {
          name: d.name,
          kind: d.kind,
          format: d.format,
          days: d.days,
          schedule: d.schedule,
          updated_at: d.changedAt,
          next_run_at: next(d.schedule, d.changedAt),
        },
      };
    }
    case 'ReportDeleted':
      return { set: { status: 'deleted', updated_at: event.data.deletedAt } };
  }
}

function runRow(event: ReportRunEvent, id: string): { insert?: Row; set: Row } {
  const d = event.data;
  switch (event.type) {
    case 'ReportGenerated': {
      const g = event.data;
      return {
        insert: {
          id,
          report_id: d.reportId,
          user_id: d.userId,
          trigger: g.trigger,
          slot: g.slot,
          status: 'generated',
          format: g.format,
          file_name: g.fileName,
          content_type: g.contentType,
          bytes: g.bytes,
          period_from: g.periodFrom,
          period_to: g.periodTo,
          generated_at: g.generatedAt,
          expires_at: g.expiresAt,
        },
        set: {},
      };
    }
    case 'ReportRunSkipped': {
      const s = event.data;
      return {
        insert: {
          id,
          report_id: d.reportId,
          user_id: d.userId,
          trigger: s.trigger,
          slot: s.slot,
          status: 'skipped',
          reason: s.reason,
          generated_at: s.skippedAt,
        },
        set: {},
      };
    }
    case 'ReportMailed':
      return { set: { mailed_at: event.data.mailedAt, message_id: event.data.messageId } };
  }
}

/** The reports' last run, and after a scheduled run the schedule's next slot: forward only. */
async function advanceReports(tx: Db, runs: readonly ReportRunEvent[]): Promise<void> {
  const outcomes: { runId: string; reportId: string; slot: string | null; at: string }[] = [];
  for (const e of runs) {
    if (e.type === 'ReportGenerated') outcomes.push({ runId: e.data.runId, reportId: e.data.reportId, slot: e.data.slot, at: e.data.generatedAt });
    else if (e.type === 'ReportRunSkipped') outcomes.push({ runId: e.data.runId, reportId: e.data.reportId, slot: e.data.slot, at: e.data.skippedAt });
  }
  if (outcomes.length === 0) return;
  const ids = [...new Set(outcomes.map((o) => o.reportId))];
  const rows = await selectRows<{ id: string; schedule: ReportSchedule }>(
    tx,
    'reports',
    ids.map((id) => ({ id })),
    { key: ['id'], columns: ['id', 'schedule'] },
  );
  const schedules = new Map(rows.map((r) => [r.id, r.schedule]));
  const patches = new Map<string, { id: string; last_run_id?: string; last_run_at?: string; next_run_at?: string }>();
  for (const o of outcomes) {
    const schedule = schedules.get(o.reportId);
    if (!schedule) continue;
    const p = patches.get(o.reportId) ?? { id: o.reportId };
    if (!p.last_run_at || p.last_run_at <= o.at) Object.assign(p, { last_run_id: o.runId, last_run_at: o.at });
    if (o.slot) {
      const after = next(schedule, o.slot);
      if (!p.next_run_at || p.next_run_at < after) p.next_run_at = after;
    }
    patches.set(o.reportId, p);
  }
  // each column forward only: a redelivered or older run leaves the row as it is
  await patchRows(
    tx,
    'reports',
    [...patches.values()].map((p) => ({ id: p.id, last_run_id: p.last_run_id, last_run_at: p.last_run_at })),
    {
      key: ['id'],
      guard: 't.last_run_at IS NULL OR t.last_run_at <= n.last_run_at',
    },
  );
  const advanced = [...patches.values()].filter((p) => p.next_run_at !== undefined).map((p) => ({ id: p.id, next_run_at: p.next_run_at }));
  await patchRows(tx, 'reports', advanced, { key: ['id'], guard: 't.next_run_at IS NULL OR t.next_run_at < n.next_run_at' });
}

type RowOf<E> = (event: E, id: string) => { insert?: Row; set: Row };

async function fold<E>(tx: Db, table: string, events: { revision: bigint; event: E }[], idOf: (e: E) => string, rowOf: RowOf<E>): Promise<void> {
  if (events.length === 0) return;
  const ids = [...new Set(events.map((e) => idOf(e.event)))];
  const current = await selectRows<{ id: string; last_revision: string }>(
    tx,
    table,
    ids.map((id) => ({ id })),
    { key: ['id'], columns: ['id', 'last_revision'], forUpdate: true },
  );
  const folds = new Map<string, Fold>(current.map((r) => [r.id, { revision: BigInt(r.last_revision) }]));
  for (const { revision, event } of events) {
    const id = idOf(event);
    const f = folds.get(id);
    if (f && f.revision >= revision) continue; // applied already
    const { insert, set } = rowOf(event, id);
    if (!f) {
      if (insert) folds.set(id, { revision, insert: { ...insert, last_revision: revision.toString() } });
      continue; // a change of a row never started changes nothing
    }
    Object.assign(f.insert ?? (f.patch ??= { id }), set, { last_revision: revision.toString() });
    f.revision = revision;
  }
  const all = [...folds.values()];
  await upsertRows(
    tx,
    table,
    all.flatMap((f) => (f.insert ? [f.insert] : [])),
    { conflict: ['id'] },
  );
  await patchRows(
    tx,
    table,
    all.flatMap((f) => (f.patch ? [f.patch] : [])),
    { key: ['id'], guard: 't.last_revision < n.last_revision' },
  );
}

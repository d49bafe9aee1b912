import type { Knex } from 'knex';
import type { Mailer } from './ports/mailer.js';
import type { EventStore } from '../event-store/port.js';
import { formatPosition } from '../event-store/position.js';
import type { Logger } from '../logger.js';
import { QIDIAN_TIME_ZONE, qidianDay } from '../projections/qidian-data.js';
import { marketAnalytics } from '../read-api/qidian-analytics.js';
import { retentionFor } from '../read-api/retention.js';
import { renderTableReport, type ReportTable } from '../read-api/table-report.js';
import { renderReport, REPORT_CONTENT_TYPES, REPORT_PLAN_FORMAT } from '../read-api/xiaohongshu-report.js';
import { overview, topContents, trends } from '../read-api/xiaohongshu.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { eventIdsFrom, uuidFromName } from '../write-model/core/event-ids.js';
import {
  reportAggregate,
  type ReportFileFormat,
  type ReportKind,
  type ReportSchedule,
  type ReportService,
  type ReportSettings,
  latestSlot,
} from '../write-model/report/index.js';
import { reportRunAggregate, type ReportRunTrigger } from '../write-model/report-run/index.js';
import { allowsRanking, QIDIAN_RANKINGS } from '../write-model/subscription/plans.js';
import { userAggregate } from '../write-model/user/decider.js';
import { deliverOrDrop } from './deliver-mail.js';
import { requireFeature, requirePlanExportFormat } from './plan-gates.js';
import { addDays, quotaDay } from './quota-day.js';
import { currentPlan } from './subscription-quotas.js';

/**
 * Scheduled reports (plan feature custom_reports, qidian enterprise): the
 * Report aggregate's commands, the plan checks, generating a report's file
 * (the Xiaohongshu analytics report, the Qidian market, the Qidian tracked
 * novels, as xlsx or pdf), the reports job that runs the due ones, and the
 * mail that carries the file (through the `mail` outbox queue).
 *
 * A run is a short stream of its own (`report_run-{runId}`); a scheduled
 * run's id is named after its report and slot, so a slot is generated once
 * however many sweeps or workers see it due. The file is kept in
 * `report_files` for REPORT_FILE_TTL_DAYS (download route, mail), then the
 * job deletes it.
 */

export const REPORT_FILE_TTL_DAYS = 7;
const DAY_MS = 86_400_000;
/** Reports a sweep of the job runs at most (the rest on the next one). */
export const REPORTS_PER_SWEEP = 50;
/** Lists in a Qidian market report. */
const MARKET_LIST = 20;
const TRACKED_ROWS = 1000;

export interface ReportMailJob {
  runId: string;
  reportId: string;
  userId: string;
  correlationId: string;
  causationId: string;
}

export interface ReportMailOutbox {
  enqueueReportMail(job: ReportMailJob): Promise<void>;
}

export interface ReportsDeps {
  store: EventStore;
  knex: Knex;
  /** where a generated report's mail is queued */
  mail: ReportMailOutbox;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  now?: () => Date;
}

/** A report as the reports read model holds it. */
export interface ReportRow extends ReportSettings {
  id: string;
  userId: string;
  status: 'active' | 'deleted';
  nextRunAt: string | null;
}

export function reportRow(r: Record<string, any>): ReportRow {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    service: r.service,
    kind: r.kind,
    format: r.format,
    days: Number(r.days),
    schedule: r.schedule as ReportSchedule,
    status: r.status,
    nextRunAt: r.next_run_at ? new Date(r.next_run_at).toISOString() : null,
  };
}

// ---------------------------------------------------------------- plan checks

/**
 * PERMISSION_DENIED unless the user's plans allow the report: custom_reports
 * (qidian plan), the format in the report's service plan's export_formats
 * (xlsx: excel, pdf: pdf), and the kind's own feature (Xiaohongshu analytics:
 * data_analytics; Qidian market: market_insights).
 */
export async function requireReportPlan(
  store: EventStore,
  userId: string,
  settings: { service: ReportService; kind: ReportKind; format: ReportFileFormat },
): Promise<void> {
  requireFeature(await currentPlan(store, userId, 'qidian'), 'custom_reports');
  const servicePlan = await currentPlan(store, userId, settings.service);
  requirePlanExportFormat(servicePlan, REPORT_PLAN_FORMAT[settings.format], { format: settings.format });
  if (settings.kind === 'xiaohongshu.analytics') requireFeature(servicePlan, 'data_analytics');
  if (settings.kind === 'qidian.market') requireFeature(servicePlan, 'market_insights');
}

// ---------------------------------------------------------------- commands

export interface ReportCall {
  store: EventStore;
  userId: string;
  now: Date;
  context: CommandContext;
}

export async function loadReport(store: EventStore, reportId: string) {
  return load(store, reportAggregate, reportId);
}

export async function defineReport(call: ReportCall, reportId: string, settings: ReportSettings) {
  return handle(
    call.store,
    reportAggregate,
    reportId,
    { type: 'DefineReport', reportId, userId: call.userId, ...settings, now: call.now.toISOString() },
    { context: call.context, expectedRevision: 'no_stream' },
  );
}

export async function changeReport(call: ReportCall, reportId: string, change: Partial<Omit<ReportSettings, 'service'>>, expectedRevision?: bigint) {
  return handle(
    call.store,
    reportAggregate,
    reportId,
    { type: 'ChangeReport', reportId, requestedBy: call.userId, ...change, now: call.now.toISOString() },
    { context: call.context, ...(expectedRevision !== undefined ? { expectedRevision } : {}) },
  );
}

/** Deletes the report; `expectedRevision` (If-Match) is the stream revision the caller last saw. */
export async function deleteReport(call: ReportCall, reportId: string, expectedRevision?: bigint) {
  return handle(
    call.store,
    reportAggregate,
    reportId,
    { type: 'DeleteReport', reportId, requestedBy: call.userId, now: call.now.toISOString() },
    { context: call.context, ...(expectedRevision !== undefined ? { expectedRevision } : {}) },
  );
}

// ---------------------------------------------------------------- generating

export interface ReportFile {
  content: Buffer;
  fileName: string;
  contentType: string;
  periodFrom: string;
  periodTo: string;
}

const stamp = (now: Date) => now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);

/** The report's file as of `now`: its last `days` days (the schedule's zone for Xiaohongshu, Qidian days for Qidian). */
export async function buildReportFile(store: EventStore, knex: Knex, report: ReportRow, now: Date): Promise<ReportFile> {
  const fileName = `${report.kind.replace('.', '-').replace('_', '-')}-${stamp(now)}.${report.format}`;
  const contentType = REPORT_CONTENT_TYPES[report.format];
  if (report.kind === 'xiaohongshu.analytics') {
    const timeZone = report.schedule.timeZone;
    const retention = await retentionFor(store, report.userId, 'xiaohongshu', now);
    const scope = { ownerId: report.userId, cutoff: retention.cutoff, timeZone, retentionDays: retention.days };
    const today = quotaDay(now, timeZone).day;
    const trendsView = await trends(knex, scope, { days: report.days, today });
    const period = { from: trendsView.from, to: today };
    const content = await renderReport(report.format, {
      generatedAt: now,
      overview: await overview(knex, scope, {}, period),
      trends: trendsView,
      topNotes: await topContents(knex, scope, period, 10),
    });
    return { content, fileName, contentType, periodFrom: period.from, periodTo: period.to };
  }
  const plan = await currentPlan(store, report.userId, 'qidian');
  const since = new Date(now.getTime() - plan.features.data_retention_days * DAY_MS);
  const to = qidianDay(now);
  const from = addDays(to, -(report.days - 1));
  const facts: [string, string | number][] = [
    ['报告 Report', report.name],
    ['统计期间 Period', `${from} – ${to}`],
    ['天数 Days', report.days],
    ['时区 Time zone', QIDIAN_TIME_ZONE],
  ];
  let tables: ReportTable[];
  let title: string;
  if (report.kind === 'qidian.market') {
    title = '起点市场报告';
    const boards = QIDIAN_RANKINGS.filter((r) => allowsRanking(plan, r));
    const market = await marketAnalytics(knex, report.userId, { since, period: { from, to }, boards, limit: MARKET_LIST, maxCategories: 50 });
    const movements: (string | number | null)[][] = [];
    for (const b of market.boards) {
      for (const m of b.risers) movements.push([b.ranking, '上升 riser', m.title, m.author, m.start_rank, m.end_rank, m.change]);
      for (const m of b.fallers) movements.push([b.ranking, '下降 faller', m.title, m.author, m.start_rank, m.end_rank, m.change]);
      for (const m of b.new_entries) movements.push([b.ranking, '新上榜 new', m.title, m.author, null, m.rank, null]);
      for (const m of b.exits) movements.push([b.ranking, '出榜 exit', m.title, m.author, m.rank, null, null]);
    }
    tables = [
      {
        title: '榜单 Boards',
        columns: [
          { header: '榜单 Board', width: 1.4 },
          { header: '首次 First day', width: 1.3 },
          { header: '末次 Last day', width: 1.3 },
          { header: '采集天数 Days', width: 1, align: 'right' },
          { header: '上升 Risers', width: 1, align: 'right' },
          { header: '下降 Fallers', width: 1, align: 'right' },
          { header: '新上榜 New', width: 1, align: 'right' },
          { header: '出榜 Exits', width: 1, align: 'right' },
        ],
        rows: market.boards.map((b) => [
          b.ranking,
          b.start_day,
          b.end_day,
          b.days_captured,
          b.totals.risers,
          b.totals.fallers,
          b.totals.new_entries,
          b.totals.exits,
        ]),
      },
      {
        title: '榜单变动 Movements',
        columns: [
          { header: '榜单 Board', width: 1.2 },
          { header: '变动 Kind', width: 1.2 },
          { header: '书名 Title', width: 2.5 },
          { header: '作者 Author', width: 1.5 },
          { header: '起 From', width: 0.8, align: 'right' },
          { header: '止 To', width: 0.8, align: 'right' },
          { header: '变化 Change', width: 0.9, align: 'right' },
        ],
        rows: movements,
      },
      {
        title: '字数增长 Word growth',
        columns: [
          { header: '书名 Title', width: 2.5 },
          { header: '作者 Author', width: 1.5 },
          { header: '分类 Category', width: 1 },
          { header: '期初 Start', width: 1.2, align: 'right' },
          { header: '期末 End', width: 1.2, align: 'right' },
          { header: '增长 Growth', width: 1.2, align: 'right' },
        ],
        rows: market.word_growth.map((g) => [g.title, g.author, g.category, g.start_word_count, g.end_word_count, g.growth]),
      },
      {
        title: '分类 Categories',
        columns: [
          { header: '分类 Category', width: 1.5 },
          { header: '作品 Books', width: 1, align: 'right' },
          { header: '字数 Words', width: 1.5, align: 'right' },
          { header: '增长 Growth', width: 1.3, align: 'right' },
          { header: '上榜(首) Ranked start', width: 1.3, align: 'right' },
          { header: '上榜(末) Ranked end', width: 1.3, align: 'right' },
        ],
        rows: market.categories.map((c) => [c.category, c.books, c.word_count, c.word_growth, c.ranked_start, c.ranked_end]),
      },
    ];
  } else {
    title = '起点追踪作品报告';
    const rows = (
      await knex.raw(
        `SELECT t.novel_id, coalesce(t.title, n.title) AS title, n.author, n.category, n.status, n.word_count, n.chapters, n.last_captured_at, g.growth, g.chapter_growth
           FROM qidian_trackings t
           LEFT JOIN qidian_novels n ON n.owner_id = t.user_id AND n.novel_id = t.novel_id AND n.last_captured_at >= ?
           LEFT JOIN LATERAL (
             SELECT (array_agg(word_count ORDER BY captured_at DESC))[1] - (array_agg(word_count ORDER BY captured_at))[1] AS growth,
                    (array_agg(chapters ORDER BY captured_at DESC))[1] - (array_agg(chapters ORDER BY captured_at))[1] AS chapter_growth
               FROM qidian_novel_snapshots s
              WHERE s.owner_id = t.user_id AND s.novel_id = t.novel_id AND s.captured_at >= ?
                AND s.captured_at >= (CAST(? AS date)::timestamp AT TIME ZONE '${QIDIAN_TIME_ZONE}')) g ON true
          WHERE t.user_id = ? AND t.status = 'tracking'
          ORDER BY t.created_at, t.novel_id
          LIMIT ${TRACKED_ROWS}`,
        [since, since, from, report.userId],
      )
    ).rows as Record<string, any>[];
    tables = [
      {
        title: '追踪作品 Tracked novels',
        columns: [
          { header: '书号 Book id', width: 1.3 },
          { header: '书名 Title', width: 2.3 },
          { header: '作者 Author', width: 1.4 },
          { header: '分类 Category', width: 1 },
          { header: '状态 Status', width: 1 },
          { header: '字数 Words', width: 1.2, align: 'right' },
          { header: '章节 Chapters', width: 1, align: 'right' },
          { header: '字数增长 Growth', width: 1.2, align: 'right' },
          { header: '新章节 New ch.', width: 1, align: 'right' },
        ],
        rows: rows.map((r) => [
          r.novel_id,
          r.title ?? null,
          r.author ?? null,
          r.category ?? null,
          r.status ?? null,
          r.word_count == null ? null : Number(r.word_count),
          r.chapters == null ? null : Number(r.chapters),
          r.growth == null ? null : Number(r.growth),
          r.chapter_growth == null ? null : Number(r.chapter_growth),
        ]),
      },
    ];
  }
  const content = await renderTableReport(report.format, {
    title,
    subtitle: `Qidian ${report.kind === 'qidian.market' ? 'market' : 'tracked novels'} report`,
    generatedAt: now,
    facts,
    tables,
  });
  return { content, fileName, contentType, periodFrom: from, periodTo: to };
}

export type RunOutcome =
  | { outcome: 'generated'; runId: string; fileName: string; contentType: string; bytes: number; expiresAt: string; position: string | null }
  | { outcome: 'skipped'; runId: string; reason: string }
  | { outcome: 'done-before'; runId: string };

/** The plan feature a refusal names, as a skipped run's reason. */
function refusalReason(error: unknown): string | undefined {
  if (error instanceof DomainError && error.code === 'PERMISSION_DENIED') return `plan:${String(error.details.feature ?? 'unknown')}`;
  return undefined;
}

/**
 * Generates one run of a report: its file stored for download, ReportGenerated
 * recorded, its mail queued — or, when the plan no longer allows the report,
 * ReportRunSkipped with the feature. A run recorded already is left as it is.
 */
export async function runReport(
  deps: ReportsDeps,
  report: ReportRow,
  run: { runId: string; trigger: ReportRunTrigger; slot: string | null; context: CommandContext },
): Promise<RunOutcome> {
  const { store, knex } = deps;
  const now = deps.now?.() ?? new Date();
  const { state } = await load(store, reportRunAggregate, run.runId);
  if (state.status !== 'none') return { outcome: 'done-before', runId: run.runId };
  const ref = { runId: run.runId, reportId: report.id, userId: report.userId, trigger: run.trigger, slot: run.slot };
  try {
    await requireReportPlan(store, report.userId, report);
  } catch (error) {
    const reason = refusalReason(error);
    if (!reason) throw error;
    await handle(
      store,
      reportRunAggregate,
      run.runId,
      { type: 'RecordReportRunSkipped', ...ref, reason, now: now.toISOString() },
      { context: run.context, eventIds: eventIdsFrom(`report-run:${run.runId}:outcome`) },
    );
    deps.logger?.info({ reportId: report.id, runId: run.runId, reason }, 'report run skipped: the plan does not allow it');
    return { outcome: 'skipped', runId: run.runId, reason };
  }
  const file = await buildReportFile(store, knex, report, now);
  const expiresAt = new Date(now.getTime() + REPORT_FILE_TTL_DAYS * DAY_MS).toISOString();
  await knex('report_files')
    .insert({
      run_id: run.runId,
      report_id: report.id,
      user_id: report.userId,
      file_name: file.fileName,
      content_type: file.contentType,
      content: file.content,
      created_at: now,
      expires_at: expiresAt,
    })
    .onConflict('run_id')
    .ignore();
  const result = await handle(
    store,
    reportRunAggregate,
    run.runId,
    {
      type: 'RecordReportGenerated',
      ...ref,
      format: report.format,
      fileName: file.fileName,
      contentType: file.contentType,
      bytes: file.content.length,
      periodFrom: file.periodFrom,
      periodTo: file.periodTo,
      expiresAt,
      now: now.toISOString(),
    },
    { context: run.context, eventIds: eventIdsFrom(`report-run:${run.runId}:outcome`) },
  );
  await deps.mail.enqueueReportMail({
    runId: run.runId,
    reportId: report.id,
    userId: report.userId,
    correlationId: run.context.correlationId,
    causationId: run.context.causationId,
  });
  const position = result.position ? formatPosition(result.position) : null;
  return { outcome: 'generated', runId: run.runId, fileName: file.fileName, contentType: file.contentType, bytes: file.content.length, expiresAt, position };
}

/** The id of a scheduled run: named after the report and the slot, so a slot runs once. */
export function scheduledRunId(reportId: string, slot: string): string {
  return uuidFromName(`report-run:${reportId}:${slot}`);
}

export interface SweepReport {
  due: number;
  generated: number;
  skipped: number;
  doneBefore: number;
  failed: number;
  filesDeleted: number;
}

/**
 * The reports job: deletes the expired files, then runs the reports whose
 * next slot has come (at most REPORTS_PER_SWEEP, earliest first), each for
 * its latest due slot (slots missed while no worker ran collapse into one).
 * A report that fails is logged and tried again on the next sweep.
 */
export async function runDueReports(deps: ReportsDeps, options: { limit?: number } = {}): Promise<SweepReport> {
  const now = deps.now?.() ?? new Date();
  const filesDeleted = await deps.knex('report_files').where('expires_at', '<', now).delete();
  const due = (
    (await deps
      .knex('reports')
      .where('status', 'active')
      .andWhere('next_run_at', '<=', now)
      .orderBy('next_run_at')
      .limit(options.limit ?? REPORTS_PER_SWEEP)) as Record<string, any>[]
  ).map(reportRow);
  const report: SweepReport = { due: due.length, generated: 0, skipped: 0, doneBefore: 0, failed: 0, filesDeleted };
  for (const r of due) {
    const slot = latestSlot(r.schedule, new Date(r.nextRunAt!), now)!.toISOString();
    const runId = scheduledRunId(r.id, slot);
    try {
      const outcome = await runReport(deps, r, {
        runId,
        trigger: 'schedule',
        slot,
        context: { correlationId: runId, causationId: runId, actor: 'reports-job' },
      });
      if (outcome.outcome === 'generated') report.generated++;
      else if (outcome.outcome === 'skipped') report.skipped++;
      else report.doneBefore++;
    } catch (error) {
      report.failed++;
      deps.logger?.error({ reportId: r.id, runId, err: error }, 'scheduled report failed; tried again on the next sweep');
    }
  }
  return report;
}

// ---------------------------------------------------------------- the mail

export interface ReportMailDeps {
  store: EventStore;
  knex: Knex;
  mailer: Mailer;
  /** EMAIL_VERIFICATION: while `required`, only a verified address gets reports */
  emailVerification: 'required' | 'off';
  logger?: Pick<Logger, 'info' | 'warn'>;
  now?: () => Date;
}

export type ReportMailOutcome = 'sent' | 'mailed-before' | 'file-gone' | 'user-inactive' | 'not-verified' | 'refused';

/**
 * Mails a generated run's file, as an attachment, to the account's own
 * address (its verified one while EMAIL_VERIFICATION is required), unless
 * ReportMailed is recorded already; then records it. At least once, like
 * the notification mails.
 */
export async function sendReportMail(deps: ReportMailDeps, job: ReportMailJob): Promise<ReportMailOutcome> {
  const { state } = await load(deps.store, reportRunAggregate, job.runId);
  if (state.status !== 'generated' || state.mailed) return 'mailed-before';
  const file = (await deps.knex('report_files').where({ run_id: job.runId }).first()) as Record<string, any> | undefined;
  if (!file) return 'file-gone';
  const { state: user } = await load(deps.store, userAggregate, job.userId);
  if (user.status !== 'active' || !user.account) return 'user-inactive';
  if (deps.emailVerification === 'required' && user.emailVerifiedAt === null) {
    deps.logger?.info({ runId: job.runId }, 'report not mailed: the email is not verified');
    return 'not-verified';
  }
  const { state: report } = await loadReport(deps.store, job.reportId);
  const name = report.status === 'none' ? 'report' : report.name;
  const delivered = await deliverOrDrop(
    deps.mailer,
    {
      to: user.account.email,
      subject: `报告 Report: ${name}`,
      text:
        `您的定期报告「${name}」已生成，见附件 ${file.file_name}。\n\n` +
        `Your scheduled report "${name}" is attached (${file.file_name}).\n` +
        `It can also be downloaded for ${REPORT_FILE_TTL_DAYS} days: GET /api/v1/reports/${job.reportId}/runs/${job.runId}/download\n`,
      attachments: [{ filename: file.file_name, content: Buffer.from(file.content), contentType: file.content_type }],
    },
    { logger: deps.logger, what: 'report mail', context: { runId: job.runId } },
  );
  if (delivered === 'refused') return 'refused';
  await handle(
    deps.store,
    reportRunAggregate,
    job.runId,
    { type: 'RecordReportMailed', runId: job.runId, messageId: delivered.messageId, now: (deps.now?.() ?? new Date()).toISOString() },
    {
      context: { correlationId: job.correlationId, causationId: job.causationId, actor: 'mail-outbox' },
      eventIds: eventIdsFrom(`mail-outbox:${job.runId}:report-mailed`),
    },
  );
  return 'sent';
}

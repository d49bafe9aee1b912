import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { isCalendarDay, quotaDay } from '../../../application/quota-day.js';
import { FIRST_CALENDAR_DAY, periodStart } from '../calendar-day.js';
import { REPORT_FILE_TTL_DAYS } from '../../../application/reports.js';
import { requestStatisticsExport, STATISTICS_EXPORT_MAX_ROWS } from '../../../application/statistics-exports.js';
import type { EventStore } from '../../../event-store/port.js';
import type { Logger } from '../../../logger.js';
import { STATISTICS_EXPORTS_PROJECTION } from '../../../projections/statistics-exports.js';
import { USAGE_STATISTICS_PROJECTION } from '../../../projections/usage-statistics.js';
import { liveStatistics, LIVE_WINDOW_HOURS, statistics } from '../../../read-api/statistics.js';
import { findStatisticsExport, findStatisticsExportFile, listStatisticsExports } from '../../../read-api/statistics-exports.js';
import {
  MAX_STATISTICS_SPAN_DAYS,
  STATISTICS_CHANNELS,
  STATISTICS_DIMENSIONS,
  STATISTICS_EXPORT_FORMATS,
  STATISTICS_GRANULARITIES,
  STATISTICS_METRICS,
  statisticsQueryProblems,
  type StatisticsDimension,
  type StatisticsGranularity,
  type StatisticsMetric,
  type StatisticsQuery,
} from '../../../write-model/statistics-export/catalogue.js';
import type { StatisticsExportOutbox } from '../../queue/statistics-exports-queue.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { validationError } from '../error-mapping.js';
import { HttpError } from '../http-error.js';
import { errorEnvelopeSchema } from '../openapi.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult } from '../revision.js';
import type { AppContext, AppState } from '../state.js';

/**
 * Usage statistics under `/api/v1/statistics` (docs/statistics.md): grouped
 * by day / week / month, platform, country, organization, owner, platform
 * account, workflow and channel (read model `usage-statistics-v1`); the live
 * view (today and the last 24 hours); and exports made in the background
 * (xlsx or csv, by the reports worker) to download. Every query covers the
 * owners of the caller's data scope (ctx.state.access.ownerIds).
 */

export interface StatisticsRouteDeps {
  store: EventStore;
  knex: Knex;
  /** QUOTA_TIME_ZONE: the statistics' days */
  timeZone: string;
  /** where an export's job is queued (the reports queue) */
  exports: StatisticsExportOutbox;
  logger?: Pick<Logger, 'warn'>;
  now?: () => Date;
}

const DEFAULT_DAYS = 30;
// days and the granularity are checked by checkedQuery, not the schema, so every refusal of a query carries details.allowed
const day = z.string().max(32).openapi({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }).describe('YYYY-MM-DD in the statistics time zone (QUOTA_TIME_ZONE)');
const granularity = z
  .string()
  .max(32)
  .openapi({ enum: [...STATISTICS_GRANULARITIES], default: 'day' })
  .describe('the `day` dimension: days, ISO weeks (their Monday) or months (their first day); default day');
const list = (what: string, allowed: readonly string[]) =>
  z
    .string()
    .max(1000)
    .describe(`comma-separated ${what}: ${allowed.join(', ')}`);

const statisticsQuerySchema = paginationQuery
  .extend({
    from: day.optional().describe(`first day, included; default: ${DEFAULT_DAYS - 1} days before to (not before ${FIRST_CALENDAR_DAY})`),
    to: day.optional().describe('last day, included; default: today'),
    metrics: list('metrics (default: all)', STATISTICS_METRICS).optional(),
    group_by: list('dimensions (default: day; empty: one row of totals)', STATISTICS_DIMENSIONS).optional(),
    granularity: granularity.optional(),
  })
  .extend(afterPositionQuery.shape);

const metricsSchema = z.object(Object.fromEntries(STATISTICS_METRICS.map((m) => [m, z.number().int().optional()]))).describe('the metrics asked for');
const rowSchema = z
  .object({
    day: z.string().nullable().optional().describe("the bucket's first day (with group_by day)"),
    platform: z.string().nullable().optional(),
    country: z.string().nullable().optional().describe('ISO 3166-1 alpha-2'),
    organization: z.string().nullable().optional().describe("the owner's organization now"),
    user: z.string().nullable().optional().describe('the owner'),
    account: z.string().nullable().optional().describe('the platform account'),
    workflow: z.string().nullable().optional(),
    channel: z.string().nullable().optional().describe(STATISTICS_CHANNELS.join(', ')),
    metrics: metricsSchema,
  })
  .describe('one group: its dimensions (null: not applicable or unknown) and values');

const exportBody = z
  .object({
    from: day,
    to: day,
    metrics: z
      .array(z.string().max(64))
      .min(1)
      .max(STATISTICS_METRICS.length)
      .describe(`metric names, each at most once: ${STATISTICS_METRICS.join(', ')}`),
    group_by: z
      .array(z.string().max(64))
      .max(STATISTICS_DIMENSIONS.length)
      .default(['day'])
      .describe(`dimensions, each at most once: ${STATISTICS_DIMENSIONS.join(', ')} (default [day]; [] one row of totals)`),
    granularity: granularity.optional(),
    format: z.enum(STATISTICS_EXPORT_FORMATS),
  })
  .strict();

const exportSchema = z.object({
  id: z.string(),
  status: z.enum(['pending', 'ready', 'failed', 'expired']),
  format: z.string(),
  from: z.string(),
  to: z.string(),
  metrics: z.array(z.string()),
  group_by: z.array(z.string()),
  granularity: z.string(),
  owners: z.number().int().describe("owners covered: the requester's data scope when asked"),
  requested_at: z.string(),
  finished_at: z.string().nullable(),
  file_name: z.string().nullable(),
  content_type: z.string().nullable(),
  bytes: z.number().int().nullable(),
  rows: z.number().int().nullable(),
  expires_at: z.string().nullable(),
  failure: z.object({ reason: z.string(), message: z.string() }).nullable().describe('too_many_rows or generation_failed'),
  download_url: z.string().nullable().describe('while ready'),
});

const splitList = (raw: string | undefined): string[] | undefined =>
  raw === undefined
    ? undefined
    : raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');

/** The owners the caller's data scope reaches (the RBAC policy's; the caller alone without it). */
function ownersOf(ctx: AppContext, userId: string): readonly string[] {
  const owners = ctx.state.access?.ownerIds;
  return owners && owners.length > 0 ? owners : [userId];
}

/** The query as asked, or 422 naming each problem (with the allowed metrics / dimensions where those are wrong). */
function checkedQuery(
  where: 'query' | 'body',
  given: { from: string; to: string; metrics: readonly string[]; groupBy: readonly string[]; granularity: string },
): StatisticsQuery {
  // the shared check names `from` for either bad day: name the one that is wrong
  const days = (['from', 'to'] as const)
    .filter((field) => !isCalendarDay(given[field]))
    .map((field) => ({ field, message: `${field} must be a calendar day, YYYY-MM-DD` }));
  const problems = [...days, ...statisticsQueryProblems(given).filter((p) => days.length === 0 || (p.field !== 'from' && p.field !== 'to'))];
  if (problems.length > 0) {
    const error = validationError(
      problems.map((p) => ({ in: where, path: [p.field], message: p.message, code: 'custom' })),
      problems.map((p) => p.message).join('; '),
    );
    throw new HttpError(422, 'VALIDATION_ERROR', error.message, {
      ...(error.details as object),
      allowed: { metrics: STATISTICS_METRICS, group_by: STATISTICS_DIMENSIONS, granularity: STATISTICS_GRANULARITIES },
    });
  }
  return {
    from: given.from,
    to: given.to,
    metrics: [...given.metrics] as StatisticsMetric[],
    groupBy: [...given.groupBy] as StatisticsDimension[],
    granularity: given.granularity as StatisticsGranularity,
  };
}

export function statisticsRouter(api: HttpApi, deps: StatisticsRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/statistics' });
  const { store, knex, timeZone } = deps;
  const clock = () => deps.now?.() ?? new Date();
  const SCOPE = "Covers the owners of the caller's data scope (own, team or organization, as their role grants it).";

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/',
      summary: 'Usage statistics',
      description:
        'Daily rollups from `from` to `to` (days in QUOTA_TIME_ZONE, both included, at most ' +
        `${MAX_STATISTICS_SPAN_DAYS} days), grouped by \`group_by\` (${STATISTICS_DIMENSIONS.join(', ')}; \`day\` is the time bucket, ` +
        'its size `granularity`), one value per metric in `metrics`. Rows ordered by the dimensions as named, a page at a time, with ' +
        '`totals` over every row. `organization` is the owner’s organization now (current membership). ' +
        `${SCOPE} An unknown metric or dimension, a bad day or range: 422 with the allowed lists in details.allowed.`,
      tags: ['statistics'],
      auth: true,
      permission: 'reports.statistics.view',
      request: { query: statisticsQuerySchema },
      responses: {
        200: {
          description: 'a page of grouped rows and the totals',
          schema: pageSchema(rowSchema).extend({
            totals: metricsSchema,
            from: z.string(),
            to: z.string(),
            granularity: z.string(),
            metrics: z.array(z.string()),
            group_by: z.array(z.string()),
          }),
        },
      },
    },
    async ({ query }, ctx) => {
      const user = currentUser(ctx);
      const to = query.to ?? quotaDay(clock(), timeZone).day;
      // no default counted back from a `to` that is not a day (checkedQuery refuses `to` alone), nor back past the first day there is
      const from = query.from ?? (isCalendarDay(to) ? periodStart(to, DEFAULT_DAYS) : quotaDay(clock(), timeZone).day);
      const q = checkedQuery('query', {
        from,
        to,
        metrics: splitList(query.metrics) ?? [...STATISTICS_METRICS],
        groupBy: splitList(query.group_by) ?? ['day'],
        granularity: query.granularity ?? 'day',
      });
      await awaitPosition(ctx, knex, USAGE_STATISTICS_PROJECTION);
      const answer = await statistics(knex, ownersOf(ctx, user.id), q, { page: query.page, per_page: query.per_page });
      return { ...answer, from: q.from, to: q.to, granularity: q.granularity, metrics: q.metrics, group_by: q.groupBy };
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/live',
      summary: 'Live usage counters',
      description:
        "Today's counters so far (the day in QUOTA_TIME_ZONE) and the last 24 UTC hours, oldest first, the current hour last " +
        `(hourly counters are kept ${LIVE_WINDOW_HOURS} hours). \`metrics\`: comma-separated, default all. ${SCOPE}`,
      tags: ['statistics'],
      auth: true,
      permission: 'reports.statistics.view',
      request: { query: z.object({ metrics: list('metrics (default: all)', STATISTICS_METRICS).optional() }).extend(afterPositionQuery.shape) },
      responses: {
        200: {
          description: 'today and the last 24 hours',
          schema: z.object({
            day: z.string(),
            time_zone: z.string(),
            today: metricsSchema,
            hours: z.array(z.object({ hour: z.string().describe('the hour’s start, UTC'), metrics: metricsSchema })),
          }),
        },
      },
    },
    async ({ query }, ctx) => {
      const user = currentUser(ctx);
      const today = quotaDay(clock(), timeZone).day;
      const q = checkedQuery('query', {
        from: today,
        to: today,
        metrics: splitList(query.metrics) ?? [...STATISTICS_METRICS],
        groupBy: [],
        granularity: 'day',
      });
      await awaitPosition(ctx, knex, USAGE_STATISTICS_PROJECTION);
      return liveStatistics(knex, ownersOf(ctx, user.id), q.metrics, { now: clock(), timeZone });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/exports',
      summary: 'Export usage statistics',
      description:
        'Asynchronous (202): the query of GET /statistics (arrays for `metrics` and `group_by`) made into an xlsx or csv file by the ' +
        `worker; follow it with GET /statistics/exports/{id} (pass the answer's position as \`?after_position=\`). At most ` +
        `${STATISTICS_EXPORT_MAX_ROWS} rows (more: the export fails with too_many_rows). The file is kept ${REPORT_FILE_TTL_DAYS} days. ` +
        `${SCOPE} (as granted when asked). Unknown metrics or dimensions, a bad range: 422 with details.allowed.`,
      tags: ['statistics'],
      auth: true,
      permission: 'reports.reports.create',
      scope: 'export',
      request: { body: exportBody },
      responses: {
        202: {
          description: 'requested',
          schema: z.object({ export_id: z.string(), status: z.literal('pending'), revision: z.string(), position: z.string().nullable() }),
        },
      },
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      const q = checkedQuery('body', {
        from: body.from,
        to: body.to,
        metrics: body.metrics,
        groupBy: body.group_by,
        granularity: body.granularity ?? 'day',
      });
      const exportId = randomUUID();
      const context = commandContext(ctx, user.id);
      const result = await requestStatisticsExport(store, {
        exportId,
        userId: user.id,
        ownerIds: ownersOf(ctx, user.id),
        query: q,
        format: body.format,
        now: clock(),
        context,
      });
      try {
        await deps.exports.enqueueStatisticsExport({ exportId, correlationId: context.correlationId, causationId: context.causationId });
      } catch (error) {
        // recorded: the reports sweep runs exports left pending
        deps.logger?.warn({ exportId, err: error }, 'statistics export job not queued; the reports sweep will run it');
      }
      ctx.set('Location', `/api/v1/statistics/exports/${exportId}`);
      commandResult(ctx, result, { status: 202, extra: { export_id: exportId, status: 'pending' } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/exports',
      summary: 'My statistics exports',
      description: 'Newest first, with their status (pending, ready, failed, expired) and download link while ready.',
      tags: ['statistics'],
      auth: true,
      permission: 'reports.reports.view',
      request: { query: paginationQuery.extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of exports', schema: pageSchema(exportSchema) } },
    },
    async ({ query }, ctx) => {
      const user = currentUser(ctx);
      await awaitPosition(ctx, knex, STATISTICS_EXPORTS_PROJECTION);
      return listStatisticsExports(knex, user.id, { page: query.page, per_page: query.per_page }, clock());
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/exports/:id',
      summary: 'One of my statistics exports',
      description: "Its status, and once ready the file's name, size, rows and download link. Another user's: 404.",
      tags: ['statistics'],
      auth: true,
      permission: 'reports.reports.view',
      request: { params: z.object({ id: z.uuid('an export id is a UUID') }), query: afterPositionQuery },
      responses: { 200: { description: 'the export', schema: exportSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      const user = currentUser(ctx);
      await awaitPosition(ctx, knex, STATISTICS_EXPORTS_PROJECTION);
      const found = await findStatisticsExport(knex, user.id, params.id, clock());
      if (!found) throw new HttpError(404, 'NOT_FOUND', 'statistics export not found');
      return found;
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/exports/:id/file',
      summary: "Download a statistics export's file",
      description:
        `The xlsx or csv (UTF-8 with a BOM) an export made, kept ${REPORT_FILE_TTL_DAYS} days (Content-Disposition: attachment; not the ` +
        "envelope). Unknown, another user's, not made yet, failed or expired: 404.",
      tags: ['statistics'],
      auth: true,
      permission: 'reports.reports.view',
      scope: 'export',
      envelope: false,
      request: { params: z.object({ id: z.uuid('an export id is a UUID') }) },
      responses: {
        200: {
          description: "the file: xlsx or csv, as the export's format",
          contentType: ['application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'text/csv'],
          schema: z.string().describe("the file's bytes"),
        },
        401: { description: 'Missing or invalid access token (UNAUTHENTICATED)', schema: errorEnvelopeSchema },
        403: { description: 'Not allowed (PERMISSION_DENIED)', schema: errorEnvelopeSchema },
        404: { description: 'no such file (NOT_FOUND)', schema: errorEnvelopeSchema },
        422: { description: 'Invalid input (VALIDATION_ERROR)', schema: errorEnvelopeSchema },
      },
    },
    async ({ params }, ctx) => {
      const user = currentUser(ctx);
      const file = await findStatisticsExportFile(knex, user.id, params.id, clock());
      if (!file) throw new HttpError(404, 'NOT_FOUND', 'no such statistics export file (unknown, not ready, or expired)');
      ctx.status = 200;
      ctx.body = Buffer.from(file.content);
      ctx.attachment(file.file_name);
      ctx.type = file.content_type;
      ctx.set('Cache-Control', 'no-store');
    },
  );

  return router;
}

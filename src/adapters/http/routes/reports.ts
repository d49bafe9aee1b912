import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { requireVerifiedEmail } from '../../../application/email-verification.js';
import { requireFeature } from '../../../application/plan-gates.js';
import {
  changeReport,
  defineReport,
  deleteReport,
  loadReport,
  REPORT_FILE_TTL_DAYS,
  requireReportPlan,
  runReport,
  type ReportCall,
  type ReportMailOutbox,
} from '../../../application/reports.js';
import type { Turns } from '../../../application/ports/turns.js';
import { currentPlan } from '../../../application/subscription-quotas.js';
import type { Config } from '../../../config.js';
import type { EventStore } from '../../../event-store/port.js';
import { REPORTS_PROJECTION } from '../../../projections/reports.js';
import { findFile, findReport, listReports, listRuns } from '../../../read-api/reports.js';
import { load } from '../../../write-model/core/command-handler.js';
import {
  DEFAULT_REPORT_DAYS,
  MAX_REPORT_DAYS,
  MAX_REPORT_NAME,
  REPORT_FILE_FORMATS,
  REPORT_FREQUENCIES,
  REPORT_KINDS,
  REPORT_SERVICES,
  serviceOfKind,
  type KnownReport,
  type ReportSchedule,
} from '../../../write-model/report/index.js';
import { userAggregate } from '../../../write-model/user/decider.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { countedCreation } from '../counted-creation.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { HttpError } from '../http-error.js';
import { errorEnvelopeSchema } from '../openapi.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult, ifMatchRevision } from '../revision.js';
import type { AppContext, AppState } from '../state.js';

export interface ReportsRouteDeps {
  store: EventStore;
  knex: Knex;
  config: Pick<Config, 'EMAIL_VERIFICATION' | 'QUOTA_TIME_ZONE'>;
  /** the mail outbox a run's mail is queued in */
  mail: ReportMailOutbox;
  /** where one user's report definitions take turns (the limit of reports is counted in the read model) */
  turns?: Turns;
  now?: () => Date;
}

/** Reports one user holds at most. */
export const MAX_REPORTS = 50;
const MAX_RUNS_LISTED = 50;

const commandResultSchema = z.object({ revision: z.string(), position: z.string().nullable() });
const idParams = z.object({ id: z.uuid() });

const scheduleBody = z
  .object({
    frequency: z.enum(REPORT_FREQUENCIES),
    hour: z.number().int().min(0).max(23).describe('the hour (0–23) of the time zone the report is made at'),
    weekday: z.number().int().min(1).max(7).optional().describe('weekly: ISO weekday, 1 Monday … 7 Sunday'),
    day_of_month: z.number().int().min(1).max(28).optional().describe('monthly: 1–28'),
    time_zone: z.string().min(1).max(64).optional().describe('IANA zone, e.g. Asia/Shanghai; default QUOTA_TIME_ZONE'),
  })
  .strict();

const recipients = z.array(z.email()).max(1).describe("only the account's own (verified) address; it is the default");

const createBody = z
  .object({
    name: z.string().trim().min(1).max(MAX_REPORT_NAME),
    kind: z.enum(REPORT_KINDS).describe('xiaohongshu.analytics (the analytics report), qidian.market, qidian.tracked_novels'),
    service: z.enum(REPORT_SERVICES).optional().describe("the kind's service (xiaohongshu or qidian); when given it must be the kind's"),
    format: z.enum(REPORT_FILE_FORMATS),
    days: z.number().int().min(1).max(MAX_REPORT_DAYS).optional().describe('the period covered, the last `days` days; default daily 1, weekly 7, monthly 30'),
    schedule: scheduleBody,
    recipients: recipients.optional(),
  })
  .strict();

const changeBody = z
  .object({
    name: z.string().trim().min(1).max(MAX_REPORT_NAME).optional(),
    kind: z.enum(REPORT_KINDS).optional(),
    format: z.enum(REPORT_FILE_FORMATS).optional(),
    days: z.number().int().min(1).max(MAX_REPORT_DAYS).optional(),
    schedule: scheduleBody.optional(),
    recipients: recipients.optional(),
  })
  .strict()
  .refine((b) => Object.values(b).some((v) => v !== undefined), { message: 'nothing to change' });

const scheduleSchema = z.object({
  frequency: z.string(),
  hour: z.number().int(),
  weekday: z.number().int().nullable(),
  day_of_month: z.number().int().nullable(),
  time_zone: z.string(),
});
const reportSchema = z.object({
  id: z.string(),
  name: z.string(),
  service: z.string(),
  kind: z.string(),
  format: z.string(),
  days: z.number().int(),
  schedule: scheduleSchema,
  recipients: z.array(z.string()).describe("the account's own address"),
  next_run_at: z.string().nullable(),
  last_run_id: z.string().nullable(),
  last_run_at: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  revision: z.string().describe('send as If-Match to PUT'),
});
const runSchema = z.object({
  id: z.string(),
  report_id: z.string(),
  trigger: z.string().describe('schedule or manual'),
  slot: z.string().nullable().describe("a scheduled run's slot"),
  status: z.enum(['generated', 'skipped']),
  reason: z.string().nullable().describe('skipped: the plan feature missing, e.g. plan:custom_reports'),
  format: z.string().nullable(),
  file_name: z.string().nullable(),
  bytes: z.number().int().nullable(),
  period_from: z.string().nullable(),
  period_to: z.string().nullable(),
  generated_at: z.string(),
  expires_at: z.string().nullable(),
  mailed_at: z.string().nullable(),
  download_url: z.string().nullable(),
});

function scheduleOf(body: z.output<typeof scheduleBody>, timeZone: string): ReportSchedule {
  return {
    frequency: body.frequency,
    hour: body.hour,
    weekday: body.weekday ?? null,
    dayOfMonth: body.day_of_month ?? null,
    timeZone: body.time_zone ?? timeZone,
  };
}

function invalidBody(path: string, message: string): HttpError {
  return new HttpError(422, 'VALIDATION_ERROR', message, { issues: [{ in: 'body', path: [path], message, code: 'custom' }] });
}

/**
 * Scheduled reports under `/api/v1/reports` (plan feature custom_reports,
 * qidian enterprise): definitions (the Report aggregate), their runs
 * (ReportRun streams; read model `reports-v1`), a run now, and the kept
 * files. The reports job (src/adapters/queue/reports-queue.ts) runs the
 * schedules and mails each file to the account's own address.
 */
export function reportsRouter(api: HttpApi, deps: ReportsRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/reports' });
  const { store, knex, config } = deps;
  const clock = () => deps.now?.() ?? new Date();

  function call(ctx: AppContext, userId: string): ReportCall {
    return { store, userId, now: clock(), context: commandContext(ctx, userId) };
  }

  async function requireReports(userId: string): Promise<void> {
    requireFeature(await currentPlan(store, userId, 'qidian'), 'custom_reports');
  }

  async function emailOf(userId: string): Promise<string | null> {
    const { state } = await load(store, userAggregate, userId);
    return state.account?.email ?? null;
  }

  async function checkRecipients(userId: string, given: readonly string[] | undefined): Promise<void> {
    if (given === undefined) return;
    const email = await emailOf(userId);
    if (given.length !== 1 || email === null || given[0]!.toLowerCase() !== email.toLowerCase()) {
      throw invalidBody('recipients', "a report is mailed to the account's own address only");
    }
  }

  /** The caller's active report from the write side; 404 for an unknown, deleted or someone else's one. */
  async function ownReport(ctx: AppContext, id: string): Promise<KnownReport> {
    const { state } = await loadReport(store, id);
    if (state.status !== 'active' || state.userId !== currentUser(ctx).id) throw new HttpError(404, 'NOT_FOUND', 'report not found');
    return state;
  }

  const GATE = 'Needs the plan feature custom_reports (qidian enterprise; 403 PERMISSION_DENIED, details.feature = custom_reports).';

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/',
      summary: 'My scheduled reports',
      description: `Newest first. ${GATE}`,
      tags: ['reports'],
      auth: true,
      permission: 'reports.reports.view',
      request: { query: paginationQuery.extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of reports', schema: pageSchema(reportSchema) } },
      errors: [403],
    },
    async ({ query }, ctx) => {
      const user = currentUser(ctx);
      await requireReports(user.id);
      await awaitPosition(ctx, knex, REPORTS_PROJECTION);
      return listReports(knex, user.id, await emailOf(user.id), { page: query.page, per_page: query.per_page });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/',
      summary: 'Schedule a report',
      description:
        "A report made on a schedule and mailed, as an attachment, to the account's own address: `kind` xiaohongshu.analytics (the " +
        'analytics report of GET /xiaohongshu/analytics/export), qidian.market (boards, movements, word growth, categories) or ' +
        'qidian.tracked_novels (the tracked novels, their words and growth), `format` xlsx or pdf, the last `days` days, `schedule` ' +
        'daily / weekly (weekday) / monthly (day_of_month 1–28) at `hour` in `time_zone` (default QUOTA_TIME_ZONE). ' +
        `${GATE} The format must be in the export_formats of the kind's service plan (xlsx: excel, pdf: pdf) and the kind's own feature ` +
        'in it (xiaohongshu.analytics: data_analytics; qidian.market: market_insights): 403 with details.feature. While ' +
        'EMAIL_VERIFICATION is required, an unverified address is 403 (details.reason email_not_verified). `recipients`, when given, ' +
        `must be [the account's address] (422). At most ${MAX_REPORTS} reports (409); one user's creations take turns, and one that waits too long for its turn is 409 (details.reason creation_in_progress).`,
      tags: ['reports'],
      auth: true,
      permission: 'reports.reports.create',
      request: { body: createBody },
      responses: { 201: { description: 'scheduled', schema: commandResultSchema.extend({ id: z.string() }) } },
      errors: [403, 409],
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      const service = serviceOfKind(body.kind);
      if (body.service !== undefined && body.service !== service) throw invalidBody('service', `a ${body.kind} report is of ${service}`);
      await requireReportPlan(store, user.id, { service, kind: body.kind, format: body.format });
      await requireVerifiedEmail(store, user.id, config.EMAIL_VERIFICATION);
      await checkRecipients(user.id, body.recipients);
      const id = randomUUID();
      const schedule = scheduleOf(body.schedule, config.QUOTA_TIME_ZONE);
      // the limit is counted in the read model: one definition of the user at a time, each keeping its turn until the projection has it
      const result = await countedCreation(deps, `reports:${user.id}`, REPORTS_PROJECTION, async () => {
        const [{ n }] = (await knex('reports').where({ user_id: user.id, status: 'active' }).count({ n: '*' })) as [{ n: string | number }];
        if (Number(n) >= MAX_REPORTS) throw new HttpError(409, 'CONFLICT', `at most ${MAX_REPORTS} reports`, { max: MAX_REPORTS });
        return defineReport(call(ctx, user.id), id, {
          name: body.name,
          service,
          kind: body.kind,
          format: body.format,
          days: body.days ?? DEFAULT_REPORT_DAYS[schedule.frequency],
          schedule,
        });
      });
      ctx.set('Location', `/api/v1/reports/${id}`);
      commandResult(ctx, result, { status: 201, extra: { id } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/:id',
      summary: 'One of my scheduled reports',
      description: `With its next run. ${GATE}`,
      tags: ['reports'],
      auth: true,
      permission: 'reports.reports.view',
      request: { params: idParams, query: afterPositionQuery },
      responses: { 200: { description: 'the report', schema: reportSchema } },
      errors: [403, 404],
    },
    async ({ params }, ctx) => {
      const user = currentUser(ctx);
      await requireReports(user.id);
      await awaitPosition(ctx, knex, REPORTS_PROJECTION);
      const found = await findReport(knex, user.id, params.id, await emailOf(user.id));
      if (!found) throw new HttpError(404, 'NOT_FOUND', 'report not found');
      ctx.set('ETag', `"${found.revision}"`);
      return found;
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'put',
      path: '/:id',
      summary: 'Change a scheduled report',
      description: `Name, kind (of the same service), format, days, schedule; checked against the plan as when scheduled. A new schedule's next run is its first slot after now. Nothing changed: 200 with position null. ${GATE}`,
      tags: ['reports'],
      auth: true,
      permission: 'reports.reports.edit',
      ifMatch: true,
      request: { params: idParams, body: changeBody },
      responses: { 200: { description: 'changed', schema: commandResultSchema } },
      errors: [403, 404, 409],
    },
    async ({ params, body }, ctx) => {
      const user = currentUser(ctx);
      const expected = ifMatchRevision(ctx);
      await requireReports(user.id);
      const report = await ownReport(ctx, params.id);
      if (body.kind !== undefined && serviceOfKind(body.kind) !== report.service)
        throw invalidBody('kind', `a ${report.service} report cannot become ${body.kind}`);
      await requireReportPlan(store, user.id, { service: report.service, kind: body.kind ?? report.kind, format: body.format ?? report.format });
      await checkRecipients(user.id, body.recipients);
      const change = {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.kind !== undefined ? { kind: body.kind } : {}),
        ...(body.format !== undefined ? { format: body.format } : {}),
        ...(body.days !== undefined ? { days: body.days } : {}),
        ...(body.schedule !== undefined ? { schedule: scheduleOf(body.schedule, config.QUOTA_TIME_ZONE) } : {}),
      };
      commandResult(ctx, await changeReport(call(ctx, user.id), params.id, change, expected));
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'delete',
      path: '/:id',
      summary: 'Delete a scheduled report',
      description:
        'Final; allowed whatever the plan. Its kept files expire as they would. A repeat: 404. If-Match: the revision from an ETag (412 when ' +
        'the report moved on since).',
      tags: ['reports'],
      auth: true,
      permission: 'reports.reports.delete',
      ifMatch: true,
      request: { params: idParams },
      responses: { 200: { description: 'deleted', schema: commandResultSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      const user = currentUser(ctx);
      await ownReport(ctx, params.id);
      commandResult(ctx, await deleteReport(call(ctx, user.id), params.id, ifMatchRevision(ctx)));
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/:id/run',
      summary: 'Generate a report now',
      description:
        'Makes the report now (its last `days` days, as a scheduled run would), keeps the file for download ' +
        `${REPORT_FILE_TTL_DAYS} days and queues its mail; the schedule is unchanged. Answers the run (201). ${GATE} The plan checks of ` +
        'POST /reports apply (403 with details.feature).',
      tags: ['reports'],
      auth: true,
      permission: 'reports.reports.run',
      request: { params: idParams },
      responses: {
        201: {
          description: 'generated',
          schema: z.object({
            run_id: z.string(),
            status: z.literal('generated'),
            file_name: z.string(),
            content_type: z.string(),
            bytes: z.number().int(),
            expires_at: z.string(),
            download_url: z.string(),
            mail: z.literal('queued'),
            position: z.string().nullable().describe('pass as after_position to GET /reports/{id}/runs'),
          }),
        },
      },
      errors: [403, 404],
    },
    async ({ params }, ctx) => {
      const user = currentUser(ctx);
      await requireReports(user.id);
      const report = await ownReport(ctx, params.id);
      await requireReportPlan(store, user.id, report);
      const runId = randomUUID();
      const outcome = await runReport(
        { store, knex, mail: deps.mail, now: clock },
        {
          id: report.reportId,
          userId: report.userId,
          name: report.name,
          service: report.service,
          kind: report.kind,
          format: report.format,
          days: report.days,
          schedule: report.schedule,
          status: 'active',
          nextRunAt: null,
        },
        { runId, trigger: 'manual', slot: null, context: commandContext(ctx, user.id) },
      );
      if (outcome.outcome !== 'generated')
        throw new HttpError(403, 'PERMISSION_DENIED', 'the plan does not allow this report', {
          reason: outcome.outcome === 'skipped' ? outcome.reason : 'done',
        });
      ctx.status = 201;
      const url = `/api/v1/reports/${report.reportId}/runs/${runId}/download`;
      ctx.set('Location', url);
      return {
        run_id: runId,
        status: 'generated' as const,
        file_name: outcome.fileName,
        content_type: outcome.contentType,
        bytes: outcome.bytes,
        expires_at: outcome.expiresAt,
        download_url: url,
        mail: 'queued' as const,
        position: outcome.position,
      };
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/:id/runs',
      summary: 'The latest runs of a report',
      description: `Newest first, at most ${MAX_RUNS_LISTED}: generated (with a download link while the file is kept) or skipped (with the reason). ${GATE}`,
      tags: ['reports'],
      auth: true,
      permission: 'reports.reports.view',
      request: { params: idParams, query: afterPositionQuery },
      responses: { 200: { description: 'the runs', schema: z.object({ items: z.array(runSchema) }) } },
      errors: [403, 404],
    },
    async ({ params }, ctx) => {
      const user = currentUser(ctx);
      await requireReports(user.id);
      await ownReport(ctx, params.id);
      await awaitPosition(ctx, knex, REPORTS_PROJECTION);
      return { items: await listRuns(knex, user.id, params.id, clock(), MAX_RUNS_LISTED) };
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/:id/runs/:run_id/download',
      summary: "Download a report run's file",
      description:
        `The xlsx or pdf a run made, kept ${REPORT_FILE_TTL_DAYS} days (Content-Disposition: attachment; not the envelope). A run that is ` +
        `unknown, of another report or user, skipped, or whose file expired: 404. ${GATE}`,
      tags: ['reports'],
      auth: true,
      permission: 'reports.reports.view',
      scope: 'export',
      envelope: false,
      request: { params: idParams.extend({ run_id: z.uuid() }) },
      responses: {
        200: {
          description: 'the file: xlsx or pdf',
          contentType: ['application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'application/pdf'],
          schema: z.string().describe("the file's bytes"),
        },
        401: { description: 'Missing or invalid access token (UNAUTHENTICATED)', schema: errorEnvelopeSchema },
        403: { description: 'the plan has no custom_reports (PERMISSION_DENIED)', schema: errorEnvelopeSchema },
        404: { description: 'no such file (NOT_FOUND)', schema: errorEnvelopeSchema },
        422: { description: 'Invalid input (VALIDATION_ERROR)', schema: errorEnvelopeSchema },
      },
    },
    async ({ params }, ctx) => {
      const user = currentUser(ctx);
      await requireReports(user.id);
      const file = await findFile(knex, user.id, params.id, params.run_id, clock());
      if (!file) throw new HttpError(404, 'NOT_FOUND', 'no such report file (unknown, or expired)');
      ctx.status = 200;
      ctx.body = Buffer.from(file.content);
      ctx.attachment(file.file_name);
      ctx.type = file.content_type;
      ctx.set('Cache-Control', 'no-store');
    },
  );

  return router;
}

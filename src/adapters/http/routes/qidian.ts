import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import { loadTracking, trackNovel, untrackNovel, updateTracking, type TrackingCall } from '../../../application/novel-trackings.js';
import { currentPlan } from '../../../application/subscription-quotas.js';
import type { EventStore } from '../../../event-store/port.js';
import { QIDIAN_DATA_PROJECTION, qidianDay } from '../../../projections/qidian-data.js';
import { CONTENT_TYPES, EXPORT_FORMATS, exportFileName, exportStream, requireExportFormat, type ExportColumn } from '../../../read-api/export.js';
import { isTracked, latestRankings, listTrackings, novelData, novelTrends, rankingCapture, snapshotPages, type SnapshotView } from '../../../read-api/qidian.js';
import type { KnownTracking, NovelTrackingSettings } from '../../../write-model/novel-tracking/index.js';
import { allowsRanking, QIDIAN_RANKINGS, type QidianRanking } from '../../../write-model/subscription/plans.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { rangeError } from '../error-mapping.js';
import { HttpError } from '../http-error.js';
import { errorEnvelopeSchema } from '../openapi.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult, ifMatchRevision } from '../revision.js';
import type { AppContext, AppState } from '../state.js';

export interface QidianRouteDeps {
  store: EventStore;
  knex: Knex;
  /** config QUOTA_TIME_ZONE (the quota day of a refused reservation) */
  timeZone: string;
  /** the clock (tests) */
  now?: () => Date;
}

const DAY_MS = 86_400_000;
export const MAX_TREND_DAYS = 365;

const commandResultSchema = z.object({ revision: z.string(), position: z.string().nullable() });
const DAY = z.string().regex(/^\d{4}-\d{2}-\d{2}$/).refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)), 'not a date');
const novelId = z.string().regex(/^\d{1,20}$/, 'a Qidian book id is digits');
const title = z.string().trim().min(1).max(500);

const settingsBody = z
  .object({
    notify_on_update: z.boolean(),
    notify_on_completion: z.boolean(),
    word_count_threshold: z.number().int().min(1).max(100_000_000).nullable().describe('alert only after this many new words; null: any update'),
  })
  .strict();

const settingsSchema = z.object({ notify_on_update: z.boolean(), notify_on_completion: z.boolean(), word_count_threshold: z.number().int().nullable() });

const trackingSchema = z.object({
  id: z.string(),
  novel_id: z.string(),
  title: z.string().nullable().describe("the owner's label, else the platform's title"),
  novel_title: z.string().nullable(),
  author: z.string().nullable(),
  category: z.string().nullable(),
  novel_status: z.string().nullable().describe('serializing or completed (latest visible capture)'),
  word_count: z.number().nullable(),
  chapters: z.number().nullable(),
  last_captured_at: z.string().nullable(),
  settings: settingsSchema,
  status: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
  revision: z.string().describe('send as If-Match to PUT'),
});

const snapshotSchema = z.object({
  captured_at: z.string(),
  day: z.string().describe('Qidian day (Asia/Shanghai)'),
  title: z.string(),
  author: z.string(),
  category: z.string(),
  status: z.string(),
  word_count: z.number(),
  chapters: z.number(),
  clicks: z.number().nullable(),
  recommendations: z.number().nullable(),
  collections: z.number().nullable(),
  monthly_tickets: z.number().nullable(),
  last_updated_at: z.string().nullable(),
});

const figures = z.object({ word_count: z.number().nullable(), chapters: z.number().nullable(), collections: z.number().nullable(), monthly_tickets: z.number().nullable() });

const trendsSchema = z.object({
  novel_id: z.string(),
  days: z.number().int(),
  from: z.string(),
  to: z.string(),
  points: z.array(figures.extend({ day: z.string(), captured_at: z.string(), deltas: figures })),
  change: figures,
});

const entrySchema = z.object({
  rank: z.number().int(),
  novel_id: z.string(),
  title: z.string(),
  author: z.string(),
  category: z.string(),
  sub_category: z.string().nullable(),
  status: z.string().nullable(),
  score: z.number().nullable(),
  score_label: z.string().nullable(),
  captured_at: z.string(),
});

const trackingParams = z.object({ id: z.uuid() });
const novelParams = z.object({ id: novelId });

function toSettings(s: z.output<typeof settingsBody>): NovelTrackingSettings {
  return { notifyOnUpdate: s.notify_on_update, notifyOnCompletion: s.notify_on_completion, wordCountThreshold: s.word_count_threshold };
}

const DEFAULT_SETTINGS = { notify_on_update: true, notify_on_completion: false, word_count_threshold: null };

function isRanking(value: string): value is QidianRanking {
  return (QIDIAN_RANKINGS as readonly string[]).includes(value);
}

/**
 * Qidian under `/api/v1/qidian`: the caller's novel trackings (NovelTracking
 * aggregate; each holds one unit of the qidian plan's novel_tracking_limit),
 * the data their workflows collected (novel snapshots, rankings) from the
 * `qidian-data-v1` read model. Everything is the caller's own; another
 * user's tracking is a 404. Every read hides rows captured before now − the
 * plan's data_retention_days; rankings are limited to the plan's
 * ranking_access.
 */
const SNAPSHOT_EXPORT_COLUMNS: readonly ExportColumn<SnapshotView>[] = (
  ['captured_at', 'day', 'title', 'author', 'category', 'status', 'word_count', 'chapters', 'clicks', 'recommendations', 'collections', 'monthly_tickets', 'last_updated_at'] as const
).map((key) => ({ header: key, value: (row: SnapshotView) => row[key] }));

export function qidianRouter(api: HttpApi, deps: QidianRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/qidian' });
  const { store, knex } = deps;
  const clock = () => deps.now?.() ?? new Date();

  function call(ctx: AppContext, userId: string): TrackingCall {
    return { store, userId, now: clock(), timeZone: deps.timeZone, context: commandContext(ctx, userId) };
  }

  /** The plan in force and the oldest capture it shows. */
  async function planWindow(userId: string) {
    const plan = await currentPlan(store, userId, 'qidian');
    const now = clock();
    return { plan, now, since: new Date(now.getTime() - plan.features.data_retention_days * DAY_MS) };
  }

  /** The caller's tracking from the write side; 404 for an unknown one, another user's, or an untracked one. */
  async function ownTracking(ctx: AppContext, id: string): Promise<KnownTracking & { revision: bigint }> {
    const user = currentUser(ctx);
    const { state, revision } = await loadTracking(store, id);
    if (state.status === 'none' || state.userId !== user.id) throw new HttpError(404, 'NOT_FOUND', 'tracking not found');
    return { ...state, revision };
  }

  /** 404 unless the caller tracks the novel or has visible data of it. */
  async function requireNovel(userId: string, id: string, hasData: boolean): Promise<void> {
    if (!hasData && !(await isTracked(knex, userId, id))) throw new HttpError(404, 'NOT_FOUND', 'no data of this novel');
  }

  // ---------------------------------------------------------------- trackings

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/trackings',
      summary: 'My tracked novels',
      description: 'Newest first, each with the latest visible capture of the novel (nulls until collected).',
      tags: ['qidian'],
      auth: true,
      request: { query: paginationQuery.extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of trackings', schema: pageSchema(trackingSchema) } },
    },
    async ({ query }, ctx) => {
      const user = currentUser(ctx);
      await awaitPosition(ctx, knex, QIDIAN_DATA_PROJECTION);
      const { since } = await planWindow(user.id);
      return listTrackings(knex, user.id, since, query);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/trackings',
      summary: 'Track a novel',
      description:
        'Holds one unit of the qidian plan\'s novel_tracking_limit until untracked: past it 429 QUOTA_EXCEEDED. A novel the caller ' +
        'tracks already: 409. Tracking again after an untrack is allowed (the same id).',
      tags: ['qidian'],
      auth: true,
      request: {
        body: z.object({ novel_id: novelId, title: title.nullable().optional(), settings: settingsBody.default(DEFAULT_SETTINGS) }).strict(),
      },
      responses: { 201: { description: 'tracked', schema: commandResultSchema.extend({ id: z.string() }) } },
      errors: [404, 409, 429],
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      const result = await trackNovel(call(ctx, user.id), { novelId: body.novel_id, title: body.title ?? null, settings: toSettings(body.settings) });
      commandResult(ctx, result, { status: 201, extra: { id: result.trackingId } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'put',
      path: '/trackings/:id',
      summary: 'Change a tracking',
      description: 'The label (null clears it) and any of the alert settings; what is left out stays. Nothing changed: 200 with position null.',
      tags: ['qidian'],
      auth: true,
      ifMatch: true,
      request: {
        params: trackingParams,
        body: z.object({ title: title.nullable().optional(), settings: settingsBody.partial().optional() }).strict(),
      },
      responses: { 200: { description: 'changed', schema: commandResultSchema } },
      errors: [404, 409],
    },
    async ({ params, body }, ctx) => {
      const user = currentUser(ctx);
      const expected = ifMatchRevision(ctx);
      const found = await ownTracking(ctx, params.id);
      if (found.status !== 'tracking') throw new HttpError(404, 'NOT_FOUND', 'tracking not found');
      const current = found.settings;
      const settings = body.settings
        ? toSettings({
            notify_on_update: body.settings.notify_on_update ?? current.notifyOnUpdate,
            notify_on_completion: body.settings.notify_on_completion ?? current.notifyOnCompletion,
            word_count_threshold: body.settings.word_count_threshold === undefined ? current.wordCountThreshold : body.settings.word_count_threshold,
          })
        : undefined;
      const change = { ...(body.title !== undefined ? { title: body.title } : {}), ...(settings ? { settings } : {}) };
      commandResult(ctx, await updateTracking(call(ctx, user.id), params.id, change, expected));
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'delete',
      path: '/trackings/:id',
      summary: 'Untrack a novel',
      description: 'Gives back its novel_tracking_limit unit. Collected data stays (within retention). A repeat: 200 with position null.',
      tags: ['qidian'],
      auth: true,
      request: { params: trackingParams },
      responses: { 200: { description: 'untracked', schema: commandResultSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      const user = currentUser(ctx);
      await ownTracking(ctx, params.id);
      commandResult(ctx, await untrackNovel(call(ctx, user.id), params.id));
    },
  );

  // ---------------------------------------------------------------- novel data

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/novels/:id/data',
      summary: 'A novel\'s collected data',
      description:
        'The latest visible snapshot and a page of the history, newest first; `from`/`to` are Qidian days (Asia/Shanghai), both included. ' +
        '404 when the caller neither tracks the novel nor has data of it.',
      tags: ['qidian'],
      auth: true,
      request: { params: novelParams, query: paginationQuery.extend({ from: DAY.optional(), to: DAY.optional() }).extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'the data', schema: pageSchema(snapshotSchema).extend({ novel_id: z.string(), latest: snapshotSchema.nullable() }) } },
      errors: [404],
    },
    async ({ params, query }, ctx) => {
      const user = currentUser(ctx);
      if (query.from && query.to && query.from > query.to) {
        throw rangeError();
      }
      await awaitPosition(ctx, knex, QIDIAN_DATA_PROJECTION);
      const { since } = await planWindow(user.id);
      const data = await novelData(knex, user.id, params.id, { since, from: query.from, to: query.to, page: { page: query.page, per_page: query.per_page } });
      await requireNovel(user.id, params.id, data.latest !== null);
      return data;
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/novels/:id/data/export',
      summary: 'Export a novel\'s collected data',
      description:
        'Every snapshot of the range (oldest first, within retention), streamed as a download: `format=json` (an array), `csv` (UTF-8 with ' +
        'a BOM) or `xlsx`. Not enveloped. The plan\'s export_formats decide: json needs "json", csv and xlsx need "excel" (403 ' +
        'PERMISSION_DENIED, details.feature = export_formats). 404 when the caller neither tracks the novel nor has data of it.',
      tags: ['qidian'],
      auth: true,
      envelope: false,
      request: { params: novelParams, query: z.object({ format: z.enum(EXPORT_FORMATS), from: DAY.optional(), to: DAY.optional() }).extend(afterPositionQuery.shape) },
      responses: {
        200: { description: 'the file (json shown; csv and xlsx hold the same rows as columns)', contentType: 'application/json', schema: z.array(snapshotSchema) },
        401: { description: 'Missing or invalid access token (UNAUTHENTICATED)', schema: errorEnvelopeSchema },
        403: { description: 'the plan does not include this export format (PERMISSION_DENIED)', schema: errorEnvelopeSchema },
        404: { description: 'no such novel for the caller (NOT_FOUND)', schema: errorEnvelopeSchema },
        422: { description: 'Invalid input (VALIDATION_ERROR)', schema: errorEnvelopeSchema },
      },
    },
    async ({ params, query }, ctx) => {
      const user = currentUser(ctx);
      await awaitPosition(ctx, knex, QIDIAN_DATA_PROJECTION);
      const { plan, now, since } = await planWindow(user.id);
      requireExportFormat(plan, query.format);
      const latest = await novelData(knex, user.id, params.id, { since, page: { page: 1, per_page: 1 } });
      await requireNovel(user.id, params.id, latest.latest !== null);
      ctx.status = 200;
      ctx.attachment(exportFileName(`qidian-novel-${params.id}`, query.format, now));
      ctx.set('Cache-Control', 'no-store');
      ctx.body = exportStream({
        format: query.format,
        columns: SNAPSHOT_EXPORT_COLUMNS,
        pages: snapshotPages(knex, user.id, params.id, { since, from: query.from, to: query.to }),
        json: (row) => row,
        sheetName: '起点小说数据',
      });
      // attachment() guesses the type from the extension; keep ours (charset)
      ctx.type = CONTENT_TYPES[query.format];
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/novels/:id/trends',
      summary: 'A novel\'s daily trends',
      description:
        'Per Qidian day of the last `days` (today included) with a capture: the day\'s last snapshot and its deltas against the previous ' +
        'captured day (word count, chapters, collections, monthly tickets); `change` is the growth over the range.',
      tags: ['qidian'],
      auth: true,
      request: { params: novelParams, query: z.object({ days: z.coerce.number().int().min(1).max(MAX_TREND_DAYS).default(7) }).extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'the trends', schema: trendsSchema } },
      errors: [404],
    },
    async ({ params, query }, ctx) => {
      const user = currentUser(ctx);
      await awaitPosition(ctx, knex, QIDIAN_DATA_PROJECTION);
      const { since, now } = await planWindow(user.id);
      const trends = await novelTrends(knex, user.id, params.id, { since, days: query.days, today: qidianDay(now) });
      await requireNovel(user.id, params.id, trends.points.length > 0);
      return trends;
    },
  );

  // ---------------------------------------------------------------- rankings

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/rankings',
      summary: 'The latest rankings my plan shows',
      description: 'For each ranking the plan\'s ranking_access allows: the latest visible capture (day null: none), its top `top` entries.',
      tags: ['qidian'],
      auth: true,
      request: { query: z.object({ top: z.coerce.number().int().min(1).max(100).default(20) }).extend(afterPositionQuery.shape) },
      responses: {
        200: {
          description: 'the rankings',
          schema: z.object({ rankings: z.array(z.object({ ranking: z.string(), day: z.string().nullable(), entries: z.array(entrySchema) })) }),
        },
      },
    },
    async ({ query }, ctx) => {
      const user = currentUser(ctx);
      await awaitPosition(ctx, knex, QIDIAN_DATA_PROJECTION);
      const { plan, since } = await planWindow(user.id);
      const allowed = QIDIAN_RANKINGS.filter((r) => allowsRanking(plan, r));
      return { rankings: await latestRankings(knex, user.id, allowed, { since, top: query.top }) };
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/rankings/:type',
      summary: 'One ranking',
      description:
        'A ranking by name (URL-encoded, e.g. %E7%83%AD%E9%94%80%E6%A6%9C for 热销榜): the capture of `date` (a Qidian day), default the latest ' +
        'visible one, by rank. 403 when the plan\'s ranking_access does not include it; 404 for an unknown name.',
      tags: ['qidian'],
      auth: true,
      request: { params: z.object({ type: z.string().min(1).max(50) }), query: paginationQuery.extend({ date: DAY.optional() }).extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'the capture', schema: pageSchema(entrySchema).extend({ ranking: z.string(), day: z.string().nullable() }) } },
      errors: [403, 404],
    },
    async ({ params, query }, ctx) => {
      const user = currentUser(ctx);
      if (!isRanking(params.type)) throw new HttpError(404, 'NOT_FOUND', 'unknown ranking', { allowed: QIDIAN_RANKINGS });
      const { plan, since } = await planWindow(user.id);
      if (!allowsRanking(plan, params.type)) {
        throw new HttpError(403, 'PERMISSION_DENIED', `${plan.name} does not include ${params.type}`, {
          feature: 'ranking_access',
          ranking: params.type,
          allowed: plan.features.ranking_access,
        });
      }
      await awaitPosition(ctx, knex, QIDIAN_DATA_PROJECTION);
      return rankingCapture(knex, user.id, params.type, { since, day: query.date, page: { page: query.page, per_page: query.per_page } });
    },
  );

  return router;
}

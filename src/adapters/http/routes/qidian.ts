import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import { calendarDaySchema, periodStart } from '../calendar-day.js';
import { loadTracking, trackNovel, untrackNovel, updateTracking, type TrackingCall } from '../../../application/novel-trackings.js';
import { addDays } from '../../../application/quota-day.js';
import { requireFeature, requireRanking } from '../../../application/plan-gates.js';
import { currentPlan } from '../../../application/subscription-quotas.js';
import type { EventStore } from '../../../event-store/port.js';
import { QIDIAN_DATA_PROJECTION, qidianDay } from '../../../projections/qidian-data.js';
import { CONTENT_TYPES, EXPORT_FORMATS, exportFileName, exportStream, requireExportFormat, type ExportColumn } from '../../../read-api/export.js';
import {
  isTracked,
  latestRankings,
  listTrackings,
  novelData,
  novelTrends,
  rankingCapture,
  snapshotPages,
  type SnapshotView,
} from '../../../read-api/qidian.js';
import { authorAnalytics, marketAnalytics, type Period } from '../../../read-api/qidian-analytics.js';
import { RANKING_BOARDS } from '../../../platforms/qidian/workflow-types.js';
import type { KnownTracking, NovelTrackingSettings } from '../../../write-model/novel-tracking/index.js';
import { allowsRanking, QIDIAN_RANKINGS, type QidianRanking } from '../../../write-model/subscription/plans.js';
import { accessOf } from '../access.js';
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
import { decimalInteger } from '../query.js';

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
/** The longest period the analytics look at (days, both ends included). */
export const MAX_ANALYTICS_DAYS = 365;
/** Entries per list of the market analytics at most. */
export const MAX_MARKET_LIST = 50;
export const MAX_MARKET_CATEGORIES = 100;
export const MAX_AUTHOR_BOOKS = 100;

const commandResultSchema = z.object({ revision: z.string(), position: z.string().nullable() });
const DAY = calendarDaySchema;
export const novelId = z.string().regex(/^\d{1,20}$/, 'a Qidian book id is digits');
const title = z.string().trim().min(1).max(500);

export const settingsBody = z
  .object({
    notify_on_update: z.boolean(),
    notify_on_completion: z.boolean(),
    word_count_threshold: z.number().int().min(1).max(100_000_000).nullable().describe('alert only after this many new words; null: any update'),
  })
  .strict();

const settingsSchema = z.object({ notify_on_update: z.boolean(), notify_on_completion: z.boolean(), word_count_threshold: z.number().int().nullable() });

const trackingSchema = z.object({
  id: z.string(),
  owner_id: z.string().describe('who tracks it (in an organization, a member my data scope reaches)'),
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
  revision: z.string().describe('send as If-Match to PUT and DELETE'),
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

const figures = z.object({
  word_count: z.number().nullable(),
  chapters: z.number().nullable(),
  collections: z.number().nullable(),
  monthly_tickets: z.number().nullable(),
});

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

const periodQuery = z.object({
  days: decimalInteger({ min: 1, max: MAX_ANALYTICS_DAYS }).optional().describe('the last `days` Qidian days, today included (not with from/to)'),
  from: DAY.optional().describe('first Qidian day (Asia/Shanghai); default: `to` − (default days − 1)'),
  to: DAY.optional().describe('last Qidian day, included; default: today'),
});

const boardBook = z.object({ novel_id: z.string(), title: z.string(), author: z.string(), category: z.string() });
const movementSchema = boardBook.extend({
  start_rank: z.number().int(),
  end_rank: z.number().int(),
  change: z.number().int().describe('places gained: > 0 rose, < 0 fell'),
});

const marketSchema = z.object({
  from: z.string(),
  to: z.string(),
  days: z.number().int(),
  boards: z.array(
    z.object({
      ranking: z.string(),
      start_day: z.string().nullable().describe('first day of the period with a capture of the board; null: none'),
      end_day: z.string().nullable().describe('last such day; movements compare the two (none when they are the same day)'),
      days_captured: z.number().int(),
      entries_start: z.number().int(),
      entries_end: z.number().int(),
      risers: z.array(movementSchema),
      fallers: z.array(movementSchema),
      new_entries: z
        .array(boardBook.extend({ rank: z.number().int(), score: z.number().nullable(), score_label: z.string().nullable() }))
        .describe('on the end capture, not on the start one'),
      exits: z.array(boardBook.extend({ rank: z.number().int() })).describe('on the start capture, not on the end one (rank at the start)'),
      totals: z.object({
        risers: z.number().int(),
        fallers: z.number().int(),
        steady: z.number().int(),
        new_entries: z.number().int(),
        exits: z.number().int(),
      }),
    }),
  ),
  word_growth: z.array(
    boardBook.extend({
      start_word_count: z.number(),
      end_word_count: z.number(),
      growth: z.number(),
      start_captured_at: z.string(),
      end_captured_at: z.string(),
    }),
  ),
  categories: z.array(
    z.object({
      category: z.string(),
      books: z.number().int().describe('books with a snapshot in the period'),
      word_count: z.number().describe('their word counts at their last snapshot of the period'),
      word_growth: z.number().describe('their growth between their first and last snapshot of the period'),
      ranked_start: z.number().int().describe("entries on the boards' start captures"),
      ranked_end: z.number().int().describe("entries on the boards' end captures"),
    }),
  ),
});

const authorSchema = z.object({
  author: z.string(),
  from: z.string(),
  to: z.string(),
  days: z.number().int(),
  totals: z.object({
    books: z.number().int(),
    total_words: z.number().describe("sum of the books' latest visible word counts"),
    word_growth: z.number().describe("sum of the books' growth over the period"),
    latest_update: z.string().nullable().describe('the latest update time shown on any of the book pages'),
    last_captured_at: z.string(),
  }),
  books: z.array(
    z.object({
      novel_id: z.string(),
      title: z.string(),
      category: z.string(),
      status: z.string().nullable(),
      word_count: z.number().nullable().describe('null: known from rankings only'),
      chapters: z.number().nullable(),
      collections: z.number().nullable(),
      monthly_tickets: z.number().nullable(),
      last_updated_at: z.string().nullable(),
      last_captured_at: z.string(),
      word_growth: z.number().nullable(),
      best_rank: z.object({ ranking: z.string(), rank: z.number().int(), day: z.string() }).nullable(),
    }),
  ),
  trends: z.array(
    z.object({
      day: z.string(),
      books: z.number().int(),
      word_count: z.number().nullable(),
      chapters: z.number().nullable(),
      collections: z.number().nullable(),
      monthly_tickets: z.number().nullable(),
      ranking_entries: z.number().int(),
      best_rank: z.number().int().nullable(),
    }),
  ),
});

const trackingParams = z.object({ id: z.uuid() });
const novelParams = z.object({ id: novelId });

export function toSettings(s: z.output<typeof settingsBody>): NovelTrackingSettings {
  return { notifyOnUpdate: s.notify_on_update, notifyOnCompletion: s.notify_on_completion, wordCountThreshold: s.word_count_threshold };
}

export const DEFAULT_SETTINGS = { notify_on_update: true, notify_on_completion: false, word_count_threshold: null };

/** A tracking's settings with the given ones changed (PUT /trackings/{id}, the batch's update). */
export function changedSettings(current: NovelTrackingSettings, change: Partial<z.output<typeof settingsBody>>): NovelTrackingSettings {
  return toSettings({
    notify_on_update: change.notify_on_update ?? current.notifyOnUpdate,
    notify_on_completion: change.notify_on_completion ?? current.notifyOnCompletion,
    word_count_threshold: change.word_count_threshold === undefined ? current.wordCountThreshold : change.word_count_threshold,
  });
}

function isRanking(value: string): value is QidianRanking {
  return (QIDIAN_RANKINGS as readonly string[]).includes(value);
}

/** A ranking by its name (热销榜) or its board on qidian.com/rank (hotsales); undefined for neither. */
function rankingNamed(value: string): QidianRanking | undefined {
  if (isRanking(value)) return value;
  return QIDIAN_RANKINGS.find((ranking) => RANKING_BOARDS[ranking] === value);
}

/** Every board by its name and by its board on qidian.com/rank: what `board` takes, as `{type}` does. */
const BOARD_NAMES = [...QIDIAN_RANKINGS, ...QIDIAN_RANKINGS.map((ranking) => RANKING_BOARDS[ranking])] as [string, ...string[]];

function invalidQuery(path: string, message: string): HttpError {
  return new HttpError(422, 'VALIDATION_ERROR', message, { issues: [{ in: 'query', path: [path], message, code: 'custom' }] });
}

/**
 * The analytics period from `days` or `from`/`to` (Qidian days, both
 * included): `days` alone, or nothing, is the last `days` days up to today;
 * `from` without `to` runs to today; `to` without `from` covers the default
 * number of days up to it. 422 for both forms at once, `from` after `to`, or
 * a period longer than MAX_ANALYTICS_DAYS.
 */
function analyticsPeriod(query: { days?: number; from?: string; to?: string }, today: string, defaultDays: number): Period {
  if (query.days !== undefined && (query.from !== undefined || query.to !== undefined)) {
    throw invalidQuery('days', 'give either days or from/to, not both');
  }
  if (query.from === undefined && query.to === undefined) {
    return { from: addDays(today, -((query.days ?? defaultDays) - 1)), to: today };
  }
  const to = query.to ?? today;
  const from = query.from ?? periodStart(to, defaultDays);
  if (from > to) throw rangeError();
  const span = Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS) + 1;
  if (span > MAX_ANALYTICS_DAYS) throw invalidQuery('from', `the period is ${span} days; at most ${MAX_ANALYTICS_DAYS}`);
  return { from, to };
}

/**
 * Qidian under `/api/v1/qidian`: the caller's novel trackings (NovelTracking
 * aggregate; each holds one unit of the qidian plan's novel_tracking_limit),
 * the data their workflows collected (novel snapshots, rankings) from the
 * `qidian-data-v1` read model. Everything is the caller's own; another
 * user's tracking is a 404. Every read hides rows captured before now − the
 * plan's data_retention_days; rankings are limited to the plan's
 * ranking_access. The analytics (`/analytics/market`, needing the plan
 * feature market_insights, and `/analytics/author/{author}`, needing
 * author_info) read the same rows: the caller's own runs, within retention,
 * the boards ranking_access allows. Rankings are public market data, but a
 * row is the capture one user's workflow made (its day, its retention), so
 * the analytics follow GET /rankings and never mix in another user's runs.
 */
const SNAPSHOT_EXPORT_COLUMNS: readonly ExportColumn<SnapshotView>[] = (
  [
    'captured_at',
    'day',
    'title',
    'author',
    'category',
    'status',
    'word_count',
    'chapters',
    'clicks',
    'recommendations',
    'collections',
    'monthly_tickets',
    'last_updated_at',
  ] as const
).map((key) => ({ header: key, value: (row: SnapshotView) => row[key] }));

/** Whose captures the data routes read. */
const SCOPE =
  'The captures of the collectors my data scope reaches (collection.data.view: mine; in an organization my team’s or every member’s): ' +
  'one snapshot per capture instant, one entry per rank of a board’s day.';

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

  /** 404 unless the collectors of the caller's data scope track the novel or have visible data of it. */
  async function requireNovel(collectors: readonly string[], id: string, hasData: boolean): Promise<void> {
    if (!hasData && !(await isTracked(knex, collectors, id))) throw new HttpError(404, 'NOT_FOUND', 'no data of this novel');
  }

  // ---------------------------------------------------------------- trackings

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/trackings',
      summary: 'My tracked novels',
      description:
        'Newest first, each with the latest visible capture of the novel by its tracker (nulls until collected). In an organization, also the ' +
        'trackings of the members my data scope reaches (collection.workflows.view: my team, or everyone); changing one stays its owner’s.',
      tags: ['qidian'],
      auth: true,
      permission: 'collection.workflows.view',
      request: { query: paginationQuery.extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of trackings', schema: pageSchema(trackingSchema) } },
    },
    async ({ query }, ctx) => {
      const user = currentUser(ctx);
      await awaitPosition(ctx, knex, QIDIAN_DATA_PROJECTION);
      const { since } = await planWindow(user.id);
      return listTrackings(knex, accessOf(ctx).ownerIds, since, query);
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
        "Holds one unit of the qidian plan's novel_tracking_limit until untracked: past it 429 QUOTA_EXCEEDED. A novel the caller " +
        'tracks already: 409. Tracking again after an untrack is allowed (the same id). The trackings are the one list the limit counts: ' +
        "a qidian.novels workflow's novels are tracked too (each once). A tracked novel is collected by the caller's watch list " +
        "(the `qidian.watchlist` workflow the platform keeps, created at the first tracking and run at once, then at the plan's " +
        'data_collection_frequency).',
      tags: ['qidian'],
      auth: true,
      permission: 'collection.workflows.create',
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
      permission: 'collection.workflows.edit',
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
      const settings = body.settings ? changedSettings(found.settings, body.settings) : undefined;
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
      description:
        'Gives back its novel_tracking_limit unit; runs requested from now on leave the novel out (watch list and qidian.novels ' +
        'workflows alike). Collected data stays (within retention); its alert rules stay until deleted. A repeat: 200 with position null. ' +
        'If-Match: its revision; a stale one is 412, a repeat included.',
      tags: ['qidian'],
      auth: true,
      permission: 'collection.workflows.delete',
      ifMatch: true,
      request: { params: trackingParams },
      responses: { 200: { description: 'untracked', schema: commandResultSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      const user = currentUser(ctx);
      const expected = ifMatchRevision(ctx);
      await ownTracking(ctx, params.id);
      commandResult(ctx, await untrackNovel(call(ctx, user.id), params.id, expected));
    },
  );

  // ---------------------------------------------------------------- novel data

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/novels/:id/data',
      summary: "A novel's collected data",
      description:
        'The latest visible snapshot and a page of the history, newest first; `from`/`to` are Qidian days (Asia/Shanghai), both included. ' +
        '404 when the caller neither tracks the novel nor has data of it. ' +
        SCOPE,
      tags: ['qidian'],
      auth: true,
      permission: 'collection.data.view',
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
      const collectors = accessOf(ctx).ownerIds;
      const data = await novelData(knex, collectors, params.id, {
        since,
        from: query.from,
        to: query.to,
        page: { page: query.page, per_page: query.per_page },
      });
      await requireNovel(collectors, params.id, data.latest !== null);
      return data;
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/novels/:id/data/export',
      summary: "Export a novel's collected data",
      description:
        'Every snapshot of the range (`from`/`to`, Qidian days, both included; `from` after `to` is 422; oldest first, within retention), ' +
        'streamed as a download: `format=json` (an array), `csv` (UTF-8 with ' +
        'a BOM), `xlsx` or `pdf` (a table). Not enveloped. The plan\'s export_formats decide: json needs "json", csv and xlsx need "excel", ' +
        'pdf needs "pdf" (403 ' +
        'PERMISSION_DENIED, details.feature = export_formats). 404 when the caller neither tracks the novel nor has data of it.',
      tags: ['qidian'],
      auth: true,
      permission: 'collection.data.view',
      scope: 'export',
      envelope: false,
      request: {
        params: novelParams,
        query: z.object({ format: z.enum(EXPORT_FORMATS), from: DAY.optional(), to: DAY.optional() }).extend(afterPositionQuery.shape),
      },
      responses: {
        200: {
          description: 'the file (json shown; csv and xlsx hold the same rows as columns)',
          contentType: Object.values(CONTENT_TYPES),
          schema: z.array(snapshotSchema),
        },
        401: { description: 'Missing or invalid access token (UNAUTHENTICATED)', schema: errorEnvelopeSchema },
        403: { description: 'the plan does not include this export format (PERMISSION_DENIED)', schema: errorEnvelopeSchema },
        404: { description: 'no such novel for the caller (NOT_FOUND)', schema: errorEnvelopeSchema },
        422: { description: 'Invalid input (VALIDATION_ERROR)', schema: errorEnvelopeSchema },
      },
    },
    async ({ params, query }, ctx) => {
      const user = currentUser(ctx);
      // the same range rule as GET /novels/{id}/data: an empty file would hide the mistake
      if (query.from && query.to && query.from > query.to) throw rangeError();
      await awaitPosition(ctx, knex, QIDIAN_DATA_PROJECTION);
      const { plan, now, since } = await planWindow(user.id);
      requireExportFormat(plan, query.format);
      const collectors = accessOf(ctx).ownerIds;
      const latest = await novelData(knex, collectors, params.id, { since, page: { page: 1, per_page: 1 } });
      await requireNovel(collectors, params.id, latest.latest !== null);
      ctx.status = 200;
      ctx.attachment(exportFileName(`qidian-novel-${params.id}`, query.format, now));
      ctx.set('Cache-Control', 'no-store');
      ctx.body = exportStream({
        format: query.format,
        columns: SNAPSHOT_EXPORT_COLUMNS,
        pages: snapshotPages(knex, collectors, params.id, { since, from: query.from, to: query.to }),
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
      summary: "A novel's daily trends",
      description:
        "Per Qidian day of the last `days` (today included) with a capture: the day's last snapshot and its deltas against the previous " +
        'captured day (word count, chapters, collections, monthly tickets); `change` is the growth over the range. ' +
        'Needs the plan feature trend_analysis (403 PERMISSION_DENIED, details.feature = trend_analysis, otherwise).',
      tags: ['qidian'],
      auth: true,
      permission: 'collection.data.view',
      request: {
        params: novelParams,
        query: z.object({ days: decimalInteger({ min: 1, max: MAX_TREND_DAYS }).default(7) }).extend(afterPositionQuery.shape),
      },
      responses: { 200: { description: 'the trends', schema: trendsSchema } },
      errors: [403, 404],
    },
    async ({ params, query }, ctx) => {
      const user = currentUser(ctx);
      const { plan, since, now } = await planWindow(user.id);
      requireFeature(plan, 'trend_analysis');
      await awaitPosition(ctx, knex, QIDIAN_DATA_PROJECTION);
      const collectors = accessOf(ctx).ownerIds;
      const trends = await novelTrends(knex, collectors, params.id, { since, days: query.days, today: qidianDay(now) });
      await requireNovel(collectors, params.id, trends.points.length > 0);
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
      description: `For each ranking the plan's ranking_access allows: the latest visible capture (day null: none), its top \`top\` entries. ${SCOPE}`,
      tags: ['qidian'],
      auth: true,
      permission: 'collection.data.view',
      request: { query: z.object({ top: decimalInteger({ min: 1, max: 100 }).default(20) }).extend(afterPositionQuery.shape) },
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
      return { rankings: await latestRankings(knex, accessOf(ctx).ownerIds, allowed, { since, top: query.top }) };
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
        'A ranking by name (URL-encoded, e.g. %E7%83%AD%E9%94%80%E6%A6%9C for 热销榜) or by its board on qidian.com/rank (`hotsales`, `yuepiao`, …): ' +
        "the capture of `date` (a Qidian day), default the latest visible one, by rank. 403 when the plan's ranking_access does not include it; " +
        '404 for an unknown name. The answer names the ranking by its name.',
      tags: ['qidian'],
      auth: true,
      permission: 'collection.data.view',
      request: {
        params: z.object({ type: z.string().min(1).max(50) }),
        query: paginationQuery.extend({ date: DAY.optional() }).extend(afterPositionQuery.shape),
      },
      responses: { 200: { description: 'the capture', schema: pageSchema(entrySchema).extend({ ranking: z.string(), day: z.string().nullable() }) } },
      errors: [403, 404],
    },
    async ({ params, query }, ctx) => {
      const user = currentUser(ctx);
      const ranking = rankingNamed(params.type);
      if (!ranking) throw new HttpError(404, 'NOT_FOUND', 'unknown ranking', { allowed: QIDIAN_RANKINGS, boards: Object.values(RANKING_BOARDS) });
      const { plan, since } = await planWindow(user.id);
      requireRanking(plan, ranking);
      await awaitPosition(ctx, knex, QIDIAN_DATA_PROJECTION);
      return rankingCapture(knex, accessOf(ctx).ownerIds, ranking, { since, day: query.date, page: { page: query.page, per_page: query.per_page } });
    },
  );

  // ---------------------------------------------------------------- analytics

  /** A plan feature the analytics need (market_insights on pro and enterprise, author_info from basic; docs/plans.md). */
  async function planWithFeature(userId: string, feature: 'market_insights' | 'author_info') {
    const window = await planWindow(userId);
    requireFeature(window.plan, feature);
    return window;
  }

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/analytics/market',
      summary: 'Market analytics: boards and categories over a period',
      description:
        "Over the collected rankings and novel snapshots of the caller's data scope (as every Qidian read; within retention) of a period of Qidian days " +
        `(\`days\`, default 7, or \`from\`/\`to\`; at most ${MAX_ANALYTICS_DAYS} days). Per board (\`board\`: one of them; default every board ` +
        "the plan's ranking_access allows): its first and last capture of the period, the risers and fallers between them (rank change), " +
        'new entries (on the last, not on the first) and exits; the books whose word count grew most (first against last snapshot of the ' +
        'period); per category the books, words and growth and its entries on the boards. `category` narrows everything to one category. ' +
        `Each list holds at most \`limit\` (default 10, at most ${MAX_MARKET_LIST}); \`totals\` count them all. Needs the plan feature ` +
        'market_insights (403 PERMISSION_DENIED otherwise); a board outside ranking_access is 403 too.',
      tags: ['qidian'],
      auth: true,
      permission: 'collection.data.view',
      errors: [403],
      request: {
        query: periodQuery
          .extend({
            board: z
              .enum(BOARD_NAMES)
              .optional()
              .describe('one board, by its name or its board on qidian.com/rank (as GET /rankings/{type}); default all the plan allows'),
            category: z.string().trim().min(1).max(100).optional(),
            limit: decimalInteger({ min: 1, max: MAX_MARKET_LIST }).default(10),
          })
          .extend(afterPositionQuery.shape),
      },
      responses: { 200: { description: 'the market over the period', schema: marketSchema } },
    },
    async ({ query }, ctx) => {
      const user = currentUser(ctx);
      const period = analyticsPeriod(query, qidianDay(clock()), 7);
      const { plan, since } = await planWithFeature(user.id, 'market_insights');
      const board = query.board === undefined ? undefined : rankingNamed(query.board)!;
      if (board !== undefined) requireRanking(plan, board);
      const boards = board !== undefined ? [board] : QIDIAN_RANKINGS.filter((r) => allowsRanking(plan, r));
      await awaitPosition(ctx, knex, QIDIAN_DATA_PROJECTION);
      // the collection of the caller's data scope (an organization's analyst: every member's and the organization's own)
      return marketAnalytics(knex, accessOf(ctx).ownerIds, {
        since,
        period,
        boards,
        category: query.category,
        limit: query.limit,
        maxCategories: MAX_MARKET_CATEGORIES,
      });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/analytics/author/:author',
      summary: 'Author analytics',
      description:
        'An author by name as the collected data spells it (URL-encoded; the collected items carry no Qidian author id), over the ' +
        "collected data of the caller's data scope within retention (a book several collected counted once): the books (from snapshots and ranking entries; most recently updated first, at " +
        `most ${MAX_AUTHOR_BOOKS}), totals (books, words, latest update, growth over the period) and per Qidian day of the period ` +
        "(`days`, default 30, or `from`/`to`) the sums of the books' last capture of the day and the author's board entries. 404 when " +
        'nothing of the author is visible. Needs the plan feature author_info (403 PERMISSION_DENIED otherwise).',
      tags: ['qidian'],
      auth: true,
      permission: 'collection.data.view',
      errors: [403, 404],
      request: { params: z.object({ author: z.string().trim().min(1).max(200) }), query: periodQuery.extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'the author', schema: authorSchema } },
    },
    async ({ params, query }, ctx) => {
      const user = currentUser(ctx);
      const period = analyticsPeriod(query, qidianDay(clock()), 30);
      const { plan, since } = await planWithFeature(user.id, 'author_info');
      await awaitPosition(ctx, knex, QIDIAN_DATA_PROJECTION);
      const boards = QIDIAN_RANKINGS.filter((r) => allowsRanking(plan, r));
      const found = await authorAnalytics(knex, accessOf(ctx).ownerIds, params.author, { since, period, boards, maxBooks: MAX_AUTHOR_BOOKS });
      if (!found) throw new HttpError(404, 'NOT_FOUND', 'no data of this author');
      return found;
    },
  );

  return router;
}

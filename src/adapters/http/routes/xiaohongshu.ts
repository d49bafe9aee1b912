import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import { isCalendarDay, quotaDay } from '../../../application/quota-day.js';
import { requireFeature, requirePlanExportFormat } from '../../../application/plan-gates.js';
import { currentPlan } from '../../../application/subscription-quotas.js';
import { requestOneOffExecution } from '../../../application/workflows.js';
import { deleteCollectedContent } from '../../../application/xiaohongshu-contents.js';
import type { EventStore } from '../../../event-store/port.js';
import { XIAOHONGSHU_CONTENT_PROJECTION } from '../../../projections/xiaohongshu-content.js';
import {
  CONTENT_TYPES as FILE_CONTENT_TYPES,
  EXPORT_FORMATS,
  exportFileName,
  exportStream,
  requireExportFormat,
  type ExportColumn,
} from '../../../read-api/export.js';
import { retentionFor } from '../../../read-api/retention.js';
import { REPORT_CONTENT_TYPES, REPORT_FORMATS, REPORT_PLAN_FORMAT, renderReport, reportFileName } from '../../../read-api/xiaohongshu-report.js';
import { xiaohongshu } from '../../../platforms/xiaohongshu/index.js';
import {
  CONTENT_SORTS,
  CONTENT_TYPES,
  contentPages,
  findContent,
  hasContent,
  listContents,
  listConversations,
  listMessages,
  overview,
  topContents,
  trends,
  type ContentFilters,
  type ContentView,
  type Scope,
} from '../../../read-api/xiaohongshu.js';
import { accessOf } from '../access.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { newResourceOwner, ownerField } from '../owner-choice.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { HttpError } from '../http-error.js';
import { errorEnvelopeSchema } from '../openapi.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult } from '../revision.js';
import { instantQuery } from '../instant.js';
import { calendarDaySchema } from '../calendar-day.js';
import type { AppContext, AppState } from '../state.js';
import { decimalInteger } from '../query.js';

export interface XiaohongshuRouteDeps {
  store: EventStore;
  knex: Knex;
  /** config QUOTA_TIME_ZONE: the days of date filters and trends */
  timeZone: string;
  /** the clock (tests) */
  now?: () => Date;
}

/** The longest trend one request may ask for: the longest retention (enterprise). */
export const MAX_TREND_DAYS = 365;

// a calendar day Postgres can hold (no year 0: it would be a database error, not a 422)
const DAY = calendarDaySchema;
const dayOrInstant = z.union([calendarDaySchema, instantQuery]);

const filtersQuery = z.object({
  keyword: z.string().trim().min(1).max(100).optional().describe('in the title or the text (case-insensitive)'),
  author: z.string().trim().min(1).max(100).optional().describe("the author's id, or part of the nickname"),
  tag: z.string().trim().min(1).max(100).optional().describe('one topic tag, exactly'),
  type: z.enum(CONTENT_TYPES).optional(),
  published_from: dayOrInstant.optional().describe('YYYY-MM-DD (a day in QUOTA_TIME_ZONE) or an ISO instant; inclusive'),
  published_to: dayOrInstant.optional().describe('YYYY-MM-DD (the whole day) or an ISO instant; inclusive'),
  // digits only: a coerced number would take an empty value (or spaces) for 0, a filter no one asked for
  min_likes: z
    .string()
    .regex(/^\d{1,15}$/, 'a whole number, 0 or more')
    .transform(Number)
    .optional()
    .describe('at least this many likes (a whole number, 0 or more)'),
  workflow_id: z.string().min(1).max(100).optional().describe('notes collected (at least once) by this workflow'),
});

/** The filters of the plan feature advanced_filters (keyword, type, workflow and every sort are for everyone). */
const ADVANCED_FILTERS = ['author', 'tag', 'published_from', 'published_to', 'min_likes'] as const;
type AdvancedFilterQuery = { readonly [K in (typeof ADVANCED_FILTERS)[number]]?: unknown };

function advancedFiltersIn(query: AdvancedFilterQuery): string[] {
  return ADVANCED_FILTERS.filter((name) => query[name] !== undefined);
}

const sortQuery = z.object({
  sort: z.enum(CONTENT_SORTS).default('collected_at').describe('notes without a publish time sort as the oldest'),
  order: z.enum(['asc', 'desc']).default('desc'),
});

const contentSchema = z.object({
  id: z.string().describe('the Xiaohongshu note id (24 hex)'),
  type: z.enum(CONTENT_TYPES),
  title: z.string(),
  text: z.string(),
  author_id: z.string(),
  author_name: z.string(),
  published_at: z.string().nullable(),
  likes: z.number().int(),
  comments: z.number().int(),
  shares: z.number().int(),
  collects: z.number().int(),
  images: z.array(z.string()),
  tags: z.array(z.string()),
  location: z.string().nullable(),
  url: z.string(),
  workflow_ids: z.array(z.string()),
  times_collected: z.number().int(),
  first_collected_at: z.string(),
  last_collected_at: z.string().describe('the counts are those of this collection'),
});

const detailSchema = contentSchema.extend({
  history: z
    .array(
      z.object({
        execution_id: z.string(),
        workflow_id: z.string(),
        collected_at: z.string(),
        likes: z.number().int(),
        comments: z.number().int(),
        shares: z.number().int(),
        collects: z.number().int(),
      }),
    )
    .describe('the counts of each collection within retention, oldest first (the latest 100)'),
});

const overviewSchema = z.object({
  from: z.string().nullable(),
  to: z.string().nullable(),
  retention_days: z.number().int(),
  totals: z.object({
    notes: z.number().int(),
    authors: z.number().int(),
    likes: z.number().int(),
    comments: z.number().int(),
    shares: z.number().int(),
    collects: z.number().int(),
  }),
  averages: z.object({ likes: z.number(), comments: z.number(), shares: z.number(), collects: z.number() }),
  by_type: z.array(z.object({ type: z.string(), notes: z.number().int() })),
  top_authors: z.array(z.object({ author_id: z.string(), author_name: z.string(), notes: z.number().int(), likes: z.number().int() })),
  top_tags: z.array(z.object({ tag: z.string(), notes: z.number().int(), likes: z.number().int() })),
});

const trendsSchema = z.object({
  days: z.number().int(),
  from: z.string(),
  to: z.string(),
  time_zone: z.string(),
  retention_days: z.number().int(),
  series: z.array(
    z.object({
      day: z.string(),
      notes_collected: z.number().int(),
      new_notes: z.number().int(),
      likes: z.number().int(),
      comments: z.number().int(),
      shares: z.number().int(),
      collects: z.number().int(),
    }),
  ),
});

const commandResultSchema = z.object({ revision: z.string(), position: z.string().nullable() });

/** The Xiaohongshu workflow types a one-off collection may run (the platform module's). */
const COLLECT_TYPES = Object.keys(xiaohongshu.workflowTypes) as [keyof typeof xiaohongshu.workflowTypes, ...(keyof typeof xiaohongshu.workflowTypes)[]];

const collectBody = z
  .object({
    type: z.enum(COLLECT_TYPES).default('xiaohongshu.notes').describe('what to collect, as the workflow type of that name (default xiaohongshu.notes)'),
    config: z
      .record(z.string(), z.unknown())
      .describe(
        "the type's config, as a workflow of that type holds it: xiaohongshu.notes {mode: keyword, keyword, maxItems, sort?} (a keyword search) or " +
          '{mode: user, userId, maxItems} (the notes of one user); xiaohongshu.messages {maxConversations}',
      ),
    platform_account_id: z.string().trim().min(1).max(100).describe('my Xiaohongshu account the collection logs in with'),
  })
  .strict();

/** The longest period one report may cover (the longest retention, as trends). */
const MAX_REPORT_DAYS = 365;
const MAX_REPORT_NOTES = 50;

const noteIdParams = z.object({ id: z.string().regex(/^[0-9a-f]{24}$/, 'a note id is 24 hex characters') });

const DIRECTIONS = ['sent', 'received'] as const;

const messageSchema = z.object({
  id: z.string().describe("the platform's message id (unique within its conversation)"),
  conversation_id: z.string(),
  direction: z.enum(DIRECTIONS).describe('seen from the connected account'),
  message_type: z.string().describe('text, image, …'),
  text: z.string(),
  from_id: z.string().describe("the sender's platform user id"),
  from_nickname: z.string().nullable(),
  peer_id: z.string().nullable().describe('the other side of the conversation (null in messages collected before it was recorded)'),
  peer_nickname: z.string().nullable(),
  sent_at: z.string(),
  platform_account_id: z.string().nullable().describe('the account it was collected through'),
  collected_at: z.string(),
});

const conversationSchema = z.object({
  id: z.string().describe("the platform's conversation id"),
  peer_id: z.string().nullable().describe("the other side's platform user id (null when no message says)"),
  peer_nickname: z.string().nullable(),
  platform_account_id: z.string().nullable().describe('the account its latest message was collected through'),
  last_message_text: z.string(),
  last_message_type: z.string(),
  last_message_direction: z.enum(DIRECTIONS),
  last_message_at: z.string(),
  first_message_at: z.string().describe('of the retained messages'),
  message_count: z.number().int().describe('retained messages'),
  received_count: z.number().int(),
  sent_count: z.number().int(),
});

const platformAccountFilter = z.object({
  platform_account_id: z.string().min(1).max(100).optional().describe('only what was collected through this platform account'),
});

const messageFiltersQuery = platformAccountFilter.extend({
  conversation_id: z.string().min(1).max(200).optional().describe('one conversation'),
  peer_id: z.string().min(1).max(100).optional().describe("the conversations with this peer (the peer's platform user id)"),
  direction: z.enum(DIRECTIONS).optional(),
});

/** The export's columns (csv, xlsx); json exports the same objects as the list. */
const EXPORT_COLUMNS: ExportColumn<ContentView>[] = [
  { header: 'note_id', value: (r) => r.id, width: 26 },
  { header: 'type', value: (r) => r.type, width: 8 },
  { header: 'title', value: (r) => r.title, width: 40 },
  { header: 'text', value: (r) => r.text, width: 60 },
  { header: 'author_id', value: (r) => r.author_id, width: 26 },
  { header: 'author_name', value: (r) => r.author_name },
  { header: 'published_at', value: (r) => (r.published_at ? new Date(r.published_at) : null), width: 22 },
  { header: 'likes', value: (r) => r.likes, width: 10 },
  { header: 'comments', value: (r) => r.comments, width: 10 },
  { header: 'shares', value: (r) => r.shares, width: 10 },
  { header: 'collects', value: (r) => r.collects, width: 10 },
  { header: 'tags', value: (r) => r.tags, width: 30 },
  { header: 'location', value: (r) => r.location },
  { header: 'url', value: (r) => r.url, width: 50 },
  { header: 'images', value: (r) => r.images, width: 50 },
  { header: 'first_collected_at', value: (r) => new Date(r.first_collected_at), width: 22 },
  { header: 'last_collected_at', value: (r) => new Date(r.last_collected_at), width: 22 },
];

function invalidQuery(path: string, message: string): HttpError {
  return new HttpError(422, 'VALIDATION_ERROR', message, { issues: [{ in: 'query', path: [path], message, code: 'custom' }] });
}

/** A published period that ends before it starts is a mistake, not an empty page (422, as for from/to); a day is one in the zone. */
function checkPublishedPeriod(asked: AdvancedFilterQuery, timeZone: string): void {
  const { published_from: from, published_to: to } = asked;
  if (typeof from !== 'string' || typeof to !== 'string') return;
  const dayOf = (v: string) => (isCalendarDay(v) ? v : quotaDay(new Date(v), timeZone).day);
  const reversed = isCalendarDay(from) || isCalendarDay(to) ? dayOf(from) > dayOf(to) : Date.parse(from) > Date.parse(to);
  if (reversed) throw invalidQuery('published_from', 'published_from must not be after published_to');
}

/**
 * Collected Xiaohongshu notes and private messages: `/api/v1/xiaohongshu`.
 * Read from the `xiaohongshu-content-v1` read model (`?after_position=`
 * waits for it). The reads reach what the caller's data scope reaches (their
 * own; in an organization their team's or every member's, a note several
 * hold shown once); a deletion, the caller's own copy. Every read shows only
 * what was collected within the user's plan's data_retention_days; a note
 * out of reach is a 404.
 */
export function xiaohongshuRouter(api: HttpApi, deps: XiaohongshuRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/xiaohongshu' });
  const { store, knex, timeZone } = deps;
  const clock = () => deps.now?.() ?? new Date();

  /**
   * The caller's window on the read model (their plan's retention), after
   * the plan allowed the filters asked for: author, tag, published period
   * and min_likes are advanced_filters.
   */
  async function scopeOf(ctx: AppContext, asked: AdvancedFilterQuery = {}): Promise<Scope & { retentionDays: number; now: Date }> {
    checkPublishedPeriod(asked, timeZone);
    const user = currentUser(ctx);
    const now = clock();
    const retention = await retentionFor(store, user.id, 'xiaohongshu', now);
    const advanced = advancedFiltersIn(asked);
    if (advanced.length > 0) requireFeature(retention.plan, 'advanced_filters', { filters: advanced });
    await awaitPosition(ctx, knex, XIAOHONGSHU_CONTENT_PROJECTION);
    // reads reach the collectors of the route permission's data scope (an organization's analyst: every member's)
    return { ownerId: user.id, ownerIds: accessOf(ctx).ownerIds, cutoff: retention.cutoff, timeZone, retentionDays: retention.days, now };
  }

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/contents',
      summary: 'My collected notes',
      description:
        "Notes collected by my workflows, one per note (a note collected again shows its latest counts), within my plan's data_retention_days. " +
        'In an organization, also those of the members my role’s data scope reaches (collection.data.view: my team, or everyone); a note several ' +
        'of us collected shows once, as its latest collector has it. The export, the analytics and the messages reach the same collectors. ' +
        'Filters combine with AND. keyword, type, workflow_id and every sort are for every plan; author, tag, published_from/to and ' +
        'min_likes need the plan feature advanced_filters (403 PERMISSION_DENIED, details.feature = advanced_filters, details.filters ' +
        'naming them) — on the export and the analytics too. published_from after published_to (compared as days in QUOTA_TIME_ZONE when ' +
        'either is a day) is 422, before the plan is asked.',
      tags: ['xiaohongshu'],
      auth: true,
      permission: 'collection.data.view',
      request: { query: paginationQuery.extend(filtersQuery.shape).extend(sortQuery.shape).extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of notes', schema: pageSchema(contentSchema) } },
      errors: [403],
    },
    async ({ query }, ctx) => {
      const scope = await scopeOf(ctx, query);
      return listContents(knex, scope, query, { sort: query.sort, order: query.order }, query);
    },
  );

  // before /contents/:id, which would otherwise take "export" for an id
  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/contents/export',
      summary: 'Export my collected notes',
      description:
        'The notes the list would show (same filters and sort, every page), streamed as a download (Content-Disposition: attachment): ' +
        "`format=json` a JSON array of the list's objects (application/json), `csv` UTF-8 with a BOM (text/csv), `xlsx` one sheet " +
        '(application/vnd.openxmlformats-officedocument.spreadsheetml.sheet), `pdf` a table on landscape A4 pages (application/pdf). The body ' +
        "is the file, not the envelope; refusals before the first byte are enveloped errors. The plan's export_formats decide: json needs " +
        '"json", csv and xlsx need "excel", pdf needs "pdf" — otherwise ' +
        '403 PERMISSION_DENIED with details.feature = export_formats.',
      tags: ['xiaohongshu'],
      auth: true,
      permission: 'collection.data.view',
      scope: 'export',
      envelope: false,
      request: {
        query: z
          .object({ format: z.enum(EXPORT_FORMATS) })
          .extend(filtersQuery.shape)
          .extend(sortQuery.shape)
          .extend(afterPositionQuery.shape),
      },
      responses: {
        200: {
          description: 'the file (json shown; csv and xlsx are the same rows as columns)',
          contentType: Object.values(FILE_CONTENT_TYPES),
          schema: z.array(contentSchema),
        },
        401: { description: 'Missing or invalid access token (UNAUTHENTICATED)', schema: errorEnvelopeSchema },
        403: { description: 'the plan does not include this export format (PERMISSION_DENIED, details.feature = export_formats)', schema: errorEnvelopeSchema },
        422: { description: 'Invalid input (VALIDATION_ERROR)', schema: errorEnvelopeSchema },
      },
    },
    async ({ query }, ctx) => {
      const user = currentUser(ctx);
      const plan = await currentPlan(store, user.id, 'xiaohongshu');
      requireExportFormat(plan, query.format);
      const scope = await scopeOf(ctx, query);
      const sort = { sort: query.sort, order: query.order };
      ctx.status = 200;
      ctx.type = FILE_CONTENT_TYPES[query.format];
      ctx.attachment(exportFileName('xiaohongshu-contents', query.format, scope.now));
      ctx.set('Cache-Control', 'no-store');
      ctx.body = exportStream({
        format: query.format,
        columns: EXPORT_COLUMNS,
        pages: contentPages(knex, scope, query, sort),
        json: (row) => row,
        sheetName: '小红书笔记',
      });
      // attachment() guesses the type from the extension; keep ours (charset)
      ctx.type = FILE_CONTENT_TYPES[query.format];
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/contents/collect',
      summary: 'Collect notes now, without a saved workflow',
      description:
        "A one-off run of a Xiaohongshu workflow type (default xiaohongshu.notes: a keyword search, or one user's notes) through my " +
        'platform account, answered 202 with the execution id: follow it with GET /api/v1/workflows/executions/{id} (trigger one_off; ' +
        'its workflow_id is its own id); its notes join GET /xiaohongshu/contents (`?workflow_id=<execution id>` lists them alone). ' +
        'Checked like a workflow: the config against the type (422 under body.config), the plan (a feature not in it, e.g. ' +
        'content_collection or private_messaging: 403 with details.feature), the account (mine: 404; of Xiaohongshu: 422; disconnected: 409). ' +
        "It spends the run's daily_api_calls like a workflow execution (listing pages plus one call per note): a run bigger than what " +
        "is left of today's quota is 429 QUOTA_EXCEEDED (feature, limit, resets_at, Retry-After). The quota is counted when the run " +
        'is admitted, as for every execution, which may still reject it (QUOTA_EXCEEDED, ACCOUNT_INVALID when the account is not active).',
      tags: ['xiaohongshu'],
      auth: true,
      permission: 'collection.workflows.run',
      scope: 'collect',
      request: { body: collectBody },
      responses: { 202: { description: 'requested', schema: commandResultSchema.extend({ execution_id: z.string() }) } },
      errors: [403, 404, 409, 429],
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      const requested = await requestOneOffExecution(
        { store, timeZone, now: clock },
        { userId: user.id, context: commandContext(ctx, user.id) },
        { type: body.type, config: body.config, platformAccountId: body.platform_account_id },
        { platform: xiaohongshu.id },
      );
      ctx.set('Location', `/api/v1/workflows/executions/${requested.executionId}`);
      commandResult(ctx, requested, { status: 202, extra: { execution_id: requested.executionId } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/contents/:id',
      summary: 'One of my collected notes',
      description: 'By the Xiaohongshu note id (24 hex; stable, unlike a row number, across read-model rebuilds), with the counts of each collection.',
      tags: ['xiaohongshu'],
      auth: true,
      permission: 'collection.data.view',
      request: { params: noteIdParams, query: afterPositionQuery },
      responses: { 200: { description: 'the note', schema: detailSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      const scope = await scopeOf(ctx);
      const found = await findContent(knex, scope, params.id);
      if (!found) throw new HttpError(404, 'NOT_FOUND', 'note not found');
      return found;
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'delete',
      path: '/contents/:id',
      summary: 'Delete one of my collected notes',
      description:
        'Final: my copy of the note and its collection history leave every read (list, detail, export, analytics; another member’s copy ' +
        'stays theirs), and collecting it again later ' +
        "does not bring it back. A note I cannot read (someone else's, unknown, past retention) is 404, as for GET. " +
        'Deleting it again: 200 with position null. `?after_position=` here waits for a collection to reach the read model before the note ' +
        "is looked up; the reads follow the deletion once the projection has it (pass the answer's position to them as `?after_position=`). " +
        "`?owner=organization` deletes my organization's own copy instead (collected by a workflow it owns; collection.data.delete at " +
        'organization scope).',
      tags: ['xiaohongshu'],
      auth: true,
      permission: 'collection.data.delete',
      request: { params: noteIdParams, query: afterPositionQuery.extend({ owner: ownerField }) },
      responses: { 200: { description: 'deleted', schema: commandResultSchema } },
      errors: [404],
    },
    async ({ params, query }, ctx) => {
      // one's own copy of a note (or the organization's): what another member collected stays theirs
      const ownerId = newResourceOwner(ctx, query.owner, 'query');
      const scope = { ...(await scopeOf(ctx)), ownerId, ownerIds: undefined };
      const collected = await hasContent(knex, scope, params.id);
      const result = await deleteCollectedContent(
        { store, ownerId: scope.ownerId, now: scope.now, context: commandContext(ctx, currentUser(ctx).id) },
        params.id,
        collected,
      );
      commandResult(ctx, result);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/conversations',
      summary: 'My private-message conversations',
      description:
        'One row per conversation of my collected private messages (the xiaohongshu.messages workflows), the latest message first, ' +
        "within my plan's data_retention_days: the peer, the latest message, and the counts of the retained messages. " +
        "The platform's unread state is not collected.",
      tags: ['xiaohongshu'],
      auth: true,
      permission: 'collection.messages.view',
      request: { query: paginationQuery.extend(platformAccountFilter.shape).extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of conversations', schema: pageSchema(conversationSchema) } },
    },
    async ({ query }, ctx) => {
      const scope = await scopeOf(ctx);
      return listConversations(knex, scope, { platform_account_id: query.platform_account_id }, query);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/messages',
      summary: 'My collected private messages',
      description: "Newest first (by the time sent), within my plan's data_retention_days. Filters combine with AND.",
      tags: ['xiaohongshu'],
      auth: true,
      permission: 'collection.messages.view',
      request: { query: paginationQuery.extend(messageFiltersQuery.shape).extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of messages', schema: pageSchema(messageSchema) } },
    },
    async ({ query }, ctx) => {
      const scope = await scopeOf(ctx);
      const { conversation_id, peer_id, platform_account_id, direction } = query;
      return listMessages(knex, scope, { conversation_id, peer_id, platform_account_id, direction }, query);
    },
  );

  /** Analytics are a plan feature (data_analytics: pro and enterprise; docs/plans.md). */
  async function requireAnalytics(ctx: AppContext): Promise<void> {
    requireFeature(await currentPlan(store, currentUser(ctx).id, 'xiaohongshu'), 'data_analytics');
  }

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/analytics/overview',
      summary: 'Overview of my collected notes',
      description:
        'Totals, averages per note, notes per type, top 10 authors (by notes, then likes) and tags, over the notes last collected in ' +
        "[from, to] (days in QUOTA_TIME_ZONE; default: everything within retention), with the list's filters. " +
        'Needs the plan feature data_analytics (403 PERMISSION_DENIED otherwise).',
      tags: ['xiaohongshu'],
      auth: true,
      permission: 'collection.data.view',
      errors: [403],
      request: { query: z.object({ from: DAY.optional(), to: DAY.optional() }).extend(filtersQuery.shape).extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'the overview', schema: overviewSchema } },
    },
    async ({ query }, ctx) => {
      if (query.from && query.to && query.from > query.to) throw invalidQuery('from', 'from must not be after to');
      await requireAnalytics(ctx);
      const scope = await scopeOf(ctx, query);
      const { from, to, ...filters } = query;
      return overview(knex, scope, filters as ContentFilters, { from, to });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/analytics/trends',
      summary: 'Daily trends of my collected notes',
      description:
        `Per day of the last \`days\` days (default 30, at most ${MAX_TREND_DAYS}; today included, days in QUOTA_TIME_ZONE): notes collected, ` +
        'notes collected for the first time, and the engagement sums of the notes collected that day (each at its last collection of the day). ' +
        'Days before the retention cutoff are zero. Needs the plan feature data_analytics (403 PERMISSION_DENIED otherwise).',
      tags: ['xiaohongshu'],
      auth: true,
      permission: 'collection.data.view',
      errors: [403],
      request: { query: z.object({ days: decimalInteger({ min: 1, max: MAX_TREND_DAYS }).default(30) }).extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'the series', schema: trendsSchema } },
    },
    async ({ query }, ctx) => {
      await requireAnalytics(ctx);
      const scope = await scopeOf(ctx);
      return trends(knex, scope, { days: query.days, today: quotaDay(scope.now, timeZone).day });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/analytics/export',
      summary: 'Download an analytics report of my collected notes (xlsx or pdf)',
      description:
        `The report of the last \`days\` days (default 30, at most ${MAX_REPORT_DAYS}; today included, days in QUOTA_TIME_ZONE): the overview ` +
        '(GET /analytics/overview over the notes last collected in the period: totals, averages, types, top authors and tags), the daily ' +
        `trends (GET /analytics/trends?days=) and the period's \`top\` notes by likes (default 10, at most ${MAX_REPORT_NOTES}). ` +
        '`format=xlsx`: a workbook with the sheets 概览 Summary, 每日趋势 Trends (one row per day) and 热门笔记 Top notes ' +
        '(application/vnd.openxmlformats-officedocument.spreadsheetml.sheet); `format=pdf`: a printable report — title, period, key ' +
        'figures, the trends table, the top notes and tags (application/pdf, Chinese set in Noto Sans SC). A download ' +
        '(Content-Disposition: attachment), not the envelope; refusals come before the first byte as enveloped errors. ' +
        "Needs data_analytics (403 PERMISSION_DENIED, details.feature = data_analytics), and the format in the plan's export_formats: " +
        'xlsx needs "excel", pdf needs "pdf" (403 with details.feature = export_formats) — in the catalogue, pro and enterprise.',
      tags: ['xiaohongshu'],
      auth: true,
      permission: 'collection.data.view',
      scope: 'export',
      envelope: false,
      request: {
        query: z
          .object({
            format: z.enum(REPORT_FORMATS),
            days: decimalInteger({ min: 1, max: MAX_REPORT_DAYS }).default(30),
            top: decimalInteger({ min: 1, max: MAX_REPORT_NOTES }).default(10),
          })
          .extend(afterPositionQuery.shape),
      },
      responses: {
        200: {
          description: 'the report file: xlsx (application/vnd.openxmlformats-officedocument.spreadsheetml.sheet) or pdf (application/pdf)',
          contentType: Object.values(REPORT_CONTENT_TYPES),
          schema: z.string().describe("the file's bytes"),
        },
        401: { description: 'Missing or invalid access token (UNAUTHENTICATED)', schema: errorEnvelopeSchema },
        403: { description: 'the plan has no data_analytics, or not this format (PERMISSION_DENIED, details.feature)', schema: errorEnvelopeSchema },
        422: { description: 'Invalid input (VALIDATION_ERROR)', schema: errorEnvelopeSchema },
      },
    },
    async ({ query }, ctx) => {
      const plan = await currentPlan(store, currentUser(ctx).id, 'xiaohongshu');
      requireFeature(plan, 'data_analytics');
      requirePlanExportFormat(plan, REPORT_PLAN_FORMAT[query.format], { format: query.format });
      const scope = await scopeOf(ctx);
      const today = quotaDay(scope.now, timeZone).day;
      const trendsView = await trends(knex, scope, { days: query.days, today });
      const period = { from: trendsView.from, to: today };
      const file = await renderReport(query.format, {
        generatedAt: scope.now,
        overview: await overview(knex, scope, {}, period),
        trends: trendsView,
        topNotes: await topContents(knex, scope, period, query.top),
      });
      // the whole file is made before the first byte: a failure above is still an enveloped error
      ctx.status = 200;
      ctx.body = file;
      ctx.attachment(reportFileName(query.format, scope.now));
      ctx.type = REPORT_CONTENT_TYPES[query.format];
      ctx.set('Cache-Control', 'no-store');
    },
  );

  return router;
}

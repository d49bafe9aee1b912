import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import { changeAlert, createAlert, deleteAlert, loadAlert, type AlertCall } from '../../../application/novel-alerts.js';
import { requireFeature } from '../../../application/plan-gates.js';
import { loadKeywordWatch, unwatchKeyword, watchKeyword } from '../../../application/qidian-keywords.js';
import type { Turns } from '../../../application/ports/turns.js';
import { currentPlan } from '../../../application/subscription-quotas.js';
import { MAX_WATCHED_KEYWORDS } from '../../../platforms/qidian/workflow-types.js';
import type { EventStore } from '../../../event-store/port.js';
import { QIDIAN_ALERTS_PROJECTION } from '../../../projections/qidian-alerts.js';
import { countKeywords, listAlerts, listKeywords } from '../../../read-api/qidian-alerts.js';
import { MAX_ALERT_WORDS, NOVEL_ALERT_KINDS, type KnownAlert } from '../../../write-model/novel-alert/index.js';
import { MAX_KEYWORD_LENGTH } from '../../../write-model/qidian-keyword/index.js';
import { accessOf } from '../access.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { countedCreation } from '../counted-creation.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { HttpError } from '../http-error.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult, ifMatchRevision } from '../revision.js';
import type { AppContext, AppState } from '../state.js';

export interface QidianAlertRouteDeps {
  store: EventStore;
  knex: Knex;
  /** config QUOTA_TIME_ZONE (the quota day of a refused reservation) */
  timeZone: string;
  /** where one user's keyword watches take turns (the limit is counted in the read model) */
  turns?: Turns;
  now?: () => Date;
}

const commandResultSchema = z.object({ revision: z.string(), position: z.string().nullable() });
const novelId = z.string().regex(/^\d{1,20}$/, 'a Qidian book id is digits');
const words = z.number().int().min(1).max(MAX_ALERT_WORDS).describe('word_count_threshold only: the word count that fires the alert');

const alertSchema = z.object({
  id: z.string(),
  owner_id: z.string().describe('whose rule it is (in an organization, a member my data scope reaches)'),
  novel_id: z.string(),
  novel_title: z.string().nullable().describe('from the latest capture; null until collected'),
  kind: z.enum(NOVEL_ALERT_KINDS),
  words: z.number().nullable(),
  status: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
  revision: z.string().describe('send as If-Match to PUT and DELETE'),
});

const keywordSchema = z.object({
  id: z.string(),
  owner_id: z.string().describe('who watches it (in an organization, a member my data scope reaches)'),
  keyword: z.string(),
  status: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
});

const idParams = z.object({ id: z.uuid() });

const KIND_HELP =
  '`update`: a new chapter (the chapter count rose between two captures); `completion`: the status turned 完本; ' +
  '`word_count_threshold`: the word count reached `words` (below it at the capture before, at or above it now).';

/**
 * `/api/v1/qidian/alerts` and `/api/v1/qidian/keywords`: the caller's novel
 * alert rules (NovelAlert aggregate; each holds one unit of the qidian
 * plan's alert_notifications) and keyword watches (KeywordWatch aggregate;
 * the plan feature custom_keywords). pm-qidian-alerts fires both from what
 * the collection finds: a `novel_alert` or `keyword_match` notification
 * (GET /notifications, and mail), once per triggering change. Lists come
 * from the `qidian-alerts-v1` read model (`?after_position=` waits for it);
 * another user's rule or watch is 404.
 */
export function qidianAlertsRouter(api: HttpApi, deps: QidianAlertRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/qidian' });
  const { store, knex } = deps;
  const clock = () => deps.now?.() ?? new Date();

  function call(ctx: AppContext, userId: string): AlertCall {
    return { store, userId, now: clock(), timeZone: deps.timeZone, context: commandContext(ctx, userId) };
  }

  /** An active alert of an owner the caller reaches: the caller's own to change it, the data scope's to read it. */
  async function ownAlert(ctx: AppContext, id: string, owners: readonly string[] = [currentUser(ctx).id]): Promise<KnownAlert & { revision: bigint }> {
    const { state, revision } = await loadAlert(store, id);
    if (state.status !== 'active' || !owners.includes(state.userId)) throw new HttpError(404, 'NOT_FOUND', 'alert not found');
    return { ...state, revision };
  }

  // ---------------------------------------------------------------- alerts

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/alerts',
      summary: 'My novel alerts',
      description:
        "Newest first; `novel_id` narrows to one novel. In an organization, the rules of the caller's data scope (each names its owner_id); " +
        "changing or deleting one stays its owner's (404 to others).",
      tags: ['qidian'],
      auth: true,
      permission: 'collection.data.view',
      request: { query: paginationQuery.extend({ novel_id: novelId.optional() }).extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of alerts', schema: pageSchema(alertSchema) } },
    },
    async ({ query }, ctx) => {
      await awaitPosition(ctx, knex, QIDIAN_ALERTS_PROJECTION);
      // the rules of the caller's data scope (an organization's analyst: every member's); changing one stays its owner's
      return listAlerts(knex, accessOf(ctx).ownerIds, { page: query.page, per_page: query.per_page }, query.novel_id ? { novelId: query.novel_id } : {});
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/alerts',
      summary: 'Set an alert on a tracked novel',
      description:
        `${KIND_HELP} Holds one unit of the qidian plan's alert_notifications until deleted: past it 429 QUOTA_EXCEEDED. The novel must be ` +
        'one the caller tracks (409 CONFLICT, details.reason novel_not_tracked). A rule the caller has already (the same novel, kind and ' +
        'words): 409 CONFLICT, details.reason duplicate_alert with details.alertId the alert that has it; nothing is reserved or written. ' +
        'The first capture of a novel is what the next is compared with; each change fires once (a `novel_alert` notification).',
      tags: ['qidian'],
      auth: true,
      permission: 'collection.data.create',
      request: {
        body: z
          .object({ novel_id: novelId, kind: z.enum(NOVEL_ALERT_KINDS), words: words.optional() })
          .strict()
          .refine((b) => (b.kind === 'word_count_threshold') === (b.words !== undefined), {
            message: 'words goes with word_count_threshold, and only with it',
            path: ['words'],
          }),
      },
      responses: { 201: { description: 'set', schema: commandResultSchema.extend({ id: z.string() }) } },
      errors: [409, 429],
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      const result = await createAlert(call(ctx, user.id), { novelId: body.novel_id, kind: body.kind, words: body.words ?? null });
      commandResult(ctx, result, { status: 201, extra: { id: result.alertId } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/alerts/:id',
      summary: 'One alert',
      description: 'From the write side (no waiting); ETag = revision.',
      tags: ['qidian'],
      auth: true,
      permission: 'collection.data.view',
      request: { params: idParams },
      responses: { 200: { description: 'the alert', schema: alertSchema.omit({ novel_title: true }) } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      const a = await ownAlert(ctx, params.id, accessOf(ctx).ownerIds);
      ctx.set('ETag', `"${a.revision}"`);
      return {
        id: a.alertId,
        owner_id: a.userId,
        novel_id: a.novelId,
        kind: a.kind,
        words: a.words,
        status: a.status,
        created_at: a.createdAt,
        updated_at: a.updatedAt,
        revision: a.revision.toString(),
      };
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'put',
      path: '/alerts/:id',
      summary: 'Change an alert',
      description:
        `The kind and/or words (${KIND_HELP}); changing to word_count_threshold needs words, changing away drops them. Nothing changed: 200 with position null. ` +
        "Into a rule another of the caller's alerts has: 409 CONFLICT, details.reason duplicate_alert with details.alertId; the rule left is free for a new alert.",
      tags: ['qidian'],
      auth: true,
      permission: 'collection.data.edit',
      ifMatch: true,
      request: {
        params: idParams,
        body: z
          .object({ kind: z.enum(NOVEL_ALERT_KINDS).optional(), words: words.optional() })
          .strict()
          .refine((b) => b.kind !== undefined || b.words !== undefined, { message: 'nothing to change' }),
      },
      responses: { 200: { description: 'changed', schema: commandResultSchema } },
      errors: [404, 409],
    },
    async ({ params, body }, ctx) => {
      const user = currentUser(ctx);
      const expected = ifMatchRevision(ctx);
      await ownAlert(ctx, params.id);
      const change = { ...(body.kind !== undefined ? { kind: body.kind } : {}), ...(body.words !== undefined ? { words: body.words } : {}) };
      commandResult(ctx, await changeAlert(call(ctx, user.id), params.id, change, expected));
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'delete',
      path: '/alerts/:id',
      summary: 'Delete an alert',
      description: 'Gives back its alert_notifications unit. A repeat: 200 with position null. If-Match: its revision; a stale one is 412, a repeat included.',
      tags: ['qidian'],
      auth: true,
      permission: 'collection.data.delete',
      ifMatch: true,
      request: { params: idParams },
      responses: { 200: { description: 'deleted', schema: commandResultSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      const user = currentUser(ctx);
      const expected = ifMatchRevision(ctx);
      // a deleted alert of the caller's answers the repeat (as trackings and keywords do); anyone else's is 404
      const { state } = await loadAlert(store, params.id);
      if (state.status === 'none' || state.userId !== user.id) throw new HttpError(404, 'NOT_FOUND', 'alert not found');
      commandResult(ctx, await deleteAlert(call(ctx, user.id), params.id, expected));
    },
  );

  // ---------------------------------------------------------------- keywords

  async function requireKeywords(userId: string): Promise<void> {
    requireFeature(await currentPlan(store, userId, 'qidian'), 'custom_keywords');
  }

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/keywords',
      summary: 'My watched keywords',
      description:
        "Newest first; in an organization, the keywords of the caller's data scope (each names its owner_id). Needs the plan feature " +
        'custom_keywords (403 PERMISSION_DENIED, details.feature = custom_keywords, otherwise).',
      tags: ['qidian'],
      auth: true,
      permission: 'collection.data.view',
      request: { query: paginationQuery.extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of keywords', schema: pageSchema(keywordSchema) } },
      errors: [403],
    },
    async ({ query }, ctx) => {
      const user = currentUser(ctx);
      await requireKeywords(user.id);
      await awaitPosition(ctx, knex, QIDIAN_ALERTS_PROJECTION);
      return listKeywords(knex, accessOf(ctx).ownerIds, { page: query.page, per_page: query.per_page });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/keywords',
      summary: 'Watch a keyword',
      description:
        `A word (1–${MAX_KEYWORD_LENGTH} characters; NFKC, invisible characters dropped, trimmed, lower case) searched on Qidian (\`/so/<keyword>.html\`) at every run of ` +
        "the caller's watch list (the `qidian.watchlist` workflow, at the plan's data_collection_frequency); a book found for it that " +
        'was not found before gives a `keyword_match` notification (the first results are the baseline). Needs the plan feature ' +
        `custom_keywords (403). A keyword watched already: 409. At most ${MAX_WATCHED_KEYWORDS} keywords (409 past it); one user's watches take turns, and one that waits too long for its turn is 409 (details.reason creation_in_progress).`,
      tags: ['qidian'],
      auth: true,
      permission: 'collection.data.create',
      request: { body: z.object({ keyword: z.string().trim().min(1).max(MAX_KEYWORD_LENGTH) }).strict() },
      responses: { 201: { description: 'watched', schema: commandResultSchema.extend({ id: z.string(), keyword: z.string() }) } },
      errors: [403, 409],
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      await requireKeywords(user.id);
      // the limit is counted in the read model: one watch of the user at a time, each keeping its turn until the projection has it
      const result = await countedCreation(deps, `qidian-keywords:${user.id}`, QIDIAN_ALERTS_PROJECTION, async () => {
        if ((await countKeywords(knex, user.id)) >= MAX_WATCHED_KEYWORDS) {
          throw new HttpError(409, 'CONFLICT', `at most ${MAX_WATCHED_KEYWORDS} keywords are watched`, { max: MAX_WATCHED_KEYWORDS });
        }
        return watchKeyword({ store, userId: user.id, now: clock(), context: commandContext(ctx, user.id) }, body.keyword);
      });
      const keyword = result.state.status === 'none' ? body.keyword : result.state.keyword;
      commandResult(ctx, result, { status: 201, extra: { id: result.watchId, keyword } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'delete',
      path: '/keywords/:id',
      summary: 'Stop watching a keyword',
      description:
        'Allowed whatever the plan. A repeat: 200 with position null. If-Match: the revision POST /qidian/keywords answered; a stale one is 412, a repeat included.',
      tags: ['qidian'],
      auth: true,
      permission: 'collection.data.delete',
      ifMatch: true,
      request: { params: idParams },
      responses: { 200: { description: 'unwatched', schema: commandResultSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      const user = currentUser(ctx);
      const expected = ifMatchRevision(ctx);
      const { state } = await loadKeywordWatch(store, params.id);
      if (state.status === 'none' || state.userId !== user.id) throw new HttpError(404, 'NOT_FOUND', 'keyword not found');
      const keywordCall = { store, userId: user.id, now: clock(), context: commandContext(ctx, user.id) };
      commandResult(ctx, await unwatchKeyword(keywordCall, params.id, expected));
    },
  );

  return router;
}

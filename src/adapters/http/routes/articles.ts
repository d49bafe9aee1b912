import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import { createArticle, deleteArticle, reviseArticle, type ArticleWrite } from '../../../application/articles.js';
import type { EventStore } from '../../../event-store/port.js';
import { ARTICLES_PROJECTION } from '../../../projections/articles.js';
import { ARTICLE_SORTS, findArticle, findArticleVersion, listArticles, listArticleVersions } from '../../../read-api/articles.js';
import { ARTICLE_LIMITS } from '../../../write-model/article/events.js';
import type { ArticleContentInput } from '../../../write-model/article/commands.js';
import { accessOf } from '../access.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { newResourceOwner, ownerField } from '../owner-choice.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { HttpError } from '../http-error.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult, ifMatchRevision } from '../revision.js';
import type { AppContext, AppState } from '../state.js';
import { decimalInteger } from '../query.js';

/**
 * Articles under `/api/v1/articles`: drafts kept as numbered versions (the
 * Article aggregate, `article-{id}`), my list with search, one article with
 * its body, its versions. Reads come from read model `articles-v1`
 * (`?after_position=` reads a write just made).
 */
export interface ArticleRouteDeps {
  store: EventStore;
  knex: Knex;
  now?: () => Date;
}

const L = ARTICLE_LIMITS;

const contentBody = z
  .object({
    title: z.string().trim().min(1).max(L.title).describe(`1-${L.title} characters`),
    body: z.string().max(L.body).describe(`Markdown, at most ${L.body} characters`),
    summary: z.string().trim().max(L.summary).nullable().optional().describe(`at most ${L.summary} characters; blank or absent: none`),
    tags: z.array(z.string().trim().min(1).max(L.tag)).max(L.tags).default([]).describe(`at most ${L.tags} distinct tags of 1-${L.tag} characters`),
    cover_media_id: z.uuid().nullable().optional().describe('one of my uploaded images (POST /media)'),
    image_media_ids: z.array(z.uuid()).max(L.images).default([]).describe(`at most ${L.images} of my uploaded images, distinct, in order`),
  })
  .strict();

const createBody = contentBody.extend({ owner: ownerField }).strict();

const reviseBody = contentBody
  .extend({ expected_version: z.number().int().min(1).optional().describe('the version I edited: 409 when another one is current') })
  .strict();

const writeSchema = z.object({
  id: z.string(),
  version: z.number().int().describe('the version now current'),
  revision: z.string().describe('send as If-Match to PUT'),
  position: z.string().nullable().describe('pass as after_position to the GET routes; null when nothing changed'),
});

const summarySchema = z.object({
  id: z.string(),
  owner_id: z.string().describe("who owns it: a user's id, or the organization's id for one the organization owns"),
  version: z.number().int(),
  title: z.string(),
  summary: z.string().nullable(),
  tags: z.array(z.string()),
  cover_media_id: z.string().nullable(),
  image_count: z.number().int(),
  word_count: z.number().int().describe('each CJK character one word, each run of other letters or digits one'),
  created_at: z.string(),
  updated_at: z.string().describe('when the current version was written'),
  revision: z.string().describe('send as If-Match to PUT'),
});

const articleSchema = summarySchema.extend({ body: z.string(), image_media_ids: z.array(z.string()) });

const versionSchema = z.object({
  version: z.number().int(),
  title: z.string(),
  body: z.string(),
  summary: z.string().nullable(),
  tags: z.array(z.string()),
  cover_media_id: z.string().nullable(),
  image_media_ids: z.array(z.string()),
  word_count: z.number().int(),
  created_at: z.string(),
});

const idParams = z.object({ id: z.uuid('an article id is a UUID') });

function contentOf(body: z.output<typeof contentBody>): ArticleContentInput {
  return {
    title: body.title,
    body: body.body,
    summary: body.summary ?? null,
    tags: body.tags,
    coverMediaId: body.cover_media_id ?? null,
    imageMediaIds: body.image_media_ids,
  };
}

function answer(ctx: AppContext, written: ArticleWrite, status = 200): void {
  commandResult(ctx, written, { status, extra: { id: written.articleId, version: written.version } });
}

const MEDIA_RULE =
  "cover_media_id and image_media_ids must be live uploaded images of the article's owner: mine, or for an article my organization owns the organization's (422 under the field otherwise).";

export function articlesRouter(api: HttpApi, deps: ArticleRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/articles' });
  const { store, knex } = deps;
  const clock = () => deps.now?.() ?? new Date();
  const caller = (ctx: AppContext) => {
    const user = currentUser(ctx);
    // the articles the caller's data scope reaches (an organization's admin: its own and every member's)
    return { userId: user.id, context: commandContext(ctx, user.id), ownerIds: accessOf(ctx).ownerIds };
  };

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/',
      summary: 'Write a new article',
      description:
        `Its first version (1). ${MEDIA_RULE} Answers 201 with the id, and the position to pass as after_position. With owner ` +
        "organization the article is the organization's (owner_id is its id): those whose publishing.articles scope is organization-wide " +
        'edit and publish it, through accounts the organization owns.',
      tags: ['articles'],
      auth: true,
      permission: 'publishing.articles.create',
      request: { body: createBody },
      responses: { 201: { description: 'created', schema: writeSchema } },
    },
    async ({ body }, ctx) => {
      const written = await createArticle({ store, now: clock }, { ...caller(ctx), userId: newResourceOwner(ctx, body.owner) }, contentOf(body));
      ctx.set('Location', `/api/v1/articles/${written.articleId}`);
      answer(ctx, written, 201);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/',
      summary: 'My articles',
      description:
        'Their current versions, without bodies. `q`: words that must all appear (case-insensitive) in the title, summary or a tag; ' +
        '`tag`: one of the tags exactly. Sorted by `sort` (default updated_at) in `order` (default desc).',
      tags: ['articles'],
      auth: true,
      permission: 'publishing.articles.view',
      request: {
        query: paginationQuery
          .extend({
            q: z.string().trim().max(200).optional(),
            tag: z.string().trim().min(1).max(L.tag).optional(),
            sort: z.enum(ARTICLE_SORTS).default('updated_at'),
            order: z.enum(['asc', 'desc']).default('desc'),
          })
          .extend(afterPositionQuery.shape),
      },
      responses: { 200: { description: 'a page of articles', schema: pageSchema(summarySchema) } },
    },
    async ({ query }, ctx) => {
      await awaitPosition(ctx, knex, ARTICLES_PROJECTION);
      return listArticles(knex, accessOf(ctx).ownerIds, { q: query.q, tag: query.tag, sort: query.sort, order: query.order }, query);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/:id',
      summary: 'One of my articles',
      description: 'Its current version with the body; ETag: the revision to send as If-Match to PUT.',
      tags: ['articles'],
      auth: true,
      permission: 'publishing.articles.view',
      request: { params: idParams, query: afterPositionQuery },
      responses: { 200: { description: 'the article', schema: articleSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      await awaitPosition(ctx, knex, ARTICLES_PROJECTION);
      const found = await findArticle(knex, accessOf(ctx).ownerIds, params.id);
      if (!found) throw new HttpError(404, 'NOT_FOUND', 'article not found');
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
      summary: 'Write a new version of my article',
      description:
        'The whole content of the next version (fields left out are empty, as on create). The same content as the current version ' +
        `changes nothing (200, position null). If-Match: the revision from an ETag (412 when the article moved on); or expected_version ` +
        `in the body (409, details.reason version_mismatch). An article keeps at most 500 versions (409, details.reason version_limit). ${MEDIA_RULE}`,
      tags: ['articles'],
      auth: true,
      permission: 'publishing.articles.edit',
      ifMatch: true,
      request: { params: idParams, body: reviseBody },
      responses: { 200: { description: 'revised', schema: writeSchema } },
      errors: [404, 409],
    },
    async ({ params, body }, ctx) => {
      const expectedRevision = ifMatchRevision(ctx);
      const written = await reviseArticle({ store, now: clock }, caller(ctx), params.id, contentOf(body), {
        expectedRevision,
        expectedVersion: body.expected_version,
      });
      answer(ctx, written);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'delete',
      path: '/:id',
      summary: 'Delete my article',
      description:
        'Final: it leaves my list and every route answers 404 for it (a repeat too). Its images stay uploaded. If-Match: the revision from ' +
        'an ETag (412 when the article moved on since).',
      tags: ['articles'],
      auth: true,
      permission: 'publishing.articles.delete',
      ifMatch: true,
      request: { params: idParams },
      responses: { 200: { description: 'deleted', schema: writeSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      answer(ctx, await deleteArticle({ store, now: clock }, caller(ctx), params.id, ifMatchRevision(ctx)));
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/:id/versions',
      summary: "My article's versions",
      description: 'Newest first, without bodies (GET /articles/{id}/versions/{version} has one whole).',
      tags: ['articles'],
      auth: true,
      permission: 'publishing.articles.view',
      request: { params: idParams, query: paginationQuery.extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of versions', schema: pageSchema(versionSchema.omit({ body: true })) } },
      errors: [404],
    },
    async ({ params, query }, ctx) => {
      await awaitPosition(ctx, knex, ARTICLES_PROJECTION);
      const page = await listArticleVersions(knex, accessOf(ctx).ownerIds, params.id, query);
      if (!page) throw new HttpError(404, 'NOT_FOUND', 'article not found');
      return page;
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/:id/versions/:version',
      summary: 'One version of my article',
      description: 'The version whole, as it was written.',
      tags: ['articles'],
      auth: true,
      permission: 'publishing.articles.view',
      request: { params: idParams.extend({ version: decimalInteger({ min: 1, max: 1_000_000 }) }), query: afterPositionQuery },
      responses: { 200: { description: 'the version', schema: versionSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      await awaitPosition(ctx, knex, ARTICLES_PROJECTION);
      const found = await findArticleVersion(knex, accessOf(ctx).ownerIds, params.id, params.version);
      if (!found) throw new HttpError(404, 'NOT_FOUND', 'no such version of the article');
      return found;
    },
  );

  return router;
}

import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { OverageCharger } from '../../../application/ledger/overage.js';
import { cancelPublication, DEFAULT_REGION, MAX_PUBLISH_TARGETS, requestPublications, requestUnpublish } from '../../../application/publications.js';
import type { EventStore } from '../../../event-store/port.js';
import { formatPosition } from '../../../event-store/position.js';
import type { PublisherRegistry } from '../../../platforms/publishing/registry.js';
import { PUBLICATIONS_PROJECTION } from '../../../projections/publications.js';
import { findPublication, listPublications, PUBLICATION_STATUSES, REVIEW_STATUSES } from '../../../read-api/publications.js';
import { MAX_SCHEDULE_AHEAD_DAYS, PUBLICATION_FAILURE_CODES } from '../../../write-model/publication/events.js';
import { accessOf } from '../access.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { ok } from '../envelope.js';
import { HttpError } from '../http-error.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult } from '../revision.js';
import type { AppState } from '../state.js';

/**
 * Publishing articles: `POST /api/v1/articles/{id}/publish` (one
 * publication per target account, answered 202), the publications'
 * status (`GET /api/v1/publications[/{id}]`, read model `publications-v1`),
 * and `POST /api/v1/publications/{id}/cancel` / `…/unpublish`.
 * docs/publishing.md tells the whole flow.
 */

export interface PublicationRouteDeps {
  store: EventStore;
  knex: Knex;
  /** QUOTA_TIME_ZONE: the day daily_publications counts */
  timeZone: string;
  /** which platforms have a publisher, and what each can do */
  publishers: PublisherRegistry;
  now?: () => Date;
  /** publications past daily_publications charged to the balance when the holder opted in (docs/ledger.md) */
  overage?: OverageCharger;
}

const DAY_MS = 86_400_000;
const REGION = /^[A-Za-z0-9_-]{1,16}$/;

const publishBody = z
  .object({
    account_ids: z
      .array(z.uuid('an account id is a UUID'))
      .min(1)
      .max(MAX_PUBLISH_TARGETS)
      .refine((ids) => new Set(ids).size === ids.length, 'account ids must be distinct')
      .describe(`1-${MAX_PUBLISH_TARGETS} distinct ids of my platform accounts: one publication each`),
    at: z.iso
      .datetime({ offset: true })
      .optional()
      .describe(`when to publish (ISO-8601 with a zone), in the future and at most ${MAX_SCHEDULE_AHEAD_DAYS} days ahead; absent: now`),
    region: z.string().regex(REGION, 'a region is 1-16 letters, digits, _ -').optional().describe(`the review rules' region; default ${DEFAULT_REGION}`),
  })
  .strict();

const requestedSchema = z.object({
  id: z.string().describe('the publication id (GET /publications/{id})'),
  account_id: z.string(),
  platform: z.string(),
  status: z.enum(['scheduled', 'pending_review']),
  scheduled_at: z.string().nullable(),
});

const publicationSchema = z.object({
  id: z.string(),
  status: z
    .enum(PUBLICATION_STATUSES)
    .describe(
      'scheduled (waits for its time), pending_review (the automatic pre-review runs), in_review (a reviewer decides), queued, publishing ' +
        '(an attempt started; retries stay here), published, failed, cancelled, unpublished',
    ),
  article_id: z.string(),
  article_version: z.number().int().describe('the version published: its content as it was when requested'),
  account_id: z.string(),
  platform: z.string(),
  region: z.string(),
  title: z.string(),
  scheduled_at: z.string().nullable(),
  review: z.object({
    pre_review: z.enum(['passed', 'flagged']).nullable().describe('the automatic pre-review; null while not run'),
    hits: z.number().int().nullable().describe('how many rules the pre-review found hit'),
    review_id: z.string().nullable().describe('the human review a flagged publication went to'),
    status: z.enum(REVIEW_STATUSES).nullable(),
  }),
  attempts: z.number().int().describe('publish attempts started (at most 3)'),
  last_error: z.string().nullable().describe("the last failed attempt's reason (never a credential)"),
  next_attempt_at: z.string().nullable().describe('when the next attempt runs after a failed one'),
  post: z
    .object({
      id: z.string(),
      url: z.string(),
      published_at: z.string().nullable(),
      recovered: z.boolean().describe('true when a retry found the post already there (made once, recorded late)'),
    })
    .nullable(),
  failure: z.object({ code: z.enum(PUBLICATION_FAILURE_CODES), reason: z.string() }).nullable(),
  unpublish_requested: z.boolean(),
  metrics: z
    .object({
      views: z.number().nullable(),
      likes: z.number().nullable(),
      comments: z.number().nullable(),
      extra: z.record(z.string(), z.number()),
      read_at: z.string(),
    })
    .nullable()
    .describe('the latest reading (PUBLICATION_METRICS_SCHEDULE after publishing), where the platform gives them'),
  requested_at: z.string(),
  updated_at: z.string(),
});

const historySchema = z.object({
  revision: z.number().int(),
  event: z.string(),
  status: z.enum(PUBLICATION_STATUSES).describe('the status after it'),
  at: z.string(),
  detail: z.record(z.string(), z.unknown()),
});

const changeSchema = z.object({ id: z.string(), status: z.enum(PUBLICATION_STATUSES), revision: z.string(), position: z.string().nullable() });

const articleParams = z.object({ id: z.uuid('an article id is a UUID') });
const idParams = z.object({ id: z.uuid('a publication id is a UUID') });

export function publicationsRouter(api: HttpApi, deps: PublicationRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1' });
  const { store, knex, publishers } = deps;
  const clock = () => deps.now?.() ?? new Date();

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/articles/:id/publish',
      summary: 'Publish my article to my platform accounts',
      description:
        "Asynchronous: one publication per account, each holding the article's current version as it is now, answered 202 once all are " +
        'recorded. Each then passes the automatic pre-review, a human review if the pre-review flags it, and the publish queue (3 attempts, ' +
        'PUBLISH_RETRY_DELAY_MS apart, never posted twice); follow them with GET /publications/{id}. `at` schedules them (future, at most ' +
        `${MAX_SCHEDULE_AHEAD_DAYS} days). Nothing is written when any target is bad: the article must be mine (404) and every image it ` +
        'names must still exist (422, details.mediaIds: name images that exist, then publish), every account mine ' +
        '(404, details.accountId), of a platform with a publisher (422 under account_ids) and active (409, details.reason account_not_active). ' +
        'Each target counts against the plan feature daily_publications of the xiaohongshu service (429 QUOTA_EXCEEDED when they do not all fit).',
      tags: ['publications'],
      auth: true,
      permission: 'publishing.publications.create',
      request: { params: articleParams, body: publishBody },
      responses: {
        202: {
          description: 'requested',
          schema: z.object({
            article_id: z.string(),
            article_version: z.number().int(),
            publications: z.array(requestedSchema),
            position: z.string().nullable().describe('pass as after_position to the GET routes'),
          }),
        },
      },
      errors: [404, 409, 429],
    },
    async ({ params, body }, ctx) => {
      const user = currentUser(ctx);
      const now = clock();
      let at: Date | null = null;
      if (body.at !== undefined) {
        at = new Date(body.at);
        const problem =
          at.getTime() <= now.getTime()
            ? 'at must be in the future'
            : at.getTime() > now.getTime() + MAX_SCHEDULE_AHEAD_DAYS * DAY_MS
              ? `at must be at most ${MAX_SCHEDULE_AHEAD_DAYS} days ahead`
              : null;
        if (problem) throw new HttpError(422, 'VALIDATION_ERROR', problem, { issues: [{ in: 'body', path: ['at'], message: problem, code: 'custom' }] });
      }
      const result = await requestPublications(
        { store, now: () => now, timeZone: deps.timeZone, platforms: publishers.platforms, ...(deps.overage ? { overage: deps.overage } : {}) },
        { userId: user.id, context: commandContext(ctx, user.id), ownerIds: accessOf(ctx).ownerIds },
        { articleId: params.id, accountIds: body.account_ids, at, region: body.region ?? DEFAULT_REGION },
      );
      ctx.set('Location', `/api/v1/publications?article_id=${params.id}`);
      ok(
        ctx,
        {
          article_id: result.articleId,
          article_version: result.articleVersion,
          publications: result.publications.map((p) => ({
            id: p.publicationId,
            account_id: p.accountId,
            platform: p.platform,
            status: p.status,
            scheduled_at: p.scheduledAt,
          })),
          position: result.position ? formatPosition(result.position) : null,
        },
        202,
      );
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/publications',
      summary: 'My publications',
      description: 'Every publication I requested, the newest first, with its status. Filters combine with AND.',
      tags: ['publications'],
      auth: true,
      permission: 'publishing.publications.view',
      request: {
        query: paginationQuery
          .extend({
            status: z.enum(PUBLICATION_STATUSES).optional(),
            article_id: z.string().min(1).max(100).optional(),
            account_id: z.string().min(1).max(100).optional(),
            platform: z.string().min(1).max(50).optional(),
          })
          .extend(afterPositionQuery.shape),
      },
      responses: { 200: { description: 'a page of publications', schema: pageSchema(publicationSchema) } },
    },
    async ({ query }, ctx) => {
      await awaitPosition(ctx, knex, PUBLICATIONS_PROJECTION);
      return listPublications(
        knex,
        accessOf(ctx).ownerIds,
        { status: query.status, article_id: query.article_id, account_id: query.account_id, platform: query.platform },
        query,
      );
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/publications/:id',
      summary: 'One of my publications',
      description:
        'Its status, its review (the pre-review and the hits it found, the human review and its state), its attempts and last error, the ' +
        "post's id and URL once published, the latest metrics, and its history (every step, oldest first).",
      tags: ['publications'],
      auth: true,
      permission: 'publishing.publications.view',
      request: { params: idParams, query: afterPositionQuery },
      responses: { 200: { description: 'the publication', schema: publicationSchema.extend({ history: z.array(historySchema) }) } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      await awaitPosition(ctx, knex, PUBLICATIONS_PROJECTION);
      const found = await findPublication(knex, accessOf(ctx).ownerIds, params.id);
      if (!found) throw new HttpError(404, 'NOT_FOUND', 'publication not found');
      return found;
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/publications/:id/cancel',
      summary: 'Cancel one of my publications',
      description:
        'Only before publishing starts (scheduled, pending_review, in_review, queued: an open review is withdrawn); once an attempt ' +
        'started, or it ended, 409 (details.reason publishing_started or ended). A repeat answers the cancelled publication again.',
      tags: ['publications'],
      auth: true,
      permission: 'publishing.publications.edit',
      request: { params: idParams },
      responses: { 200: { description: 'cancelled', schema: changeSchema } },
      errors: [404, 409],
    },
    async ({ params }, ctx) => {
      const user = currentUser(ctx);
      const changed = await cancelPublication(
        { store, now: clock },
        { userId: user.id, context: commandContext(ctx, user.id), ownerIds: accessOf(ctx).ownerIds },
        params.id,
      );
      commandResult(ctx, changed, { extra: { id: changed.publicationId, status: changed.status } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/publications/:id/unpublish',
      summary: 'Take one of my published posts down',
      description:
        'Asynchronous: answered 202 once asked; an `unpublish` job takes the post down through the platform (status unpublished) or ' +
        'records why it could not (the post stays published; ask again). 409 when it is not published (details.reason not_published) or ' +
        'its platform cannot take posts down (platform_cannot_unpublish).',
      tags: ['publications'],
      auth: true,
      permission: 'publishing.publications.delete',
      request: { params: idParams },
      responses: { 202: { description: 'asked', schema: changeSchema } },
      errors: [404, 409],
    },
    async ({ params }, ctx) => {
      const user = currentUser(ctx);
      const changed = await requestUnpublish(
        { store, now: clock, canUnpublish: (platform) => publishers.get(platform)?.publisher.canUnpublish === true },
        { userId: user.id, context: commandContext(ctx, user.id), ownerIds: accessOf(ctx).ownerIds },
        params.id,
      );
      commandResult(ctx, changed, { status: 202, extra: { id: changed.publicationId, status: changed.status } });
    },
  );

  return router;
}

import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import { maySeeReview, requireReviewer, type Actor } from '../../../application/review/policy.js';
import { approveReview, claimReview, rejectReview, releaseReview, type ReviewCall } from '../../../application/review/reviews.js';
import type { EventStore } from '../../../event-store/port.js';
import { REVIEWS_PROJECTION } from '../../../projections/reviews.js';
import { findReview, listReviews, REVIEW_STATUSES } from '../../../read-api/reviews.js';
import { MAX_REVIEW_COMMENT } from '../../../write-model/review/events.js';
import { policyActor } from '../access.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { HttpError } from '../http-error.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult } from '../revision.js';
import type { AppContext, AppState } from '../state.js';
import { hitSchema, hitView } from './review-rules.js';

/**
 * The human review queue (`/api/v1/reviews`): content the automatic
 * pre-review flagged waits here until a reviewer approves it (it is then
 * published) or rejects it (the publication fails, the author is told why).
 * Reviewers and admins list the queue, claim a review, and decide it; an
 * organization's reviewers decide the reviews of their organization's
 * content; an author lists and reads their own (`?mine=true`). Permissions:
 * src/application/review/policy.ts.
 */

export interface ReviewRouteDeps {
  store: EventStore;
  knex: Knex;
  /** REVIEW_CLAIM_TTL_MINUTES */
  claimTtlMinutes: number;
  now?: () => Date;
}

const summarySchema = z.object({
  id: z.string(),
  subject: z
    .enum(['publication', 'sms_batch'])
    .describe('what is reviewed: a publication, or an SMS batch (publication_id and article_id name the batch; the content body is the SMS text)'),
  publication_id: z.string(),
  article_id: z.string(),
  article_version: z.number().int(),
  owner_id: z.string(),
  platform: z.string(),
  region: z.string().nullable(),
  title: z.string(),
  status: z.enum(REVIEW_STATUSES).describe('open: waiting (claimed or not); approved; rejected; withdrawn: the publication was cancelled'),
  hit_count: z.number().int(),
  opened_at: z.string(),
  claimed_by: z.string().nullable().describe('the reviewer holding it; a claim older than REVIEW_CLAIM_TTL_MINUTES may be taken over'),
  claimed_at: z.string().nullable(),
  decided_by: z.string().nullable(),
  decided_at: z.string().nullable(),
  comment: z.string().nullable(),
  waited_seconds: z.number().int().describe('time in the queue: until the decision, or until now while open'),
});

const reviewSchema = summarySchema.extend({
  hits: z.array(hitSchema),
  content: z
    .object({ title: z.string(), summary: z.string().nullable(), body: z.string(), tags: z.array(z.string()) })
    .nullable()
    .describe('the content under review; hits point into it'),
});

const idParams = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'a review id is 1-100 letters, digits, _ and -') });
const stateSchema = z.object({
  id: z.string(),
  status: z.enum(REVIEW_STATUSES),
  claimed_by: z.string().nullable(),
  revision: z.string(),
  position: z.string().nullable(),
});

const actorOf = (ctx: AppContext): Actor => policyActor(ctx);

const REACH =
  'Platform reviewers and admins (platform.reviews.approve) reach any review; an organization’s reviewers, admins and owner (publishing.reviews.approve) ' +
  'the reviews of content in their data scope, and a review outside it is 404. Anyone else: 403 (details.reason role).';

const DECIDE =
  'Only the reviewer holding the claim decides (409, details.reason not_claimed or claimed); nobody decides their own content (403, details.reason own_content); ' +
  'a decided review answers 409 (details.status), the same decision by the same reviewer again changes nothing. ' +
  REACH;

export function reviewsRouter(api: HttpApi, deps: ReviewRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/reviews' });
  const { store, knex } = deps;
  const clock = () => deps.now?.() ?? new Date();
  const tags = ['review'];
  // the queue's commands need publishing.reviews.approve, decided before the input is looked at (403 first); which reviews: the application's
  const reviewers = api;
  const call = (ctx: AppContext): ReviewCall => {
    const actor = actorOf(ctx);
    return { store, actor, context: commandContext(ctx, actor.userId), now: clock(), claimTtlMinutes: deps.claimTtlMinutes };
  };
  const answer = (ctx: AppContext, result: Awaited<ReturnType<typeof claimReview>>) => {
    const state = result.state;
    if (state.status === 'none') throw new HttpError(404, 'NOT_FOUND', 'review not found');
    commandResult(ctx, result, { extra: { id: state.reviewId, status: state.status, claimed_by: state.claim?.reviewerId ?? null } });
  };

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/',
      summary: 'The review queue (reviewers), or my own reviews (?mine=true)',
      description:
        'Reviewers and admins: every review, oldest first (status defaults to open: the queue), with the time each has waited. ' +
        "Anyone with mine=true: the reviews of content in my data scope (my own; in an organization, my team's or everyone's as my roles grant), newest first, whatever their status unless filtered. " +
        'Without mine=true, a caller who is not a reviewer or admin gets 403 (details.reason reviewer_role).',
      tags,
      auth: true,
      permission: 'publishing.reviews.view',
      request: {
        query: paginationQuery
          .extend({
            status: z.enum(REVIEW_STATUSES).optional(),
            platform: z.string().min(1).max(40).optional(),
            mine: z.enum(['true', 'false']).optional().describe('true: only reviews of my own content'),
          })
          .extend(afterPositionQuery.shape),
      },
      responses: { 200: { description: 'a page of reviews', schema: pageSchema(summarySchema) } },
      errors: [403],
    },
    async ({ query }, ctx) => {
      const actor = actorOf(ctx);
      const mine = query.mine === 'true';
      if (!mine) requireReviewer(actor);
      await awaitPosition(ctx, knex, REVIEWS_PROJECTION);
      return listReviews(
        knex,
        mine ? { ownerIds: actor.ownerIds, status: query.status, platform: query.platform } : { status: query.status ?? 'open', platform: query.platform },
        query,
        clock(),
      );
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/:id',
      summary: 'One review, with the content and its hits',
      description: 'Platform reviewers and admins: any review; others: a review of content in their data scope (404 for any other).',
      tags,
      auth: true,
      permission: 'publishing.reviews.view',
      request: { params: idParams, query: afterPositionQuery },
      responses: { 200: { description: 'the review', schema: reviewSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      await awaitPosition(ctx, knex, REVIEWS_PROJECTION);
      const review = await findReview(knex, params.id, clock());
      if (!review || !maySeeReview(actorOf(ctx), review.owner_id)) throw new HttpError(404, 'NOT_FOUND', 'review not found');
      return { ...review, hits: review.hits.map(hitView) };
    },
  );

  defineRoute(
    router,
    reviewers,
    {
      method: 'post',
      path: '/:id/claim',
      summary: 'Claim a review',
      description:
        'Takes the review, so nobody else decides it while the claim holds (REVIEW_CLAIM_TTL_MINUTES; after that another reviewer may take it over). ' +
        'Held by someone else: 409 (details.reason claimed, details.claimedBy, claimedAt, expiresAt); held by me: no change. Nobody claims their own content ' +
        `(403, details.reason own_content). ${REACH}`,
      tags,
      auth: true,
      permission: 'publishing.reviews.approve',
      request: { params: idParams },
      responses: { 200: { description: 'claimed', schema: stateSchema } },
      errors: [403, 404, 409],
    },
    async ({ params }, ctx) => answer(ctx, await claimReview(call(ctx), params.id)),
  );

  defineRoute(
    router,
    reviewers,
    {
      method: 'post',
      path: '/:id/release',
      summary: 'Release a claimed review',
      description: `Gives it back to the queue; only the reviewer holding it releases it (409 otherwise). Not claimed: no change. ${REACH}`,
      tags,
      auth: true,
      permission: 'publishing.reviews.approve',
      request: { params: idParams },
      responses: { 200: { description: 'released', schema: stateSchema } },
      errors: [403, 404, 409],
    },
    async ({ params }, ctx) => answer(ctx, await releaseReview(call(ctx), params.id)),
  );

  defineRoute(
    router,
    reviewers,
    {
      method: 'post',
      path: '/:id/approve',
      summary: 'Approve a review',
      description: `The content is published (the publication goes on) and its author is told. ${DECIDE}`,
      tags,
      auth: true,
      permission: 'publishing.reviews.approve',
      request: { params: idParams, body: z.object({ comment: z.string().max(MAX_REVIEW_COMMENT).nullable().optional() }).strict() },
      responses: { 200: { description: 'approved', schema: stateSchema } },
      errors: [403, 404, 409],
    },
    async ({ params, body }, ctx) => answer(ctx, await approveReview(call(ctx), params.id, body.comment ?? null)),
  );

  defineRoute(
    router,
    reviewers,
    {
      method: 'post',
      path: '/:id/reject',
      summary: 'Reject a review',
      description: `The publication fails and its author is told why: the comment is required (422 without one). ${DECIDE}`,
      tags,
      auth: true,
      permission: 'publishing.reviews.approve',
      request: {
        params: idParams,
        body: z.object({ comment: z.string().trim().min(1, 'a rejection needs a comment: the author is told why').max(MAX_REVIEW_COMMENT) }).strict(),
      },
      responses: { 200: { description: 'rejected', schema: stateSchema } },
      errors: [403, 404, 409],
    },
    async ({ params, body }, ctx) => answer(ctx, await rejectReview(call(ctx), params.id, body.comment)),
  );

  return router;
}

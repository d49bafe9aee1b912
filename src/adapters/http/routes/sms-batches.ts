import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { MembershipDirectory } from '../../../application/ports/membership.js';
import { cancelSmsBatch, createSmsBatch } from '../../../application/sms/batches.js';
import { releaseSmsKeyword, reserveSmsKeyword } from '../../../application/sms/keywords.js';
import type { Config } from '../../../config.js';
import type { EventStore } from '../../../event-store/port.js';
import { SMS_PROJECTION } from '../../../projections/sms.js';
import { SMS_BATCHES_PROJECTION } from '../../../projections/sms-batches.js';
import { findSmsBatch, listSmsBatches, listSmsBatchMessages, listSmsKeywords } from '../../../read-api/sms-batches.js';
import { SMS_STATUSES } from '../../../read-api/sms.js';
import { MAX_BATCH_RECIPIENTS, MAX_SCHEDULE_AHEAD_DAYS, SMS_BATCH_STATUSES } from '../../../write-model/sms-batch/events.js';
import { DomainError } from '../../../write-model/core/domain-error.js';
import { MAX_SMS_TEXT, SMS_FAILURE_CODES } from '../../../write-model/sms-message/events.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { HttpError } from '../http-error.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult, ifMatchRevision } from '../revision.js';
import type { AppState } from '../state.js';
import { smsAccessOf } from './sms-access.js';

/**
 * SMS batches and inbound keywords (docs/sms.md): POST /api/v1/sms/batches
 * (the text reviewed first: automatic pre-review, then the human review
 * queue when flagged; sent once approved), their progress and messages,
 * cancelling one before it is sent; the keywords that route inbound SMS to
 * the organization. Without the provider configured every route answers 503.
 */

export interface SmsBatchRouteDeps {
  store: EventStore;
  knex: Knex;
  /** why SMS is not offered; null: it is */
  unavailableReason: string | null;
  membership?: MembershipDirectory | null;
  config: Pick<Config, 'SMS_DEFAULT_REGION'>;
  now?: () => Date;
}

const smsText = z
  .string()
  .max(MAX_SMS_TEXT)
  .refine((t) => t.trim() !== '', 'text must not be blank')
  .refine((t) => !t.includes('\u0000'), 'text must not contain NUL characters');

const createBody = z
  .object({
    text: smsText.describe(`1-${MAX_SMS_TEXT} characters, the same to every recipient; reviewed before anything is sent`),
    sender_id: z.string().min(1).max(16).describe('alphanumeric (1-11 of A-Z, a-z, 0-9 and inner spaces, with a letter: ACME) or a number of 3-15 digits'),
    recipients: z
      .array(z.string().max(40))
      .min(1)
      .max(MAX_BATCH_RECIPIENTS)
      .describe(
        `1-${MAX_BATCH_RECIPIENTS} numbers, E.164 or national numbers of SMS_DEFAULT_REGION; stored in E.164, duplicates removed. Invalid ones: 422 listing each under body.recipients.{index}, unless skip_invalid`,
      ),
    skip_invalid: z.boolean().optional().describe('leave invalid numbers out (counted in invalid_skipped) instead of refusing the batch'),
    scheduled_at: z.iso
      .datetime({ offset: true })
      .optional()
      .describe(`when to send (ISO-8601 with a zone), in the future and at most ${MAX_SCHEDULE_AHEAD_DAYS} days ahead; absent: as soon as approved`),
  })
  .strict();

const progressSchema = z.object({
  requested: z.number().int().describe('messages requested so far'),
  queued: z.number().int().describe('waiting to be sent (paced by the organization limit, or retried)'),
  sent: z.number().int(),
  delivered: z.number().int(),
  undelivered: z.number().int(),
  failed: z.number().int(),
});

const batchSchema = z.object({
  id: z.string(),
  owner_id: z.string(),
  organization_id: z.string().nullable(),
  status: z
    .enum([...SMS_BATCH_STATUSES, 'completed'])
    .describe(
      'pending_review: the automatic pre-review runs; in_review: flagged, waiting for a reviewer (/reviews); approved: waiting for scheduled_at; sending; completed: every message has its outcome; rejected; cancelled',
    ),
  text: z.string(),
  sender_id: z.string(),
  encoding: z.enum(['GSM-7', 'UCS-2']),
  segments: z.number().int().describe('per message'),
  recipient_count: z.number().int(),
  invalid_skipped: z.number().int(),
  duplicates_removed: z.number().int(),
  scheduled_at: z.string().nullable(),
  review: z.object({
    id: z.string().nullable().describe('the human review (GET /reviews/{id}) when the pre-review flagged it'),
    hit_count: z.number().int().nullable(),
    reviewer_id: z.string().nullable(),
    comment: z.string().nullable().describe("the reviewer's comment (why, when rejected)"),
    decided_at: z.string().nullable(),
  }),
  progress: progressSchema,
  created_at: z.string(),
  started_at: z.string().nullable(),
  cancelled_at: z.string().nullable(),
});

const messageSchema = z.object({
  id: z.string(),
  status: z.enum(SMS_STATUSES),
  to: z.string(),
  country: z.string(),
  calling_code: z.string(),
  text: z.string(),
  encoding: z.enum(['GSM-7', 'UCS-2']),
  segments: z.number().int(),
  unit_price_fen: z.number().int(),
  price_fen: z.number().int(),
  provider_message_id: z.string().nullable(),
  sender_number: z.string().nullable(),
  undelivered: z.object({ error_code: z.string(), reason: z.string() }).nullable(),
  failure: z.object({ code: z.enum(SMS_FAILURE_CODES), reason: z.string() }).nullable(),
  requested_at: z.string(),
  sent_at: z.string().nullable(),
  done_at: z.string().nullable(),
  finished_at: z.string().nullable(),
});

const keywordSchema = z.object({
  keyword: z.string(),
  owner_id: z.string().describe('who reserved it'),
  organization_id: z.string().nullable(),
  reserved_at: z.string(),
});

const batchParams = z.object({ id: z.uuid('a batch id is a UUID') });
const keywordParams = z.object({ keyword: z.string().min(1).max(40) });

export function smsBatchesRouter(api: HttpApi, deps: SmsBatchRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/sms' });
  const { store, knex } = deps;
  const now = () => deps.now?.() ?? new Date();
  const unavailable = `${deps.unavailableReason ?? ''}; SMS is not offered here`;
  const requireSms = () => {
    if (deps.unavailableReason !== null) throw new HttpError(503, 'SERVICE_UNAVAILABLE', unavailable, { reason: 'sms_not_configured' });
  };

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/batches',
      summary: 'Send one SMS to many numbers, after review',
      description:
        'Creates a batch (SmsBatchCreated, the numbers in chunks) and submits its text to the content review: the automatic pre-review ' +
        "(the platform's and my organization's rule sets, platform `sms`) passes it, or flags it into the human review queue (/reviews, " +
        'subject sms_batch) where a reviewer approves or rejects it (rejected: the comment says why, and I am notified). Once approved and ' +
        'due, one SMS per number is requested and sent (charged to the balance per segment where the ledger is on; paced by ' +
        'SMS_SENDS_PER_ORGANIZATION_PER_MINUTE, delayed, never refused). Follow it at GET /sms/batches/{id}. Invalid numbers: 422 listing each ' +
        'under body.recipients.{index} (the first 100), nothing written, unless skip_invalid.',
      tags: ['sms'],
      auth: true,
      permission: 'messaging.sms-batches.create',
      request: { body: createBody },
      responses: {
        202: {
          description: 'created and submitted to review',
          schema: z.object({
            batch_id: z.string(),
            status: z.literal('pending_review'),
            recipient_count: z.number().int(),
            invalid_skipped: z.number().int(),
            duplicates_removed: z.number().int(),
            revision: z.string(),
            position: z.string().nullable(),
          }),
        },
      },
    },
    async ({ body }, ctx) => {
      requireSms();
      const user = currentUser(ctx);
      const created = await createSmsBatch(
        { store, now, defaultRegion: deps.config.SMS_DEFAULT_REGION, membership: deps.membership ?? null },
        { userId: user.id, context: commandContext(ctx, user.id) },
        {
          text: body.text,
          senderId: body.sender_id,
          recipients: body.recipients,
          skipInvalid: body.skip_invalid === true,
          scheduledAt: body.scheduled_at ?? null,
        },
      );
      ctx.set('Location', `/api/v1/sms/batches/${created.batchId}`);
      commandResult(ctx, created, {
        status: 202,
        extra: {
          batch_id: created.batchId,
          status: 'pending_review',
          recipient_count: created.recipientCount,
          invalid_skipped: created.invalidSkipped,
          duplicates_removed: created.duplicatesRemoved,
        },
      });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/batches',
      summary: 'SMS batches',
      description: 'The batches of the members my role lets me see (mine at least), newest first, with their progress (read model sms-batches-v1).',
      tags: ['sms'],
      auth: true,
      permission: 'messaging.sms-batches.view',
      request: {
        query: paginationQuery
          .extend({
            status: z
              .enum([...SMS_BATCH_STATUSES, 'completed'])
              .optional()
              .describe('as each batch shows it: sending excludes completed'),
          })
          .extend(afterPositionQuery.shape),
      },
      responses: { 200: { description: 'a page of batches', schema: pageSchema(batchSchema) } },
    },
    async ({ query }, ctx) => {
      requireSms();
      const user = currentUser(ctx);
      await awaitPosition(ctx, knex, SMS_BATCHES_PROJECTION);
      const { ownerIds } = await smsAccessOf(ctx, user.id, deps.membership);
      return listSmsBatches(knex, ownerIds, { status: query.status }, query);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/batches/:id',
      summary: 'One SMS batch',
      description: 'Its status, review outcome and progress: messages requested, queued, sent, delivered, undelivered, failed. One I may not see: 404.',
      tags: ['sms'],
      auth: true,
      permission: 'messaging.sms-batches.view',
      request: { params: batchParams, query: afterPositionQuery },
      responses: { 200: { description: 'the batch', schema: batchSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      requireSms();
      const user = currentUser(ctx);
      await awaitPosition(ctx, knex, SMS_BATCHES_PROJECTION);
      const { ownerIds } = await smsAccessOf(ctx, user.id, deps.membership);
      const found = await findSmsBatch(knex, ownerIds, params.id);
      if (!found) throw new HttpError(404, 'NOT_FOUND', 'sms batch not found');
      return found;
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/batches/:id/messages',
      summary: "An SMS batch's messages",
      description: "One SMS per recipient once sending started, by number, with each one's status (read model sms-v1). A batch I may not see: 404.",
      tags: ['sms'],
      auth: true,
      permission: 'messaging.sms-batches.view',
      request: { params: batchParams, query: paginationQuery.extend({ status: z.enum(SMS_STATUSES).optional() }).extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of messages', schema: pageSchema(messageSchema) } },
      errors: [404],
    },
    async ({ params, query }, ctx) => {
      requireSms();
      const user = currentUser(ctx);
      await awaitPosition(ctx, knex, SMS_PROJECTION);
      const { ownerIds } = await smsAccessOf(ctx, user.id, deps.membership);
      if (!(await findSmsBatch(knex, ownerIds, params.id))) throw new HttpError(404, 'NOT_FOUND', 'sms batch not found');
      return listSmsBatchMessages(knex, params.id, { status: query.status }, query);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/batches/:id/cancel',
      summary: 'Cancel an SMS batch before it is sent',
      description:
        'While in review, or approved and waiting for its time: SmsBatchCancelled (its open review withdrawn); cancelled already: the same ' +
        'answer. Sending, completed (every message has its outcome) or rejected: 409 CONFLICT (details.reason the status as the batch shows it). ' +
        'A batch I may not see: 404.',
      tags: ['sms'],
      auth: true,
      permission: 'messaging.sms-batches.edit',
      request: { params: batchParams },
      responses: {
        200: {
          description: 'cancelled',
          schema: z.object({ batch_id: z.string(), status: z.literal('cancelled'), revision: z.string(), position: z.string().nullable() }),
        },
      },
      errors: [404, 409],
    },
    async ({ params }, ctx) => {
      requireSms();
      const user = currentUser(ctx);
      const { ownerIds } = await smsAccessOf(ctx, user.id, deps.membership);
      let result: Awaited<ReturnType<typeof cancelSmsBatch>>;
      try {
        result = await cancelSmsBatch({ store, now }, { userId: user.id, ownerIds, context: commandContext(ctx, user.id) }, params.id);
      } catch (error) {
        // the batch's stream ends at `sending`: whether every message has its outcome (`completed`) only the read model knows
        if (error instanceof DomainError && error.code === 'CONFLICT' && error.details.reason === 'sending') {
          const shown = await findSmsBatch(knex, ownerIds, params.id);
          if (shown?.status === 'completed')
            throw new DomainError('CONFLICT', `sms batch ${params.id} is completed: cannot cancel it`, {
              ...error.details,
              reason: 'completed',
              status: 'completed',
            });
        }
        throw error;
      }
      commandResult(ctx, result, { extra: { batch_id: params.id, status: 'cancelled' } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/keywords',
      summary: 'Reserve an inbound keyword',
      description:
        'An inbound SMS whose first word is this keyword (any case) goes to my organization (or to me outside one): GET /sms/inbound. ' +
        '2-20 letters or digits, unique on the platform: held by someone else, 409 CONFLICT (details.reason keyword_taken); held by us ' +
        'already, the same answer (201 only when it was reserved now).',
      tags: ['sms'],
      auth: true,
      permission: 'messaging.sms.create',
      request: { body: z.object({ keyword: z.string().trim().min(2).max(20).describe('2-20 letters or digits, stored upper-case (NFKC)') }).strict() },
      responses: {
        201: { description: 'reserved now', schema: z.object({ keyword: z.string(), revision: z.string(), position: z.string().nullable() }) },
        200: { description: 'ours already', schema: z.object({ keyword: z.string(), revision: z.string(), position: z.string().nullable() }) },
      },
      errors: [409],
    },
    async ({ body }, ctx) => {
      requireSms();
      const user = currentUser(ctx);
      const { memberOf } = await smsAccessOf(ctx, user.id, deps.membership);
      const reserved = await reserveSmsKeyword(
        { store, now },
        { userId: user.id, organizationId: memberOf, context: commandContext(ctx, user.id) },
        body.keyword,
      );
      commandResult(ctx, reserved, { status: reserved.created ? 201 : 200, extra: { keyword: reserved.keyword } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/keywords',
      summary: 'Our inbound keywords',
      description: 'The keywords my organization holds (or I, outside one), alphabetically (read model sms-batches-v1).',
      tags: ['sms'],
      auth: true,
      permission: 'messaging.sms.view',
      request: { query: paginationQuery.extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of keywords', schema: pageSchema(keywordSchema) } },
    },
    async ({ query }, ctx) => {
      requireSms();
      const user = currentUser(ctx);
      await awaitPosition(ctx, knex, SMS_BATCHES_PROJECTION);
      const { memberOf } = await smsAccessOf(ctx, user.id, deps.membership);
      return listSmsKeywords(knex, { userId: user.id, organizationId: memberOf }, query);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'delete',
      path: '/keywords/:keyword',
      summary: 'Release an inbound keyword',
      description:
        'Gives the keyword back (anyone may reserve it then). One we do not hold: 404 (a repeat too). If-Match: the revision its reservation answered; a stale one is 412.',
      tags: ['sms'],
      auth: true,
      permission: 'messaging.sms.delete',
      ifMatch: true,
      request: { params: keywordParams },
      responses: { 200: { description: 'released', schema: z.object({ keyword: z.string(), revision: z.string(), position: z.string().nullable() }) } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      requireSms();
      const user = currentUser(ctx);
      const expected = ifMatchRevision(ctx);
      const { memberOf } = await smsAccessOf(ctx, user.id, deps.membership);
      const result = await releaseSmsKeyword(
        { store, now },
        { userId: user.id, organizationId: memberOf, context: commandContext(ctx, user.id) },
        params.keyword,
        expected,
      );
      const keyword = result.events[0]?.data.keyword ?? params.keyword;
      commandResult(ctx, result, { extra: { keyword } });
    },
  );

  return router;
}

import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import { requestMessageSend } from '../../../application/outgoing-messages.js';
import type { EventStore } from '../../../event-store/port.js';
import { OUTGOING_MESSAGES_PROJECTION } from '../../../projections/outgoing-messages.js';
import { findOutgoingMessage, listOutgoingMessages, OUTGOING_STATUSES } from '../../../read-api/outgoing-messages.js';
import { textProblem } from '../../../write-model/outgoing-message/decider.js';
import { MAX_MESSAGE_TEXT, SEND_FAILURE_CODES } from '../../../write-model/outgoing-message/events.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { HttpError } from '../http-error.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult } from '../revision.js';
import type { AppState } from '../state.js';

/**
 * Sending private messages through the caller's connected Xiaohongshu
 * account: `POST /api/v1/xiaohongshu/messages` (asynchronous: 202 with the
 * message id) and the outgoing messages' status,
 * `GET /api/v1/xiaohongshu/messages/outgoing[/{id}]` (read model
 * `xiaohongshu-outgoing-messages-v1`). The collected messages stay
 * `GET /xiaohongshu/messages` (xiaohongshu.ts): a sent message joins them
 * when a `xiaohongshu.messages` collection sees it on the platform.
 */

export interface XiaohongshuMessageRouteDeps {
  store: EventStore;
  knex: Knex;
  now?: () => Date;
}

const CONVERSATION_ID = /^[A-Za-z0-9_.-]{1,200}$/;
const PEER_ID = /^[0-9a-f]{24}$/;

const sendBody = z
  .object({
    platform_account_id: z.string().trim().min(1).max(100).describe('my Xiaohongshu account the message is sent from (active: verified)'),
    conversation_id: z
      .string()
      .regex(CONVERSATION_ID, 'a conversation id is 1-200 letters, digits, _ . -')
      .optional()
      .describe("the platform's conversation id (as GET /xiaohongshu/conversations shows it)"),
    peer_id: z
      .string()
      .regex(PEER_ID, 'a peer id is the Xiaohongshu user id, 24 hex characters')
      .optional()
      .describe("the recipient's platform user id: the conversation with them (started when there is none)"),
    text: z
      .string()
      // the decider's own rules, so the API refuses (422 under body.text) exactly what it would
      .superRefine((t, ctx) => {
        const problem = textProblem(t);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .describe(`the message, 1-${MAX_MESSAGE_TEXT} characters (code points: an emoji is one), not blank, no NUL, sent as written`),
  })
  .strict()
  .superRefine((body, ctx) => {
    if ((body.conversation_id === undefined) === (body.peer_id === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['conversation_id'], message: 'give exactly one of conversation_id and peer_id' });
    }
  });

const outgoingSchema = z.object({
  id: z.string().describe('the message id (GET /xiaohongshu/messages/outgoing/{id})'),
  status: z.enum(OUTGOING_STATUSES).describe('pending: queued or being sent; sent: the platform has it; failed: it will not be sent'),
  platform_account_id: z.string(),
  conversation_id: z.string().nullable().describe('as asked; once sent, the conversation it went to'),
  peer_id: z.string().nullable(),
  text: z.string(),
  platform_message_id: z.string().nullable().describe("the platform's message id once sent"),
  recovered: z.boolean().describe('true when a retry found it already on the platform (sent once, recorded late)'),
  failure: z.object({ code: z.enum(SEND_FAILURE_CODES), reason: z.string() }).nullable(),
  requested_at: z.string(),
  sent_at: z.string().nullable().describe('as the platform says'),
  finished_at: z.string().nullable().describe('when it was recorded sent or failed'),
});

const idParams = z.object({ id: z.uuid('a message id is a UUID') });

export function xiaohongshuMessagesRouter(api: HttpApi, deps: XiaohongshuMessageRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/xiaohongshu' });
  const { store, knex } = deps;
  const clock = () => deps.now?.() ?? new Date();

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/messages',
      summary: 'Send a private message through my Xiaohongshu account',
      description:
        'Asynchronous: answered 202 with the message id once the request is recorded (MessageSendRequested); the worker sends it through ' +
        'the account and a leased proxy, paced per account (MESSAGES_PER_ACCOUNT_PER_MINUTE / _PER_HOUR: a burst waits its turn), retried ' +
        'on transient errors and never sent twice. Follow it with GET /xiaohongshu/messages/outgoing/{id} (status pending → sent or failed; ' +
        "pass the answer's position as `?after_position=`). Exactly one of conversation_id (an existing conversation) and peer_id " +
        "(the recipient's user id; the conversation is found or started). Needs the plan feature private_messaging (403 " +
        'PERMISSION_DENIED, details.feature); the account must be mine (404 otherwise), of Xiaohongshu (422 under platform_account_id) and ' +
        'active (409, details.reason account_not_active). A login wall on the platform invalidates the account and fails the message ' +
        '(account_invalid); the platform refusing it fails it at once (peer_not_found, conversation_not_found, rejected).',
      tags: ['xiaohongshu'],
      auth: true,
      permission: 'collection.messages.create',
      request: { body: sendBody },
      responses: {
        202: {
          description: 'requested',
          schema: z.object({ message_id: z.string(), status: z.literal('pending'), revision: z.string(), position: z.string().nullable() }),
        },
      },
      errors: [403, 404, 409],
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      const requested = await requestMessageSend(
        { store, now: clock },
        { userId: user.id, context: commandContext(ctx, user.id) },
        { platformAccountId: body.platform_account_id, conversationId: body.conversation_id ?? null, peerId: body.peer_id ?? null, text: body.text },
      );
      ctx.set('Location', `/api/v1/xiaohongshu/messages/outgoing/${requested.messageId}`);
      commandResult(ctx, requested, { status: 202, extra: { message_id: requested.messageId, status: 'pending' } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/messages/outgoing',
      summary: 'My outgoing private messages',
      description: 'The messages I asked to send (POST /xiaohongshu/messages), the newest request first, with their status. Filters combine with AND.',
      tags: ['xiaohongshu'],
      auth: true,
      permission: 'collection.messages.view',
      request: {
        query: paginationQuery
          .extend({
            status: z.enum(OUTGOING_STATUSES).optional(),
            platform_account_id: z.string().min(1).max(100).optional(),
            conversation_id: z.string().min(1).max(200).optional().describe('as asked, or the conversation it went to'),
          })
          .extend(afterPositionQuery.shape),
      },
      responses: { 200: { description: 'a page of outgoing messages', schema: pageSchema(outgoingSchema) } },
    },
    async ({ query }, ctx) => {
      const user = currentUser(ctx);
      await awaitPosition(ctx, knex, OUTGOING_MESSAGES_PROJECTION);
      return listOutgoingMessages(
        knex,
        user.id,
        { status: query.status, platform_account_id: query.platform_account_id, conversation_id: query.conversation_id },
        query,
      );
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/messages/outgoing/:id',
      summary: 'One of my outgoing private messages',
      description:
        "Its status: pending (queued, waiting for the account's pace, or being sent), sent (with the platform's message id) or failed (with the reason).",
      tags: ['xiaohongshu'],
      auth: true,
      permission: 'collection.messages.view',
      request: { params: idParams, query: afterPositionQuery },
      responses: { 200: { description: 'the message', schema: outgoingSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      const user = currentUser(ctx);
      await awaitPosition(ctx, knex, OUTGOING_MESSAGES_PROJECTION);
      const found = await findOutgoingMessage(knex, user.id, params.id);
      if (!found) throw new HttpError(404, 'NOT_FOUND', 'message not found');
      return found;
    },
  );

  return router;
}

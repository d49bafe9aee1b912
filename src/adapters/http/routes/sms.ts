import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import { receiveInboundSms, recordSmsReceipt, requestSms, SmsRateLimitedError, type SmsSendLimits } from '../../../application/sms.js';
import type { LedgerCharges } from '../../../application/ports/ledger.js';
import type { Turns } from '../../../application/ports/turns.js';
import type { MembershipDirectory } from '../../../application/ports/membership.js';
import { SmsInsufficientBalanceError } from '../../../application/sms/charges.js';
import { organizationOf } from '../../../application/sms/org-key.js';
import { keywordOwner } from '../../../read-api/sms-batches.js';
import { smsAccessOf } from './sms-access.js';
import type { Config } from '../../../config.js';
import type { EventStore } from '../../../event-store/port.js';
import { SMS_PROJECTION } from '../../../projections/sms.js';
import { findSmsMessage, listInboundSms, listSmsMessages, replyTarget, SMS_STATUSES } from '../../../read-api/sms.js';
import { DomainError } from '../../../write-model/core/domain-error.js';
import { MAX_SMS_TEXT, SMS_FAILURE_CODES } from '../../../write-model/sms-message/events.js';
import { SMS_PRICES_FEN } from '../../../write-model/sms-message/prices.js';
import { RawBodyTooLargeError, readRawBody } from '../../payments/raw-body.js';
import { decimalToMicros } from '../../sms/client.js';
import { SMS_CALLBACK_PATHS, smsInboundSchema, smsReceiptCallbackSchema, type SmsReceipt } from '../../sms/callbacks.js';
import type { SmsChannel } from '../../sms/from-config.js';
import type { NonceCache } from '../../sms/nonce-cache.js';
import { verifySmsProviderSignature } from '../../sms/signature.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { HttpError } from '../http-error.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult } from '../revision.js';
import type { AppContext, AppState } from '../state.js';

/**
 * SMS through the provider (docs/sms.md): `POST /api/v1/sms/messages`
 * (asynchronous: 202), my messages and the inbound messages routed to me,
 * and the provider's signed callbacks (receipts, inbound messages), read raw
 * (RAW_BODY_PATH_PREFIXES) and verified before anything is believed.
 * Without the provider configured every route answers 503
 * SERVICE_UNAVAILABLE (details.reason sms_not_configured).
 */

export interface SmsRouteDeps {
  store: EventStore;
  knex: Knex;
  /** the provider; null where it is not configured */
  channel: SmsChannel | null;
  /** why SMS is not offered (when channel is null) */
  unavailableReason: string | null;
  /** SMS_SENDS_PER_USER_PER_MINUTE, per user */
  limits: SmsSendLimits;
  /** SMS_SENDS_PER_ORGANIZATION_PER_MINUTE, per organization (a user outside one: their own) */
  organizationLimits?: SmsSendLimits | null;
  /** each SMS charged to the prepaid balance; null: not wired, or SMS_CHARGE_LEDGER=false */
  ledger?: LedgerCharges | null;
  /** the single sends' charge turns, shared with pm-sms-messages (Redis) */
  chargeTurns?: Turns | null;
  /** the user's organization; null: organizations not wired */
  membership?: MembershipDirectory | null;
  /** the callbacks' replay guard */
  nonces: NonceCache;
  config: Pick<Config, 'SMS_DEFAULT_REGION' | 'HTTP_BODY_LIMIT_BYTES' | 'SMS_SENDS_PER_USER_PER_MINUTE'>;
  now?: () => Date;
}

const sendBody = z
  .object({
    to: z.string().min(1).max(40).describe('the recipient: E.164 (+8613800138000), or a national number of SMS_DEFAULT_REGION (13800138000); stored in E.164'),
    text: z
      .string()
      .max(MAX_SMS_TEXT)
      .refine((t) => t.trim() !== '', 'text must not be blank')
      .refine((t) => !t.includes('\u0000'), 'text must not contain NUL characters')
      .describe(`1-${MAX_SMS_TEXT} characters; GSM-7 text takes 160 per segment (153 once split), anything else (Chinese) 70 (67)`),
  })
  .strict();

const smsSchema = z.object({
  id: z.string(),
  status: z.enum(SMS_STATUSES).describe('pending: queued or being sent; sent: the provider has it; delivered / undelivered: its receipt; failed: never sent'),
  to: z.string().describe('E.164'),
  country: z.string().describe('ISO 3166-1 alpha-2'),
  calling_code: z.string(),
  text: z.string(),
  encoding: z.enum(['GSM-7', 'UCS-2']),
  segments: z.number().int(),
  unit_price_fen: z.number().int().describe("the catalogue's price per segment for the country"),
  price_fen: z.number().int().describe('segments × unit_price_fen, fixed when requested'),
  provider_message_id: z.string().nullable(),
  sender_number: z.string().nullable().describe('the number the provider sent from (replies come to it)'),
  undelivered: z.object({ error_code: z.string(), reason: z.string() }).nullable().describe("the receipt's error when undelivered"),
  failure: z.object({ code: z.enum(SMS_FAILURE_CODES), reason: z.string() }).nullable(),
  requested_at: z.string(),
  sent_at: z.string().nullable(),
  done_at: z.string().nullable().describe('when the provider says it was delivered or given up'),
  finished_at: z.string().nullable().describe('when its outcome was recorded'),
});

const inboundSchema = z.object({
  id: z.string().describe("the provider's message id"),
  from: z.string().describe('the sender, E.164'),
  to: z.string().describe('our number it came to'),
  text: z.string(),
  route: z
    .enum(['keyword', 'reply'])
    .describe('keyword: its first word is a keyword we hold; reply: it came from a number we sent to, to the number the message went from'),
  reply_to: z.string().nullable().describe('the message it answers (reply)'),
  keyword: z.string().nullable().describe('the keyword it was routed by (keyword)'),
  received_at: z.string(),
});

const callbackAnswer = z.object({
  received: z.literal(true),
  recorded: z.boolean().describe('one receipt: false when known already (a repeat), nothing new; a batch: true when any of them recorded something'),
  results: z
    .array(
      z.object({
        client_ref: z.string(),
        recorded: z.boolean(),
        error: z
          .object({ code: z.string(), message: z.string() })
          .optional()
          .describe('NOT_FOUND (no such message of ours) or CONFLICT (another provider message than the one recorded): this receipt is not retried'),
      }),
    )
    .optional()
    .describe('a batch of receipts: one result per receipt, in order'),
});
const callbackRefusal = z.object({ code: z.string(), message: z.string() });
const callbackResponses = {
  200: { description: 'handled (a repeat included)', schema: callbackAnswer },
  400: { description: 'MALFORMED: not a receipt / inbound message we can read (the provider retries)', schema: callbackRefusal },
  401: { description: 'BAD_SIGNATURE (unsigned, forged, altered or stale) or REPLAYED (a nonce seen before)', schema: callbackRefusal },
  404: { description: 'NOT_FOUND: no such message of ours', schema: callbackRefusal },
  409: { description: 'CONFLICT: the receipt names another provider message than the one recorded', schema: callbackRefusal },
  413: { description: 'PAYLOAD_TOO_LARGE', schema: callbackRefusal },
  500: { description: 'not handled (an internal error): the provider retries', schema: callbackRefusal },
  503: { description: 'SMS_NOT_CONFIGURED: this platform has no SMS provider', schema: callbackRefusal },
};

/** A lone surrogate (either half), which Postgres' jsonb refuses. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The path of the first string (or key) in a parsed JSON value holding NUL or a lone surrogate; null when none does. Iterative: any depth. */
function unstorableText(root: unknown): string | null {
  const bad = (t: string) => t.includes('\u0000') || LONE_SURROGATE.test(t);
  const pending: [unknown, string][] = [[root, '']];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [value, path] = next;
    if (typeof value === 'string') {
      if (bad(value)) return path;
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        const at = path ? `${path}.${key}` : key;
        if (bad(key)) return at;
        pending.push([item, at]);
      }
    }
  }
  return null;
}

/** Why a callback was refused, for the log and the provider. */
class Refused extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function smsRouter(api: HttpApi, deps: SmsRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/sms' });
  const { store, knex, config } = deps;
  const now = () => deps.now?.() ?? new Date();
  const unavailable = `${deps.unavailableReason ?? 'SMS is not configured on this platform'}; SMS is not offered here`;

  function requireSms(): SmsChannel {
    if (!deps.channel) throw new HttpError(503, 'SERVICE_UNAVAILABLE', unavailable, { reason: 'sms_not_configured' });
    return deps.channel;
  }

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/messages',
      summary: 'Send an SMS',
      description:
        'Asynchronous: answered 202 once the request is recorded (SmsRequested) with the number in E.164, its country, the segments (GSM-7 or UCS-2) ' +
        `and the price in fen (segments × the country's price per segment: ${Object.entries(SMS_PRICES_FEN)
          .map(([c, p]) => `${c} ${p}`)
          .join(', ')}). The worker sends it through the provider (retried on transient errors, never twice: the provider's idempotency ` +
        "key is the message id); the provider's signed receipt then records delivered or undelivered. Follow it with GET /sms/messages/{id} " +
        "(pass the answer's position as `?after_position=`). An invalid number, one that cannot take an SMS (a landline) or of a country " +
        'not served: 422 under body.to (details.reason country_not_served for the last). More than SMS_SENDS_PER_USER_PER_MINUTE sends a ' +
        'minute, or more than SMS_SENDS_PER_ORGANIZATION_PER_MINUTE accepted for the whole organization: 429 RATE_LIMITED with Retry-After. Where the ' +
        "prepaid ledger is on, the price is charged to the organization's (or my) balance once the request is recorded: a balance that cannot " +
        'pay is 409 CONFLICT (details.reason insufficient_balance), the message recorded failed (insufficient_balance) and never sent. Without a configured provider: 503 SERVICE_UNAVAILABLE (details.reason sms_not_configured).',
      tags: ['sms'],
      auth: true,
      permission: 'messaging.sms.create',
      request: { body: sendBody },
      responses: {
        202: {
          description: 'requested',
          schema: z.object({
            message_id: z.string(),
            status: z.literal('pending'),
            to: z.string(),
            country: z.string(),
            encoding: z.enum(['GSM-7', 'UCS-2']),
            segments: z.number().int(),
            price_fen: z.number().int(),
            revision: z.string(),
            position: z.string().nullable(),
          }),
        },
      },
      errors: [409, 429],
    },
    async ({ body }, ctx) => {
      requireSms();
      const user = currentUser(ctx);
      try {
        const requested = await requestSms(
          {
            store,
            now,
            limits: deps.limits,
            defaultRegion: config.SMS_DEFAULT_REGION,
            organizationLimits: deps.organizationLimits ?? null,
            ledger: deps.ledger ?? null,
            chargeTurns: deps.chargeTurns ?? null,
            onChargeError: (error) => ctx.state.logger.warn({ err: error }, 'sms charge failed: left to pm-sms-messages'),
          },
          { userId: user.id, context: commandContext(ctx, user.id), organizationId: await organizationOf(deps.membership, user.id) },
          { to: body.to, text: body.text },
        );
        ctx.set('Location', `/api/v1/sms/messages/${requested.messageId}`);
        commandResult(ctx, requested, {
          status: 202,
          extra: {
            message_id: requested.messageId,
            status: 'pending',
            to: requested.to,
            country: requested.country,
            encoding: requested.encoding,
            segments: requested.segments,
            price_fen: requested.priceFen,
          },
        });
      } catch (error) {
        if (error instanceof SmsRateLimitedError) {
          ctx.set('Retry-After', String(error.retryAfterSeconds));
          throw new HttpError(429, 'RATE_LIMITED', error.message, {
            limit: error.limit,
            per: error.per,
            window_seconds: 60,
            retry_after_seconds: error.retryAfterSeconds,
          });
        }
        if (error instanceof SmsInsufficientBalanceError)
          throw new HttpError(409, 'CONFLICT', error.message, {
            reason: 'insufficient_balance',
            amount_cents: error.amountCents,
            available_cents: error.availableCents,
          });
        throw error;
      }
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/messages',
      summary: 'My SMS',
      description: 'The SMS I asked to send, the newest first, with their status, segments and price (read model sms-v1).',
      tags: ['sms'],
      auth: true,
      permission: 'messaging.sms.view',
      request: { query: paginationQuery.extend({ status: z.enum(SMS_STATUSES).optional() }).extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of SMS', schema: pageSchema(smsSchema) } },
    },
    async ({ query }, ctx) => {
      requireSms();
      const user = currentUser(ctx);
      await awaitPosition(ctx, knex, SMS_PROJECTION);
      return listSmsMessages(knex, user.id, { status: query.status }, query);
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/messages/:id',
      summary: 'One of my SMS',
      description:
        "Its status: pending, sent (the provider's id and sender number), delivered or undelivered (the receipt's error), or failed. Another user's is 404.",
      tags: ['sms'],
      auth: true,
      permission: 'messaging.sms.view',
      request: { params: z.object({ id: z.uuid('a message id is a UUID') }), query: afterPositionQuery },
      responses: { 200: { description: 'the SMS', schema: smsSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      requireSms();
      const user = currentUser(ctx);
      await awaitPosition(ctx, knex, SMS_PROJECTION);
      const found = await findSmsMessage(knex, user.id, params.id);
      if (!found) throw new HttpError(404, 'NOT_FOUND', 'sms not found');
      return found;
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/inbound',
      summary: 'Inbound SMS routed to me (and my organization)',
      description:
        'Messages the provider received on our numbers and routed to me, the members my role lets me see, or my organization: by a keyword ' +
        'its first word is (POST /sms/keywords), else as a reply — from a number one of us sent to, to the number the message went from (the ' +
        'newest such message of the last 30 days decides). Newest first. Messages matching neither stay unrouted and are nobody’s.',
      tags: ['sms'],
      auth: true,
      permission: 'messaging.sms.view',
      request: { query: paginationQuery.extend(afterPositionQuery.shape) },
      responses: { 200: { description: 'a page of inbound SMS', schema: pageSchema(inboundSchema) } },
    },
    async ({ query }, ctx) => {
      requireSms();
      const user = currentUser(ctx);
      await awaitPosition(ctx, knex, SMS_PROJECTION);
      const access = await smsAccessOf(ctx, user.id, deps.membership);
      return listInboundSms(knex, access, query);
    },
  );

  /** Reads and verifies a callback; the JSON it carries. */
  async function verified(ctx: AppContext): Promise<unknown> {
    const channel = deps.channel;
    if (!channel) throw new Refused(503, 'SMS_NOT_CONFIGURED', unavailable);
    let body: string;
    try {
      body = await readRawBody(ctx.req, config.HTTP_BODY_LIMIT_BYTES);
    } catch (error) {
      if (error instanceof RawBodyTooLargeError) throw new Refused(413, 'PAYLOAD_TOO_LARGE', error.message);
      throw error;
    }
    // the provider signs the path of the URL it posts to (behind a proxy: with SMS_CALLBACK_BASE_URL's prefix)
    const check = verifySmsProviderSignature({
      method: ctx.method,
      path: `${channel.callbackPathPrefix}${ctx.path}`,
      headers: ctx.headers,
      body,
      publicKeyPem: channel.providerPublicKeyPem,
      now: now(),
    });
    if (!check.ok) throw new Refused(401, 'BAD_SIGNATURE', check.reason);
    if (!(await deps.nonces.claim(check.nonce))) throw new Refused(401, 'REPLAYED', 'this request was received before (its nonce is known)');
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new Refused(400, 'MALFORMED', 'the body is not JSON');
    }
    // the raw callbacks skip the API's text check: what no store can keep is refused here, not failed on append (500)
    const bad = unstorableText(parsed);
    if (bad !== null) throw new Refused(400, 'MALFORMED', `${bad || 'body'}: holds NUL or half a surrogate pair`);
    return parsed;
  }

  function shape<T>(schema: z.ZodType<T>, value: unknown): T {
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Refused(400, 'MALFORMED', `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`);
    }
    return parsed.data;
  }

  /** Records one verified receipt; whether it recorded anything (false: a repeat, or after the outcome). */
  async function recordReceipt(receipt: SmsReceipt, context: ReturnType<typeof commandContext>): Promise<boolean> {
    const micros = decimalToMicros(receipt.price ?? undefined);
    const currency = micros !== null && receipt.currency && /^[A-Z]{3}$/.test(receipt.currency) ? receipt.currency : null;
    const result = await recordSmsReceipt(
      { store, now },
      {
        messageId: receipt.client_ref,
        providerMessageId: receipt.message_id,
        receiptId: receipt.receipt_id,
        status: receipt.status,
        errorCode: receipt.status === 'UNDELIVERED' ? receipt.error_code || 'UNKNOWN' : null,
        errorReason: receipt.status === 'UNDELIVERED' ? receipt.error_message || null : null,
        doneAt: new Date(receipt.done_at).toISOString(),
        senderNumber: receipt.from ?? null,
        providerPriceMicros: currency ? micros : null,
        providerCurrency: currency,
      },
      context,
    );
    return result.events.length > 0;
  }

  async function answerCallback(ctx: AppContext, kind: string, run: () => Promise<Record<string, unknown>>): Promise<void> {
    try {
      const logged = await run();
      ctx.state.logger.info(logged, `sms ${kind} handled`);
    } catch (error) {
      let refused = error;
      if (error instanceof DomainError) {
        const status = error.code === 'NOT_FOUND' ? 404 : error.code === 'CONFLICT' ? 409 : 400;
        refused = new Refused(status, error.code === 'VALIDATION_ERROR' ? 'MALFORMED' : error.code, error.message);
      }
      if (refused instanceof Refused) {
        ctx.state.logger.warn({ status: refused.status, code: refused.code, reason: refused.message }, `sms ${kind} refused`);
        ctx.status = refused.status;
        ctx.body = { code: refused.code, message: refused.message };
        return;
      }
      ctx.state.logger.error({ err: error }, `sms ${kind} failed`);
      ctx.status = 500;
      ctx.body = { code: 'INTERNAL_ERROR', message: 'not handled' };
    }
  }

  const signedBy =
    'signed by X-Sms-Timestamp, X-Sms-Nonce and X-Sms-Signature (Ed25519, SMS_PROVIDER_PUBLIC_KEY) over POST, the path, the timestamp, the nonce and the body’s SHA-256';

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: SMS_CALLBACK_PATHS.receipts.slice('/api/v1/sms'.length),
      summary: "The SMS provider's delivery receipts",
      description:
        `Called by the SMS provider, not by clients: the receipt of one of our messages (client_ref = our message id), ${signedBy}; at most 5 minutes ` +
        'old, each nonce once (a replayed request is 401 REPLAYED). DELIVERED records SmsDelivered, UNDELIVERED SmsUndelivered with its error code; ' +
        'a receipt recorded before, or one after the outcome (out of order), changes nothing and is acknowledged (200, recorded false). A receipt ' +
        'arriving before the worker recorded the send records the send from it. A batch `{type: "receipts", receipts: [...]}` (1-100, one ' +
        'signature) records each alike and answers 200 with one result per receipt; one naming no message of ours (NOT_FOUND) or another provider ' +
        'message (CONFLICT) is reported in its result, not retried. Anything but 200 makes the provider retry (the whole batch).',
      tags: ['sms'],
      idempotent: false,
      envelope: false,
      rawBody: { contentType: 'application/json', schema: smsReceiptCallbackSchema, description: signedBy },
      responses: callbackResponses,
    },
    async (_input, ctx) =>
      answerCallback(ctx, 'receipt', async () => {
        const callback = shape(smsReceiptCallbackSchema, await verified(ctx));
        const context = commandContext(ctx, 'provider:sms');
        if (callback.type === 'receipt') {
          const recorded = await recordReceipt(callback, context);
          ctx.status = 200;
          ctx.body = { received: true, recorded };
          return { messageId: callback.client_ref, status: callback.status, recorded };
        }
        // a batch: each receipt on its own; what is refused for good is reported, anything else fails the request (the provider retries it, the recorded ones are repeats then)
        const results = await Promise.all(
          callback.receipts.map(async (receipt) => {
            try {
              return { client_ref: receipt.client_ref, recorded: await recordReceipt(receipt, context) };
            } catch (error) {
              if (error instanceof DomainError && (error.code === 'NOT_FOUND' || error.code === 'CONFLICT'))
                return { client_ref: receipt.client_ref, recorded: false, error: { code: error.code, message: error.message } };
              throw error;
            }
          }),
        );
        const recorded = results.filter((r) => r.recorded).length;
        ctx.status = 200;
        ctx.body = { received: true, recorded: recorded > 0, results };
        return { receipts: results.length, recorded, refused: results.filter((r) => 'error' in r).length };
      }),
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: SMS_CALLBACK_PATHS.inbound.slice('/api/v1/sms'.length),
      summary: 'An inbound SMS from the provider',
      description:
        `Called by the SMS provider, not by clients: a message it received on one of our numbers, ${signedBy}; at most 5 minutes old, each nonce ` +
        'once. Recorded once per provider message id (a repeat: 200, recorded false) and routed to the owner of the newest message sent to its ' +
        'sender from that number within 30 days, or left unrouted. Anything but 200 makes the provider retry.',
      tags: ['sms'],
      idempotent: false,
      envelope: false,
      rawBody: { contentType: 'application/json', schema: smsInboundSchema, description: signedBy },
      responses: callbackResponses,
    },
    async (_input, ctx) =>
      answerCallback(ctx, 'inbound message', async () => {
        const inbound = shape(smsInboundSchema, await verified(ctx));
        const result = await receiveInboundSms(
          { store, now, replyTargets: (from, to, at) => replyTarget(knex, from, to, at), keywordOwners: (keyword) => keywordOwner(knex, keyword) },
          {
            providerMessageId: inbound.message_id,
            from: inbound.from,
            to: inbound.to,
            text: inbound.text,
            receivedAt: new Date(inbound.received_at).toISOString(),
          },
          commandContext(ctx, 'provider:sms'),
        );
        const recorded = result.events.length > 0;
        ctx.status = 200;
        ctx.body = { received: true, recorded };
        return { providerMessageId: inbound.message_id, route: result.state.status === 'received' ? result.state.ownerId !== null : false, recorded };
      }),
  );

  return router;
}

import { planHolderIn } from '../../../application/plan-holder.js';
import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import type { Config } from '../../../config.js';
import type { EventStore } from '../../../event-store/port.js';
import { handle, load } from '../../../write-model/core/command-handler.js';
import { DomainError } from '../../../write-model/core/domain-error.js';
import {
  PAYMENT_CHANNELS,
  orderBasics,
  paymentOrderAggregate,
  type ConfirmPayment,
  type PaymentChannel,
  type PaymentOrderState,
  type PaymentProvider,
} from '../../../write-model/payment-order/index.js';
import { PLAN_CODES, SERVICES } from '../../../write-model/subscription/plans.js';
import {
  PaymentPlacementError,
  ProviderNotOfferedError,
  checkout,
  orderIdFromTradeRef,
  refundOrder,
  settleRefund,
  type Checkout,
  type CheckoutInput,
} from '../../../application/payments.js';
import { listPaymentOrders, PAYMENT_ORDER_STATUSES } from '../../../read-api/payments.js';
import { PAYMENT_ORDERS_PROJECTION } from '../../../projections/payment-orders.js';
import { ALIPAY_FAILURE, ALIPAY_PAID_STATUSES, ALIPAY_SUCCESS, alipayPayment, parseAlipayForm, verifyAlipayParams } from '../../payments/alipay.js';
import type { PaymentProviders } from '../../../application/ports/payment-providers.js';
import { readRawBody } from '../../payments/raw-body.js';
import { WechatDecryptError, verifyWechatSignature, wechatRefund, wechatTransaction } from '../../payments/wechat.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { requireVerifiedEmail } from '../../../application/email-verification.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { HttpError } from '../http-error.js';
import { commandResult } from '../revision.js';
import type { AppContext, AppState } from '../state.js';

export interface PaymentsRouteDeps {
  store: EventStore;
  /** the payment_orders read model (billing history); without it GET /orders answers an empty page */
  knex?: Knex;
  /** the providers orders are placed with (adapters/payments/from-config.ts paymentProvidersFromConfig); a provider missing here is not offered */
  providers?: PaymentProviders;
  config: Pick<
    Config,
    | 'ALIPAY_PUBLIC_KEY'
    | 'EMAIL_VERIFICATION'
    | 'ALIPAY_APP_ID'
    | 'ALIPAY_SELLER_ID'
    | 'WECHAT_PLATFORM_PUBLIC_KEY'
    | 'WECHAT_PLATFORM_SERIAL'
    | 'WECHAT_MCH_ID'
    | 'WECHAT_APP_ID'
    | 'WECHAT_API_V3_KEY'
    | 'PAYMENT_ORDER_TTL_MINUTES'
    | 'HTTP_BODY_LIMIT_BYTES'
  >;
  /** the clock (tests) */
  now?: () => Date;
}

const PAID_PLAN_CODES = PLAN_CODES.filter((c) => c !== 'free') as ['basic', 'pro', 'enterprise'];

/** A placed order as a checkout answers it (POST /orders, PUT /subscriptions/{id} to a higher plan). */
export const checkoutSchema = z.object({
  order_id: z.string(),
  status: z.literal('pending'),
  service: z.string().describe("the plan's service; `ledger` for a balance top-up"),
  plan: z.string().describe('the plan; `top_up` for a balance top-up'),
  billing_cycle: z.string().describe('monthly or yearly; `one_time` for a balance top-up'),
  amount_fen: z.number().int(),
  currency: z.literal('CNY'),
  provider: z.string(),
  channel: z.enum(PAYMENT_CHANNELS).describe('page / wap: Alipay desktop / mobile cashier; native: WeChat Pay QR code'),
  expires_at: z.string(),
  pay_url: z.string().nullable().describe("Alipay: the signed cashier URL to open in the buyer's browser; null for WeChat Pay"),
  code_url: z.string().nullable().describe('WeChat Pay: the QR code content (weixin://…) to show the buyer; null for Alipay'),
  revision: z.string().describe("the order stream's revision"),
  position: z.string().nullable(),
});

export const checkoutErrorsDescription =
  'A provider not configured on this platform, or a channel it does not have: 422 VALIDATION_ERROR. The provider refused the order or answered ' +
  'something that does not verify: 502 PAYMENT_PROVIDER_ERROR; it did not answer: 503 PAYMENT_PROVIDER_UNAVAILABLE (Retry-After). In both ' +
  'cases the order is recorded as failed (details.order_id, details.reason) and a new checkout opens a new order.';

/** Creates and places an order; the failures as the API answers them. */
export async function placeCheckout(
  ctx: AppContext,
  deps: { store: EventStore; providers?: PaymentProviders | undefined; now?: (() => Date) | undefined },
  input: CheckoutInput,
): Promise<Checkout> {
  try {
    return await checkout({ store: deps.store, providers: deps.providers ?? {}, logger: ctx.state.logger, ...(deps.now ? { now: deps.now } : {}) }, input);
  } catch (error) {
    if (error instanceof ProviderNotOfferedError) {
      throw new HttpError(422, 'VALIDATION_ERROR', error.message, {
        issues: [{ in: 'body', path: ['provider'], message: error.message, code: 'provider_not_offered' }],
      });
    }
    if (error instanceof PaymentPlacementError) {
      const details = { order_id: error.orderId, provider: error.failure.provider, reason: error.failure.reason };
      if (error.failure.kind === 'unavailable') {
        ctx.set('Retry-After', '5');
        throw new HttpError(503, 'PAYMENT_PROVIDER_UNAVAILABLE', `${error.failure.provider} did not answer; try again`, details);
      }
      throw new HttpError(502, 'PAYMENT_PROVIDER_ERROR', `${error.failure.provider} did not accept the order`, details);
    }
    throw error;
  }
}

/** The answer of a checkout (`data`). */
export function checkoutView(placed: Checkout, input: CheckoutInput) {
  return {
    order_id: placed.orderId,
    status: 'pending' as const,
    service: input.service,
    plan: input.plan,
    billing_cycle: input.billingCycle,
    amount_fen: placed.amountFen,
    currency: 'CNY' as const,
    provider: input.provider,
    channel: placed.placement.channel,
    expires_at: placed.expiresAt,
    pay_url: placed.placement.payUrl,
    code_url: placed.placement.codeUrl,
  };
}

/** The first provider this platform offers (a checkout that names none). */
export function defaultProvider(providers: PaymentProviders | undefined): PaymentProvider | undefined {
  return providers?.alipay ? 'alipay' : providers?.wechat ? 'wechat' : undefined;
}

const orderSchema = z.object({
  order_id: z.string(),
  status: z.string().describe('pending, paid, failed, expired, partially_refunded, refunded'),
  service: z.string().describe("the plan's service; `ledger` for a balance top-up"),
  plan: z.string().describe('the plan; `top_up` for a balance top-up'),
  billing_cycle: z.string().describe('monthly or yearly; `one_time` for a balance top-up'),
  amount_fen: z.number().int(),
  currency: z.literal('CNY'),
  provider: z.string(),
  created_at: z.string(),
  expires_at: z.string(),
  paid_at: z.string().nullable(),
  provider_trade_no: z.string().nullable(),
  failure_reason: z.string().nullable(),
  expired_at: z.string().nullable(),
  refunded_fen: z.number().int(),
  channel: z.string().nullable(),
  pay_url: z.string().nullable().describe('while pending: the Alipay cashier URL'),
  code_url: z.string().nullable().describe('while pending: the WeChat Pay QR code content'),
  refund_pending_fen: z.number().int().describe('refunds asked of the provider whose outcome is not known yet'),
});

const wechatFailSchema = z.object({ code: z.literal('FAIL'), message: z.string() });

/** An order as its owner (or an operator) sees it, from its state. */
export function orderView(state: PaymentOrderState) {
  const order = orderBasics(state)!;
  const open = state.status === 'pending';
  return {
    order_id: order.orderId,
    status: state.status,
    // a top-up (docs/ledger.md) is for an amount, not a plan
    service: state.order?.service ?? 'ledger',
    plan: state.order?.plan ?? 'top_up',
    billing_cycle: state.order?.billingCycle ?? 'one_time',
    amount_fen: order.amountFen,
    currency: 'CNY' as const,
    provider: order.provider,
    created_at: order.createdAt,
    expires_at: order.expiresAt,
    // as the provider said it (Alipay: +08:00), in UTC as everywhere else
    paid_at: utc(state.payment?.paidAt ?? null),
    provider_trade_no: state.payment?.providerTradeNo ?? null,
    failure_reason: state.failure?.reason ?? null,
    expired_at: state.expiredAt,
    refunded_fen: state.refundedFen,
    channel: state.placement?.channel ?? null,
    pay_url: open ? (state.placement?.payUrl ?? null) : null,
    code_url: open ? (state.placement?.codeUrl ?? null) : null,
    refund_pending_fen: state.pendingRefunds.reduce((sum, r) => sum + r.amountFen, 0),
  };
}

/** An instant in UTC ISO-8601 (the order list's form); a time that does not parse stays as it is. */
function utc(at: string | null): string | null {
  if (at === null) return null;
  const ms = Date.parse(at);
  return Number.isNaN(ms) ? at : new Date(ms).toISOString();
}

/** Why a provider notification was refused, for the log (the provider only learns "failure"). */
class Refused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Orders (for the signed-in user) and the providers' payment notifications.
 * Mount in api-app.ts: `paymentsRouter(api, { store, config })`.
 */
export function paymentsRouter(api: HttpApi, deps: PaymentsRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/payments' });
  const { store, config } = deps;
  const now = deps.now ?? (() => new Date());

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/orders',
      summary: 'Open a payment order for a plan and place it with the provider',
      description:
        'The amount comes from the plan catalogue (fen, CNY). The order is placed with the provider at once: Alipay (`channel` page, the default, ' +
        "or wap) answers `pay_url`, the signed cashier URL to open in the buyer's browser; WeChat Pay (`channel` native) answers `code_url`, the QR " +
        "code to show. The provider's notification (or the reconcile job) then records the payment, and pm-plan-on-payment upgrades or renews the " +
        'subscription, or schedules the lower plan with its paid month for the end of the period (a paid downgrade). An order the subscription ' +
        'could not apply as it stands is refused with 409 CONFLICT before anything is placed: another downgrade while a paid one is pending ' +
        '(details.pendingDowngrade, details.pendingOrderId), or a lower plan that allows fewer resources than are held (details.violations). ' +
        'A renewal or an upgrade keeps a paid downgrade: its month moves to follow the new period. ' +
        `The order can be paid until expires_at (created + PAYMENT_ORDER_TTL_MINUTES). Only monthly billing is sold: the catalogue has no yearly prices. ${checkoutErrorsDescription} ` +
        'While EMAIL_VERIFICATION is required, an account whose email is not verified gets 403 PERMISSION_DENIED (details.reason email_not_verified).',
      tags: ['payments'],
      auth: true,
      permission: 'billing.payments.create',
      request: {
        body: z
          .object({
            service: z.enum(SERVICES),
            plan: z.enum(PAID_PLAN_CODES),
            billing_cycle: z.enum(['monthly']),
            provider: z.enum(['alipay', 'wechat']),
            channel: z.enum(PAYMENT_CHANNELS).optional().describe('alipay: page (default) or wap; wechat: native (default)'),
          })
          .strict(),
      },
      responses: { 201: { description: 'the order, pending, placed with the provider', schema: checkoutSchema } },
      errors: [403, 409, 502],
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      await requireVerifiedEmail(store, user.id, config.EMAIL_VERIFICATION);
      // a member buys the plan for the subscription their organization holds for its members
      const holder = await planHolderIn(store, user.id);
      const input: CheckoutInput = {
        userId: user.id,
        ...(holder.kind === 'organization' ? { organizationId: holder.id } : {}),
        service: body.service,
        plan: body.plan,
        billingCycle: body.billing_cycle,
        provider: body.provider,
        ...(body.channel ? { channel: body.channel as PaymentChannel } : {}),
        ttlMinutes: config.PAYMENT_ORDER_TTL_MINUTES,
        context: commandContext(ctx, user.id),
      };
      const placed = await placeCheckout(ctx, { store, providers: deps.providers, now }, input);
      ctx.set('Location', `/api/v1/payments/orders/${placed.orderId}`);
      commandResult(ctx, placed.result, { status: 201, extra: checkoutView(placed, input) });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/orders',
      summary: 'My billing history',
      description:
        'My payment orders, newest first, from the payment-orders-v1 read model (`?after_position=` waits for a write), optionally of one status or service. ' +
        'pay_url / code_url are shown only while an order can still be paid.',
      tags: ['payments'],
      auth: true,
      permission: 'billing.payments.view',
      request: {
        query: paginationQuery
          .extend({ status: z.enum(PAYMENT_ORDER_STATUSES).optional(), service: z.enum(SERVICES).optional() })
          .extend(afterPositionQuery.shape),
      },
      responses: { 200: { description: 'a page of orders', schema: pageSchema(orderSchema) } },
    },
    async ({ query }, ctx) => {
      const user = currentUser(ctx);
      if (!deps.knex)
        return { items: [], pagination: { page: query.page, per_page: query.per_page, total: 0, total_pages: 0, has_next: false, has_prev: query.page > 1 } };
      await awaitPosition(ctx, deps.knex, PAYMENT_ORDERS_PROJECTION);
      return listPaymentOrders(deps.knex, user.id, { page: query.page, per_page: query.per_page, status: query.status, service: query.service });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/orders/:id',
      summary: 'One of my payment orders',
      description: "Read from the order's stream (always current). Another user's order is 404, like an unknown one. ETag: the stream revision.",
      tags: ['payments'],
      auth: true,
      permission: 'billing.payments.view',
      request: { params: z.object({ id: z.string().uuid() }) },
      responses: { 200: { description: 'the order', schema: orderSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      const user = currentUser(ctx);
      const { state, revision } = await load(store, paymentOrderAggregate, params.id);
      const order = orderBasics(state);
      if (!order || order.userId !== user.id) throw new HttpError(404, 'NOT_FOUND', 'payment order not found');
      ctx.set('ETag', `"${revision}"`);
      return orderView(state);
    },
  );

  /** ConfirmPayment for a verified notification: true when recorded now or before (a duplicate). */
  async function confirm(ctx: AppContext, command: Omit<ConfirmPayment, 'type' | 'now'>): Promise<void> {
    const orderId = orderIdFromTradeRef(command.orderId);
    if (!orderId) throw new Refused(400, `out_trade_no ${JSON.stringify(command.orderId)} is not an order id`);
    try {
      const result = await handle(
        store,
        paymentOrderAggregate,
        orderId,
        { type: 'ConfirmPayment', ...command, orderId, now: now().toISOString() },
        {
          // who: the provider's verified notification, not a user
          context: commandContext(ctx, `provider:${command.provider}`),
        },
      );
      ctx.state.logger.info({ orderId, provider: command.provider, recorded: result.events.length > 0 }, 'payment notification handled');
    } catch (error) {
      if (error instanceof DomainError)
        throw new Refused(error.code === 'NOT_FOUND' ? 404 : error.code === 'CONFLICT' ? 409 : 400, `${error.code}: ${error.message}`);
      throw error;
    }
  }

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/callback/alipay',
      summary: 'Alipay asynchronous notification',
      description:
        'Called by Alipay, not by clients: an application/x-www-form-urlencoded body signed RSA2 with ALIPAY_PUBLIC_KEY. Answers the text `success` when handled (a repeat included), `failure` otherwise (bad signature, unknown order, wrong amount, late) — Alipay then retries.',
      tags: ['payments'],
      idempotent: false,
      envelope: false,
      rawBody: {
        contentType: 'application/x-www-form-urlencoded',
        schema: z
          .record(z.string(), z.string())
          .describe(
            'Alipay notification parameters (out_trade_no, trade_no, trade_status, total_amount, gmt_payment, app_id, seller_id, notify_id, sign, sign_type, …)',
          ),
      },
      responses: {
        200: {
          description: '`success` when handled (a repeat included), `failure` otherwise: Alipay retries',
          contentType: 'text/plain',
          schema: z.enum([ALIPAY_SUCCESS, ALIPAY_FAILURE]),
        },
      },
    },
    async (_input, ctx) => {
      const answer = (text: string) => {
        ctx.status = 200;
        ctx.type = 'text/plain';
        ctx.body = text;
      };
      try {
        if (!config.ALIPAY_PUBLIC_KEY) throw new Refused(500, 'ALIPAY_PUBLIC_KEY is not configured');
        if (!ctx.is('application/x-www-form-urlencoded')) throw new Refused(415, 'not a form-encoded body');
        const params = parseAlipayForm(await readRawBody(ctx.req, config.HTTP_BODY_LIMIT_BYTES));
        if (!verifyAlipayParams(params, config.ALIPAY_PUBLIC_KEY)) throw new Refused(401, 'signature does not verify');
        // signed by Alipay, but for us? (a notification of another merchant's trade replayed here)
        if (config.ALIPAY_APP_ID !== undefined && params['app_id'] !== config.ALIPAY_APP_ID) throw new Refused(403, 'app_id is not ours');
        if (config.ALIPAY_SELLER_ID !== undefined && params['seller_id'] !== config.ALIPAY_SELLER_ID) throw new Refused(403, 'seller_id is not ours');
        const payment = alipayPayment(params);
        if (!ALIPAY_PAID_STATUSES.includes(payment.tradeStatus)) {
          // WAIT_BUYER_PAY, TRADE_CLOSED: nothing to record here (expiry closes unpaid orders)
          ctx.state.logger.info({ orderId: payment.orderId, tradeStatus: payment.tradeStatus }, 'alipay notification without payment acknowledged');
          return answer(ALIPAY_SUCCESS);
        }
        if (payment.amountFen === undefined) throw new Refused(400, 'total_amount is not an amount');
        // our prices are in CNY: a trade settled in another currency (cross-border) is not the amount we asked for
        for (const field of ['currency', 'trans_currency'] as const) {
          const currency = params[field];
          if (currency !== undefined && currency !== 'CNY') throw new Refused(400, `${field} ${currency} is not CNY`);
        }
        await confirm(ctx, {
          orderId: payment.orderId,
          provider: 'alipay',
          providerTradeNo: payment.providerTradeNo,
          paidAmountFen: payment.amountFen,
          // without gmt_payment, the time of the notification
          paidAt: payment.paidAt ?? now().toISOString(),
        });
        answer(ALIPAY_SUCCESS);
      } catch (error) {
        if (error instanceof Refused) ctx.state.logger.warn({ reason: error.message }, 'alipay notification refused');
        else ctx.state.logger.error({ err: error }, 'alipay notification failed');
        answer(ALIPAY_FAILURE);
      }
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/callback/wechat',
      summary: 'WeChat Pay (API v3) payment notification',
      description:
        'Called by WeChat Pay, not by clients: the Wechatpay-* headers sign the raw JSON body (WECHAT_PLATFORM_PUBLIC_KEY, at most 5 minutes old), the resource is AES-256-GCM encrypted with WECHAT_API_V3_KEY. 200 `{code: "SUCCESS"}` when handled (a repeat included); 4xx/5xx `{code: "FAIL", message}` otherwise — WeChat then retries.',
      tags: ['payments'],
      idempotent: false,
      envelope: false,
      rawBody: {
        contentType: 'application/json',
        schema: z.object({
          id: z.string(),
          event_type: z.string(),
          resource_type: z.string(),
          resource: z.object({ algorithm: z.string(), ciphertext: z.string(), nonce: z.string(), associated_data: z.string().optional() }),
        }),
        description: 'signed by the Wechatpay-Timestamp, -Nonce, -Signature and -Serial headers',
      },
      responses: {
        200: { description: 'handled (a repeat included)', schema: z.object({ code: z.literal('SUCCESS') }) },
        400: { description: 'malformed or undecryptable notification: WeChat Pay retries', schema: wechatFailSchema },
        401: { description: 'signature, serial or timestamp refused', schema: wechatFailSchema },
        403: { description: 'a transaction of another merchant or app', schema: wechatFailSchema },
        404: { description: 'unknown order', schema: wechatFailSchema },
        409: { description: 'the order cannot take this payment (closed, or paid by another trade)', schema: wechatFailSchema },
        500: { description: 'not handled (configuration or internal error): WeChat Pay retries', schema: wechatFailSchema },
      },
    },
    async (_input, ctx) => {
      const answer = (status: number, body: { code: 'SUCCESS' } | { code: 'FAIL'; message: string }) => {
        ctx.status = status;
        ctx.body = body;
      };
      try {
        if (!config.WECHAT_PLATFORM_PUBLIC_KEY || !config.WECHAT_API_V3_KEY)
          throw new Refused(500, 'WECHAT_PLATFORM_PUBLIC_KEY / WECHAT_API_V3_KEY not configured');
        const body = await readRawBody(ctx.req, config.HTTP_BODY_LIMIT_BYTES);
        const verified = verifyWechatSignature({ headers: ctx.headers, body, platformPublicKeyPem: config.WECHAT_PLATFORM_PUBLIC_KEY, now: now() });
        if (!verified.ok) throw new Refused(401, verified.reason);
        // the serial names the key that signed: one we do not hold is refused (after rotation, configure the new one)
        if (config.WECHAT_PLATFORM_SERIAL !== undefined && ctx.get('Wechatpay-Serial') !== config.WECHAT_PLATFORM_SERIAL) {
          throw new Refused(401, 'Wechatpay-Serial is not the configured platform certificate');
        }
        let transaction;
        try {
          transaction = wechatTransaction(body, config.WECHAT_API_V3_KEY);
        } catch (error) {
          if (error instanceof WechatDecryptError) throw new Refused(400, error.message);
          throw error;
        }
        if (config.WECHAT_MCH_ID !== undefined && transaction['mchid'] !== config.WECHAT_MCH_ID) throw new Refused(403, 'mchid is not ours');
        if (config.WECHAT_APP_ID !== undefined && transaction['appid'] !== config.WECHAT_APP_ID) throw new Refused(403, 'appid is not ours');
        if (transaction.trade_state !== 'SUCCESS') {
          ctx.state.logger.info({ orderId: transaction.out_trade_no, tradeState: transaction.trade_state }, 'wechat notification without payment acknowledged');
          return answer(200, { code: 'SUCCESS' });
        }
        // amount.total is in fen of CNY; a transaction in any other currency (or naming none) is not what we charged
        if (transaction.amount.currency !== 'CNY') throw new Refused(400, `amount.currency ${String(transaction.amount.currency)} is not CNY`);
        const paidAt =
          typeof transaction.success_time === 'string' && !Number.isNaN(Date.parse(transaction.success_time)) ? transaction.success_time : now().toISOString();
        await confirm(ctx, {
          orderId: transaction.out_trade_no,
          provider: 'wechat',
          providerTradeNo: transaction.transaction_id,
          paidAmountFen: transaction.amount.total,
          paidAt,
        });
        answer(200, { code: 'SUCCESS' });
      } catch (error) {
        if (error instanceof Refused) {
          ctx.state.logger.warn({ reason: error.message }, 'wechat notification refused');
          answer(error.status, { code: 'FAIL', message: error.status >= 500 ? 'not handled' : error.message });
        } else {
          ctx.state.logger.error({ err: error }, 'wechat notification failed');
          answer(500, { code: 'FAIL', message: 'internal error' });
        }
      }
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/callback/wechat/refund',
      summary: 'WeChat Pay (API v3) refund notification',
      description:
        'Called by WeChat Pay, not by clients: the notify_url of our refunds. Verified like the payment notification (Wechatpay-* headers, ' +
        'WECHAT_PLATFORM_PUBLIC_KEY and serial, at most 5 minutes old; the resource AES-256-GCM with WECHAT_API_V3_KEY). REFUND.SUCCESS records ' +
        'the requested refund (PaymentRefunded), REFUND.CLOSED / REFUND.ABNORMAL its failure (RefundFailed). 200 `{code: "SUCCESS"}` when handled ' +
        '(a repeat included); 4xx/5xx `{code: "FAIL", message}` otherwise — WeChat then retries.',
      tags: ['payments'],
      idempotent: false,
      envelope: false,
      rawBody: {
        contentType: 'application/json',
        schema: z.object({
          id: z.string(),
          event_type: z.string(),
          resource_type: z.string(),
          resource: z.object({ algorithm: z.string(), ciphertext: z.string(), nonce: z.string(), associated_data: z.string().optional() }),
        }),
        description: 'signed by the Wechatpay-Timestamp, -Nonce, -Signature and -Serial headers',
      },
      responses: {
        200: { description: 'handled (a repeat included)', schema: z.object({ code: z.literal('SUCCESS') }) },
        400: { description: 'malformed or undecryptable notification, or not the amount requested: WeChat Pay retries', schema: wechatFailSchema },
        401: { description: 'signature, serial or timestamp refused', schema: wechatFailSchema },
        403: { description: 'a refund of another merchant', schema: wechatFailSchema },
        404: { description: 'no such refund was requested', schema: wechatFailSchema },
        409: { description: 'the refund cannot take this outcome', schema: wechatFailSchema },
        500: { description: 'not handled (configuration or internal error): WeChat Pay retries', schema: wechatFailSchema },
      },
    },
    async (_input, ctx) => {
      const answer = (status: number, body: { code: 'SUCCESS' } | { code: 'FAIL'; message: string }) => {
        ctx.status = status;
        ctx.body = body;
      };
      try {
        if (!config.WECHAT_PLATFORM_PUBLIC_KEY || !config.WECHAT_API_V3_KEY)
          throw new Refused(500, 'WECHAT_PLATFORM_PUBLIC_KEY / WECHAT_API_V3_KEY not configured');
        const body = await readRawBody(ctx.req, config.HTTP_BODY_LIMIT_BYTES);
        const verified = verifyWechatSignature({ headers: ctx.headers, body, platformPublicKeyPem: config.WECHAT_PLATFORM_PUBLIC_KEY, now: now() });
        if (!verified.ok) throw new Refused(401, verified.reason);
        if (config.WECHAT_PLATFORM_SERIAL !== undefined && ctx.get('Wechatpay-Serial') !== config.WECHAT_PLATFORM_SERIAL) {
          throw new Refused(401, 'Wechatpay-Serial is not the configured platform certificate');
        }
        let refund;
        try {
          refund = wechatRefund(body, config.WECHAT_API_V3_KEY);
        } catch (error) {
          if (error instanceof WechatDecryptError) throw new Refused(400, error.message);
          throw error;
        }
        if (config.WECHAT_MCH_ID !== undefined && refund['mchid'] !== config.WECHAT_MCH_ID) throw new Refused(403, 'mchid is not ours');
        const orderId = orderIdFromTradeRef(refund.out_trade_no);
        if (!orderId) throw new Refused(400, `out_trade_no ${JSON.stringify(refund.out_trade_no)} is not an order id`);
        if (refund.refund_status === 'PROCESSING') return answer(200, { code: 'SUCCESS' });
        const { state } = await load(store, paymentOrderAggregate, orderId);
        if (orderBasics(state)?.provider !== 'wechat') throw new Refused(404, 'no such WeChat Pay order');
        const requested =
          state.pendingRefunds.find((r) => r.refundId === refund.out_refund_no) ?? state.refunds.find((r) => r.refundId === refund.out_refund_no);
        if (!requested) throw new Refused(404, `no refund ${refund.out_refund_no} was requested`);
        if (refund.refund_status === 'SUCCESS' && requested.amountFen !== refund.amount.refund) {
          throw new Refused(400, `refunded ${refund.amount.refund} fen, ${requested.amountFen} fen were requested`);
        }
        const outcome =
          refund.refund_status === 'SUCCESS'
            ? {
                state: 'succeeded' as const,
                refundedAt: typeof refund.success_time === 'string' && !Number.isNaN(Date.parse(refund.success_time)) ? refund.success_time : null,
                providerRefundId: refund.refund_id,
              }
            : { state: 'failed' as const, reason: `wechat refund ${refund.refund_status}` };
        try {
          const result = await settleRefund(
            { store, providers: deps.providers ?? {}, now },
            orderId,
            refund.out_refund_no,
            outcome,
            commandContext(ctx, 'provider:wechat'),
          );
          ctx.state.logger.info(
            { orderId, refundId: refund.out_refund_no, status: refund.refund_status, recorded: (result?.events.length ?? 0) > 0 },
            'wechat refund notification handled',
          );
        } catch (error) {
          if (error instanceof DomainError)
            throw new Refused(error.code === 'NOT_FOUND' ? 404 : error.code === 'CONFLICT' ? 409 : 400, `${error.code}: ${error.message}`);
          throw error;
        }
        answer(200, { code: 'SUCCESS' });
      } catch (error) {
        if (error instanceof Refused) {
          ctx.state.logger.warn({ reason: error.message }, 'wechat refund notification refused');
          answer(error.status, { code: 'FAIL', message: error.status >= 500 ? 'not handled' : error.message });
        } else {
          ctx.state.logger.error({ err: error }, 'wechat refund notification failed');
          answer(500, { code: 'FAIL', message: 'internal error' });
        }
      }
    },
  );

  return router;
}

const refundResultSchema = z.object({
  order_id: z.string(),
  refund_id: z.string().describe("our refund id: the provider's out_request_no (Alipay) / out_refund_no (WeChat Pay)"),
  amount_fen: z.number().int(),
  state: z
    .enum(['refunded', 'failed', 'pending'])
    .describe('pending: the provider has not settled it yet (a WeChat Pay notification, or the reconcile job, will)'),
  reason: z
    .string()
    .nullable()
    .describe("failed: the provider's refusal; pending: why it is not settled yet (the provider could not be reached, say), or null; refunded: null"),
  order: orderSchema,
  revision: z.string(),
  position: z.string().nullable(),
});

/**
 * Refunds (admin only): `POST /api/v1/admin/payments/orders/{id}/refund`.
 * Mount in api-app.ts beside paymentsRouter.
 */
export function adminPaymentsRouter(api: HttpApi, deps: Pick<PaymentsRouteDeps, 'store' | 'providers' | 'now'>): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/admin/payments' });
  // every route names its platform.* permission: the policy lets platform admins through
  const admin = api;
  const { store } = deps;

  defineRoute(
    router,
    admin,
    {
      method: 'post',
      path: '/orders/:id/refund',
      summary: 'Refund a paid order (admin)',
      description:
        "Asks the order's provider for a refund of `amount_fen` (default: all that is left to refund) and records RefundRequested, then the " +
        "outcome: Alipay answers at once (PaymentRefunded, or RefundFailed with the provider's reason); WeChat Pay mostly answers PROCESSING " +
        'and settles it by notification (state pending). A provider that does not answer leaves the refund pending: the reconcile job asks ' +
        'again (the refund id makes it the same refund). A refund that makes the order fully refunded ends the paid plan it bought ' +
        '(pm-plan-on-refund: the subscription falls back to free). 201 when refunded or pending, 200 when the provider refused (state failed). ' +
        'An order that is not paid, or more than is left to refund: 409 / 422. The provider not configured here: 422.',
      tags: ['payments', 'admin'],
      auth: true,
      permission: 'platform.payments.edit',
      request: {
        params: z.object({ id: z.string().uuid() }),
        body: z.object({ amount_fen: z.number().int().positive().max(100_000_000).optional(), reason: z.string().trim().min(1).max(200) }).strict(),
      },
      responses: {
        201: { description: 'refunded, or pending at the provider', schema: refundResultSchema },
        200: { description: 'the provider refused the refund (state failed); nothing was given back', schema: refundResultSchema },
      },
      errors: [403, 404, 409],
    },
    async ({ params, body }, ctx) => {
      const user = currentUser(ctx);
      try {
        const refunded = await refundOrder(
          { store, providers: deps.providers ?? {}, logger: ctx.state.logger, ...(deps.now ? { now: deps.now } : {}) },
          { orderId: params.id, amountFen: body.amount_fen, reason: body.reason, adminId: user.id, context: commandContext(ctx, user.id) },
        );
        const { state } = await load(store, paymentOrderAggregate, params.id);
        commandResult(ctx, refunded.result, {
          status: refunded.state === 'failed' ? 200 : 201,
          extra: {
            order_id: params.id,
            refund_id: refunded.refundId,
            amount_fen: refunded.amountFen,
            state: refunded.state,
            reason: refunded.reason,
            order: orderView(state),
          },
        });
      } catch (error) {
        if (error instanceof ProviderNotOfferedError) throw new HttpError(422, 'VALIDATION_ERROR', error.message, { provider: error.provider });
        throw error;
      }
    },
  );
  return router;
}

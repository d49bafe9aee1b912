import { Router } from '@koa/router';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Config } from '../../../config.js';
import type { EventStore } from '../../../event-store/port.js';
import { handle, load } from '../../../write-model/core/command-handler.js';
import { DomainError } from '../../../write-model/core/domain-error.js';
import { paymentOrderAggregate, type ConfirmPayment, type PaymentProvider } from '../../../write-model/payment-order/index.js';
import { PLAN_CODES, SERVICES, plan as catalogue } from '../../../write-model/subscription/plans.js';
import { ALIPAY_FAILURE, ALIPAY_PAID_STATUSES, ALIPAY_SUCCESS, alipayPayment, parseAlipayForm, verifyAlipayParams } from '../../payments/alipay.js';
import { readRawBody } from '../../payments/raw-body.js';
import { WechatDecryptError, verifyWechatSignature, wechatTransaction } from '../../payments/wechat.js';
import { requireVerifiedEmail } from '../../../application/email-verification.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { HttpError } from '../http-error.js';
import { commandResult } from '../revision.js';
import type { AppContext, AppState } from '../state.js';

export interface PaymentsRouteDeps {
  store: EventStore;
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
const ORDER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Not a payment page yet: the providers' order-placing APIs are not integrated. */
function payUrl(provider: PaymentProvider, orderId: string): string {
  return `https://pay.example.invalid/${provider}/${orderId}`;
}

const createdSchema = z.object({
  order_id: z.string(),
  status: z.literal('pending'),
  service: z.string(),
  plan: z.string(),
  billing_cycle: z.string(),
  amount_fen: z.number().int(),
  currency: z.literal('CNY'),
  provider: z.string(),
  expires_at: z.string(),
  pay_url: z.string().describe('placeholder: no provider checkout is integrated yet'),
  revision: z.string(),
  position: z.string().nullable(),
});

const orderSchema = z.object({
  order_id: z.string(),
  status: z.string().describe('pending, paid, failed, expired, partially_refunded, refunded'),
  service: z.string(),
  plan: z.string(),
  billing_cycle: z.string(),
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
});

const wechatFailSchema = z.object({ code: z.literal('FAIL'), message: z.string() });

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
      summary: 'Open a payment order for a plan',
      description: `The amount comes from the plan catalogue (fen, CNY). The order can be paid until expires_at (created + PAYMENT_ORDER_TTL_MINUTES). Only monthly billing is sold: the catalogue has no yearly prices. While EMAIL_VERIFICATION is required, an account whose email is not verified gets 403 PERMISSION_DENIED (details.reason email_not_verified).`,
      tags: ['payments'],
      auth: true,
      request: {
        body: z
          .object({
            service: z.enum(SERVICES),
            plan: z.enum(PAID_PLAN_CODES),
            billing_cycle: z.enum(['monthly']),
            provider: z.enum(['alipay', 'wechat']),
          })
          .strict(),
      },
      responses: { 201: { description: 'the order, pending', schema: createdSchema } },
      errors: [403],
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      await requireVerifiedEmail(store, user.id, config.EMAIL_VERIFICATION);
      const orderId = randomUUID();
      const at = now();
      const amountFen = catalogue(body.service, body.plan).priceMonthlyFen;
      const expiresAt = new Date(at.getTime() + config.PAYMENT_ORDER_TTL_MINUTES * 60_000).toISOString();
      const result = await handle(
        store,
        paymentOrderAggregate,
        orderId,
        {
          type: 'CreatePaymentOrder',
          orderId,
          userId: user.id,
          service: body.service,
          plan: body.plan,
          billingCycle: body.billing_cycle,
          amountFen,
          provider: body.provider,
          expiresAt,
          now: at.toISOString(),
        },
        { context: commandContext(ctx, user.id), expectedRevision: 'no_stream' },
      );
      commandResult(ctx, result, {
        status: 201,
        extra: {
          order_id: orderId,
          status: 'pending',
          service: body.service,
          plan: body.plan,
          billing_cycle: body.billing_cycle,
          amount_fen: amountFen,
          currency: 'CNY',
          provider: body.provider,
          expires_at: expiresAt,
          pay_url: payUrl(body.provider, orderId),
        },
      });
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
      request: { params: z.object({ id: z.string().uuid() }) },
      responses: { 200: { description: 'the order', schema: orderSchema } },
      errors: [404],
    },
    async ({ params }, ctx) => {
      const user = currentUser(ctx);
      const { state, revision } = await load(store, paymentOrderAggregate, params.id);
      const order = state.order;
      if (!order || order.userId !== user.id) throw new HttpError(404, 'NOT_FOUND', 'payment order not found');
      ctx.set('ETag', `"${revision}"`);
      return {
        order_id: order.orderId,
        status: state.status,
        service: order.service,
        plan: order.plan,
        billing_cycle: order.billingCycle,
        amount_fen: order.amountFen,
        currency: 'CNY' as const,
        provider: order.provider,
        created_at: order.createdAt,
        expires_at: order.expiresAt,
        paid_at: state.payment?.paidAt ?? null,
        provider_trade_no: state.payment?.providerTradeNo ?? null,
        failure_reason: state.failure?.reason ?? null,
        expired_at: state.expiredAt,
        refunded_fen: state.refundedFen,
      };
    },
  );

  /** ConfirmPayment for a verified notification: true when recorded now or before (a duplicate). */
  async function confirm(ctx: AppContext, command: Omit<ConfirmPayment, 'type' | 'now'>): Promise<void> {
    if (!ORDER_ID.test(command.orderId)) throw new Refused(400, `out_trade_no ${JSON.stringify(command.orderId)} is not an order id`);
    try {
      const result = await handle(store, paymentOrderAggregate, command.orderId, { type: 'ConfirmPayment', ...command, now: now().toISOString() }, {
        // who: the provider's verified notification, not a user
        context: commandContext(ctx, `provider:${command.provider}`),
      });
      ctx.state.logger.info({ orderId: command.orderId, provider: command.provider, recorded: result.events.length > 0 }, 'payment notification handled');
    } catch (error) {
      if (error instanceof DomainError) throw new Refused(error.code === 'NOT_FOUND' ? 404 : error.code === 'CONFLICT' ? 409 : 400, `${error.code}: ${error.message}`);
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
        schema: z.record(z.string(), z.string()).describe('Alipay notification parameters (out_trade_no, trade_no, trade_status, total_amount, gmt_payment, app_id, seller_id, notify_id, sign, sign_type, …)'),
      },
      responses: { 200: { description: '`success` when handled (a repeat included), `failure` otherwise: Alipay retries', contentType: 'text/plain', schema: z.enum([ALIPAY_SUCCESS, ALIPAY_FAILURE]) } },
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
        schema: z.object({ id: z.string(), event_type: z.string(), resource_type: z.string(), resource: z.object({ algorithm: z.string(), ciphertext: z.string(), nonce: z.string(), associated_data: z.string().optional() }) }),
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
        if (!config.WECHAT_PLATFORM_PUBLIC_KEY || !config.WECHAT_API_V3_KEY) throw new Refused(500, 'WECHAT_PLATFORM_PUBLIC_KEY / WECHAT_API_V3_KEY not configured');
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
        const paidAt = typeof transaction.success_time === 'string' && !Number.isNaN(Date.parse(transaction.success_time)) ? transaction.success_time : now().toISOString();
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

  return router;
}

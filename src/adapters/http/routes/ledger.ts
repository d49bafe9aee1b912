import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import { asHolder } from '../../../application/ledger/charges.js';
import { changeLedgerSettings } from '../../../application/ledger/overage.js';
import { checkoutTopUp, TOP_UP_MAX_CENTS, TOP_UP_MIN_CENTS } from '../../../application/ledger/top-ups.js';
import { ledgerWriterOf } from '../../../application/ledger/writer.js';
import { PaymentPlacementError, ProviderNotOfferedError } from '../../../application/payments.js';
import type { BalanceHolder } from '../../../application/ports/ledger.js';
import type { PaymentChannel, PaymentProviders } from '../../../application/ports/payment-providers.js';
import type { Config } from '../../../config.js';
import type { EventStore } from '../../../event-store/port.js';
import { LEDGER_PROJECTION } from '../../../projections/ledger.js';
import { ledgerAccount, listPostings, listStatements, POSTING_KINDS, statement, type Statement } from '../../../read-api/ledger.js';
import { renderTableReport } from '../../../read-api/table-report.js';
import { load } from '../../../write-model/core/command-handler.js';
import { LEDGER_ITEMS, LEDGER_PRICES } from '../../../write-model/ledger/prices.js';
import { organizationAggregate } from '../../../write-model/organization/decider.js';
import { userAggregate } from '../../../write-model/user/decider.js';
import { PAYMENT_CHANNELS } from '../../../write-model/payment-order/events.js';
import { accessOf } from '../access.js';
import { currentUser } from '../authenticate.js';
import { commandContext } from '../command-context.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { HttpError } from '../http-error.js';
import { pageSchema, paginationQuery } from '../pagination.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import { commandResult, ifMatchRevision } from '../revision.js';
import { instantQuery } from '../instant.js';
import type { AppContext, AppState } from '../state.js';

/**
 * The prepaid balance (docs/ledger.md): the caller's holder — their
 * organization, or themselves outside one — its balance and postings,
 * top-ups through Alipay / WeChat Pay, the overage setting, the price
 * catalogue and monthly statements (json, xlsx, pdf); and the operators'
 * credit limits.
 */

export interface LedgerRouteDeps {
  store: EventStore;
  knex: Knex;
  config: Pick<Config, 'PAYMENT_ORDER_TTL_MINUTES' | 'QUOTA_TIME_ZONE'>;
  providers?: PaymentProviders | undefined;
  now?: () => Date;
}

// a month of the years 0001–9999 (there is no year 0, as for a calendar day)
const PERIOD = /^(?!0000)\d{4}-(0[1-9]|1[0-2])$/;
const periodSchema = z.string().regex(PERIOD, 'a month is YYYY-MM');

const holderSchema = z.object({ kind: z.enum(['organization', 'user']), id: z.string() });

const accountSchema = z.object({
  holder: holderSchema,
  period: z.string().nullable().describe('the current month (YYYY-MM); null before the first posting'),
  balance_cents: z.number().int().describe('may be negative down to −credit_limit_cents'),
  credit_limit_cents: z.number().int(),
  available_cents: z.number().int().describe('balance + credit limit: what charges may still take'),
  overage: z.boolean().describe('usage past the plan quota is charged to the balance instead of refused'),
  currency: z.literal('CNY'),
});

const postingSchema = z.object({
  posting_id: z.string(),
  period: z.string(),
  kind: z.enum(POSTING_KINDS),
  item: z.string().nullable(),
  quantity: z.number().int().nullable(),
  unit_price_cents: z.number().int().nullable(),
  country: z.string().nullable(),
  amount_cents: z.number().int().describe('signed: deposits positive, charges and withdrawals negative'),
  balance_after_cents: z.number().int(),
  reason: z.string(),
  source_event_id: z.string().nullable().describe('the event a charge is for'),
  source_stream: z.string().nullable(),
  order_id: z.string().nullable().describe('the payment order of a deposit or withdrawal'),
  posted_at: z.string(),
});

const summarySchema = z.object({
  period: z.string(),
  status: z.enum(['open', 'closed']),
  opening_balance_cents: z.number().int(),
  balance_cents: z.number().int().describe('the closing balance once closed'),
  credit_limit_cents: z.number().int(),
  deposits_cents: z.number().int(),
  withdrawals_cents: z.number().int(),
  charges_cents: z.number().int(),
  postings: z.number().int(),
});

const statementSchema = summarySchema.extend({
  holder: holderSchema,
  charges_by_item: z.array(z.object({ item: z.string(), quantity: z.number().int(), amount_cents: z.number().int() })),
  lines: z.array(postingSchema),
  truncated: z.boolean().describe('more postings than a statement lists (20,000)'),
});

/** The caller's balance holder: the organization the policy found them in, else themselves. */
function holderOf(ctx: AppContext): BalanceHolder {
  const access = accessOf(ctx);
  return access.organizationId ? { kind: 'organization', id: access.organizationId } : { kind: 'user', id: access.userId };
}

/** yuan as a number (a spreadsheet cell it can add up) */
const yuan = (cents: number) => cents / 100;

/** A statement as a workbook or PDF (the report renderer shared with the scheduled reports). */
export function renderStatement(format: 'xlsx' | 'pdf', s: Statement, now: Date): Promise<Buffer> {
  return renderTableReport(format, {
    title: `账单 Statement ${s.period}`,
    subtitle: `${s.holder.kind === 'organization' ? '组织 Organization' : '用户 User'} ${s.holder.id} — CNY`,
    generatedAt: now,
    facts: [
      ['期初余额 Opening balance', yuan(s.opening_balance_cents)],
      ['充值 Deposits', yuan(s.deposits_cents)],
      ['退款 Withdrawals', yuan(s.withdrawals_cents)],
      ['扣费 Charges', yuan(s.charges_cents)],
      [s.status === 'closed' ? '期末余额 Closing balance' : '当前余额 Balance so far', yuan(s.balance_cents)],
      ['信用额度 Credit limit', yuan(s.credit_limit_cents)],
      ['记录数 Postings', s.postings],
    ],
    tables: [
      {
        title: '按项目 By item',
        columns: [
          { header: '项目 Item', width: 20 },
          { header: '数量 Quantity', width: 12, align: 'right' },
          { header: '金额 Amount (CNY)', width: 16, align: 'right' },
        ],
        rows: s.charges_by_item.map((r) => [r.item, r.quantity, yuan(r.amount_cents)]),
      },
      {
        title: '明细 Postings',
        columns: [
          { header: '时间 Time', width: 22 },
          { header: '类型 Kind', width: 10 },
          { header: '项目 Item', width: 14 },
          { header: '数量 Qty', width: 8, align: 'right' },
          { header: '金额 Amount', width: 12, align: 'right' },
          { header: '余额 Balance', width: 12, align: 'right' },
          { header: '原因 Reason', width: 40 },
        ],
        rows: s.lines.map((l) => [l.posted_at, l.kind, l.item, l.quantity, yuan(l.amount_cents), yuan(l.balance_after_cents), l.reason]),
      },
    ],
  });
}

export function ledgerRouter(api: HttpApi, deps: LedgerRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1' });
  const { store, knex, config } = deps;
  const now = () => deps.now?.() ?? new Date();

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/ledger',
      summary: 'My balance',
      description:
        "The caller's balance holder (their organization, or themselves outside one): the current month, balance, credit limit, what may still be " +
        'spent and the overage setting, from the ledger-v1 read model (`?after_position=` waits for a write). A holder with no postings yet has 0.',
      tags: ['ledger'],
      auth: true,
      permission: 'billing.ledger.view',
      request: { query: afterPositionQuery },
      responses: { 200: { description: 'the balance', schema: accountSchema } },
    },
    async (_input, ctx) => {
      await awaitPosition(ctx, knex, LEDGER_PROJECTION);
      return ledgerAccount(knex, holderOf(ctx));
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/ledger/postings',
      summary: 'My postings',
      description:
        "The holder's deposits, withdrawals and charges, newest first; filters: month, kind, item, and [from, to) times (years 0001–9999; from after to: 422).",
      tags: ['ledger'],
      auth: true,
      permission: 'billing.ledger.view',
      request: {
        query: paginationQuery
          .extend({
            period: periodSchema.optional(),
            kind: z.enum(POSTING_KINDS).optional(),
            item: z.enum(LEDGER_ITEMS).optional(),
            from: instantQuery.optional().describe('postings at or after (ISO-8601)'),
            to: instantQuery.optional().describe('postings before (ISO-8601)'),
          })
          .extend(afterPositionQuery.shape)
          // a period ending before it starts is a mistake, not an empty page
          .refine((q) => q.from === undefined || q.to === undefined || Date.parse(q.from) <= Date.parse(q.to), {
            message: 'from must not be after to',
            path: ['from'],
          }),
      },
      responses: { 200: { description: 'a page of postings', schema: pageSchema(postingSchema) } },
    },
    async ({ query }, ctx) => {
      await awaitPosition(ctx, knex, LEDGER_PROJECTION);
      return listPostings(
        knex,
        holderOf(ctx),
        {
          period: query.period,
          kind: query.kind,
          item: query.item,
          from: query.from ? new Date(query.from) : undefined,
          to: query.to ? new Date(query.to) : undefined,
        },
        query,
      );
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'post',
      path: '/ledger/top-ups',
      summary: 'Top up my balance',
      description:
        "A payment order for `amount_cents` to the holder's balance, placed with Alipay or WeChat Pay like a plan order (pay_url / code_url). " +
        'Once the provider reports the payment (TopUpPaid), pm-ledger-deposits deposits it — once per order. ' +
        `amount_cents: ${TOP_UP_MIN_CENTS}–${TOP_UP_MAX_CENTS}.`,
      tags: ['ledger'],
      auth: true,
      permission: 'billing.payments.create',
      request: {
        body: z
          .object({
            amount_cents: z.number().int().min(TOP_UP_MIN_CENTS).max(TOP_UP_MAX_CENTS),
            provider: z.enum(['alipay', 'wechat']),
            channel: z.enum(PAYMENT_CHANNELS).optional().describe('alipay: page (default) or wap; wechat: native (default)'),
          })
          .strict(),
      },
      responses: {
        201: {
          description: 'the top-up order, pending, placed with the provider',
          schema: z.object({
            order_id: z.string(),
            status: z.literal('pending'),
            holder: holderSchema,
            amount_cents: z.number().int(),
            currency: z.literal('CNY'),
            provider: z.string(),
            channel: z.string(),
            pay_url: z.string().nullable(),
            code_url: z.string().nullable(),
            expires_at: z.string(),
            revision: z.string(),
            position: z.string().nullable(),
          }),
        },
      },
      errors: [502],
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      const holder = holderOf(ctx);
      try {
        const placed = await checkoutTopUp(
          { store, providers: deps.providers ?? {}, logger: ctx.state.logger, now },
          {
            userId: user.id,
            holder,
            amountCents: body.amount_cents,
            provider: body.provider,
            ...(body.channel ? { channel: body.channel as PaymentChannel } : {}),
            ttlMinutes: config.PAYMENT_ORDER_TTL_MINUTES,
            context: commandContext(ctx, user.id),
          },
        );
        ctx.set('Location', `/api/v1/payments/orders/${placed.orderId}`);
        commandResult(ctx, placed, {
          status: 201,
          extra: {
            order_id: placed.orderId,
            status: 'pending',
            holder,
            amount_cents: placed.amountCents,
            currency: 'CNY',
            provider: body.provider,
            channel: placed.placement.channel,
            pay_url: placed.placement.payUrl,
            code_url: placed.placement.codeUrl,
            expires_at: placed.expiresAt,
          },
        });
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
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'put',
      path: '/ledger/settings',
      summary: 'My ledger settings',
      description:
        'overage: true — a collection run past the daily quota, or a publication past daily_publications, is charged to the balance ' +
        '(GET /ledger/prices) instead of refused, while the balance and credit limit cover it.',
      tags: ['ledger'],
      auth: true,
      permission: 'billing.ledger.edit',
      ifMatch: true,
      request: { body: z.object({ overage: z.boolean() }).strict() },
      responses: { 200: { description: 'the settings', schema: z.object({ overage: z.boolean(), revision: z.string(), position: z.string().nullable() }) } },
    },
    async ({ body }, ctx) => {
      const user = currentUser(ctx);
      const expectedRevision = ifMatchRevision(ctx);
      const result = await changeLedgerSettings(store, holderOf(ctx), {
        expectedRevision,
        overage: body.overage,
        changedBy: user.id,
        now: now(),
        context: commandContext(ctx, user.id),
      });
      commandResult(ctx, result, { extra: { overage: result.state.overage } });
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/ledger/prices',
      summary: 'The price catalogue',
      description: 'What each metered item costs, in cents per unit (CNY): collection_run, publication, sms per segment by country (the default elsewhere).',
      tags: ['ledger'],
      auth: true,
      permission: 'billing.ledger.view',
      responses: {
        200: {
          description: 'the prices',
          schema: z.object({
            currency: z.literal('CNY'),
            collection_run_cents: z.number().int(),
            publication_cents: z.number().int(),
            sms: z.object({ default_cents: z.number().int(), countries: z.record(z.string(), z.number().int()) }),
          }),
        },
      },
    },
    () => ({
      currency: 'CNY' as const,
      collection_run_cents: LEDGER_PRICES.collection_run,
      publication_cents: LEDGER_PRICES.publication,
      sms: { default_cents: LEDGER_PRICES.sms.default, countries: { ...LEDGER_PRICES.sms.countries } },
    }),
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/ledger/statements',
      summary: 'My monthly statements',
      description: "The holder's months, newest first, with their opening and closing (or current) balance and totals.",
      tags: ['ledger'],
      auth: true,
      permission: 'billing.statements.view',
      request: { query: afterPositionQuery },
      responses: { 200: { description: 'the months', schema: z.object({ items: z.array(summarySchema) }) } },
    },
    async (_input, ctx) => {
      await awaitPosition(ctx, knex, LEDGER_PROJECTION);
      return { items: await listStatements(knex, holderOf(ctx)) };
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/ledger/statements/:month',
      summary: 'One monthly statement',
      description:
        'A month: totals, charges by item and every posting in order. `format=xlsx` or `pdf` answers a file (a summary and the tables); json (default) the envelope. ' +
        'A month the holder has no ledger for: 404.',
      tags: ['ledger'],
      auth: true,
      permission: 'billing.statements.view',
      scope: 'export',
      request: {
        params: z.object({ month: periodSchema }),
        query: z.object({ format: z.enum(['json', 'xlsx', 'pdf']).default('json') }).extend(afterPositionQuery.shape),
      },
      responses: {
        200: {
          description: 'the statement (json); a file for xlsx / pdf',
          schema: statementSchema,
          files: ['application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', 'application/pdf'],
        },
      },
      errors: [404],
    },
    async ({ params, query }, ctx) => {
      await awaitPosition(ctx, knex, LEDGER_PROJECTION);
      const holder = holderOf(ctx);
      const found = await statement(knex, holder, params.month);
      if (!found) throw new HttpError(404, 'NOT_FOUND', `no statement for ${params.month}`);
      if (query.format === 'json') return found;
      const file = await renderStatement(query.format, found, now());
      ctx.set('Content-Type', query.format === 'xlsx' ? 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' : 'application/pdf');
      ctx.set('Content-Disposition', `attachment; filename="statement-${params.month}.${query.format}"`);
      ctx.status = 200;
      ctx.body = file;
    },
  );

  defineRoute(
    router,
    api,
    {
      method: 'put',
      path: '/admin/ledger/:holder_kind/:holder_id/credit-limit',
      summary: "Set a holder's credit limit",
      description:
        'How far below zero the balance may go (cents ≥ 0), recorded in the current month (CreditLimitChanged) and carried to the next ones. ' +
        'The same limit again changes nothing.',
      tags: ['ledger', 'admin'],
      auth: true,
      permission: 'platform.finance.edit',
      request: {
        params: z.object({ holder_kind: z.enum(['organization', 'user']), holder_id: z.uuid('a holder id is a UUID') }),
        body: z.object({ credit_limit_cents: z.number().int().min(0).max(1_000_000_000), reason: z.string().trim().min(1).max(500) }).strict(),
      },
      errors: [404],
      responses: {
        200: {
          description: 'the holder’s balance and limit',
          schema: z.object({
            holder: holderSchema,
            period: z.string(),
            balance_cents: z.number().int(),
            credit_limit_cents: z.number().int(),
            changed: z.boolean(),
          }),
        },
      },
    },
    async ({ params, body }, ctx) => {
      const user = currentUser(ctx);
      const holder = { kind: params.holder_kind, id: params.holder_id } as const;
      // only a holder that exists gets a ledger
      const exists =
        holder.kind === 'user'
          ? (await load(store, userAggregate, holder.id)).state.status !== 'unregistered'
          : (await load(store, organizationAggregate, holder.id)).state.organizationId !== null;
      if (!exists) throw new HttpError(404, 'NOT_FOUND', `no ${holder.kind} ${holder.id}`);
      const writer = ledgerWriterOf(store, { timeZone: config.QUOTA_TIME_ZONE });
      const outcome = await writer.submit({
        kind: 'credit_limit',
        holder: asHolder(holder),
        creditLimitCents: body.credit_limit_cents,
        changedBy: user.id,
        reason: body.reason,
        context: commandContext(ctx, user.id),
      });
      if (outcome.status === 'refused') throw outcome.error;
      return {
        holder,
        period: outcome.period,
        balance_cents: outcome.balanceCents,
        credit_limit_cents: outcome.creditLimitCents,
        changed: outcome.status === 'posted',
      };
    },
  );

  return router;
}

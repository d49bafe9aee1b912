import { Router } from '@koa/router';
import type { Knex } from 'knex';
import { z } from 'zod';
import { calendarDaySchema } from '../calendar-day.js';
import type { Config } from '../../../config.js';
import { FINANCE_PROJECTION } from '../../../projections/finance.js';
import { profit } from '../../../read-api/ledger.js';
import { defineRoute, type HttpApi } from '../define-route.js';
import { HttpError } from '../http-error.js';
import { afterPositionQuery, awaitPosition } from '../read-your-writes.js';
import type { AppState } from '../state.js';

/** Operators' finance (docs/ledger.md): revenue against what the platform's uses cost. */

export interface FinanceRouteDeps {
  knex: Knex;
  config: Pick<Config, 'PROXY_COST_PER_USE_CENTS' | 'PROXY_COSTS_CENTS' | 'SMS_COST_CENTS_DEFAULT' | 'SMS_COSTS_CENTS'>;
}

const daySchema = calendarDaySchema;
const MAX_DAYS = 3_660;

const rowSchema = z.object({
  period: z.string().describe('YYYY-MM-DD (group_by=day) or YYYY-MM'),
  revenue_cents: z.number().int().describe('plan payments − plan refunds + ledger charges'),
  plan_payments_cents: z.number().int(),
  plan_refunds_cents: z.number().int().describe('negative'),
  ledger_charges_cents: z.number().int(),
  cost_cents: z.number().int().describe('proxy uses + SMS segments sent, priced by the cost configuration'),
  proxy_cost_cents: z.number().int(),
  proxy_uses: z.number().int(),
  sms_cost_cents: z.number().int(),
  sms_segments: z.number().int(),
  profit_cents: z.number().int(),
  top_ups_cents: z.number().int().describe('top-ups paid less refunded: cash held for customers, not revenue'),
});

export function financeRouter(api: HttpApi, deps: FinanceRouteDeps): Router<AppState> {
  const router = new Router<AppState>({ prefix: '/api/v1/admin/finance' });
  defineRoute(
    router,
    api,
    {
      method: 'get',
      path: '/profit',
      summary: 'Revenue against cost',
      description:
        'Per day or month of [from, to] (days in QUOTA_TIME_ZONE, both included, at most 10 years): revenue (plan payments less refunds, ledger charges) ' +
        'against cost (each proxy use at PROXY_COST_PER_USE_CENTS or its PROXY_COSTS_CENTS entry, each SMS segment sent at SMS_COST_CENTS_DEFAULT or its ' +
        'country’s SMS_COSTS_CENTS entry), from the finance-v1 read model. Periods without any record are left out.',
      tags: ['finance', 'admin'],
      auth: true,
      permission: 'platform.finance.view',
      request: {
        query: z.object({ from: daySchema, to: daySchema, group_by: z.enum(['day', 'month']).default('day') }).extend(afterPositionQuery.shape),
      },
      responses: {
        200: {
          description: 'the periods, oldest first, and their totals',
          schema: z.object({
            currency: z.literal('CNY'),
            from: z.string(),
            to: z.string(),
            group_by: z.enum(['day', 'month']),
            items: z.array(rowSchema),
            totals: rowSchema.omit({ period: true }),
          }),
        },
      },
    },
    async ({ query }, ctx) => {
      if (query.from > query.to) {
        throw new HttpError(422, 'VALIDATION_ERROR', 'from must not be after to', {
          issues: [{ in: 'query', path: ['from'], message: 'from must not be after to', code: 'custom' }],
        });
      }
      if ((Date.parse(query.to) - Date.parse(query.from)) / 86_400_000 > MAX_DAYS) {
        throw new HttpError(422, 'VALIDATION_ERROR', 'at most 10 years at once', {
          issues: [{ in: 'query', path: ['to'], message: 'at most 10 years at once', code: 'custom' }],
        });
      }
      await awaitPosition(ctx, deps.knex, FINANCE_PROJECTION);
      const { config } = deps;
      const items = await profit(
        deps.knex,
        { from: query.from, to: query.to, groupBy: query.group_by },
        {
          proxyPerUse: config.PROXY_COST_PER_USE_CENTS,
          proxies: config.PROXY_COSTS_CENTS,
          smsDefault: config.SMS_COST_CENTS_DEFAULT,
          sms: config.SMS_COSTS_CENTS,
        },
      );
      const totals = rowSchema
        .omit({ period: true })
        .parse(
          Object.fromEntries(
            Object.keys(rowSchema.omit({ period: true }).shape).map((k) => [k, items.reduce((sum, r) => sum + (r[k as keyof typeof r] as number), 0)]),
          ),
        );
      return { currency: 'CNY' as const, from: query.from, to: query.to, group_by: query.group_by, items, totals };
    },
  );
  return router;
}

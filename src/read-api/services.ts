import { z } from 'zod';
import { PLAN_CODES, SERVICES, type AnyPlan, type Service } from '../write-model/subscription/plans.js';

/**
 * The public catalogue's views (served by src/adapters/http/routes/services.ts:
 * GET /api/v1/services and GET /api/v1/services/{service_type}/plans), straight
 * from the typed plan catalogue in src/write-model/subscription/plans.ts: no
 * table, no auth.
 */

/** Display names (the services are billed as 小红书服务计费 and 起点服务计费). */
export const SERVICE_DISPLAY_NAMES: { readonly [S in Service]: string } = {
  xiaohongshu: '小红书',
  qidian: '起点',
};

/** 3990 → "39.90" (CNY, exact: integer arithmetic, no floats). */
export function fenToYuan(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

export const serviceSchema = z
  .object({
    service: z.enum(SERVICES).describe('the service code used in paths'),
    display_name: z.string(),
    plans: z.array(z.enum(PLAN_CODES)).describe('plan codes, lowest rank first'),
  })
  .openapi('Service');

const featureValueSchema = z
  .union([z.number(), z.boolean(), z.string(), z.array(z.string())])
  .describe('a count (-1 = unlimited), a flag (false = not in the plan), a list (formats, rankings) or "all", or a frequency');

const planSchema = z
  .object({
    id: z.string().describe('e.g. xiaohongshu_pro'),
    service: z.enum(SERVICES),
    code: z.enum(PLAN_CODES),
    name: z.string(),
    rank: z.number().int().describe('0 = free … 3 = enterprise'),
    currency: z.literal('CNY'),
    price_monthly_fen: z.number().int(),
    price_monthly: z.string().describe('CNY, two decimals, e.g. "39.90"'),
    price_yearly_fen: z.number().int().nullable(),
    price_yearly: z.string().nullable(),
    features: z.record(z.string(), featureValueSchema).describe("every feature of the service with this plan's value"),
  })
  .openapi('ServicePlan');

export const servicePlansSchema = z.object({
  service: z.enum(SERVICES),
  display_name: z.string(),
  features: z.array(z.string()).describe('the feature keys of the service, in catalogue order'),
  plans: z.array(planSchema),
});

export type ServiceView = z.input<typeof serviceSchema>;
export type PlanView = z.input<typeof planSchema>;

export function serviceView(service: Service): ServiceView {
  return { service, display_name: SERVICE_DISPLAY_NAMES[service], plans: [...PLAN_CODES] };
}

export function planView(plan: AnyPlan): PlanView {
  return {
    id: plan.id,
    service: plan.service,
    code: plan.code,
    name: plan.name,
    rank: PLAN_CODES.indexOf(plan.code),
    currency: 'CNY',
    price_monthly_fen: plan.priceMonthlyFen,
    price_monthly: fenToYuan(plan.priceMonthlyFen),
    price_yearly_fen: plan.priceYearlyFen,
    price_yearly: plan.priceYearlyFen === null ? null : fenToYuan(plan.priceYearlyFen),
    features: Object.fromEntries(
      Object.entries(plan.features).map(([k, v]) => [k, Array.isArray(v) ? [...(v as readonly string[])] : (v as number | boolean | string)]),
    ),
  };
}

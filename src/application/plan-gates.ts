import { DomainError } from '../write-model/core/domain-error.js';
import {
  allowsRanking,
  FEATURE_KINDS,
  plansOf,
  type PlanCode,
  type AnyPlan,
  type ExportFormat,
  type Feature,
  type QidianRanking,
} from '../write-model/subscription/plans.js';

/**
 * Every plan check that switches a capability on or off, in one place: the
 * on/off features of the catalogue (src/write-model/subscription/plans.ts),
 * the export formats and the rankings a plan includes. Counted features
 * (daily calls, resources) are the Subscription aggregate's; the collection
 * frequency and a workflow type's own needs are checked with the workflow
 * (src/platforms/registry.ts). docs/plans.md lists each feature, what it
 * gates and the test that shows it.
 *
 * A refusal is 403 PERMISSION_DENIED with details.feature naming the
 * feature and details.plan the caller's plan code.
 */

/** What each on/off feature of the catalogue gates, as a refusal names it (tests/unit/plan-gates.test.ts checks none is missing). */
export const FLAG_GATES = {
  content_collection: 'content collection',
  private_messaging: 'private messaging',
  data_analytics: 'data analytics',
  advanced_filters: 'advanced filters',
  ai_insights: 'statistical insights (tag and keyword trends, anomalies)',
  batch_operations: 'batch operations',
  custom_integration: 'custom integrations',
  dedicated_support: 'dedicated support',
  author_info: 'author information',
  trend_analysis: 'trend analysis',
  custom_keywords: 'custom keywords',
  competitor_analysis: 'competitor analysis',
  market_insights: 'market insights',
  custom_reports: 'custom reports',
  api_access: 'API access',
} as const satisfies { readonly [F in Feature]?: string };

export type FlagFeature = keyof typeof FLAG_GATES;

/** The on/off features, as the catalogue classifies them. */
export function flagFeatures(): Feature[] {
  return (Object.keys(FEATURE_KINDS) as Feature[]).filter((f) => FEATURE_KINDS[f] === 'flag');
}

/** Whether the plan includes an on/off feature (a feature of the other service never is). */
export function hasFeature(plan: AnyPlan, feature: FlagFeature): boolean {
  return (plan.features as unknown as Record<string, unknown>)[feature] === true;
}

/** PERMISSION_DENIED unless the plan includes the feature. */
export function requireFeature(plan: AnyPlan, feature: FlagFeature, details: Record<string, unknown> = {}): void {
  if (hasFeature(plan, feature)) return;
  throw new DomainError('PERMISSION_DENIED', `${plan.name} does not include ${FLAG_GATES[feature]} (${feature})`, { feature, plan: plan.code, ...details });
}

/** PERMISSION_DENIED unless the plan's ranking_access includes the ranking. */
export function requireRanking(plan: AnyPlan, ranking: QidianRanking): void {
  if (plan.service === 'qidian' && allowsRanking(plan, ranking)) return;
  throw new DomainError('PERMISSION_DENIED', `${plan.name} does not include ${ranking}`, {
    feature: 'ranking_access',
    ranking,
    allowed: plan.service === 'qidian' ? plan.features.ranking_access : [],
    plan: plan.code,
  });
}

/** PERMISSION_DENIED unless the plan's export_formats include the catalogue format (json, excel, pdf, api). */
export function requirePlanExportFormat(plan: AnyPlan, needed: ExportFormat, details: Record<string, unknown> = {}): void {
  const allowed = plan.features.export_formats;
  if (allowed.includes(needed)) return;
  throw new DomainError('PERMISSION_DENIED', `${plan.name} does not include ${needed} export (export_formats)`, {
    feature: 'export_formats',
    ...details,
    requires: needed,
    allowed,
    plan: plan.code,
  });
}

// ---------------------------------------------------------------- API access and batches (docs/plans.md)

/**
 * Whether a plan lets its user hold personal API keys: the plan includes
 * api_access (qidian enterprise), or its export_formats include 'api'
 * (xiaohongshu enterprise: the catalogue gives Xiaohongshu no api_access flag, and
 * an "api" export format is API access to the data).
 */
export function includesApiAccess(plan: AnyPlan): boolean {
  return hasFeature(plan, 'api_access') || plan.features.export_formats.includes('api');
}

/**
 * PERMISSION_DENIED unless one of the user's current plans (one per
 * service) includes API access; details.feature = api_access, details.plans
 * the plan code of each service.
 */
export function requireApiAccess(plans: readonly AnyPlan[]): void {
  if (plans.some(includesApiAccess)) return;
  throw new DomainError('PERMISSION_DENIED', `none of your plans includes ${FLAG_GATES.api_access} (api_access, or the api export format)`, {
    feature: 'api_access',
    plans: Object.fromEntries(plans.map((p) => [p.service, p.code])),
  });
}

/** The plan codes at which the catalogue includes batch_operations (xiaohongshu: pro and enterprise). */
function batchTiers(): readonly PlanCode[] {
  return plansOf('xiaohongshu')
    .filter((p) => hasFeature(p, 'batch_operations'))
    .map((p) => p.code);
}

/**
 * Whether a plan includes batch operations: a xiaohongshu plan by its
 * batch_operations flag; a qidian plan (the catalogue gives Qidian no such
 * feature) at the same tiers as Xiaohongshu's, so pro and enterprise.
 */
export function allowsBatchOperations(plan: AnyPlan): boolean {
  if (plan.service === 'xiaohongshu') return hasFeature(plan, 'batch_operations');
  return batchTiers().includes(plan.code);
}

/** PERMISSION_DENIED (details.feature = batch_operations, details.service) unless the plan includes batch operations. */
export function requireBatchOperations(plan: AnyPlan, details: Record<string, unknown> = {}): void {
  if (allowsBatchOperations(plan)) return;
  throw new DomainError('PERMISSION_DENIED', `${plan.name} does not include ${FLAG_GATES.batch_operations} (batch_operations)`, {
    feature: 'batch_operations',
    service: plan.service,
    plan: plan.code,
    ...details,
  });
}

// ---------------------------------------------------------------- own content-review rules (docs/publishing.md)

/** Whether a plan lets its user keep their own review rule set: an enterprise plan of either service. */
export function includesOwnReviewRules(plan: AnyPlan): boolean {
  return plan.code === 'enterprise';
}

/**
 * PERMISSION_DENIED unless one of the user's current plans (one per service)
 * is enterprise: details.feature = review_rules, details.plans the plan code
 * of each service.
 */
export function requireOwnReviewRules(plans: readonly AnyPlan[]): void {
  if (plans.some(includesOwnReviewRules)) return;
  throw new DomainError('PERMISSION_DENIED', 'own review rules come with an enterprise plan (review_rules)', {
    feature: 'review_rules',
    requires: 'enterprise',
    plans: Object.fromEntries(plans.map((p) => [p.service, p.code])),
  });
}

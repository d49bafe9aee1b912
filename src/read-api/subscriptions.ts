import type { Knex } from 'knex';
import type { PlanHolder } from '../application/plan-holder.js';
import { pageOf, type Page, type PageRequest } from './page.js';
import { selectPage } from './page-query.js';
import {
  dailyCountersOf,
  featureLimit,
  isPlanCode,
  isService,
  plan as planOf,
  resourceLimitsOf,
  type DailyCounterFeature,
  type PlanCode,
  type QuotaFeature,
  type Service,
} from '../write-model/subscription/plans.js';

/** Queries of the `subscriptions-v1` read model (subscriptions, feature_usage_stats, subscription_reservations). */

export interface SubscriptionView {
  id: string;
  service: string;
  plan: string;
  plan_name: string | null;
  status: string;
  period_start: string;
  period_end: string | null;
  pending_downgrade: string | null;
  pending_downgrade_at: string | null;
  cancel_at_period_end: boolean;
  cancelled_at: string | null;
  /** renewal orders are placed before the period ends (paid plans only) */
  auto_renew: boolean;
  auto_renew_provider: string | null;
  auto_renew_channel: string | null;
  /** the renewal order placed for the current period, to pay before period_end */
  renewal_order_id: string | null;
  started_at: string;
  updated_at: string;
  /** user: the caller's own; organization: the one their organization holds for its members */
  holder_kind: 'user' | 'organization';
  /** the organization holding it (holder_kind organization), else null */
  organization_id: string | null;
  /** the stream revision the row reflects (also the ETag) */
  revision: string;
}

export interface SubscriptionRow {
  view: SubscriptionView;
  /** the holder's id: the user's, or the organization's (holder.kind) */
  userId: string;
  holder: PlanHolder;
  service: Service;
  plan: PlanCode;
}

const iso = (value: unknown): string => (value instanceof Date ? value : new Date(String(value))).toISOString();
const isoOrNull = (value: unknown): string | null => (value == null ? null : iso(value));
const dayOf = (value: unknown): string =>
  value instanceof Date
    ? `${value.getFullYear()}-${String(value.getMonth() + 1).padStart(2, '0')}-${String(value.getDate()).padStart(2, '0')}`
    : String(value).slice(0, 10);

const COLUMNS = [
  'id',
  'user_id',
  'service',
  'plan',
  'status',
  'period_start',
  'period_end',
  'pending_downgrade',
  'pending_downgrade_at',
  'cancel_at_period_end',
  'cancelled_at',
  'auto_renew',
  'auto_renew_provider',
  'auto_renew_channel',
  'renewal_order_id',
  'started_at',
  'updated_at',
  'last_revision',
  'holder_kind',
  'organization_id',
];

function toView(row: Record<string, any>): SubscriptionView {
  const known = isService(row.service) && isPlanCode(row.plan);
  return {
    id: row.id,
    service: row.service,
    plan: row.plan,
    plan_name: known ? planOf(row.service as Service, row.plan as PlanCode).name : null,
    status: row.status,
    period_start: iso(row.period_start),
    period_end: isoOrNull(row.period_end),
    pending_downgrade: row.pending_downgrade,
    pending_downgrade_at: isoOrNull(row.pending_downgrade_at),
    cancel_at_period_end: Boolean(row.cancel_at_period_end),
    cancelled_at: isoOrNull(row.cancelled_at),
    auto_renew: Boolean(row.auto_renew),
    auto_renew_provider: row.auto_renew_provider ?? null,
    auto_renew_channel: row.auto_renew_channel ?? null,
    renewal_order_id: row.renewal_order_id ?? null,
    started_at: iso(row.started_at),
    updated_at: iso(row.updated_at),
    holder_kind: row.holder_kind === 'organization' ? 'organization' : 'user',
    organization_id: row.organization_id ?? null,
    revision: String(row.last_revision),
  };
}

/** A holder's subscriptions (a user's own, or an organization's), by service. */
export async function listSubscriptions(knex: Knex, holder: PlanHolder, page: PageRequest): Promise<Page<SubscriptionView>> {
  const ordered = knex('subscriptions')
    .select(COLUMNS)
    .where(holder.kind === 'organization' ? { organization_id: holder.id } : { user_id: holder.id, holder_kind: 'user' })
    .orderBy([
      { column: 'service', order: 'asc' },
      { column: 'id', order: 'asc' },
    ]);
  const { rows, total } = await selectPage(knex, ordered, page);
  return pageOf(rows.map(toView), page, total);
}

/** One subscription with its owner; undefined when unknown. The caller checks the owner. */
export async function findSubscription(knex: Knex, id: string): Promise<SubscriptionRow | undefined> {
  const row = await knex('subscriptions').select(COLUMNS).where({ id }).first();
  if (!row || !isService(row.service) || !isPlanCode(row.plan)) return undefined;
  const holder: PlanHolder = row.holder_kind === 'organization' ? { kind: 'organization', id: row.user_id } : { kind: 'user', id: row.user_id };
  return { view: toView(row), userId: row.user_id, holder, service: row.service, plan: row.plan };
}

export interface FeatureUsageView {
  feature: QuotaFeature;
  kind: 'daily_counter' | 'resource_limit';
  /** false: the plan does not have the feature (limit 0) */
  included: boolean;
  /** null: unlimited */
  limit: number | null;
  /** today's count (daily counter) or the resources held now (resource limit) */
  used: number;
  /** null: unlimited */
  remaining: number | null;
  /** the first refusal today */
  exceeded_at: string | null;
}

export interface DailyUsageView {
  day: string;
  features: { feature: DailyCounterFeature; used: number; limit: number | null; exceeded_at: string | null }[];
}

export interface UsageView {
  subscription_id: string;
  service: Service;
  plan: PlanCode;
  time_zone: string;
  today: string;
  resets_at: string;
  /** every counted feature of the service, against the current plan's limits */
  features: FeatureUsageView[];
  /** the daily counters per day of [from, to], zero-filled */
  days: DailyUsageView[];
}

function limitOf(service: Service, code: PlanCode, feature: QuotaFeature): { included: boolean; limit: number | null } {
  const limit = featureLimit(planOf(service, code), feature);
  if (limit.kind === 'unlimited') return { included: true, limit: null };
  if (limit.kind === 'limited') return { included: true, limit: limit.limit };
  return { included: false, limit: 0 };
}

/**
 * Usage of a subscription: today per feature (feature_usage_stats for daily
 * counters, subscription_reservations for resource limits) against the
 * current plan's limits, and per day of the range for daily counters.
 */
export async function subscriptionUsage(
  knex: Knex,
  sub: SubscriptionRow,
  range: { today: string; resetsAt: string; timeZone: string; days: string[] },
): Promise<UsageView> {
  const counters = dailyCountersOf(sub.service);
  const resources = resourceLimitsOf(sub.service);
  const days = [...new Set([...range.days, range.today])];
  const statRows = (await knex('feature_usage_stats')
    .select('feature', knex.raw('day::text as day'), 'used', 'limit', 'exceeded_at')
    .where({ subscription_id: sub.view.id })
    .whereIn(knex.raw('day::text') as never, days)) as Record<string, any>[];
  const stat = new Map(statRows.map((r) => [`${r.feature}|${dayOf(r.day)}`, r]));
  const heldRows = (await knex('subscription_reservations').select('feature').count({ n: '*' }).where({ subscription_id: sub.view.id }).groupBy('feature')) as {
    feature: string;
    n: string | number;
  }[];
  const held = new Map(heldRows.map((r) => [r.feature, Number(r.n)]));

  const features: FeatureUsageView[] = [];
  for (const feature of counters) {
    const { included, limit } = limitOf(sub.service, sub.plan, feature);
    const row = stat.get(`${feature}|${range.today}`);
    const used = row ? Number(row.used) : 0;
    features.push({
      feature,
      kind: 'daily_counter',
      included,
      limit,
      used,
      remaining: limit === null ? null : Math.max(0, limit - used),
      exceeded_at: row ? isoOrNull(row.exceeded_at) : null,
    });
  }
  for (const feature of resources) {
    const { included, limit } = limitOf(sub.service, sub.plan, feature);
    const row = stat.get(`${feature}|${range.today}`);
    const used = held.get(feature) ?? 0;
    features.push({
      feature,
      kind: 'resource_limit',
      included,
      limit,
      used,
      remaining: limit === null ? null : Math.max(0, limit - used),
      exceeded_at: row ? isoOrNull(row.exceeded_at) : null,
    });
  }
  const perDay: DailyUsageView[] = range.days.map((day) => ({
    day,
    features: counters.map((feature) => {
      const row = stat.get(`${feature}|${day}`);
      return {
        feature,
        used: row ? Number(row.used) : 0,
        // the limit recorded that day; a day without use shows the current plan's
        limit: row ? (row.limit == null ? null : Number(row.limit)) : limitOf(sub.service, sub.plan, feature).limit,
        exceeded_at: row ? isoOrNull(row.exceeded_at) : null,
      };
    }),
  }));
  return {
    subscription_id: sub.view.id,
    service: sub.service,
    plan: sub.plan,
    time_zone: range.timeZone,
    today: range.today,
    resets_at: range.resetsAt,
    features,
    days: perDay,
  };
}

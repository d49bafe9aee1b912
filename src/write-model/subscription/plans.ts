/**
 * The plan catalogue ("阶梯式服务计费模型", docs/plans.md lists what each
 * feature gates): two services, four plans each, every feature with its
 * value. Pure data + helpers.
 *
 * Conventions:
 * - `-1` = unlimited (for counts).
 * - `false` = not in the plan. A feature a lower plan of a service does not
 *   list (e.g. `advanced_filters` in 小红书免费版, `custom_reports` in
 *   起点专业版) is `false`: the plans are cumulative, each higher plan adding
 *   features, and a missing value means "not supported" ("NULL表示不支持").
 * - Where a plan's value and its note disagree, the value wins:
 *   小红书基础版 `data_analytics: False  # 基础统计` and
 *   起点基础版 `trend_analysis: False  # 基础趋势` are `false`.
 * - Prices: `price_monthly` in yuan, stored here as integer fen
 *   (39.9 → 3990). The catalogue has no yearly price, so `priceYearlyFen`
 *   is `null`: a yearly order cannot be priced from here.
 * - Ranking names are the catalogue's (Chinese): 热销榜 (best sellers),
 *   收藏榜 (most collected), 推荐榜 (most recommended). `'all'` = every
 *   board Qidian publishes (docs/collection-api.md lists them): those three
 *   and 月票榜 (monthly tickets), 阅读指数榜 (reading index) and the four
 *   new-book boards.
 *
 * How each feature is classified (FEATURE_KINDS below):
 *
 * | feature                    | service     | kind           | enforced as |
 * |----------------------------|-------------|----------------|-------------|
 * | daily_api_calls            | xiaohongshu | daily_counter  | counted per day (ConsumeQuota), resets at the day boundary |
 * | daily_publications         | xiaohongshu | daily_counter  | publications requested per day, one per target account (POST /articles/{id}/publish) |
 * | account_limit              | xiaohongshu | resource_limit | connected accounts held at once (ReserveResource / ReleaseResource) |
 * | automation_workflows       | xiaohongshu | resource_limit | workflows defined at once |
 * | novel_tracking_limit       | qidian      | resource_limit | novels tracked at once |
 * | alert_notifications        | qidian      | resource_limit | alert rules set up at once ("1个提醒通知" = one alert) |
 * | data_retention_days        | both        | retention      | a setting for the retention job, not a quota |
 * | export_formats             | both        | list           | the formats an export may use |
 * | ranking_access             | qidian      | list           | the rankings that may be read (a list, or 'all') |
 * | data_collection_frequency  | qidian      | frequency      | the shortest collection interval a schedule may use |
 * | every other feature        | —           | flag           | on / off (boolean) |
 *
 * `daily_publications` is not in the original catalogue: its numbers are our
 * own (docs/plans.md, "Publishing"): free 5, basic 50, pro 300, enterprise
 * 2,000 a day. A publication spends a platform account's standing (the
 * platforms throttle accounts that post in bursts), so even enterprise has
 * a ceiling rather than unlimited; the steps follow the account limits (1,
 * 5, 20, unlimited accounts): about 5 to 15 posts a day per account.
 *
 * Note what the catalogue does NOT give: qidian has no daily counter and no
 * `automation_workflows`; xiaohongshu has no `data_collection_frequency`.
 * A feature the plan's service does not have counts as not in the plan
 * (`featureLimit` → not_in_plan), like a `false`.
 */

export const SERVICES = ['xiaohongshu', 'qidian'] as const;
export type Service = (typeof SERVICES)[number];

/** In rank order, lowest first. */
export const PLAN_CODES = ['free', 'basic', 'pro', 'enterprise'] as const;
export type PlanCode = (typeof PLAN_CODES)[number];
/** The plans that are sold; free is what every user starts with. */
export type PaidPlanCode = Exclude<PlanCode, 'free'>;

export const EXPORT_FORMATS = ['json', 'excel', 'pdf', 'api'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The catalogue's three boards first, then the other boards of qidian.com/rank (a plan with 'all' reads them all). */
export const QIDIAN_RANKINGS = [
  '热销榜',
  '收藏榜',
  '推荐榜',
  '月票榜',
  '阅读指数榜',
  '签约作者新书榜',
  '公众作者新书榜',
  '新人签约新书榜',
  '新人作者新书榜',
] as const;
export type QidianRanking = (typeof QIDIAN_RANKINGS)[number];

/** Slowest first. */
export const COLLECTION_FREQUENCIES = ['daily', 'hourly', 'realtime'] as const;
export type CollectionFrequency = (typeof COLLECTION_FREQUENCIES)[number];

/** A count with -1 = unlimited. */
export type Count = number;

export interface XiaohongshuFeatures {
  /** resource limit: connected 小红书 accounts */
  account_limit: Count;
  /** daily counter: API calls per day */
  daily_api_calls: Count;
  /** daily counter: publications requested per day (one per target account); not in the original catalogue */
  daily_publications: Count;
  content_collection: boolean;
  private_messaging: boolean;
  data_analytics: boolean;
  export_formats: readonly ExportFormat[];
  data_retention_days: number;
  /** resource limit: automation workflows */
  automation_workflows: Count;
  advanced_filters: boolean;
  ai_insights: boolean;
  batch_operations: boolean;
  custom_integration: boolean;
  dedicated_support: boolean;
}

export interface QidianFeatures {
  /** resource limit: novels tracked */
  novel_tracking_limit: Count;
  ranking_access: readonly QidianRanking[] | 'all';
  data_collection_frequency: CollectionFrequency;
  /** flag: GET /qidian/analytics/author/{author} */
  author_info: boolean;
  trend_analysis: boolean;
  export_formats: readonly ExportFormat[];
  data_retention_days: number;
  /** resource limit: alert notifications set up */
  alert_notifications: Count;
  custom_keywords: boolean;
  competitor_analysis: boolean;
  /** flag: GET /qidian/analytics/market */
  market_insights: boolean;
  custom_reports: boolean;
  api_access: boolean;
}

export interface FeaturesByService {
  xiaohongshu: XiaohongshuFeatures;
  qidian: QidianFeatures;
}

export type FeatureOf<S extends Service> = keyof FeaturesByService[S] & string;
export type Feature = FeatureOf<'xiaohongshu'> | FeatureOf<'qidian'>;

export interface Plan<S extends Service = Service> {
  /** the plan's key, e.g. `xiaohongshu_pro` */
  id: `${S}_${PlanCode}`;
  service: S;
  code: PlanCode;
  /** the display name (Chinese) */
  name: string;
  /** CNY per month, integer fen */
  priceMonthlyFen: number;
  /** CNY per year, integer fen; null: none set */
  priceYearlyFen: number | null;
  features: FeaturesByService[S];
}

/** A plan of either service, discriminated by `service`. */
export type AnyPlan = { [S in Service]: Plan<S> }[Service];
/** Plan<S> for one service, AnyPlan for the union. */
export type PlanFor<S extends Service> = S extends Service ? Plan<S> : never;

// ---------------------------------------------------------------- classification

export type FeatureKind = 'daily_counter' | 'resource_limit' | 'retention' | 'list' | 'frequency' | 'flag';

export const DAILY_COUNTER_FEATURES = ['daily_api_calls', 'daily_publications'] as const;
export type DailyCounterFeature = (typeof DAILY_COUNTER_FEATURES)[number];

export const RESOURCE_LIMIT_FEATURES = ['account_limit', 'automation_workflows', 'novel_tracking_limit', 'alert_notifications'] as const;
export type ResourceFeature = (typeof RESOURCE_LIMIT_FEATURES)[number];

/** The features a subscription counts or reserves. */
export type QuotaFeature = DailyCounterFeature | ResourceFeature;

export const FEATURE_KINDS: { readonly [F in Feature]: FeatureKind } = {
  daily_api_calls: 'daily_counter',
  daily_publications: 'daily_counter',
  account_limit: 'resource_limit',
  automation_workflows: 'resource_limit',
  novel_tracking_limit: 'resource_limit',
  alert_notifications: 'resource_limit',
  data_retention_days: 'retention',
  export_formats: 'list',
  ranking_access: 'list',
  data_collection_frequency: 'frequency',
  content_collection: 'flag',
  private_messaging: 'flag',
  data_analytics: 'flag',
  advanced_filters: 'flag',
  ai_insights: 'flag',
  batch_operations: 'flag',
  custom_integration: 'flag',
  dedicated_support: 'flag',
  author_info: 'flag',
  trend_analysis: 'flag',
  custom_keywords: 'flag',
  competitor_analysis: 'flag',
  market_insights: 'flag',
  custom_reports: 'flag',
  api_access: 'flag',
};

// ---------------------------------------------------------------- the catalogue

const XIAOHONGSHU_PLANS: { readonly [C in PlanCode]: Plan<'xiaohongshu'> } = {
  free: {
    id: 'xiaohongshu_free',
    service: 'xiaohongshu',
    code: 'free',
    name: '小红书免费版',
    priceMonthlyFen: 0,
    priceYearlyFen: null,
    features: {
      account_limit: 1,
      daily_api_calls: 50,
      daily_publications: 5, // our number: not in the catalogue
      content_collection: true,
      private_messaging: false,
      data_analytics: false,
      export_formats: ['json'],
      data_retention_days: 7,
      automation_workflows: 1,
      advanced_filters: false, // not listed
      ai_insights: false, // not listed
      batch_operations: false, // not listed
      custom_integration: false, // not listed
      dedicated_support: false, // not listed
    },
  },
  basic: {
    id: 'xiaohongshu_basic',
    service: 'xiaohongshu',
    code: 'basic',
    name: '小红书基础版',
    priceMonthlyFen: 3990,
    priceYearlyFen: null,
    features: {
      account_limit: 5,
      daily_api_calls: 500,
      daily_publications: 50, // our number: not in the catalogue
      content_collection: true,
      private_messaging: true,
      data_analytics: false, // False, though its note says 基础统计
      export_formats: ['json', 'excel'],
      data_retention_days: 30,
      automation_workflows: 3,
      advanced_filters: true,
      ai_insights: false, // not listed
      batch_operations: false, // not listed
      custom_integration: false, // not listed
      dedicated_support: false, // not listed
    },
  },
  pro: {
    id: 'xiaohongshu_pro',
    service: 'xiaohongshu',
    code: 'pro',
    name: '小红书专业版',
    priceMonthlyFen: 12990,
    priceYearlyFen: null,
    features: {
      account_limit: 20,
      daily_api_calls: 5000,
      daily_publications: 300, // our number: not in the catalogue
      content_collection: true,
      private_messaging: true,
      data_analytics: true,
      export_formats: ['json', 'excel', 'pdf'],
      data_retention_days: 90,
      automation_workflows: 10,
      advanced_filters: true,
      ai_insights: true,
      batch_operations: true,
      custom_integration: false, // not listed
      dedicated_support: false, // not listed
    },
  },
  enterprise: {
    id: 'xiaohongshu_enterprise',
    service: 'xiaohongshu',
    code: 'enterprise',
    name: '小红书企业版',
    priceMonthlyFen: 39990,
    priceYearlyFen: null,
    features: {
      account_limit: -1,
      daily_api_calls: -1,
      daily_publications: 2000, // our number: a ceiling even here (see above)
      content_collection: true,
      private_messaging: true,
      data_analytics: true,
      export_formats: ['json', 'excel', 'pdf', 'api'],
      data_retention_days: 365,
      automation_workflows: -1,
      advanced_filters: true,
      ai_insights: true,
      batch_operations: true,
      custom_integration: true,
      dedicated_support: true,
    },
  },
};

const QIDIAN_PLANS: { readonly [C in PlanCode]: Plan<'qidian'> } = {
  free: {
    id: 'qidian_free',
    service: 'qidian',
    code: 'free',
    name: '起点免费版',
    priceMonthlyFen: 0,
    priceYearlyFen: null,
    features: {
      novel_tracking_limit: 10,
      ranking_access: ['热销榜'],
      data_collection_frequency: 'daily',
      author_info: false,
      trend_analysis: false,
      export_formats: ['json'],
      data_retention_days: 7,
      alert_notifications: 1,
      custom_keywords: false, // not listed
      competitor_analysis: false, // not listed
      market_insights: false, // not listed
      custom_reports: false, // not listed
      api_access: false, // not listed
    },
  },
  basic: {
    id: 'qidian_basic',
    service: 'qidian',
    code: 'basic',
    name: '起点基础版',
    priceMonthlyFen: 2990,
    priceYearlyFen: null,
    features: {
      novel_tracking_limit: 100,
      ranking_access: ['热销榜', '收藏榜', '推荐榜'],
      data_collection_frequency: 'hourly',
      author_info: true,
      trend_analysis: false, // False, though its note says 基础趋势
      export_formats: ['json', 'excel'],
      data_retention_days: 30,
      alert_notifications: 5,
      custom_keywords: true,
      competitor_analysis: false, // not listed
      market_insights: false, // not listed
      custom_reports: false, // not listed
      api_access: false, // not listed
    },
  },
  pro: {
    id: 'qidian_pro',
    service: 'qidian',
    code: 'pro',
    name: '起点专业版',
    priceMonthlyFen: 8990,
    priceYearlyFen: null,
    features: {
      novel_tracking_limit: 1000,
      ranking_access: 'all',
      data_collection_frequency: 'realtime',
      author_info: true,
      trend_analysis: true,
      export_formats: ['json', 'excel', 'pdf'],
      data_retention_days: 90,
      alert_notifications: 20,
      custom_keywords: true,
      competitor_analysis: true,
      market_insights: true,
      custom_reports: false, // not listed
      api_access: false, // not listed
    },
  },
  enterprise: {
    id: 'qidian_enterprise',
    service: 'qidian',
    code: 'enterprise',
    name: '起点企业版',
    priceMonthlyFen: 29990,
    priceYearlyFen: null,
    features: {
      novel_tracking_limit: -1,
      ranking_access: 'all',
      data_collection_frequency: 'realtime',
      author_info: true,
      trend_analysis: true,
      export_formats: ['json', 'excel', 'pdf', 'api'],
      data_retention_days: 365,
      alert_notifications: -1,
      custom_keywords: true,
      competitor_analysis: true,
      market_insights: true,
      custom_reports: true,
      api_access: true,
    },
  },
};

export const CATALOGUE: { readonly [S in Service]: { readonly [C in PlanCode]: Plan<S> } } = {
  xiaohongshu: XIAOHONGSHU_PLANS,
  qidian: QIDIAN_PLANS,
};

// ---------------------------------------------------------------- helpers

export function isService(value: unknown): value is Service {
  return (SERVICES as readonly unknown[]).includes(value);
}

export function isPlanCode(value: unknown): value is PlanCode {
  return (PLAN_CODES as readonly unknown[]).includes(value);
}

export function plan<S extends Service>(service: S, code: PlanCode): PlanFor<S> {
  return CATALOGUE[service][code] as PlanFor<S>;
}

/** Every plan of a service, lowest rank first. */
export function plansOf<S extends Service>(service: S): PlanFor<S>[] {
  return PLAN_CODES.map((code) => plan(service, code));
}

/** 0 for free … 3 for enterprise: a higher rank is an upgrade. */
export function planRank(code: PlanCode): number {
  return PLAN_CODES.indexOf(code);
}

export function compareRank(a: PlanCode, b: PlanCode): number {
  return planRank(a) - planRank(b);
}

export function featureKind(feature: Feature): FeatureKind {
  return FEATURE_KINDS[feature];
}

/** The features of a service's catalogue (the same keys in each of its plans). */
export function featuresOf<S extends Service>(service: S): FeatureOf<S>[] {
  return Object.keys(plan(service, 'free').features) as FeatureOf<S>[];
}

export function isFeatureOf(service: Service, feature: unknown): feature is Feature {
  return typeof feature === 'string' && Object.hasOwn(plan(service, 'free').features, feature);
}

export function isDailyCounter(feature: unknown): feature is DailyCounterFeature {
  return (DAILY_COUNTER_FEATURES as readonly unknown[]).includes(feature);
}

export function isResourceLimit(feature: unknown): feature is ResourceFeature {
  return (RESOURCE_LIMIT_FEATURES as readonly unknown[]).includes(feature);
}

/** The daily counters of a service (xiaohongshu: daily_api_calls, daily_publications; qidian: none). */
export function dailyCountersOf(service: Service): DailyCounterFeature[] {
  return DAILY_COUNTER_FEATURES.filter((f) => isFeatureOf(service, f));
}

/** The reservable resource limits of a service. */
export function resourceLimitsOf(service: Service): ResourceFeature[] {
  return RESOURCE_LIMIT_FEATURES.filter((f) => isFeatureOf(service, f));
}

export type FeatureLimit = { kind: 'unlimited' } | { kind: 'limited'; limit: number } | { kind: 'not_in_plan' };

/**
 * The limit a plan sets on a counted feature (daily counter or resource
 * limit): -1 → unlimited, a count → limited, `false` or a feature the plan's
 * service does not have → not_in_plan.
 */
export function featureLimit(p: AnyPlan, feature: QuotaFeature): FeatureLimit {
  const value: unknown = Reflect.get(p.features, feature);
  if (typeof value !== 'number') return { kind: 'not_in_plan' };
  if (value === -1) return { kind: 'unlimited' };
  return { kind: 'limited', limit: value };
}

/** The plan's value of a feature; undefined when its service has no such feature. */
export function featureValue(p: AnyPlan, feature: Feature): unknown {
  return Reflect.get(p.features, feature);
}

/**
 * Whether the plan includes a feature at all: `false`, a count of 0, an empty
 * list and a feature of another service are "not included"; anything else is.
 */
export function hasFeature(p: AnyPlan, feature: Feature): boolean {
  const value = featureValue(p, feature);
  if (value === undefined || value === false || value === 0) return false;
  if (Array.isArray(value)) return value.length > 0;
  return true;
}

export function allowsExportFormat(p: AnyPlan, format: ExportFormat): boolean {
  return p.features.export_formats.includes(format);
}

/** May a qidian plan read this ranking? */
export function allowsRanking(p: Plan<'qidian'>, ranking: QidianRanking): boolean {
  const access = p.features.ranking_access;
  return access === 'all' || access.includes(ranking);
}

/**
 * May a qidian schedule collect this often? `realtime` allows every
 * frequency, `hourly` allows hourly and daily, `daily` only daily. (The catalogue
 * sets no frequency for xiaohongshu plans.)
 */
export function allowsCollectionFrequency(p: Plan<'qidian'>, wanted: CollectionFrequency): boolean {
  return COLLECTION_FREQUENCIES.indexOf(wanted) <= COLLECTION_FREQUENCIES.indexOf(p.features.data_collection_frequency);
}

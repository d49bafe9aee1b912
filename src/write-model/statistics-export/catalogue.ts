/**
 * What the usage statistics count and how they can be cut: the metric and
 * dimension names of GET /api/v1/statistics, its exports and the read model
 * (src/projections/usage-statistics.ts). Plain lists, shared by the export
 * aggregate's checks, the projection and the queries.
 */

/** Every metric, an integer per bucket (money in fen). */
export const STATISTICS_METRICS = [
  // collection (workflow executions)
  'runs_requested',
  'runs_rejected',
  'runs_completed',
  'runs_failed',
  'items_collected',
  // publishing
  'publications_published',
  'publications_failed',
  // SMS, by destination country
  'sms_requested',
  'sms_sent',
  'sms_delivered',
  'sms_undelivered',
  'sms_failed',
  'sms_segments',
  // private messages
  'messages_sent',
  'messages_failed',
  // payments
  'payments_succeeded',
  'payment_amount_fen',
] as const;
export type StatisticsMetric = (typeof STATISTICS_METRICS)[number];

/**
 * The dimensions rows can be grouped by: `day` is the time bucket (its
 * granularity day, week or month), `organization` the owner's organization
 * as it is now, `user` the owner.
 */
export const STATISTICS_DIMENSIONS = ['day', 'platform', 'country', 'organization', 'user', 'account', 'workflow', 'channel'] as const;
export type StatisticsDimension = (typeof STATISTICS_DIMENSIONS)[number];

export const STATISTICS_GRANULARITIES = ['day', 'week', 'month'] as const;
export type StatisticsGranularity = (typeof STATISTICS_GRANULARITIES)[number];

/** The channel an activity went through (payments: the payment provider). */
export const STATISTICS_CHANNELS = ['collection', 'publishing', 'sms', 'private_message', 'alipay', 'wechat'] as const;

/** The longest period one query or export covers, both ends included. */
export const MAX_STATISTICS_SPAN_DAYS = 366;

export const STATISTICS_EXPORT_FORMATS = ['xlsx', 'csv'] as const;
export type StatisticsExportFormat = (typeof STATISTICS_EXPORT_FORMATS)[number];

/** What one query or export asks for. Days are YYYY-MM-DD in the statistics time zone (QUOTA_TIME_ZONE). */
export interface StatisticsQuery {
  from: string;
  to: string;
  metrics: StatisticsMetric[];
  groupBy: StatisticsDimension[];
  granularity: StatisticsGranularity;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Days from `from` to `to`, both included; NaN when either is not a real calendar day. */
export function spanDays(from: string, to: string): number {
  if (!DAY.test(from) || !DAY.test(to)) return Number.NaN;
  const a = Date.parse(`${from}T00:00:00Z`);
  const b = Date.parse(`${to}T00:00:00Z`);
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.NaN;
  // Date.parse rolls 2026-02-30 over: a real day prints back the same
  if (new Date(a).toISOString().slice(0, 10) !== from || new Date(b).toISOString().slice(0, 10) !== to) return Number.NaN;
  return Math.round((b - a) / 86_400_000) + 1;
}

/**
 * Why a query cannot be answered, field by field (empty: it can). Shared by
 * the routes (422 with the allowed lists) and the export aggregate.
 */
export function statisticsQueryProblems(q: {
  from: unknown;
  to: unknown;
  metrics: readonly unknown[];
  groupBy: readonly unknown[];
  granularity: unknown;
}): { field: string; message: string; allowed?: readonly string[] }[] {
  const problems: { field: string; message: string; allowed?: readonly string[] }[] = [];
  const span = typeof q.from === 'string' && typeof q.to === 'string' ? spanDays(q.from, q.to) : Number.NaN;
  if (Number.isNaN(span)) problems.push({ field: 'from', message: 'from and to must be calendar days, YYYY-MM-DD' });
  else if (span < 1) problems.push({ field: 'to', message: 'to must not be before from' });
  else if (span > MAX_STATISTICS_SPAN_DAYS) problems.push({ field: 'to', message: `at most ${MAX_STATISTICS_SPAN_DAYS} days from from to to` });
  const unknownMetrics = q.metrics.filter((m) => !(STATISTICS_METRICS as readonly unknown[]).includes(m));
  if (q.metrics.length === 0) problems.push({ field: 'metrics', message: 'name at least one metric', allowed: STATISTICS_METRICS });
  else if (unknownMetrics.length > 0)
    problems.push({ field: 'metrics', message: `unknown metrics: ${unknownMetrics.map(String).join(', ')}`, allowed: STATISTICS_METRICS });
  else if (new Set(q.metrics).size !== q.metrics.length) problems.push({ field: 'metrics', message: 'a metric is named twice' });
  const unknownDimensions = q.groupBy.filter((d) => !(STATISTICS_DIMENSIONS as readonly unknown[]).includes(d));
  if (unknownDimensions.length > 0)
    problems.push({ field: 'group_by', message: `unknown dimensions: ${unknownDimensions.map(String).join(', ')}`, allowed: STATISTICS_DIMENSIONS });
  else if (new Set(q.groupBy).size !== q.groupBy.length) problems.push({ field: 'group_by', message: 'a dimension is named twice' });
  if (!(STATISTICS_GRANULARITIES as readonly unknown[]).includes(q.granularity))
    problems.push({ field: 'granularity', message: `granularity must be one of ${STATISTICS_GRANULARITIES.join(', ')}`, allowed: STATISTICS_GRANULARITIES });
  return problems;
}

import type { Knex } from 'knex';
import { quotaDay } from '../application/quota-day.js';
import { HOURLY_WINDOW_HOURS } from '../projections/usage-statistics.js';
import type { StatisticsDimension, StatisticsMetric, StatisticsQuery } from '../write-model/statistics-export/catalogue.js';
import { offsetOf, pageOf, type Page, type PageRequest } from './page.js';

/**
 * Queries of the usage statistics (read model `usage-statistics-v1`,
 * docs/statistics.md), always over a set of owners (the caller's data
 * scope): rows grouped by the dimensions asked for with one value per
 * metric, their totals, and the live view (today and the last 24 hours).
 *
 * The `organization` dimension joins `organization_members` when the query
 * runs: statistics follow the owner's current membership (an owner who
 * moved counts all their history for the organization they are in now;
 * one in none has organization null). Where that table does not exist
 * (yet), every row's organization is null.
 */

export type StatisticsValues = Partial<Record<StatisticsMetric, number>>;

export type StatisticsRow = Partial<Record<StatisticsDimension, string | null>> & { metrics: StatisticsValues };

export interface StatisticsAnswer extends Page<StatisticsRow> {
  totals: StatisticsValues;
}

const HOUR_MS = 3_600_000;

/** Whether organization_members is there (checked until it is, then remembered). */
let membersTable: Promise<boolean> | undefined;
async function hasMembersTable(knex: Knex): Promise<boolean> {
  membersTable ??= knex
    .raw("SELECT to_regclass('organization_members') IS NOT NULL AS present")
    .then((r: { rows: { present: boolean }[] }) => r.rows[0]!.present === true);
  const present = await membersTable.catch(() => false);
  if (!present) membersTable = undefined;
  return present;
}

function dimensionSql(dimension: StatisticsDimension, query: StatisticsQuery, withMembers: boolean): string {
  switch (dimension) {
    case 'day':
      return query.granularity === 'day' ? "to_char(s.day, 'YYYY-MM-DD')" : `to_char(date_trunc('${query.granularity}', s.day)::date, 'YYYY-MM-DD')`;
    case 'organization':
      return withMembers ? "coalesce(om.organization_id, '')" : "''::text";
    case 'user':
      return 's.user_id';
    case 'account':
      return 's.account_id';
    case 'workflow':
      return 's.workflow_id';
    default:
      return `s.${dimension}`;
  }
}

/** The grouped rows as one CTE `g` (d0…: dimensions, m0…: metrics) and its bindings. */
async function grouped(knex: Knex, ownerIds: readonly string[], query: StatisticsQuery): Promise<{ sql: string; bindings: Knex.RawBinding[] }> {
  const withMembers = query.groupBy.includes('organization') && (await hasMembersTable(knex));
  const dims = query.groupBy.map((d, i) => `${dimensionSql(d, query, withMembers)} AS d${i}`);
  const sums = query.metrics.map((_, i) => `coalesce(sum(s.value) FILTER (WHERE s.metric = ?), 0)::bigint AS m${i}`);
  let sql = `WITH g AS (SELECT ${[...dims, ...sums].join(', ')} FROM usage_statistics_daily s`;
  if (withMembers) sql += ' LEFT JOIN organization_members om ON om.user_id = s.user_id';
  sql += ' WHERE s.user_id = ANY(?::text[]) AND s.day BETWEEN ?::date AND ?::date AND s.metric = ANY(?::text[])';
  if (dims.length > 0) sql += ` GROUP BY ${query.groupBy.map((_, i) => i + 1).join(', ')}`;
  sql += ')';
  return { sql, bindings: [...query.metrics, [...ownerIds], query.from, query.to, [...query.metrics]] };
}

function rowOf(r: Record<string, unknown>, query: StatisticsQuery): StatisticsRow {
  const row: StatisticsRow = { metrics: {} };
  query.groupBy.forEach((d, i) => {
    const v = r[`d${i}`];
    row[d] = v === '' || v == null ? null : String(v);
  });
  query.metrics.forEach((m, i) => {
    row.metrics[m] = Number(r[`m${i}`] ?? 0);
  });
  return row;
}

const order = (query: StatisticsQuery) => (query.groupBy.length === 0 ? '' : ` ORDER BY ${query.groupBy.map((_, i) => `d${i}`).join(', ')}`);

/** A page of grouped rows, ordered by the dimensions as named, with the number of rows and the metrics' totals over all of them. */
export async function statistics(knex: Knex, ownerIds: readonly string[], query: StatisticsQuery, page: PageRequest): Promise<StatisticsAnswer> {
  const g = await grouped(knex, ownerIds, query);
  const totals = query.metrics.map((_, i) => `(SELECT coalesce(sum(m${i}), 0)::bigint FROM g) AS t${i}`).join(', ');
  const sql = `${g.sql} SELECT (SELECT count(*) FROM g) AS total__, ${totals}, p.* FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT * FROM g${order(query)} LIMIT ? OFFSET ?) p ON true`;
  const { rows } = (await knex.raw(sql, [...g.bindings, page.per_page, offsetOf(page)])) as { rows: Record<string, unknown>[] };
  const first = rows[0]!;
  const total = Number(first.total__);
  const sums: StatisticsValues = {};
  query.metrics.forEach((m, i) => {
    sums[m] = Number(first[`t${i}`] ?? 0);
  });
  // the lateral page is all NULL when the page is past the end
  const items = total === 0 || offsetOf(page) >= total ? [] : rows.map((r) => rowOf(r, query));
  return { ...pageOf(items, page, total), totals: sums };
}

/** Every grouped row, `pageSize` at a time, in the query's order (for exports); stops after `limit` rows. */
export async function* statisticsPages(
  knex: Knex,
  ownerIds: readonly string[],
  query: StatisticsQuery,
  options: { pageSize?: number } = {},
): AsyncGenerator<StatisticsRow[]> {
  const perPage = options.pageSize ?? 5000;
  const g = await grouped(knex, ownerIds, query);
  for (let offset = 0; ; offset += perPage) {
    const { rows } = (await knex.raw(`${g.sql} SELECT * FROM g${order(query)} LIMIT ? OFFSET ?`, [...g.bindings, perPage, offset])) as {
      rows: Record<string, unknown>[];
    };
    if (rows.length > 0) yield rows.map((r) => rowOf(r, query));
    if (rows.length < perPage) return;
  }
}

/** How many grouped rows the query has (to refuse an export that would be too large before making it). */
export async function statisticsRowCount(knex: Knex, ownerIds: readonly string[], query: StatisticsQuery): Promise<number> {
  const g = await grouped(knex, ownerIds, query);
  const { rows } = (await knex.raw(`${g.sql} SELECT count(*) AS n FROM g`, g.bindings)) as { rows: { n: string }[] };
  return Number(rows[0]!.n);
}

export interface LiveStatistics {
  /** today in the statistics time zone */
  day: string;
  time_zone: string;
  /** today's counters so far */
  today: StatisticsValues;
  /** the last 24 UTC hours, oldest first, the current (partial) hour last; zeros where nothing happened */
  hours: { hour: string; metrics: StatisticsValues }[];
}

/** Today's counters and the last 24 hourly buckets of the owners, for the metrics asked. */
export async function liveStatistics(
  knex: Knex,
  ownerIds: readonly string[],
  metrics: readonly StatisticsMetric[],
  options: { now: Date; timeZone: string },
): Promise<LiveStatistics> {
  const day = quotaDay(options.now, options.timeZone).day;
  const current = Math.floor(options.now.getTime() / HOUR_MS) * HOUR_MS;
  const first = current - 23 * HOUR_MS;
  const zero = () => Object.fromEntries(metrics.map((m) => [m, 0])) as StatisticsValues;
  const today = zero();
  const todayRows = (
    (await knex.raw(
      'SELECT metric, sum(value)::bigint AS value FROM usage_statistics_daily WHERE user_id = ANY(?::text[]) AND day = ?::date AND metric = ANY(?::text[]) GROUP BY metric',
      [[...ownerIds], day, [...metrics]],
    )) as { rows: { metric: StatisticsMetric; value: string }[] }
  ).rows;
  for (const r of todayRows) today[r.metric] = Number(r.value);
  const hours = Array.from({ length: 24 }, (_, i) => ({ hour: new Date(first + i * HOUR_MS).toISOString(), metrics: zero() }));
  const hourRows = (
    (await knex.raw(
      'SELECT hour, metric, sum(value)::bigint AS value FROM usage_statistics_hourly WHERE user_id = ANY(?::text[]) AND hour >= ? AND hour <= ? AND metric = ANY(?::text[]) GROUP BY hour, metric',
      [[...ownerIds], new Date(first).toISOString(), new Date(current).toISOString(), [...metrics]],
    )) as { rows: { hour: Date; metric: StatisticsMetric; value: string }[] }
  ).rows;
  for (const r of hourRows) {
    const i = Math.round((new Date(r.hour).getTime() - first) / HOUR_MS);
    if (i >= 0 && i < 24) hours[i]!.metrics[r.metric] = Number(r.value);
  }
  return { day, time_zone: options.timeZone, today, hours };
}

/** The hours the live counters keep (for the docs and the route's description). */
export const LIVE_WINDOW_HOURS = HOURLY_WINDOW_HOURS;

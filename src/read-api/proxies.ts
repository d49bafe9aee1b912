import type { Knex } from 'knex';
import { offsetOf, pageOf, type Page, type PageRequest } from './page.js';
import type { ProxyCandidate } from '../application/proxy-selection.js';

/**
 * Queries of the `proxies-v1` read model (proxies, proxy_bans) and of
 * `proxy-usage-v1` (proxy_usage_stats). Nothing here can show credentials:
 * the tables have none.
 */

export interface ProxyBanView {
  platform: string;
  reason: string;
  /** null: until unbanned */
  until: string | null;
  banned_at: string;
}

export interface ProxyView {
  id: string;
  host: string;
  port: number;
  protocol: string;
  has_credentials: boolean;
  country: string | null;
  region: string | null;
  provider: string | null;
  status: string;
  /** successful checks over checks, 0..1; null before the first check */
  success_rate: number | null;
  avg_latency_ms: number | null;
  last_latency_ms: number | null;
  last_checked_at: string | null;
  last_success_at: string | null;
  last_error: string | null;
  failure_reason: string | null;
  consecutive_failures: number;
  consecutive_successes: number;
  total_checks: number;
  successful_checks: number;
  job_failures: number;
  /** the bans in force now */
  bans: ProxyBanView[];
  registered_by: string;
  registered_at: string;
  failed_at: string | null;
  recovered_at: string | null;
  retired_at: string | null;
  updated_at: string;
  /** the stream revision the row reflects */
  revision: string;
}

export interface ProxyFilters {
  status?: string;
  protocol?: string;
  country?: string;
  region?: string;
  provider?: string;
}

const iso = (value: unknown): string => (value instanceof Date ? value : new Date(String(value))).toISOString();
const isoOrNull = (value: unknown): string | null => (value == null ? null : iso(value));

function toView(row: Record<string, any>, bans: ProxyBanView[]): ProxyView {
  const total = Number(row.total_checks);
  const samples = Number(row.latency_samples);
  return {
    id: row.id,
    host: row.host,
    port: Number(row.port),
    protocol: row.protocol,
    has_credentials: Boolean(row.has_credentials),
    country: row.country,
    region: row.region,
    provider: row.provider,
    status: row.status,
    success_rate: total === 0 ? null : Number(row.successful_checks) / total,
    avg_latency_ms: samples === 0 ? null : Math.round(Number(row.latency_sum_ms) / samples),
    last_latency_ms: row.last_latency_ms == null ? null : Number(row.last_latency_ms),
    last_checked_at: isoOrNull(row.last_checked_at),
    last_success_at: isoOrNull(row.last_success_at),
    last_error: row.last_error,
    failure_reason: row.failure_reason,
    consecutive_failures: Number(row.consecutive_failures),
    consecutive_successes: Number(row.consecutive_successes),
    total_checks: total,
    successful_checks: Number(row.successful_checks),
    job_failures: Number(row.job_failures),
    bans,
    registered_by: row.registered_by,
    registered_at: iso(row.registered_at),
    failed_at: isoOrNull(row.failed_at),
    recovered_at: isoOrNull(row.recovered_at),
    retired_at: isoOrNull(row.retired_at),
    updated_at: iso(row.updated_at),
    revision: String(row.last_revision),
  };
}

/** The bans in force at `now`, per proxy. */
async function bansOf(knex: Knex, proxyIds: string[], now: Date): Promise<Map<string, ProxyBanView[]>> {
  const byProxy = new Map<string, ProxyBanView[]>();
  if (proxyIds.length === 0) return byProxy;
  const rows = (await knex('proxy_bans')
    .whereIn('proxy_id', proxyIds)
    .andWhere((q) => q.whereNull('until').orWhere('until', '>', now))
    .orderBy(['proxy_id', 'platform'])) as Record<string, any>[];
  for (const r of rows) {
    const list = byProxy.get(r.proxy_id) ?? [];
    list.push({ platform: r.platform, reason: r.reason, until: isoOrNull(r.until), banned_at: iso(r.banned_at) });
    byProxy.set(r.proxy_id, list);
  }
  return byProxy;
}

function filtered(knex: Knex, filters: ProxyFilters): Knex.QueryBuilder {
  const q = knex('proxies');
  if (filters.status) q.where('status', filters.status);
  if (filters.protocol) q.where('protocol', filters.protocol);
  // countries are recorded upper case; regions and providers are free text
  if (filters.country) q.where('country', filters.country.toUpperCase());
  if (filters.region) q.whereRaw('lower(region) = lower(?)', [filters.region]);
  if (filters.provider) q.whereRaw('lower(provider) = lower(?)', [filters.provider]);
  return q;
}

export async function listProxies(knex: Knex, filters: ProxyFilters, page: PageRequest, now: Date = new Date()): Promise<Page<ProxyView>> {
  const [{ count }] = (await filtered(knex, filters).count({ count: '*' })) as [{ count: string | number }];
  const rows = (await filtered(knex, filters)
    .select('*')
    .orderBy([
      { column: 'registered_at', order: 'desc' },
      { column: 'id', order: 'asc' },
    ])
    .offset(offsetOf(page))
    .limit(page.per_page)) as Record<string, any>[];
  const bans = await bansOf(
    knex,
    rows.map((r) => r.id),
    now,
  );
  return pageOf(
    rows.map((r) => toView(r, bans.get(r.id) ?? [])),
    page,
    Number(count),
  );
}

export async function findProxy(knex: Knex, id: string, now: Date = new Date()): Promise<ProxyView | undefined> {
  const row = (await knex('proxies').where({ id }).first()) as Record<string, any> | undefined;
  if (!row) return undefined;
  const bans = await bansOf(knex, [id], now);
  return toView(row, bans.get(id) ?? []);
}

/** The healthy proxies as lease selection wants them (the lease store adds the last lease times it keeps). */
export async function proxyCandidates(knex: Knex, now: Date = new Date()): Promise<ProxyCandidate[]> {
  const rows = (await knex('proxies').where({ status: 'healthy' }).orderBy('id')) as Record<string, any>[];
  const bans = await bansOf(
    knex,
    rows.map((r) => r.id),
    now,
  );
  return rows.map((r) => {
    const view = toView(r, bans.get(r.id) ?? []);
    return {
      proxyId: view.id,
      status: view.status,
      region: view.region,
      country: view.country,
      bannedPlatforms: view.bans.map((b) => b.platform),
      successRate: view.success_rate,
      avgLatencyMs: view.avg_latency_ms,
      lastLeasedAt: null,
    };
  });
}

export interface UsageFilters {
  proxy_id?: string;
  user_id?: string;
  platform?: string;
  /** YYYY-MM-DD, inclusive */
  from?: string;
  to?: string;
}

export interface ProxyUsageView {
  proxy_id: string;
  user_id: string;
  platform: string;
  day: string;
  executions: number;
  items: number;
  failures: number;
}

export interface MyUsageView {
  platform: string;
  day: string;
  executions: number;
  items: number;
  failures: number;
}

function usageRows(knex: Knex, filters: UsageFilters): Knex.QueryBuilder {
  const q = knex('proxy_usage_stats');
  if (filters.proxy_id) q.where('proxy_id', filters.proxy_id);
  if (filters.user_id) q.where('user_id', filters.user_id);
  if (filters.platform) q.where('platform', filters.platform);
  if (filters.from) q.where('day', '>=', filters.from);
  if (filters.to) q.where('day', '<=', filters.to);
  return q;
}

/** Usage per proxy, user, platform and day (admins), newest day first. */
export async function listProxyUsage(knex: Knex, filters: UsageFilters, page: PageRequest): Promise<Page<ProxyUsageView>> {
  const [{ count }] = (await usageRows(knex, filters).count({ count: '*' })) as [{ count: string | number }];
  const rows = (await usageRows(knex, filters)
    .select('proxy_id', 'user_id', 'platform', knex.raw('day::text as day'), 'executions', 'items', 'failures')
    .orderBy([{ column: 'day', order: 'desc' }, 'user_id', 'platform', 'proxy_id'])
    .offset(offsetOf(page))
    .limit(page.per_page)) as Record<string, any>[];
  return pageOf(
    rows.map((r) => ({
      proxy_id: r.proxy_id,
      user_id: r.user_id,
      platform: r.platform,
      day: String(r.day),
      executions: Number(r.executions),
      items: Number(r.items),
      failures: Number(r.failures),
    })),
    page,
    Number(count),
  );
}

/** One user's usage per platform (service) and day, summed over proxies (which proxies is not theirs to see). */
export async function listMyProxyUsage(
  knex: Knex,
  userId: string,
  filters: Omit<UsageFilters, 'user_id' | 'proxy_id'>,
  page: PageRequest,
): Promise<Page<MyUsageView>> {
  const grouped = () => usageRows(knex, { ...filters, user_id: userId }).groupBy('platform', 'day');
  const [{ count }] = (await knex.from(grouped().select('platform', 'day').as('g')).count({ count: '*' })) as [{ count: string | number }];
  const rows = (await grouped()
    .select('platform', knex.raw('day::text as day'))
    .sum({ executions: 'executions', items: 'items', failures: 'failures' })
    .orderBy([{ column: 'day', order: 'desc' }, 'platform'])
    .offset(offsetOf(page))
    .limit(page.per_page)) as Record<string, any>[];
  return pageOf(
    rows.map((r) => ({ platform: r.platform, day: String(r.day), executions: Number(r.executions), items: Number(r.items), failures: Number(r.failures) })),
    page,
    Number(count),
  );
}

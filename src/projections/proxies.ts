import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../subscriptions/consumer.js';
import { proxyEvents } from '../write-model/proxy/events.js';
import { proxyHealthEvents, type ProxyHealthCheckedData } from '../write-model/proxy-health/events.js';

/**
 * Read model of the proxy pool: `proxies` and `proxy_bans` (migration
 * 20261123000700), from the Proxy aggregate's lifecycle (`proxy-{id}`) and
 * its health observations (`proxy_health-{id}_{YYYYMMDD}`). The sealed
 * credentials are never copied: a row only says whether the proxy has any.
 *
 * Idempotent under redelivery, which is what lets the counters be
 * incremented here: a lifecycle event is applied only when its stream
 * revision is above the row's `last_revision` (the proxy stream's, the
 * ETag); an observation only when it is later than the row's
 * `last_checked_at` (a proxy's observations are strictly later one after
 * the other, across days too). Both move in the consumer's transaction.
 */
export const PROXIES_PROJECTION = 'proxies-v1';

export const PROXY_STREAM_PREFIX = 'proxy-';
export const PROXY_HEALTH_STREAM_PREFIX = 'proxy_health-';

const PROXY_EVENT_TYPES: readonly string[] = [...proxyEvents.types, ...proxyHealthEvents.types];

export function createProxiesProjection(name: string = PROXIES_PROJECTION): Consumer {
  return {
    name,
    filter: { streamPrefixes: [PROXY_STREAM_PREFIX, PROXY_HEALTH_STREAM_PREFIX], eventTypes: PROXY_EVENT_TYPES },
    async handle(events, { tx }) {
      for (const event of events) await applyProxyEvent(tx, event);
    },
  };
}

export const proxiesProjection: Consumer = createProxiesProjection();

/** Applies one recorded event unless it was applied already. Exported for tests. */
export async function applyProxyEvent(tx: Knex.Transaction | Knex, recorded: RecordedEvent): Promise<void> {
  if (proxyHealthEvents.owns(recorded.type)) {
    await applyObservation(tx, proxyHealthEvents.decode(recorded).data);
    return;
  }
  if (!proxyEvents.owns(recorded.type)) return;
  const event = proxyEvents.decode(recorded);
  const id = event.data.proxyId;
  const revision = recorded.revision.toString();

  if (event.type === 'ProxyRegistered') {
    const d = event.data;
    // credentials deliberately left out: only whether there are any
    await tx('proxies')
      .insert({
        id,
        stream_name: recorded.streamName,
        host: d.host,
        port: d.port,
        protocol: d.protocol,
        has_credentials: d.credentials !== null,
        country: d.country,
        region: d.region,
        provider: d.provider,
        registered_by: d.registeredBy,
        status: 'healthy',
        registered_at: d.registeredAt,
        updated_at: d.registeredAt,
        last_revision: revision,
      })
      .onConflict('id')
      .ignore();
    return;
  }

  const row = (await tx('proxies').where({ id }).forUpdate().first('last_revision')) as { last_revision: string } | undefined;
  // no row: cannot happen (ProxyRegistered is revision 0 and comes first)
  if (!row || BigInt(row.last_revision) >= recorded.revision) return;
  const update = (values: Record<string, unknown>, at: string) =>
    tx('proxies').where({ id }).update({ ...values, updated_at: at, last_revision: revision });

  switch (event.type) {
    case 'ProxyFailed':
      await update({ status: 'failed', failure_reason: event.data.reason, failed_at: event.data.failedAt }, event.data.failedAt);
      return;
    case 'ProxyRecovered':
      await update({ status: 'healthy', failure_reason: null, recovered_at: event.data.recoveredAt }, event.data.recoveredAt);
      return;
    case 'ProxyBanned': {
      const d = event.data;
      await tx('proxy_bans')
        .insert({ proxy_id: id, platform: d.platform, reason: d.reason, until: d.until, banned_at: d.bannedAt })
        .onConflict(['proxy_id', 'platform'])
        .merge(['reason', 'until', 'banned_at']);
      await update({}, d.bannedAt);
      return;
    }
    case 'ProxyUnbanned':
      await tx('proxy_bans').where({ proxy_id: id, platform: event.data.platform }).delete();
      await update({}, event.data.unbannedAt);
      return;
    case 'ProxyRetired':
      await update({ status: 'retired', retired_at: event.data.retiredAt, retire_reason: event.data.reason }, event.data.retiredAt);
      return;
  }
}

/** One observation, unless the row has it or a later one already. */
async function applyObservation(tx: Knex.Transaction | Knex, d: ProxyHealthCheckedData): Promise<void> {
  // as before the day streams: job failures are not checks (job successes are never reported)
  const isCheck = d.source !== 'job';
  await tx('proxies')
    .where({ id: d.proxyId })
    .andWhere((q) => q.whereNull('last_checked_at').orWhere('last_checked_at', '<', d.checkedAt))
    .update({
      consecutive_failures: d.consecutiveFailures,
      consecutive_successes: d.consecutiveSuccesses,
      total_checks: tx.raw('total_checks + ?', [isCheck ? 1 : 0]),
      successful_checks: tx.raw('successful_checks + ?', [isCheck && d.ok ? 1 : 0]),
      job_failures: tx.raw('job_failures + ?', [isCheck ? 0 : 1]),
      latency_sum_ms: tx.raw('latency_sum_ms + ?', [d.latencyMs ?? 0]),
      latency_samples: tx.raw('latency_samples + ?', [d.latencyMs === null ? 0 : 1]),
      last_latency_ms: d.latencyMs === null ? tx.raw('last_latency_ms') : d.latencyMs,
      last_checked_at: d.checkedAt,
      last_success_at: d.ok ? d.checkedAt : tx.raw('last_success_at'),
      last_error: d.ok ? tx.raw('last_error') : d.error,
      updated_at: d.checkedAt,
    });
}

import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../consumers/consumer.js';
import { proxyEvents, type ProxyEvent } from '../write-model/proxy/events.js';
import { proxyHealthEvents, type ProxyHealthCheckedData } from '../write-model/proxy-health/events.js';
import { instantSql, micros } from './instants.js';
import { deleteRows, patchRows, selectRows, upsertRows, type Row } from './sql-batch.js';

/**
 * Read model of the proxy pool: `proxies` and `proxy_bans` (migration
 * 20261123000700), from the Proxy aggregate's lifecycle (`proxy-{id}`) and
 * its health observations (`proxy_health-{id}_{YYYYMMDD}`). The sealed
 * credentials are never copied: a row only says whether the proxy has any.
 *
 * A batch is folded per proxy in memory, in event order, over the rows as
 * the batch finds them (read and locked first), and written with a few
 * statements. Idempotent under redelivery, which is what lets the counters
 * be incremented here: a lifecycle event is applied only when its stream
 * revision is above the row's `last_revision` (the proxy stream's, the
 * ETag); an observation only when it is later than the row's
 * `last_checked_at` (a proxy's observations are strictly later one after
 * the other, across days too). Both move in the consumer's transaction, and
 * the update is guarded by both.
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
      await applyEvents(tx, events);
    },
  };
}

export const proxiesProjection: Consumer = createProxiesProjection();

type Decoded = { kind: 'lifecycle'; event: ProxyEvent; revision: bigint; streamName: string } | { kind: 'observation'; data: ProxyHealthCheckedData };

/** The counters an observation adds to. */
const COUNTERS = ['total_checks', 'successful_checks', 'job_failures', 'latency_sum_ms', 'latency_samples'] as const;
type Counters = Record<(typeof COUNTERS)[number], number>;

interface ProxyState {
  revision: bigint;
  /** last_checked_at in microseconds */
  checkedAt: bigint | null;
  /** a row registered in this batch: written whole */
  insert?: Row;
  /** an existing row: the columns set, and what the counters grow by */
  patch?: Row;
  adds?: Counters;
}

interface Ban {
  proxy_id: string;
  platform: string;
  /** absent: unbanned */
  row?: Row;
}

async function applyEvents(tx: Knex.Transaction, events: readonly RecordedEvent[]): Promise<void> {
  const decoded: Decoded[] = [];
  for (const recorded of events) {
    if (proxyHealthEvents.owns(recorded.type)) decoded.push({ kind: 'observation', data: proxyHealthEvents.decode(recorded).data });
    else if (proxyEvents.owns(recorded.type))
      decoded.push({ kind: 'lifecycle', event: proxyEvents.decode(recorded), revision: recorded.revision, streamName: recorded.streamName });
  }
  if (decoded.length === 0) return;

  const ids = [...new Set(decoded.map((e) => (e.kind === 'observation' ? e.data.proxyId : e.event.data.proxyId)))];
  const current = await selectRows<{ id: string; last_revision: string; checked_us: string | null }>(
    tx,
    'proxies',
    ids.map((id) => ({ id })),
    {
      key: ['id'],
      columns: ['id', 'last_revision', instantSql('t.last_checked_at', 'checked_us')],
      forUpdate: true,
    },
  );
  const proxies = new Map<string, ProxyState>(
    current.map((r) => [r.id, { revision: BigInt(r.last_revision), checkedAt: r.checked_us === null ? null : BigInt(r.checked_us) }]),
  );
  const bans = new Map<string, Ban>();

  for (const e of decoded) {
    if (e.kind === 'observation') {
      const proxy = proxies.get(e.data.proxyId);
      const at = micros(e.data.checkedAt);
      // no row: nothing to count on; an observation at or before the row's last: applied already
      if (!proxy || (proxy.checkedAt !== null && at <= proxy.checkedAt)) continue;
      observe(proxy, e.data);
      proxy.checkedAt = at;
      continue;
    }
    const { event, revision } = e;
    const id = event.data.proxyId;
    const proxy = proxies.get(id);
    if (event.type === 'ProxyRegistered') {
      if (!proxy) proxies.set(id, { revision, checkedAt: null, insert: registered(event.data, e.streamName, revision) });
      continue;
    }
    // no row: cannot happen (ProxyRegistered is revision 0 and comes first)
    if (!proxy || revision <= proxy.revision) continue;
    proxy.revision = revision;
    switch (event.type) {
      case 'ProxyFailed':
        set(proxy, { status: 'failed', failure_reason: event.data.reason, failed_at: event.data.failedAt, updated_at: event.data.failedAt });
        break;
      case 'ProxyRecovered':
        set(proxy, { status: 'healthy', failure_reason: null, recovered_at: event.data.recoveredAt, updated_at: event.data.recoveredAt });
        break;
      case 'ProxyBanned': {
        const d = event.data;
        bans.set(`${id} ${d.platform}`, {
          proxy_id: id,
          platform: d.platform,
          row: { proxy_id: id, platform: d.platform, reason: d.reason, until: d.until, banned_at: d.bannedAt },
        });
        set(proxy, { updated_at: d.bannedAt });
        break;
      }
      case 'ProxyUnbanned':
        bans.set(`${id} ${event.data.platform}`, { proxy_id: id, platform: event.data.platform });
        set(proxy, { updated_at: event.data.unbannedAt });
        break;
      case 'ProxyRetired':
        set(proxy, { status: 'retired', retired_at: event.data.retiredAt, retire_reason: event.data.reason, updated_at: event.data.retiredAt });
        break;
    }
    set(proxy, { last_revision: revision.toString() });
  }

  const inserts: Row[] = [];
  const patches: Row[] = [];
  for (const [id, proxy] of proxies) {
    if (proxy.insert) inserts.push(proxy.insert);
    else if (proxy.patch) patches.push({ id, last_revision: proxy.revision.toString(), ...proxy.patch, ...proxy.adds });
  }
  await upsertRows(tx, 'proxies', inserts, { conflict: ['id'] });
  await patchRows(tx, 'proxies', patches, {
    key: ['id'],
    add: COUNTERS,
    // a newer revision, or the same with a later observation; never an earlier observation
    guard:
      '(t.last_revision < n.last_revision OR (t.last_revision = n.last_revision AND n.last_checked_at IS NOT NULL))' +
      ' AND (n.last_checked_at IS NULL OR t.last_checked_at IS NULL OR t.last_checked_at < n.last_checked_at)',
  });
  const all = [...bans.values()];
  await deleteRows(
    tx,
    'proxy_bans',
    all.filter((b) => !b.row).map(({ proxy_id, platform }) => ({ proxy_id, platform })),
    { key: ['proxy_id', 'platform'] },
  );
  await upsertRows(
    tx,
    'proxy_bans',
    all.flatMap((b) => (b.row ? [b.row] : [])),
    { conflict: ['proxy_id', 'platform'], update: ['reason', 'until', 'banned_at'] },
  );
}

/** The new row, whole (every column: a missing one would be NULL, not its default). */
function registered(d: Extract<ProxyEvent, { type: 'ProxyRegistered' }>['data'], streamName: string, revision: bigint): Row {
  // credentials deliberately left out: only whether there are any
  return {
    id: d.proxyId,
    stream_name: streamName,
    host: d.host,
    port: d.port,
    protocol: d.protocol,
    has_credentials: d.credentials !== null,
    country: d.country,
    region: d.region,
    provider: d.provider,
    registered_by: d.registeredBy,
    status: 'healthy',
    consecutive_failures: 0,
    consecutive_successes: 0,
    total_checks: 0,
    successful_checks: 0,
    job_failures: 0,
    latency_sum_ms: 0,
    latency_samples: 0,
    last_latency_ms: null,
    last_checked_at: null,
    last_success_at: null,
    last_error: null,
    failure_reason: null,
    failed_at: null,
    recovered_at: null,
    retired_at: null,
    retire_reason: null,
    registered_at: d.registeredAt,
    updated_at: d.registeredAt,
    last_revision: revision.toString(),
  };
}

function set(proxy: ProxyState, values: Row): void {
  Object.assign(proxy.insert ?? (proxy.patch ??= {}), values);
}

/** One observation over the row: its counters grow, the latest values replace the row's. */
function observe(proxy: ProxyState, d: ProxyHealthCheckedData): void {
  // as before the day streams: job failures are not checks (job successes are never reported)
  const isCheck = d.source !== 'job';
  const delta: Counters = {
    total_checks: isCheck ? 1 : 0,
    successful_checks: isCheck && d.ok ? 1 : 0,
    job_failures: isCheck ? 0 : 1,
    latency_sum_ms: d.latencyMs ?? 0,
    latency_samples: d.latencyMs === null ? 0 : 1,
  };
  const counters = proxy.insert ?? (proxy.adds ??= { total_checks: 0, successful_checks: 0, job_failures: 0, latency_sum_ms: 0, latency_samples: 0 });
  for (const c of COUNTERS) counters[c] = (counters[c] as number) + delta[c];
  const values: Row = {
    consecutive_failures: d.consecutiveFailures,
    consecutive_successes: d.consecutiveSuccesses,
    last_checked_at: d.checkedAt,
    updated_at: d.checkedAt,
  };
  if (d.latencyMs !== null) values.last_latency_ms = d.latencyMs;
  if (d.ok) values.last_success_at = d.checkedAt;
  else values.last_error = d.error;
  set(proxy, values);
}

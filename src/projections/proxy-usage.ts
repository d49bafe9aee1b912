import type { Knex } from 'knex';
import { quotaDay } from '../application/quota-day.js';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../subscriptions/consumer.js';
import { workflowExecutionEvents, type WorkflowExecutionEvent } from '../write-model/workflow-execution/events.js';

/**
 * Proxy usage per proxy, user, platform and day (`proxy_usage_stats`), from
 * the WorkflowExecution streams (`workflow_execution-{id}`):
 *
 * - executions: an execution counts once for each proxy it was assigned to
 *   (ProxyAssigned; a reassignment back to a proxy that already counted it
 *   does not count again), on the day of the assignment;
 * - items: ItemsCollected adds its items to the execution's current proxy;
 * - failures: ExecutionFailed counts for the proxy it names (or the current one).
 *
 * Items and failures of an execution without a proxy are not proxy usage and
 * are left out. The owner, platform and current proxy of each execution come
 * from this consumer's own `proxy_usage_executions` (a consumer never reads
 * another's tables).
 *
 * Idempotent under redelivery: an event is applied only when its stream
 * revision is above the execution's `last_revision`, moved in the consumer's
 * transaction. Days are in the quota time zone (config QUOTA_TIME_ZONE).
 */
export const PROXY_USAGE_PROJECTION = 'proxy-usage-v1';

export const EXECUTION_STREAM_PREFIX = 'workflow_execution-';

const USED_TYPES: readonly WorkflowExecutionEvent['type'][] = ['ExecutionRequested', 'ProxyAssigned', 'ItemsCollected', 'ExecutionFailed'];

/** The default of config QUOTA_TIME_ZONE. */
export const DEFAULT_USAGE_TIME_ZONE = 'Asia/Shanghai';

export interface ProxyUsageProjectionOptions {
  name?: string;
  /** config QUOTA_TIME_ZONE */
  timeZone?: string;
}

export function createProxyUsageProjection(options: ProxyUsageProjectionOptions = {}): Consumer {
  const timeZone = options.timeZone ?? DEFAULT_USAGE_TIME_ZONE;
  return {
    name: options.name ?? PROXY_USAGE_PROJECTION,
    filter: { streamPrefixes: [EXECUTION_STREAM_PREFIX], eventTypes: USED_TYPES },
    async handle(events, { tx }) {
      for (const event of events) await applyUsageEvent(tx, event, timeZone);
    },
  };
}

export const proxyUsageProjection: Consumer = createProxyUsageProjection();

const KNOWN = new Set<string>(USED_TYPES);

interface ExecutionRow {
  owner_id: string;
  platform: string;
  proxy_id: string | null;
  counted_proxies: string[];
  last_revision: string;
}

/** Applies one recorded event unless its revision was applied already. Exported for tests. */
export async function applyUsageEvent(tx: Knex.Transaction | Knex, recorded: RecordedEvent, timeZone: string = DEFAULT_USAGE_TIME_ZONE): Promise<void> {
  if (!KNOWN.has(recorded.type)) return;
  const event = workflowExecutionEvents.decode(recorded);
  const executionId = event.data.executionId;
  const revision = recorded.revision.toString();

  if (event.type === 'ExecutionRequested') {
    const d = event.data;
    await tx('proxy_usage_executions')
      .insert({ execution_id: executionId, owner_id: d.ownerId, platform: d.platform, proxy_id: null, last_revision: revision })
      .onConflict('execution_id')
      .ignore();
    return;
  }

  const row = (await tx('proxy_usage_executions').where({ execution_id: executionId }).forUpdate().first()) as ExecutionRow | undefined;
  // no row: cannot happen (ExecutionRequested is revision 0 and comes first)
  if (!row || BigInt(row.last_revision) >= recorded.revision) return;
  const moveTo = (values: Record<string, unknown>) =>
    tx('proxy_usage_executions').where({ execution_id: executionId }).update({ ...values, last_revision: revision });
  const count = (proxyId: string, at: string, delta: { executions?: number; items?: number; failures?: number }) =>
    addUsage(tx, { proxyId, userId: row.owner_id, platform: row.platform, day: quotaDay(new Date(at), timeZone).day, at }, delta);

  switch (event.type) {
    case 'ProxyAssigned': {
      const d = event.data;
      const counted = row.counted_proxies.includes(d.proxyId);
      if (!counted) await count(d.proxyId, d.assignedAt, { executions: 1 });
      await moveTo({ proxy_id: d.proxyId, counted_proxies: counted ? row.counted_proxies : [...row.counted_proxies, d.proxyId] });
      return;
    }
    case 'ItemsCollected': {
      const d = event.data;
      if (row.proxy_id !== null && d.items.length > 0) await count(row.proxy_id, d.collectedAt, { items: d.items.length });
      await moveTo({});
      return;
    }
    case 'ExecutionFailed': {
      const d = event.data;
      const proxyId = d.proxy?.proxyId ?? row.proxy_id;
      if (proxyId !== null) await count(proxyId, d.failedAt, { failures: 1 });
      await moveTo({});
      return;
    }
  }
}

async function addUsage(
  tx: Knex.Transaction | Knex,
  key: { proxyId: string; userId: string; platform: string; day: string; at: string },
  delta: { executions?: number; items?: number; failures?: number },
): Promise<void> {
  const executions = delta.executions ?? 0;
  const items = delta.items ?? 0;
  const failures = delta.failures ?? 0;
  await tx('proxy_usage_stats')
    .insert({ proxy_id: key.proxyId, user_id: key.userId, platform: key.platform, day: key.day, executions, items, failures, updated_at: key.at })
    .onConflict(['proxy_id', 'user_id', 'platform', 'day'])
    .merge({
      executions: tx.raw('proxy_usage_stats.executions + ?', [executions]),
      items: tx.raw('proxy_usage_stats.items + ?', [items]),
      failures: tx.raw('proxy_usage_stats.failures + ?', [failures]),
      updated_at: tx.raw('GREATEST(proxy_usage_stats.updated_at, excluded.updated_at)'),
    });
}

import type { Knex } from 'knex';
import { quotaDay } from '../application/quota-day.js';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../consumers/consumer.js';
import { workflowExecutionEvents, type WorkflowExecutionEvent } from '../write-model/workflow-execution/events.js';
import { micros } from './instants.js';
import { ITEMS_COUNTED, itemsCounted, type ItemsCounted } from './items-collected-reads.js';
import { patchRows, selectRows, upsertRows, type Row } from './sql-batch.js';

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
 * A batch is folded in memory, each execution's events in stream order over
 * its row as the batch finds it (read and locked first), and written with
 * three statements: the new executions, the changed ones, the usage added
 * per proxy, user, platform and day. Idempotent under redelivery: an event
 * is applied only when its stream revision is above the execution's
 * `last_revision`, moved in the consumer's transaction (and the update is
 * guarded the same way). Days are in the quota time zone (config
 * QUOTA_TIME_ZONE).
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
    // a rebuild reads ItemsCollected as its count of items
    rebuildData: { ItemsCollected: ITEMS_COUNTED },
    async handle(events, { tx }) {
      await applyEvents(tx, events, timeZone);
    },
  };
}

export const proxyUsageProjection: Consumer = createProxyUsageProjection();

const KNOWN = new Set<string>(USED_TYPES);

/** The events as this projection uses them: ItemsCollected as the count of its items, read whole or as ITEMS_COUNTED. */
type Used = Exclude<WorkflowExecutionEvent, { type: 'ItemsCollected' }> | { type: 'ItemsCollected'; data: ItemsCounted };

function used(recorded: RecordedEvent): Used {
  if (recorded.type === 'ItemsCollected') return { type: 'ItemsCollected', data: itemsCounted(recorded) };
  const event = workflowExecutionEvents.decode(recorded);
  // decode keeps the recorded type: never an ItemsCollected here
  if (event.type === 'ItemsCollected') throw new Error(`${recorded.id}: an ItemsCollected under the type ${recorded.type}`);
  return event;
}

interface Execution {
  ownerId: string;
  platform: string;
  proxyId: string | null;
  counted: string[];
  revision: bigint;
  /** requested in this batch: written whole */
  isNew: boolean;
  changed: boolean;
}

interface Usage {
  row: { proxy_id: string; user_id: string; platform: string; day: string; executions: number; items: number; failures: number; updated_at: string };
  /** updated_at in microseconds: the latest use's time */
  at: bigint;
}

async function applyEvents(tx: Knex.Transaction, events: readonly RecordedEvent[], timeZone: string): Promise<void> {
  const decoded: { event: Used; revision: bigint }[] = [];
  for (const recorded of events) {
    if (KNOWN.has(recorded.type)) decoded.push({ event: used(recorded), revision: recorded.revision });
  }
  if (decoded.length === 0) return;

  const ids = [...new Set(decoded.map((e) => e.event.data.executionId))];
  const current = await selectRows<{
    execution_id: string;
    owner_id: string;
    platform: string;
    proxy_id: string | null;
    counted_proxies: string[];
    last_revision: string;
  }>(
    tx,
    'proxy_usage_executions',
    ids.map((execution_id) => ({ execution_id })),
    { key: ['execution_id'], columns: ['execution_id', 'owner_id', 'platform', 'proxy_id', 'counted_proxies', 'last_revision'], forUpdate: true },
  );
  const executions = new Map<string, Execution>(
    current.map((r) => [
      r.execution_id,
      {
        ownerId: r.owner_id,
        platform: r.platform,
        proxyId: r.proxy_id,
        counted: r.counted_proxies,
        revision: BigInt(r.last_revision),
        isNew: false,
        changed: false,
      },
    ]),
  );
  const usage = new Map<string, Usage>();
  const count = (execution: Execution, proxyId: string, at: string, delta: { executions?: number; items?: number; failures?: number }) => {
    const day = quotaDay(new Date(at), timeZone).day;
    const key = `${proxyId}\u0000${execution.ownerId}\u0000${execution.platform}\u0000${day}`;
    const us = micros(at);
    let u = usage.get(key);
    if (!u) {
      u = {
        row: { proxy_id: proxyId, user_id: execution.ownerId, platform: execution.platform, day, executions: 0, items: 0, failures: 0, updated_at: at },
        at: us,
      };
      usage.set(key, u);
    }
    u.row.executions += delta.executions ?? 0;
    u.row.items += delta.items ?? 0;
    u.row.failures += delta.failures ?? 0;
    if (us > u.at) {
      u.row.updated_at = at;
      u.at = us;
    }
  };

  for (const { event, revision } of decoded) {
    const executionId = event.data.executionId;
    const execution = executions.get(executionId);
    if (event.type === 'ExecutionRequested') {
      if (!execution)
        executions.set(executionId, {
          ownerId: event.data.ownerId,
          platform: event.data.platform,
          proxyId: null,
          counted: [],
          revision,
          isNew: true,
          changed: true,
        });
      continue;
    }
    // no row: cannot happen (ExecutionRequested is revision 0 and comes first)
    if (!execution || revision <= execution.revision) continue;
    switch (event.type) {
      case 'ProxyAssigned': {
        const d = event.data;
        if (!execution.counted.includes(d.proxyId)) {
          count(execution, d.proxyId, d.assignedAt, { executions: 1 });
          execution.counted = [...execution.counted, d.proxyId];
        }
        execution.proxyId = d.proxyId;
        break;
      }
      case 'ItemsCollected': {
        const d = event.data;
        if (execution.proxyId !== null && d.batchItemCount > 0) count(execution, execution.proxyId, d.collectedAt, { items: d.batchItemCount });
        break;
      }
      case 'ExecutionFailed': {
        const d = event.data;
        const proxyId = d.proxy?.proxyId ?? execution.proxyId;
        if (proxyId !== null) count(execution, proxyId, d.failedAt, { failures: 1 });
        break;
      }
    }
    execution.revision = revision;
    execution.changed = true;
  }

  const inserts: Row[] = [];
  const patches: Row[] = [];
  for (const [id, e] of executions) {
    if (!e.changed) continue;
    const values = { execution_id: id, proxy_id: e.proxyId, counted_proxies: e.counted, last_revision: e.revision.toString() };
    if (e.isNew) inserts.push({ ...values, owner_id: e.ownerId, platform: e.platform });
    else patches.push(values);
  }
  await upsertRows(tx, 'proxy_usage_executions', inserts, { conflict: ['execution_id'] });
  await patchRows(tx, 'proxy_usage_executions', patches, { key: ['execution_id'], guard: 't.last_revision < n.last_revision' });
  await upsertRows(
    tx,
    'proxy_usage_stats',
    [...usage.values()].map((u) => u.row),
    {
      conflict: ['proxy_id', 'user_id', 'platform', 'day'],
      update: {
        executions: 't.executions + excluded.executions',
        items: 't.items + excluded.items',
        failures: 't.failures + excluded.failures',
        updated_at: 'GREATEST(t.updated_at, excluded.updated_at)',
      },
    },
  );
}

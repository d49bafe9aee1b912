import type { Knex } from 'knex';
import type { LeaseHolder } from '../application/proxy-selection.js';
import type { ProxyLeases } from './ports.js';
import type { ScrapeJobs } from './ports.js';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../consumers/consumer.js';
import { contextFromEvent } from '../write-model/core/command-context.js';
import { handle } from '../write-model/core/command-handler.js';
import { fold } from '../write-model/core/decider.js';
import { eventIdsFrom } from '../write-model/core/event-ids.js';
import { domainEvents } from '../write-model/events.js';
import {
  isTerminal,
  workflowExecutionAggregate,
  workflowExecutionDecider,
  workflowExecutionEvents,
  workflowExecutionStream,
  type WorkflowExecutionCommand,
} from '../write-model/workflow-execution/index.js';
import { chooseProxy, DEFAULT_NO_PROXY_DELAY_MS, readEvents, scrapeJobFor } from './dispatch-executions.js';
import { react, type ProcessManagerDeps } from './shared.js';

export const PROXY_FAILOVER = 'pm-proxy-failover';
export const FAILOVER_INDEX_TABLE = 'pm_proxy_failover_index';

export interface ProxyFailoverDeps extends ProcessManagerDeps {
  dispatcher: ScrapeJobs;
  leases?: ProxyLeases;
  now?: () => Date;
  /** the delay of the re-enqueued job when no proxy is healthy (default 60 s) */
  noProxyDelayMs?: number;
}

const TERMINAL_EVENTS = ['ExecutionCompleted', 'ExecutionFailed', 'ExecutionCancelled', 'ExecutionRejected'] as const;

/**
 * ProxyFailed (or ProxyBanned for a platform) → every execution
 * still on that proxy moves to another healthy one and its job runs again
 * from the cursor the stream recorded.
 *
 * Which executions: an index of its own (pm_proxy_failover_index), kept from
 * ProxyAssigned and the terminal execution events in the consumer's
 * transaction. The execution's stream then decides; for each one:
 * 1. AssignProxy(another healthy proxy, `proxy_failed`); none healthy → no
 *    assignment, the job is delayed by `noProxyDelayMs` without a proxy and
 *    the worker leases one when it runs;
 * 2. RetryExecution(attempt + 1) when an attempt was running (or paused):
 *    the dead attempt is superseded and the next resumes from the cursor;
 *    a `requested` or `retrying` execution has no running attempt, its
 *    pending job just gets the new proxy and cursor;
 * 3. ScrapeJobs.reenqueue with the stream's cursor (job id
 *    `{executionId}.{attempt}`).
 * Items are never collected twice: the execution drops items and batches it
 * already has, whichever attempt sends them again.
 *
 * Idempotent: the commands' event ids are named after the triggering event
 * and the execution, and the stream is searched for them first, so a
 * redelivery finds its own assignment and retry and repeats only the
 * (idempotent) enqueue, with the attempt its retry recorded.
 */
export function createProxyFailover(deps: ProxyFailoverDeps, name = PROXY_FAILOVER): Consumer {
  const now = () => deps.now?.() ?? new Date();
  return {
    name,
    filter: { eventTypes: ['ProxyAssigned', ...TERMINAL_EVENTS, 'ProxyFailed', 'ProxyBanned'] },
    async handle(events, { tx: batchTx, db }) {
      const tx = db ?? batchTx; // own tables commit as written: nothing waits on commands holding a transaction id
      for (const recorded of events) {
        const event = domainEvents.decode(recorded);
        switch (event.type) {
          case 'ProxyAssigned':
            await remember(tx, name, event.data.executionId, event.data.proxyId, event.data.assignedAt);
            break;
          case 'ExecutionCompleted':
          case 'ExecutionFailed':
          case 'ExecutionCancelled':
          case 'ExecutionRejected':
            await forget(tx, name, event.data.executionId);
            break;
          case 'ProxyFailed':
            await moveAway(deps, name, tx, recorded, event.data.proxyId, null, now());
            break;
          case 'ProxyBanned':
            await moveAway(deps, name, tx, recorded, event.data.proxyId, event.data.platform, now());
            break;
        }
      }
    },
  };
}

async function remember(tx: Knex, consumer: string, executionId: string, proxyId: string, at: string): Promise<void> {
  await tx(FAILOVER_INDEX_TABLE)
    .insert({ consumer, execution_id: executionId, proxy_id: proxyId, assigned_at: at })
    .onConflict(['consumer', 'execution_id'])
    .merge(['proxy_id', 'assigned_at']);
}

async function forget(tx: Knex, consumer: string, executionId: string): Promise<void> {
  await tx(FAILOVER_INDEX_TABLE).where({ consumer, execution_id: executionId }).delete();
}

/** Moves every execution on `proxyId` (only those of `platform`, for a ban). */
async function moveAway(
  deps: ProxyFailoverDeps,
  name: string,
  tx: Knex,
  event: RecordedEvent,
  proxyId: string,
  platform: string | null,
  now: Date,
): Promise<void> {
  const rows = (await tx(FAILOVER_INDEX_TABLE).where({ consumer: name, proxy_id: proxyId }).orderBy('execution_id').select('execution_id')) as {
    execution_id: string;
  }[];
  const picked = new Map<string, LeaseHolder>();
  for (const { execution_id: executionId } of rows) {
    await react(deps, name, event, () => moveOne(deps, name, tx, event, executionId, proxyId, platform, now, picked));
  }
}

async function moveOne(
  deps: ProxyFailoverDeps,
  name: string,
  tx: Knex,
  event: RecordedEvent,
  executionId: string,
  badProxyId: string,
  platform: string | null,
  now: Date,
  picked: Map<string, LeaseHolder>,
): Promise<void> {
  // the history, read once: the steps of an earlier delivery of this event are found by their ids
  const recorded = await readEvents(deps.store, workflowExecutionStream(executionId));
  const history = recorded.map((e) => workflowExecutionEvents.decode(e));
  const state = fold(workflowExecutionDecider, history);
  const request = state.request;
  if (!request || isTerminal(state)) return void (await forget(tx, name, executionId));
  if (platform !== null && request.platform !== platform) return;

  const ids = (step: string) => eventIdsFrom(`${name}:${event.id}:${executionId}:${step}`);
  const assignIds = ids('assign');
  const retryIds = ids('retry');
  const context = contextFromEvent(event, name);
  const reason = platform === null ? 'proxy_failed' : `proxy_banned:${platform}`;

  // 1. the new proxy: ours from an earlier delivery, or a fresh choice
  const assignAt = recorded.findIndex((e) => e.id === assignIds(0));
  const earlierAssign = history[assignAt];
  let proxyId: string | null;
  let atMove = state; // the execution as it was when it was moved
  if (earlierAssign?.type === 'ProxyAssigned') {
    proxyId = earlierAssign.data.proxyId;
    atMove = fold(workflowExecutionDecider, history.slice(0, assignAt));
  } else {
    if (state.proxy !== null && state.proxy.proxyId !== badProxyId) {
      // moved meanwhile (a worker leased another): the index follows the stream
      return void (await remember(tx, name, executionId, state.proxy.proxyId, now.toISOString()));
    }
    proxyId = await chooseProxy(tx, deps, request, now, picked, [badProxyId]);
  }

  // 2. a running attempt is superseded by the next one
  const retried = history[recorded.findIndex((e) => e.id === retryIds(0))];
  let attempt = retried?.type === 'ExecutionRetried' ? retried.data.attempt : undefined;
  const assign = earlierAssign === undefined && proxyId !== null;
  const retry = attempt === undefined && (atMove.status === 'running' || atMove.status === 'paused');
  let cursor = state.cursor;
  if (assign || retry) {
    if (retry) attempt = atMove.attempt + 1;
    // both steps in one append, decided on the stream as it is then; each keeps its own event id
    let assigning = false;
    const at = now.toISOString();
    const result = await handle(
      deps.store,
      workflowExecutionAggregate,
      executionId,
      (fresh) => {
        const commands: WorkflowExecutionCommand[] = [];
        // the proxy in place (a worker leased it meanwhile) is no move: the decider records nothing for it
        assigning = assign && !isTerminal(fresh) && fresh.proxy?.proxyId !== proxyId;
        if (isTerminal(fresh)) return commands;
        if (assigning) commands.push({ type: 'AssignProxy', executionId, proxyId: proxyId!, leaseId: null, reason: 'proxy_failed', now: at });
        if (retry) commands.push({ type: 'RetryExecution', executionId, attempt: attempt!, reason, now: at });
        return commands;
      },
      { context, eventIds: (index) => (assigning && index === 0 ? assignIds(0) : retryIds(0)) },
    );
    if (isTerminal(result.state)) return void (await forget(tx, name, executionId));
    cursor = result.state.cursor;
  }
  if (proxyId !== null) await remember(tx, name, executionId, proxyId, now.toISOString());

  // 3. the job, from the cursor the stream has now
  const delayMs = proxyId === null ? (deps.noProxyDelayMs ?? DEFAULT_NO_PROXY_DELAY_MS) : undefined;
  if (!(await deps.dispatcher.latestJob(executionId))) {
    // no job kept (never enqueued yet, or long gone): a fresh one for the attempt about to run
    const run = { proxyId, cursor, attempt: attempt ?? Math.max(state.attempt, 1), reason };
    await deps.dispatcher.enqueue(scrapeJobFor(request, run), delayMs ? { delayMs } : {});
    return;
  }
  await deps.dispatcher.reenqueue(executionId, cursor, reason, {
    ...(attempt !== undefined ? { attempt } : {}),
    proxyId,
    ...(delayMs ? { delayMs } : {}),
  });
}

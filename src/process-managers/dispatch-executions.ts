import type { Knex } from 'knex';
import { selectProxies, type LeaseHolder, type ProxyCandidate } from '../adapters/proxies/lease-selection.js';
import type { RedisProxyLeaseStore } from '../adapters/proxies/redis-lease-store.js';
import type { ScrapeJobData } from '../adapters/queue/queues.js';
import type { ScrapeDispatcher } from '../adapters/queue/scrape-dispatcher.js';
import { consumeQuota, loadQuotaSubject } from '../application/subscription-quotas.js';
import { IdempotencyConflictError, StreamNotFoundError } from '../event-store/errors.js';
import type { EventStore, RecordedEvent } from '../event-store/port.js';
import { checkAgainstPlan, runNeeds, workflowType, type Refusal } from '../platforms/registry.js';
import { proxyCandidates } from '../read-api/proxies.js';
import type { Consumer } from '../subscriptions/consumer.js';
import { contextFromEvent, type CommandContext } from '../write-model/core/command-context.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { eventIdsFrom } from '../write-model/core/event-ids.js';
import { platformAccountAggregate } from '../write-model/platform-account/decider.js';
import { isDailyCounter, type Service } from '../write-model/subscription/plans.js';
import { workflowExecutionEvents, type ExecutionRequestedData, type RejectionCode } from '../write-model/workflow-execution/events.js';
import { workflowExecutionAggregate, type WorkflowExecutionCommand } from '../write-model/workflow-execution/index.js';
import { react, type ProcessManagerDeps } from './shared.js';

export const DISPATCH_EXECUTIONS = 'pm-dispatch-executions';

/** A job enqueued while no proxy is healthy waits this long before a worker tries to lease one. */
export const DEFAULT_NO_PROXY_DELAY_MS = 60_000;

export interface DispatchExecutionsDeps extends ProcessManagerDeps {
  dispatcher: ScrapeDispatcher;
  /** the quota day's zone (config QUOTA_TIME_ZONE) */
  timeZone: string;
  /** current leases and last lease times sharpen the choice; without it the read model alone decides */
  leases?: RedisProxyLeaseStore;
  now?: () => Date;
  noProxyDelayMs?: number;
}

/**
 * ExecutionRequested → check the plan, then accept (a proxy is
 * chosen and recorded, the scrape job enqueued) or reject.
 *
 * - xiaohongshu types consume the run's `daily_api_calls` (registry runNeeds);
 *   qidian types have no daily counter and are checked with checkAgainstPlan
 *   (ranking_access, novel_tracking_limit). Every type is checked against
 *   the plan first, so a plan that lost a feature since the workflow was
 *   made refuses the run (PERMISSION_DENIED), as does a run bigger than a
 *   whole day's calls (QUOTA_EXCEEDED).
 * - a run that needs an account and has none, or whose account is not
 *   active, is rejected ACCOUNT_INVALID before any quota is spent.
 * - the proxy is only chosen here (AssignProxy, reason `initial`, no lease
 *   id): the worker takes the Redis lease when the job runs. No healthy
 *   proxy → the job is still enqueued, delayed by `noProxyDelayMs`, with no
 *   proxy; the worker leases one at run time (or the job backs off).
 *
 * Reads per request: the subscription once (plan and quota terms), the
 * day's usage stream once (the quota use), the account once, the proxy
 * pool once per batch. The execution's stream (one or two events at this
 * point) is read first, so that a request no longer waiting spends nothing
 * (a replay from the start must not count old runs on today's quota), and
 * again by `handle`, whose decision on the state it reads records the
 * verdict or the proxy.
 *
 * Idempotent under redelivery: an execution no longer `requested` (rejected,
 * cancelled, started) is left alone; one with a proxy was accepted before
 * (the proxy is recorded after the quota); the quota use has event ids named
 * after the triggering event, so it is counted once and its verdict repeats;
 * the job id is the execution id.
 */
/** owners dispatched at once within a batch */
const DISPATCH_LANES = 8;

export function createDispatchExecutions(deps: DispatchExecutionsDeps, name = DISPATCH_EXECUTIONS): Consumer {
  const now = () => deps.now?.() ?? new Date();
  return {
    name,
    filter: { eventTypes: ['ExecutionRequested'] },
    async handle(events, { tx }) {
      // proxies chosen in this batch count as busy, so a burst of requests spreads over the pool
      const picked = new Map<string, LeaseHolder>();
      // the proxies and their leases, read once for the batch (proxies picked in it count as busy)
      let pool: Promise<ProxyPool> | undefined;
      const poolOf = () => (pool ??= readProxyPool(tx, deps.leases, now()));
      // One owner's requests in order (they share a subscription and its
      // quota); different owners' side by side, a few at a time.
      const byOwner = new Map<string, { event: RecordedEvent; request: ExecutionRequestedData }[]>();
      for (const recorded of events) {
        const event = workflowExecutionEvents.decode(recorded);
        if (event.type !== 'ExecutionRequested') continue;
        const owned = byOwner.get(event.data.ownerId) ?? [];
        owned.push({ event: recorded, request: event.data });
        byOwner.set(event.data.ownerId, owned);
      }
      const queues = [...byOwner.values()];
      const lane = async () => {
        for (let owned = queues.shift(); owned; owned = queues.shift()) {
          for (const { event, request } of owned) {
            await react(deps, name, event, () => dispatchOne(deps, name, tx, event, request, now(), picked, poolOf));
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(DISPATCH_LANES, queues.length) }, lane));
    },
  };
}

async function dispatchOne(
  deps: DispatchExecutionsDeps,
  name: string,
  tx: Knex,
  event: RecordedEvent,
  request: ExecutionRequestedData,
  now: Date,
  picked: Map<string, LeaseHolder>,
  poolOf: () => Promise<ProxyPool>,
): Promise<void> {
  const { executionId } = request;
  const waiting = await load(deps.store, workflowExecutionAggregate, executionId);
  if (waiting.state.status !== 'requested') return;
  // accepted by an earlier delivery (the proxy comes after the quota): only the job is left to (re)enqueue
  if (waiting.state.proxy !== null) return enqueue(deps, request, waiting.state.proxy.proxyId);

  const context = contextFromEvent(event, name);
  const verdict = await admit(deps, name, event, request, context, now);
  const proxyId = verdict ? null : await chooseProxy(tx, { store: deps.store, leases: deps.leases }, request, now, picked, [], await poolOf());
  const at = now.toISOString();
  const { state } = await handle(
    deps.store,
    workflowExecutionAggregate,
    executionId,
    (execution): WorkflowExecutionCommand | [] => {
      // moved on meanwhile (cancelled, started, accepted): nothing more to record
      if (execution.status !== 'requested' || execution.proxy !== null) return [];
      if (verdict) return { type: 'RejectExecution', executionId, reason: verdict.reason, details: verdict.details, now: at };
      if (proxyId !== null) return { type: 'AssignProxy', executionId, proxyId, leaseId: null, reason: 'initial', now: at };
      return [];
    },
    // decided on the state read above: the stream is read again only if it moved meanwhile (a conflict)
    { context, eventIds: eventIdsFrom(`${name}:${event.id}:${verdict ? 'reject' : 'proxy'}`), loaded: waiting },
  );
  if (state.status !== 'requested') return;
  await enqueue(deps, request, state.proxy?.proxyId ?? null);
}

/** The first attempt's job; without a proxy it waits (the worker leases one when it runs). */
async function enqueue(deps: DispatchExecutionsDeps, request: ExecutionRequestedData, proxyId: string | null): Promise<void> {
  const delayMs = proxyId === null ? (deps.noProxyDelayMs ?? DEFAULT_NO_PROXY_DELAY_MS) : 0;
  await deps.dispatcher.enqueue(scrapeJobFor(request, { proxyId, cursor: null, attempt: 1 }), delayMs > 0 ? { delayMs } : {});
}

/** The first attempt's (or a later one's) job payload, from the request. */
export function scrapeJobFor(request: ExecutionRequestedData, run: { proxyId: string | null; cursor: string | null; attempt: number; reason?: string }): ScrapeJobData {
  return {
    executionId: request.executionId,
    workflowId: request.workflowId,
    ownerId: request.ownerId,
    platform: request.platform,
    type: request.type,
    config: request.config,
    platformAccountId: request.platformAccountId,
    proxyId: run.proxyId,
    cursor: run.cursor,
    attempt: run.attempt,
    ...(run.reason ? { reason: run.reason } : {}),
  };
}

interface Rejection {
  reason: RejectionCode;
  details: Record<string, unknown>;
}

/** null: the run may go; otherwise why not. Spends the daily counter when the type consumes one. */
async function admit(
  deps: DispatchExecutionsDeps,
  name: string,
  event: RecordedEvent,
  request: ExecutionRequestedData,
  context: CommandContext,
  now: Date,
): Promise<Rejection | null> {
  const resolved = workflowType(request.type);
  if (!resolved || resolved.platform.id !== request.platform) {
    return { reason: 'VALIDATION_ERROR', details: { type: request.type, platform: request.platform, message: `unknown workflow type ${request.type}` } };
  }
  const service = resolved.platform.service as Service;
  // the subscription, read once: its plan here, its terms for the quota use below
  const subject = await loadQuotaSubject(deps.store, request.ownerId, service);
  const plan = subject.plan;
  const refused = fromRefusals(checkAgainstPlan(request.type, request.config, plan));
  if (refused) return refused;
  const needs = runNeeds(request.type, request.config, plan)!;

  if (needs.needsAccount) {
    const problem = await accountProblem(deps.store, request);
    if (problem) return { reason: 'ACCOUNT_INVALID', details: problem };
  }
  if (needs.use !== 'consume' || !isDailyCounter(needs.feature)) return null;

  try {
    // ids named after the request: a redelivery gets the first verdict again, counted once
    await consumeQuota(
      { store: deps.store, userId: request.ownerId, service, now, timeZone: deps.timeZone, context },
      needs.feature,
      needs.amount,
      { eventIds: eventIdsFrom(`${name}:${event.id}:quota`), subject },
    );
    return null;
  } catch (error) {
    // these ids are in another day's usage stream: this request's use was counted on that day
    if (error instanceof IdempotencyConflictError) return null;
    if (!(error instanceof DomainError)) throw error;
    if (error.code === 'QUOTA_EXCEEDED') return { reason: 'QUOTA_EXCEEDED', details: { ...error.details, message: error.message } };
    if (error.code === 'PERMISSION_DENIED') return { reason: 'PERMISSION_DENIED', details: { ...error.details, feature: needs.feature, message: error.message } };
    // no subscription: the free-plans process manager starts one at registration, so this is an account without any
    if (error.code === 'NOT_FOUND') return { reason: 'PERMISSION_DENIED', details: { reason: 'no_subscription', service, message: error.message } };
    throw error;
  }
}

/** The API's mapping (application/workflows.ts): a missing feature is PERMISSION_DENIED, a run over a limit QUOTA_EXCEEDED. */
function fromRefusals(refusals: Refusal[]): Rejection | null {
  if (refusals.length === 0) return null;
  const all = refusals.map((r) => ({ feature: r.feature, reason: r.reason, message: r.message, ...(r.details ?? {}) }));
  const invalid = refusals.find((r) => r.reason === 'invalid_config' || r.reason === 'unknown_type' || r.reason === 'wrong_service');
  if (invalid) return { reason: 'VALIDATION_ERROR', details: { reason: invalid.reason, message: invalid.message, refusals: all } };
  const denied = refusals.find((r) => r.reason !== 'over_limit');
  if (denied) return { reason: 'PERMISSION_DENIED', details: { feature: denied.feature, reason: denied.reason, message: denied.message, refusals: all } };
  const over = refusals[0]!;
  return { reason: 'QUOTA_EXCEEDED', details: { ...(over.details ?? {}), feature: over.feature, message: over.message, refusals: all } };
}

async function accountProblem(store: EventStore, request: ExecutionRequestedData): Promise<Record<string, unknown> | null> {
  if (request.platformAccountId === null) return { reason: 'no_account', message: `${request.type} needs a connected ${request.platform} account` };
  const { state } = await load(store, platformAccountAggregate, request.platformAccountId);
  if (state.status === 'none' || state.ownerId !== request.ownerId) {
    return { reason: 'unknown_account', accountId: request.platformAccountId, message: 'the platform account does not exist' };
  }
  if (state.status !== 'active') {
    return { reason: 'account_not_active', accountId: request.platformAccountId, status: state.status, message: `the platform account is ${state.status}` };
  }
  return null;
}

// ---------------------------------------------------------------- shared with proxy-failover.ts

/** A stream's events; none for a stream that does not exist. */
export async function readEvents(store: EventStore, stream: string): Promise<RecordedEvent[]> {
  try {
    return await store.readStream(stream);
  } catch (error) {
    if (error instanceof StreamNotFoundError) return [];
    throw error;
  }
}

/**
 * The best healthy proxy for the execution, by the lease rules
 * (lease-selection.ts), or null. `exclude` drops proxies known to be bad
 * (the read model may not show a failure yet); `picked` are choices made
 * earlier in the same batch, treated as busy, and the choice is added to it.
 */
/** The proxies to choose from and who holds them: read once per batch, not per request. */
export interface ProxyPool {
  candidates: ProxyCandidate[];
  holders: Map<string, LeaseHolder>;
}

export async function readProxyPool(knex: Knex, leases: RedisProxyLeaseStore | undefined, now: Date): Promise<ProxyPool> {
  let candidates: ProxyCandidate[] = await proxyCandidates(knex, now);
  const holders = new Map<string, LeaseHolder>();
  if (leases && candidates.length > 0) {
    for (const lease of await leases.activeLeases()) holders.set(lease.proxyId, { platformAccountId: lease.platformAccountId, platform: lease.platform });
    const last = await leases.lastLeasedAt(candidates.map((c) => c.proxyId));
    candidates = candidates.map((c) => ({ ...c, lastLeasedAt: last.get(c.proxyId) ?? c.lastLeasedAt }));
  }
  return { candidates, holders };
}

export async function chooseProxy(
  knex: Knex,
  deps: { store: EventStore; leases?: RedisProxyLeaseStore | undefined },
  request: ExecutionRequestedData,
  now: Date,
  picked: Map<string, LeaseHolder>,
  exclude: readonly string[] = [],
  pool?: ProxyPool,
): Promise<string | null> {
  const { candidates: all, holders: held } = pool ?? (await readProxyPool(knex, deps.leases, now));
  const candidates = all.filter((c) => !exclude.includes(c.proxyId));
  if (candidates.length === 0) return null;
  const holders = new Map(held);
  for (const [proxyId, holder] of picked) if (!holders.has(proxyId)) holders.set(proxyId, holder);
  const account = request.platformAccountId ?? `execution:${request.executionId}`;
  const best = selectProxies(candidates, { platform: request.platform, platformAccountId: account }, holders)[0];
  if (!best) return null;
  picked.set(best.candidate.proxyId, { platformAccountId: account, platform: request.platform });
  return best.candidate.proxyId;
}

import type { Knex } from 'knex';
import type { LeaseHolder } from '../application/proxy-selection.js';
import type { ScrapeJobData } from './ports.js';
import { consumeQuotas, quotaSubjectOf, type QuotaSubject } from '../application/subscription-quotas.js';
import { planHolderIn } from '../application/plan-holder.js';
import { StreamNotFoundError, WrongExpectedVersionError } from '../event-store/errors.js';
import type { EventStore, Json, RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../consumers/consumer.js';
import { contextFromEvent, toMetadata } from '../write-model/core/command-context.js';
import { SCHEMA_VERSION } from '../write-model/core/event-codec.js';
import type { Service } from '../write-model/subscription/plans.js';
import { workflowExecutionEvents, type ExecutionRequestedData, type WorkflowExecutionEvent } from '../write-model/workflow-execution/events.js';
import { workflowExecutionAggregate, type WorkflowExecutionCommand } from '../write-model/workflow-execution/index.js';
import { fromQuotaError, judge, serviceOf, type QuotaNeed, type Rejection } from './dispatch/admission.js';
import type { DispatchExecutionsDeps } from './dispatch/deps.js';
import { DEFAULT_NO_PROXY_DELAY_MS, firstJob } from './dispatch/jobs.js';
import { dispatchOne, proxyIds, quotaIds, rejectIds } from './dispatch/one-by-one.js';
import { payOverRun } from './dispatch/overage.js';
import { pickProxy, readProxyPool, type ProxyPool } from './dispatch/proxy-choice.js';
import { SUBJECT_EVENT_TYPES, SubjectIndex } from './dispatch/subjects.js';
import { react } from './shared.js';

export { DEFAULT_NO_PROXY_DELAY_MS, scrapeJobFor } from './dispatch/jobs.js';
export { chooseProxy, readProxyPool, type ProxyPool } from './dispatch/proxy-choice.js';
export type { DispatchExecutionsDeps } from './dispatch/deps.js';

export const DISPATCH_EXECUTIONS = 'pm-dispatch-executions';

/** Events that end a waiting request (seen after it in a batch, the request is handled one by one). */
const MOVED_ON = new Set(['ExecutionCancelled', 'ExecutionRejected']);
const DEFAULT_BATCH_SIZE = 1_000;
/**
 * A request older than this goes the careful way: so old, its execution may
 * have moved on in ways its batch does not show (a replay from an old
 * checkpoint, whose requests were settled long ago), and reading the
 * execution first is what keeps such a replay from spending quota again.
 */
export const DEFAULT_FRESH_FOR_MS = 15 * 60_000;
/** outcome appends in flight at once: the store's group commit merges them */
const APPENDS_IN_FLIGHT = 256;
/** owners whose quota is counted at once */
const QUOTA_LANES = 16;
/** requests handled one by one at once (different owners) */
const ONE_BY_ONE_LANES = 8;

/**
 * ExecutionRequested → check the plan, then accept (a proxy is chosen and
 * recorded, the scrape job enqueued) or reject.
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
 * A batch at a time:
 * 1. the subscriptions and accounts its requests need, from the manager's
 *    own index (dispatch/subjects.ts, one query), brought up to each request
 *    by the Subscription and PlatformAccount events of the same feed; every
 *    request judged in memory on them (dispatch/admission.ts);
 * 2. the quota, per owner: the day's usage read once and the owner's uses
 *    of the batch decided in order and appended together (consumeQuotas:
 *    the limit is never passed, QuotaExceeded once a day and plan change);
 * 3. the proxies and their leases read once (while the requests are
 *    judged); each accepted run gets one;
 * 4. each outcome (ProxyAssigned, ExecutionRejected) appended to its
 *    execution at the request's revision, many at once so the store's group
 *    commit merges them; the jobs of those recorded go to Redis meanwhile,
 *    a Queue.addBulk per chunk.
 * A request whose execution moved on before the batch got to it (cancelled
 * in the same batch, or its append finds the stream changed), and one older
 * than `freshForMs` (a replay), goes the careful way instead
 * (dispatch/one-by-one.ts: its stream read first).
 *
 * Idempotent under redelivery: every event id is named after the request
 * (the quota use; the rejection; the proxy, after the proxy too), so a
 * batch handled again appends nothing twice — a quota use recorded before
 * gives its first verdict again (consumeQuotas falls back to one by one),
 * an outcome recorded before is a repeat or a conflict that sends the
 * request the careful way — and the job id is the execution id. A request
 * that fails fails the batch after the others' jobs are enqueued: the batch
 * is handed again and nothing is lost.
 */
export function createDispatchExecutions(deps: DispatchExecutionsDeps, name = DISPATCH_EXECUTIONS): Consumer {
  const now = () => deps.now?.() ?? new Date();
  return {
    name,
    batchSize: deps.batchSize ?? DEFAULT_BATCH_SIZE,
    filter: { eventTypes: ['ExecutionRequested', ...MOVED_ON, ...SUBJECT_EVENT_TYPES] },
    handle: (events, { tx }) => dispatchBatch(deps, name, tx, events, now()),
  };
}

interface Requested {
  recorded: RecordedEvent;
  event: WorkflowExecutionEvent & { type: 'ExecutionRequested' };
  request: ExecutionRequestedData;
}

/** A request judged in memory: rejected, or accepted once its quota (if any) is counted. */
interface Judged {
  requested: Requested;
  rejection: Rejection | null;
  /** what the run spends, with the subscription it was judged on */
  quota: { need: QuotaNeed; service: Service; subject: QuotaSubject } | null;
  proxyId: string | null;
  /** the quota use failed (not a verdict): the request waits for the batch's next delivery */
  failed: boolean;
}

async function dispatchBatch(deps: DispatchExecutionsDeps, name: string, tx: Knex, events: RecordedEvent[], now: Date): Promise<void> {
  const requested = new Map<RecordedEvent, Requested>();
  const movedOn = new Set<string>();
  const fed: RecordedEvent[] = [];
  const needed = { subscriptions: [] as { ownerId: string; service: string }[], accounts: [] as string[] };
  const wanted: { ownerId: string; service: string }[] = [];
  for (const recorded of events) {
    if (recorded.type === 'ExecutionRequested' || MOVED_ON.has(recorded.type)) {
      const event = workflowExecutionEvents.decode(recorded);
      if (event.type !== 'ExecutionRequested') {
        movedOn.add(event.data.executionId);
        continue;
      }
      requested.set(recorded, { recorded, event, request: event.data });
      const resolved = serviceOf(event.data);
      if ('service' in resolved) wanted.push({ ownerId: event.data.ownerId, service: resolved.service });
      if (event.data.platformAccountId !== null) needed.accounts.push(event.data.platformAccountId);
    } else {
      fed.push(recorded);
    }
  }

  const freshFor = deps.freshForMs ?? DEFAULT_FRESH_FOR_MS;
  // the proxies and their leases, read once, while the requests are judged
  const picked = new Map<string, LeaseHolder>();
  let pool: Promise<ProxyPool> | undefined;
  const poolOf = () => (pool ??= readProxyPool(tx, deps.leases, now));
  if (requested.size > 0) poolOf().catch(() => undefined); // its failure is met where it is awaited
  // the plan holder of each owner (their organization's subscription for a member), as the event store has it now
  const holders = new Map<string, string>();
  await inLanes([...new Set(wanted.map((w) => w.ownerId))], 8, async (ownerId) => {
    holders.set(ownerId, (await planHolderIn(deps.store, ownerId)).id);
  });
  for (const w of wanted) needed.subscriptions.push({ ownerId: holders.get(w.ownerId)!, service: w.service });
  // 1. every request judged on its owner's holder's subscription and account as they stood when it was made
  const index = await SubjectIndex.open(tx, deps.store, name, needed, fed);
  const judged: Judged[] = [];
  const oneByOne: Requested[] = [];
  for (const recorded of events) {
    const r = requested.get(recorded);
    if (!r) {
      if (!MOVED_ON.has(recorded.type)) await index.apply(recorded);
      continue;
    }
    if (movedOn.has(r.request.executionId) || now.getTime() - recorded.created.getTime() > freshFor) {
      oneByOne.push(r);
      continue;
    }
    const entry: Judged = { requested: r, rejection: null, quota: null, proxyId: null, failed: false };
    judged.push(entry);
    const resolved = serviceOf(r.request);
    if ('rejection' in resolved) {
      entry.rejection = resolved.rejection;
      continue;
    }
    const holderId = holders.get(r.request.ownerId) ?? (await planHolderIn(deps.store, r.request.ownerId)).id;
    const subject = quotaSubjectOf(resolved.service, await index.subscription(holderId, resolved.service));
    const verdict = await judge(r.request, subject.plan, (accountId) => index.account(accountId));
    if ('rejection' in verdict) entry.rejection = verdict.rejection;
    else if (verdict.quota) entry.quota = { need: verdict.quota, service: resolved.service, subject };
  }

  // 2. the quota, one owner's uses together
  await countQuotas(deps, name, judged, now);

  // 3. a proxy for each accepted run
  const accepted = judged.filter((j) => !j.failed && j.rejection === null);
  if (accepted.length > 0) {
    const read = await poolOf();
    for (const j of accepted) j.proxyId = pickProxy(read, j.requested.request, picked);
  }

  // 4. the outcomes, appended side by side; the jobs of those that stand go to Redis in chunks meanwhile
  const delay = deps.noProxyDelayMs ?? DEFAULT_NO_PROXY_DELAY_MS;
  const jobs = new JobFlusher(deps);
  const failures: unknown[] = [];
  if (judged.some((j) => j.failed)) failures.push(new Error('a quota use failed; the batch is handed again'));
  const at = now.toISOString();
  await inLanes(
    judged.filter((j) => !j.failed),
    APPENDS_IN_FLIGHT,
    async (j) => {
      if (j.rejection === null && j.proxyId === null) {
        jobs.add(firstJob(j.requested.request, null, delay));
        return;
      }
      try {
        await appendOutcome(deps.store, name, j, at);
        if (j.rejection === null) jobs.add(firstJob(j.requested.request, j.proxyId, delay));
      } catch (error) {
        // the execution moved on (cancelled, or an earlier delivery recorded another outcome): read it and see
        if (error instanceof WrongExpectedVersionError) oneByOne.push(j.requested);
        else failures.push(logged(deps, name, j.requested.recorded, error));
      }
    },
  );
  // the careful way, one owner's requests in order
  const byOwner = new Map<string, Requested[]>();
  for (const r of oneByOne) groupInto(byOwner, r.request.ownerId, r);
  await inLanes([...byOwner.values()], ONE_BY_ONE_LANES, async (owned) => {
    for (const r of owned) {
      try {
        await react(deps, name, r.recorded, () => dispatchOne(deps, name, tx, r.recorded, r.request, now, picked, poolOf));
      } catch (error) {
        failures.push(error);
      }
    }
  });

  await jobs.flush();
  if (failures.length > 0) throw failures[0];
  // last, just before the checkpoint: the batch's transaction takes a transaction id only now, so it never
  // holds the horizon back while the appends and jobs go out
  await index.save(tx);
}

/** jobs per addBulk while the batch's appends go on */
const JOB_CHUNK = 250;

/**
 * The batch's jobs, added in chunks as their outcomes are recorded: Redis
 * works while Postgres does, and `flush` waits for all (the first failure
 * fails the batch, whose next delivery adds what is missing).
 */
class JobFlusher {
  private chunk: { data: ScrapeJobData; delayMs?: number }[] = [];
  private readonly sent: Promise<void>[] = [];
  private failure: { error: unknown } | undefined;

  constructor(private readonly deps: DispatchExecutionsDeps) {}

  add(job: { data: ScrapeJobData; delayMs?: number }): void {
    this.chunk.push(job);
    if (this.chunk.length >= JOB_CHUNK) this.send();
  }

  async flush(): Promise<void> {
    this.send();
    await Promise.all(this.sent);
    if (this.failure) throw this.failure.error;
  }

  private send(): void {
    if (this.chunk.length === 0) return;
    this.sent.push(
      this.deps.dispatcher.enqueueMany(this.chunk).catch((error: unknown) => {
        this.failure ??= { error };
      }),
    );
    this.chunk = [];
  }
}

/**
 * Counts each subscription's uses of the batch together (an owner's, or the
 * organization's that its members share), a few at a time; a use's refusal
 * becomes its run's rejection.
 */
async function countQuotas(deps: DispatchExecutionsDeps, name: string, judged: Judged[], now: Date): Promise<void> {
  const byOwner = new Map<string, Judged[]>();
  for (const j of judged) {
    if (j.rejection !== null || j.quota === null) continue;
    const key = `${j.quota.subject.terms?.userId ?? j.requested.request.ownerId}\u0000${j.quota.service}`;
    groupInto(byOwner, key, j);
  }
  await inLanes([...byOwner.values()], QUOTA_LANES, async (owned) => {
    // one run of uses per subscription state (a plan change inside the batch starts another)
    for (let start = 0; start < owned.length; ) {
      const subject = owned[start]!.quota!.subject;
      let end = start + 1;
      while (end < owned.length && sameTerms(owned[end]!.quota!.subject, subject)) end++;
      const run = owned.slice(start, end);
      start = end;
      const { service } = run[0]!.quota!;
      try {
        const verdicts = await consumeQuotas(
          { store: deps.store, userId: run[0]!.requested.request.ownerId, service, now, timeZone: deps.timeZone },
          subject,
          run.map((j) => ({ ...j.quota!.need, eventIds: quotaIds(name, j.requested.recorded), context: contextFromEvent(j.requested.recorded, name) })),
        );
        for (const [i, verdict] of verdicts.entries()) {
          const j = run[i]!;
          if (verdict.counted) continue;
          try {
            const rejection = fromQuotaError(verdict.error, j.quota!.need, service);
            // past the quota: paid from the balance instead when the owner opted in
            j.rejection = rejection ? await payOverRun(deps, j.requested.recorded, j.requested.request, rejection) : null;
          } catch (error) {
            logged(deps, name, j.requested.recorded, error);
            j.failed = true;
          }
        }
      } catch (error) {
        for (const j of run) j.failed = true;
        logged(deps, name, run[0]!.requested.recorded, error);
      }
    }
  });
}

function sameTerms(a: QuotaSubject, b: QuotaSubject): boolean {
  return a.terms?.subscriptionId === b.terms?.subscriptionId && a.terms?.plan === b.terms?.plan && a.terms?.planChange === b.terms?.planChange;
}

/**
 * The request's outcome appended at the request's own revision: decided by
 * the aggregate on the state the request alone makes, so a stream that
 * holds anything more refuses it (WrongExpectedVersion).
 */
async function appendOutcome(store: EventStore, name: string, j: Judged, at: string): Promise<void> {
  const { recorded, event, request } = j.requested;
  const { decider, events: codec } = workflowExecutionAggregate;
  const state = decider.evolve(decider.initialState(), event);
  const { executionId } = request;
  const command: WorkflowExecutionCommand = j.rejection
    ? { type: 'RejectExecution', executionId, reason: j.rejection.reason, details: j.rejection.details, now: at }
    : { type: 'AssignProxy', executionId, proxyId: j.proxyId!, leaseId: null, reason: 'initial', now: at };
  const decided = decider.decide(command, state);
  const ids = j.rejection ? rejectIds(name, recorded) : proxyIds(name, recorded, j.proxyId!);
  const metadata = toMetadata(contextFromEvent(recorded, name));
  await store.append(
    recorded.streamName,
    decided.map((e, i) => ({ id: ids(i), type: e.type, data: e.data as unknown as Json, metadata: { ...metadata, [SCHEMA_VERSION]: codec.version(e.type) } })),
    recorded.revision,
    { deterministicIds: true },
  );
}

function logged(deps: DispatchExecutionsDeps, name: string, event: RecordedEvent, error: unknown): unknown {
  deps.logger?.error({ processManager: name, eventId: event.id, eventType: event.type, err: error }, 'reaction failed');
  return error;
}

function groupInto<T>(groups: Map<string, T[]>, key: string, item: T): void {
  const group = groups.get(key);
  if (group) group.push(item);
  else groups.set(key, [item]);
}

/** Runs `work` over the items, at most `lanes` at once. */
async function inLanes<T>(items: readonly T[], lanes: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(lanes, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
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

import type { Knex } from 'knex';
import type { LeaseHolder } from '../../application/proxy-selection.js';
import { consumeQuota, loadQuotaSubject } from '../../application/subscription-quotas.js';
import type { RecordedEvent } from '../../event-store/port.js';
import { contextFromEvent } from '../../write-model/core/command-context.js';
import { handle, load } from '../../write-model/core/command-handler.js';
import { eventIdsFrom } from '../../write-model/core/event-ids.js';
import { platformAccountAggregate } from '../../write-model/platform-account/decider.js';
import type { ExecutionRequestedData } from '../../write-model/workflow-execution/events.js';
import { workflowExecutionAggregate, type WorkflowExecutionCommand } from '../../write-model/workflow-execution/index.js';
import { fromQuotaError, judge, serviceOf, type Rejection } from './admission.js';
import type { DispatchExecutionsDeps } from './deps.js';
import { payOverRun } from './overage.js';
import { DEFAULT_NO_PROXY_DELAY_MS, firstJob } from './jobs.js';
import { pickProxy, type ProxyPool } from './proxy-choice.js';
import { accountView } from './subjects.js';

/**
 * One request the careful way, every fact read from its stream: for the
 * requests a batch cannot settle on its own (the execution moved on before
 * the batch reached it, or its outcome's append found the stream changed).
 *
 * The execution's stream is read first, so a request no longer waiting
 * spends nothing (a replay from the start must not count old runs on today's
 * quota) and one accepted before (its proxy is recorded after the quota) only
 * gets its job again. Then the plan, the account and the quota (ids named
 * after the request: a use counted before gives its first verdict again),
 * and the verdict or the proxy recorded on the state first read.
 */
export async function dispatchOne(
  deps: DispatchExecutionsDeps,
  name: string,
  _tx: Knex,
  event: RecordedEvent,
  request: ExecutionRequestedData,
  now: Date,
  picked: Map<string, LeaseHolder>,
  poolOf: () => Promise<ProxyPool>,
): Promise<void> {
  const { executionId } = request;
  const waiting = await load(deps.store, workflowExecutionAggregate, executionId);
  if (waiting.state.status !== 'requested') return;
  const delay = deps.noProxyDelayMs ?? DEFAULT_NO_PROXY_DELAY_MS;
  // accepted by an earlier delivery (the proxy comes after the quota): only the job is left to (re)enqueue
  if (waiting.state.proxy !== null) return deps.dispatcher.enqueueMany([firstJob(request, waiting.state.proxy.proxyId, delay)]);

  const context = contextFromEvent(event, name);
  const verdict = await admit(deps, name, event, request, now);
  const proxyId = verdict ? null : pickProxy(await poolOf(), request, picked);
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
    { context, eventIds: verdict || proxyId === null ? rejectIds(name, event) : proxyIds(name, event, proxyId), loaded: waiting },
  );
  if (state.status !== 'requested') return;
  await deps.dispatcher.enqueueMany([firstJob(request, state.proxy?.proxyId ?? null, delay)]);
}

/** The ids of a request's rejection. */
export function rejectIds(name: string, event: RecordedEvent) {
  return eventIdsFrom(`${name}:${event.id}:reject`);
}

/**
 * The ids of a request's proxy, named after the proxy: a redelivery that
 * chose another one meets a conflict (and looks at what was recorded), never
 * a repeat taken for its own choice.
 */
export function proxyIds(name: string, event: RecordedEvent, proxyId: string) {
  return eventIdsFrom(`${name}:${event.id}:proxy:${proxyId}`);
}

/** null: the run may go; otherwise why not. Spends the daily counter when the type consumes one. */
async function admit(deps: DispatchExecutionsDeps, name: string, event: RecordedEvent, request: ExecutionRequestedData, now: Date): Promise<Rejection | null> {
  const resolved = serviceOf(request);
  if ('rejection' in resolved) return resolved.rejection;
  const { service } = resolved;
  // the subscription, read once: its plan here, its terms for the quota use below
  const subject = await loadQuotaSubject(deps.store, request.ownerId, service);
  const judged = await judge(request, subject.plan, async (accountId) => accountView((await load(deps.store, platformAccountAggregate, accountId)).state));
  if ('rejection' in judged) return judged.rejection;
  if (judged.quota === null) return null;
  try {
    // ids named after the request: a redelivery gets the first verdict again, counted once
    await consumeQuota(
      { store: deps.store, userId: request.ownerId, service, now, timeZone: deps.timeZone, context: contextFromEvent(event, name) },
      judged.quota.feature,
      judged.quota.amount,
      { eventIds: quotaIds(name, event), subject },
    );
    return null;
  } catch (error) {
    const rejection = fromQuotaError(error, judged.quota, service);
    // past the quota: paid from the balance instead when the owner opted in
    return rejection ? payOverRun(deps, event, request, rejection) : null;
  }
}

/** The ids of a request's quota use (both paths name it alike). */
export function quotaIds(name: string, event: RecordedEvent) {
  return eventIdsFrom(`${name}:${event.id}:quota`);
}

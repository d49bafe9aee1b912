import { CronExpressionParser } from 'cron-parser';
import { reaches } from './data-scope.js';
import { hasId } from '../write-model/core/id-set.js';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { z } from 'zod';
import type { AppendCondition, EventStore } from '../event-store/port.js';
import type { Position } from '../event-store/position.js';
import {
  checkAgainstPlan,
  itemSpec,
  parseConfig,
  runNeeds,
  workflowType,
  type Refusal,
  type ResolvedWorkflowType,
  type RunNeeds,
} from '../platforms/registry.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { decideOnKept, handle, load } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { platformAccountAggregate } from '../write-model/platform-account/decider.js';
import { featuresOf, isDailyCounter, type Service } from '../write-model/subscription/plans.js';
import { dailyUsageId, subscriptionUsageAggregate } from '../write-model/subscription-usage/decider.js';
import {
  workflowExecutionAggregate,
  type CollectedItem,
  type WorkflowExecutionCommand,
  type WorkflowExecutionState,
} from '../write-model/workflow-execution/index.js';
import { workflowAggregate, type WorkflowCommand, type WorkflowDefinition, type WorkflowSchedule, type WorkflowState } from '../write-model/workflow/index.js';
import { ensureNovelsTracked, novelTrackingId, untrackNovel, type TrackingCall } from './novel-trackings.js';
import { NOVELS_TYPE, resolveRunConfig } from './qidian-watchlist.js';
import { quotaDay } from './quota-day.js';
import { currentPlan, loadQuotaSubject, releaseResource, reserveResource, type QuotaCall, type QuotaSubject } from './subscription-quotas.js';
import { chunkBatchId, chunkItemsByBytes } from '../write-model/workflow-execution/item-chunks.js';

/**
 * Workflows and their executions, as the API drives them: the platform
 * registry validates configs and checks them against the owner's plan,
 * xiaohongshu workflows hold an `automation_workflows` slot on the
 * subscription while they exist, then the WorkflowDefinition /
 * WorkflowExecution aggregates record the decision. Quota use and dispatch of
 * a requested execution are the execution process manager's (later issue).
 *
 * Refusals are DomainErrors (the API maps them): someone else's workflow,
 * execution or platform account is NOT_FOUND, never PERMISSION_DENIED, so
 * strangers learn nothing.
 */

export interface WorkflowDeps {
  store: EventStore;
  /** the quota day's zone (config QUOTA_TIME_ZONE) */
  timeZone: string;
  now: () => Date;
  /** the database a run's config is resolved with (a Qidian watch list: src/application/qidian-watchlist.ts) */
  knex?: Knex;
}

export interface Caller {
  userId: string;
  context: CommandContext;
  /** whose workflows and executions the caller's data scope reaches (ctx.state.access.ownerIds); default: their own */
  ownerIds?: readonly string[];
}

/** The caller acting on the owner's plan, quotas and trackings (an organization admin changing a member's workflow): the owner's. */
const onBehalfOf = (caller: Caller, ownerId: string): Caller => ({ ...caller, userId: ownerId, ownerIds: [ownerId] });

export interface Outcome {
  revision: bigint;
  position: Position | undefined;
}

export const WORKFLOW_SLOT_FEATURE = 'automation_workflows' as const;

/** A validation refusal in the API's issue shape, so it reads like the request validation's. */
function invalidBody(message: string, issues: { path: (string | number)[]; message: string; code: string }[]): DomainError {
  return new DomainError('VALIDATION_ERROR', message, { issues: issues.map((i) => ({ in: 'body', ...i })) });
}

function zodIssuesUnder(prefix: (string | number)[], issues: readonly z.core.$ZodIssue[]) {
  return issues.map((issue) => ({
    path: [...prefix, ...issue.path.map((p) => (typeof p === 'number' ? p : String(p)))],
    message: issue.message,
    code: issue.code,
  }));
}

const notFound = (what: string) => new DomainError('NOT_FOUND', `${what} not found`);

/** The service bills the type's runs; does its catalogue count workflows held at once? */
function holdsSlot(service: Service): boolean {
  return (featuresOf(service) as string[]).includes(WORKFLOW_SLOT_FEATURE);
}

/** Plan refusals: a feature missing from the plan is 403; a run bigger than the plan's limit is 429. Both name the caller's plan code, as every plan check does. */
function refuse(refusals: Refusal[], plan: { code: string }): void {
  if (refusals.length === 0) return;
  const all = refusals.map((r) => ({ feature: r.feature, reason: r.reason, message: r.message, ...(r.details ?? {}) }));
  const denied = refusals.find((r) => r.reason !== 'over_limit');
  if (denied) throw new DomainError('PERMISSION_DENIED', denied.message, { feature: denied.feature, reason: denied.reason, plan: plan.code, refusals: all });
  const over = refusals[0]!;
  throw new DomainError('QUOTA_EXCEEDED', over.message, { ...(over.details ?? {}), feature: over.feature, plan: plan.code, refusals: all });
}

function resolveType(type: string): ResolvedWorkflowType {
  const resolved = workflowType(type);
  if (!resolved) throw invalidBody(`unknown workflow type ${type}`, [{ path: ['type'], message: `unknown workflow type ${type}`, code: 'invalid_value' }]);
  return resolved;
}

function validConfig(type: string, config: unknown): Record<string, unknown> {
  const parsed = parseConfig(type, config);
  if (!parsed.ok) throw invalidBody(`config does not fit ${type}`, zodIssuesUnder(['config'], parsed.issues));
  return parsed.config;
}

/** The account must be the caller's, on the workflow's platform, and not disconnected. */
async function checkAccount(store: EventStore, userId: string, platform: string, accountId: string): Promise<void> {
  const { state } = await load(store, platformAccountAggregate, accountId);
  if (state.status === 'none' || state.ownerId !== userId) throw notFound('platform account');
  if (state.platform !== platform) {
    throw invalidBody(`platform account ${accountId} is a ${state.platform} account, not ${platform}`, [
      { path: ['platform_account_id'], message: `not a ${platform} account`, code: 'custom' },
    ]);
  }
  if (state.status === 'disconnected') throw new DomainError('CONFLICT', `platform account ${accountId} was disconnected`, { accountId });
}

/**
 * A cron schedule BullMQ can run: its job scheduler parses the expression
 * with cron-parser, so one that parser refuses (a minute of 99, February
 * 31st) would be recorded and then fail in pm-workflow-schedules. Checked
 * before the plan, which reads the fields' frequency and would otherwise
 * answer 403 for what is simply not a cron expression.
 */
function checkSchedule(schedule: WorkflowSchedule | null | undefined, timeZone: string): void {
  if (schedule?.kind !== 'cron') return;
  const fields = schedule.expression.trim().split(/\s+/);
  let problem: string | undefined;
  if (fields.length !== 5) problem = 'a cron expression has 5 fields: minute hour day-of-month month day-of-week';
  else {
    try {
      const parsed = CronExpressionParser.parse(fields.join(' '), { tz: timeZone });
      try {
        // parsing is not enough: the 31st of months of 30 days parses, yet no time matches it and BullMQ would schedule nothing
        parsed.next();
      } catch {
        problem = 'not a cron expression that can run: no date ever matches it (such as the 31st of April and June)';
      }
    } catch (error) {
      problem = `not a cron expression that can run: ${(error as Error).message}`;
    }
  }
  if (problem !== undefined) throw invalidBody(problem, [{ path: ['schedule', 'expression'], message: problem, code: 'invalid_format' }]);
}

async function checkPlan(store: EventStore, userId: string, resolved: ResolvedWorkflowType, config: unknown, schedule: WorkflowSchedule | null) {
  const plan = await currentPlan(store, userId, resolved.platform.service);
  refuse(checkAgainstPlan(resolved.type, config, plan, schedule), plan);
}

function trackingCall(deps: WorkflowDeps, caller: Caller): TrackingCall {
  return { store: deps.store, userId: caller.userId, now: deps.now(), timeZone: deps.timeZone, context: caller.context };
}

/** A workflow of a managed type (qidian.watchlist) is the platform's to change: CONFLICT for the owner's PUT and DELETE. */
function refuseManaged(type: string, workflowId: string): void {
  if (workflowType(type)?.spec.managed) {
    throw new DomainError('CONFLICT', `workflow ${workflowId} is kept by the platform (${type}): change what it collects through its own routes`, {
      workflowId,
      type,
    });
  }
}

/**
 * A qidian.novels workflow's novels are tracked novels (novel_tracking_limit
 * counts each novel once, tracked or named by workflows): the ones not
 * tracked yet are tracked now, or none is (QUOTA_EXCEEDED past the limit).
 */
async function trackWorkflowNovels(deps: WorkflowDeps, caller: Caller, type: string, config: Record<string, unknown>): Promise<string[]> {
  if (type !== NOVELS_TYPE || !Array.isArray(config['novelIds'])) return [];
  return ensureNovelsTracked(trackingCall(deps, caller), config['novelIds'] as string[]);
}

/** Untracks what trackWorkflowNovels tracked for a workflow that was not recorded after all. */
async function untrackAdded(deps: WorkflowDeps, caller: Caller, added: readonly string[]): Promise<void> {
  for (const novelId of added) await untrackNovel(trackingCall(deps, caller), novelTrackingId(caller.userId, novelId)).catch(() => undefined);
}

function quotaCall(deps: WorkflowDeps, caller: Caller, service: Service): QuotaCall {
  return { store: deps.store, userId: caller.userId, service, now: deps.now(), timeZone: deps.timeZone, context: caller.context };
}

/** A workflow in the caller's data scope in this state; NOT_FOUND for an unknown one, one out of scope or (unless allowed) a deleted one. */
function own(state: WorkflowState, caller: Caller, allowDeleted = false): WorkflowDefinition {
  const workflow = state.workflow;
  if (!workflow || !reaches(caller, workflow.ownerId) || (state.status === 'deleted' && !allowDeleted)) throw notFound('workflow');
  return workflow;
}

/** A workflow in the caller's data scope, from the write side (see own). */
async function ownWorkflow(store: EventStore, caller: Caller, workflowId: string): Promise<{ state: WorkflowState; workflow: WorkflowDefinition }> {
  const { state } = await load(store, workflowAggregate, workflowId);
  return { state, workflow: own(state, caller) };
}

// ------------------------------------------------------------------ definitions

export interface NewWorkflow {
  name: string;
  type: string;
  config: unknown;
  platformAccountId?: string | null;
  schedule?: WorkflowSchedule | null;
  /** only proxies of this region or country carry its runs; null or absent: any */
  proxyRegion?: string | null;
}

export async function createWorkflow(deps: WorkflowDeps, caller: Caller, input: NewWorkflow): Promise<Outcome & { workflowId: string }> {
  const resolved = resolveType(input.type);
  if (resolved.spec.managed)
    throw invalidBody(`${input.type} workflows are kept by the platform`, [{ path: ['type'], message: 'kept by the platform', code: 'invalid_value' }]);
  const config = validConfig(input.type, input.config);
  const schedule = input.schedule ?? null;
  checkSchedule(schedule, deps.timeZone);
  // the request's own faults (the account it names) before the plan's limits
  const platformAccountId = input.platformAccountId ?? null;
  if (platformAccountId) await checkAccount(deps.store, caller.userId, resolved.platform.id, platformAccountId);
  await checkPlan(deps.store, caller.userId, resolved, config, schedule);
  const tracked = await trackWorkflowNovels(deps, caller, resolved.type, config);

  const workflowId = randomUUID();
  const service = resolved.platform.service;
  const slot = holdsSlot(service);
  if (slot) await reserveSlot(quotaCall(deps, caller, service), workflowId);
  try {
    const result = await handle(
      deps.store,
      workflowAggregate,
      workflowId,
      {
        type: 'CreateWorkflow',
        workflowId,
        ownerId: caller.userId,
        platform: resolved.platform.id,
        workflowType: resolved.type,
        name: input.name,
        config,
        platformAccountId,
        schedule,
        proxyRegion: input.proxyRegion ?? null,
        now: deps.now().toISOString(),
      },
      { context: caller.context, expectedRevision: 'no_stream' },
    );
    return { workflowId, revision: result.revision, position: result.position };
  } catch (error) {
    // the workflow was not recorded: give its slot back (the original error is what the caller needs to see)
    if (slot) await releaseResource(quotaCall(deps, caller, service), WORKFLOW_SLOT_FEATURE, workflowId).catch(() => undefined);
    await untrackAdded(deps, caller, tracked);
    throw error;
  }
}

async function reserveSlot(call: QuotaCall, workflowId: string): Promise<void> {
  try {
    await reserveResource(call, WORKFLOW_SLOT_FEATURE, workflowId);
  } catch (error) {
    // the free-plans process manager has not started the subscription yet
    if (error instanceof DomainError && error.code === 'NOT_FOUND') {
      throw new DomainError('CONFLICT', `no ${call.service} subscription yet; retry shortly`, { service: call.service });
    }
    throw error;
  }
}

export interface WorkflowChanges {
  name?: string;
  config?: unknown;
  platformAccountId?: string | null;
  schedule?: WorkflowSchedule | null;
  /** null: any region */
  proxyRegion?: string | null;
}

/**
 * Changes are checked like a create, against the plan in force now. The
 * check needs the workflow (its type, and the config and schedule the
 * change keeps), so it is read first; the command then stands only on
 * that same definition: an edit in between is a CONFLICT, not a change
 * checked against a config it never saw.
 */
export async function updateWorkflow(
  deps: WorkflowDeps,
  caller: Caller,
  workflowId: string,
  changes: WorkflowChanges,
  expectedRevision?: bigint,
): Promise<Outcome> {
  const { state, workflow } = await ownWorkflow(deps.store, caller, workflowId);
  refuseManaged(workflow.type, workflowId);
  const resolved = resolveType(workflow.type);
  const config = changes.config === undefined ? workflow.config : validConfig(workflow.type, changes.config);
  checkSchedule(changes.schedule, deps.timeZone);
  const schedule = changes.schedule === undefined ? state.schedule : changes.schedule;
  // the owner's accounts, plan and trackings, whoever in their organization makes the change; the account named first, as on create
  if (changes.platformAccountId) await checkAccount(deps.store, workflow.ownerId, resolved.platform.id, changes.platformAccountId);
  await checkPlan(deps.store, workflow.ownerId, resolved, config, schedule);
  if (changes.config !== undefined) await trackWorkflowNovels(deps, onBehalfOf(caller, workflow.ownerId), workflow.type, config);
  const checked = JSON.stringify([config, schedule]);
  return handle(
    deps.store,
    workflowAggregate,
    workflowId,
    (fresh): WorkflowCommand => {
      const current = own(fresh, caller);
      const kept = JSON.stringify([changes.config === undefined ? current.config : config, changes.schedule === undefined ? fresh.schedule : schedule]);
      if (kept !== checked) throw new DomainError('CONFLICT', `workflow ${workflowId} changed meanwhile; retry`, { workflowId });
      return {
        type: 'UpdateWorkflow',
        workflowId,
        requestedBy: caller.userId,
        ...(changes.name !== undefined ? { name: changes.name } : {}),
        ...(changes.config !== undefined ? { config } : {}),
        ...(changes.platformAccountId !== undefined ? { platformAccountId: changes.platformAccountId } : {}),
        ...(changes.schedule !== undefined ? { schedule: changes.schedule } : {}),
        ...(changes.proxyRegion !== undefined ? { proxyRegion: changes.proxyRegion } : {}),
        now: deps.now().toISOString(),
      };
    },
    { context: caller.context, ...(expectedRevision !== undefined ? { expectedRevision } : {}) },
  );
}

/**
 * Deletes the workflow and frees its slot; a repeat (already deleted) frees
 * it again, so a lost release heals. `expectedRevision` (If-Match) is the
 * stream revision the caller last saw: checked once the workflow is known to
 * be the caller's, so a stranger's is 404 whatever revision they send.
 */
export async function deleteWorkflow(deps: WorkflowDeps, caller: Caller, workflowId: string, expectedRevision?: bigint): Promise<Outcome> {
  const loaded = expectedRevision === undefined ? undefined : await load(deps.store, workflowAggregate, workflowId);
  if (loaded) own(loaded.state, caller, true);
  const result = await handle(
    deps.store,
    workflowAggregate,
    workflowId,
    (state): WorkflowCommand => {
      refuseManaged(own(state, caller, true).type, workflowId);
      return { type: 'DeleteWorkflow', workflowId, requestedBy: caller.userId, now: deps.now().toISOString() };
    },
    { context: caller.context, ...(expectedRevision !== undefined ? { expectedRevision } : {}), ...(loaded ? { loaded } : {}) },
  );
  const resolved = workflowType(result.state.workflow!.type);
  if (resolved && holdsSlot(resolved.platform.service)) {
    // the slot is the owner's
    await releaseResource(quotaCall(deps, onBehalfOf(caller, result.state.workflow!.ownerId), resolved.platform.service), WORKFLOW_SLOT_FEATURE, workflowId);
  }
  return result;
}

export async function pauseWorkflow(deps: WorkflowDeps, caller: Caller, workflowId: string): Promise<Outcome> {
  return handle(
    deps.store,
    workflowAggregate,
    workflowId,
    (state): WorkflowCommand => {
      own(state, caller);
      return { type: 'PauseWorkflow', workflowId, reason: 'user', requestedBy: caller.userId, until: null, now: deps.now().toISOString() };
    },
    { context: caller.context },
  );
}

/** The owner's resume lifts every pause reason (the decider's rule). */
export async function resumeWorkflow(deps: WorkflowDeps, caller: Caller, workflowId: string): Promise<Outcome> {
  return handle(
    deps.store,
    workflowAggregate,
    workflowId,
    (state): WorkflowCommand => {
      own(state, caller);
      return { type: 'ResumeWorkflow', workflowId, requestedBy: caller.userId, now: deps.now().toISOString() };
    },
    { context: caller.context },
  );
}

// ------------------------------------------------------------------ executions

/** Records a manual run with the workflow's config as it is now; a paused workflow does not run (CONFLICT). */
export async function requestExecution(deps: WorkflowDeps, caller: Caller, workflowId: string): Promise<Outcome & { executionId: string }> {
  // the workflow as this process last saw it; the execution lands only while it is still that revision
  return decideOnKept(deps.store, workflowAggregate, workflowId, ({ state }, condition) => requestExecutionOf(deps, caller, workflowId, state, condition));
}

async function requestExecutionOf(
  deps: WorkflowDeps,
  caller: Caller,
  workflowId: string,
  state: WorkflowState,
  condition: AppendCondition,
): Promise<Outcome & { executionId: string }> {
  const workflow = own(state, caller);
  if (state.status === 'paused') {
    throw new DomainError('CONFLICT', `workflow ${workflowId} is paused`, { workflowId, paused_for: state.pauses.map((p) => p.reason) });
  }
  const config = await resolveRunConfig({ store: deps.store, ...(deps.knex ? { knex: deps.knex } : {}) }, workflow);
  if (config === null)
    throw new DomainError('CONFLICT', `workflow ${workflowId} has nothing to collect: none of its novels is tracked`, {
      workflowId,
      reason: 'nothing_to_collect',
    });
  const executionId = randomUUID();
  const result = await handle(
    deps.store,
    workflowExecutionAggregate,
    executionId,
    {
      type: 'RequestExecution',
      executionId,
      workflowId,
      ownerId: workflow.ownerId,
      platform: workflow.platform,
      workflowType: workflow.type,
      config,
      platformAccountId: workflow.platformAccountId,
      proxyRegion: workflow.proxyRegion ?? null,
      trigger: 'manual',
      requestedBy: caller.userId,
      now: deps.now().toISOString(),
    },
    { context: caller.context, expectedRevision: 'no_stream', conditions: [condition] },
  );
  return { executionId, revision: result.revision, position: result.position };
}

export interface OneOffRun {
  /** a workflow type of the platform (registry name) */
  type: string;
  /** the type's config, as a workflow of that type would hold it */
  config: unknown;
  platformAccountId: string | null;
}

/**
 * A one-off run: what a workflow of `type` with `config` would collect, once,
 * without saving a workflow (POST /xiaohongshu/contents/collect). It is
 * checked as a workflow would be (config, plan, account) and as a run is:
 * when the plan counts the type's runs per day (xiaohongshu:
 * daily_api_calls), a run that no longer fits in what is left of today's
 * quota is refused now (QUOTA_EXCEEDED). Then it is recorded like a manual
 * run (trigger `one_off`, its execution id as its workflow id) and takes the
 * path every run takes: the execution process manager counts the quota (the
 * only place it is spent; it may still refuse a run that raced another),
 * leases a proxy and enqueues the scrape job, and the items reach the same
 * read models.
 */
export async function requestOneOffExecution(
  deps: WorkflowDeps,
  caller: Caller,
  input: OneOffRun,
  options: { platform?: string } = {},
): Promise<Outcome & { executionId: string }> {
  const resolved = resolveType(input.type);
  if (options.platform !== undefined && resolved.platform.id !== options.platform) {
    throw invalidBody(`${input.type} is not a ${options.platform} type`, [
      { path: ['type'], message: `not a ${options.platform} type`, code: 'invalid_value' },
    ]);
  }
  const config = validConfig(input.type, input.config);
  const subject = await loadQuotaSubject(deps.store, caller.userId, resolved.platform.service);
  refuse(checkAgainstPlan(resolved.type, config, subject.plan, null), subject.plan);
  if (input.platformAccountId) await checkAccount(deps.store, caller.userId, resolved.platform.id, input.platformAccountId);
  await requireQuotaLeft(deps, subject, runNeeds(resolved.type, config, subject.plan));

  const executionId = randomUUID();
  const result = await handle(
    deps.store,
    workflowExecutionAggregate,
    executionId,
    {
      type: 'RequestExecution',
      executionId,
      workflowId: executionId,
      ownerId: caller.userId,
      platform: resolved.platform.id,
      workflowType: resolved.type,
      config,
      platformAccountId: input.platformAccountId,
      trigger: 'one_off',
      requestedBy: caller.userId,
      now: deps.now().toISOString(),
    },
    { context: caller.context, expectedRevision: 'no_stream' },
  );
  return { executionId, revision: result.revision, position: result.position };
}

/**
 * Refuses a run that would take today's daily counter past the plan's limit
 * (what the execution process manager would refuse), without counting
 * anything: the process manager counts it when it admits the run.
 */
async function requireQuotaLeft(deps: WorkflowDeps, subject: QuotaSubject, needs: RunNeeds | undefined): Promise<void> {
  if (needs?.use !== 'consume' || !isDailyCounter(needs.feature)) return;
  // the free-plans process manager has not started the subscription yet
  if (subject.terms === null) throw new DomainError('CONFLICT', `no ${subject.service} subscription yet; retry shortly`, { service: subject.service });
  if (needs.limit?.kind !== 'limited') return;
  const { day, resetsAt } = quotaDay(deps.now(), deps.timeZone);
  const { state } = await load(deps.store, subscriptionUsageAggregate, dailyUsageId(subject.terms.userId, subject.service, day));
  const used = state.status === 'open' ? (state.counts[needs.feature] ?? 0) : 0;
  const limit = needs.limit.limit;
  if (used + needs.amount <= limit) return;
  throw new DomainError('QUOTA_EXCEEDED', `this run needs ${needs.amount} of ${needs.feature}; ${Math.max(0, limit - used)} of ${limit} are left today`, {
    feature: needs.feature,
    limit,
    used,
    requested: needs.amount,
    remaining: Math.max(0, limit - used),
    resetsAt,
    // the plan and subscription that count it (an organization's, for its members)
    plan: subject.terms.plan,
    subscriptionId: subject.terms.subscriptionId,
  });
}

export async function cancelExecution(deps: WorkflowDeps, caller: Caller, executionId: string): Promise<Outcome> {
  return handle(
    deps.store,
    workflowExecutionAggregate,
    executionId,
    (state): WorkflowExecutionCommand => {
      if (!state.request || !reaches(caller, state.request.ownerId)) throw notFound('execution');
      return { type: 'CancelExecution', executionId, requestedBy: caller.userId, now: deps.now().toISOString() };
    },
    { context: caller.context },
  );
}

export interface ResultBatch {
  workerId: string;
  batchId: string;
  /** the item kind of every item; default: the workflow type's first (today each type has one) */
  kind?: string;
  items: unknown[];
  /** where a retry would resume; absent: the cursor stays as it is */
  cursor?: string | null;
  /** the run is over: complete the execution after this batch */
  done?: boolean;
}

export interface ResultOutcome extends Outcome {
  status: string;
  attempt: number;
  itemCount: number;
  /** items of this batch recorded now */
  accepted: number;
  /** items of this batch the execution already had (or a repeated batch) */
  duplicates: number;
}

/**
 * A collector worker's batch: starts a requested (or retrying) execution,
 * records the items validated against the registry's item schema (dedup key
 * = platformContentId), completes when `done`. Every step is idempotent, so
 * a re-sent batch changes nothing.
 */
export async function recordResults(deps: WorkflowDeps, context: CommandContext, executionId: string, batch: ResultBatch): Promise<ResultOutcome> {
  // one read, one append: start, items and completion are decided in order on the state each leaves. A batch too
  // large for one append goes in chunks, one append each (start with the first, completion with the last)
  let chunks: CollectedItem[][] = [];
  const step = (index: number) => (state: WorkflowExecutionState) => {
    if (index === 0) chunks = chunkItemsByBytes(validItems(resolvedType(executionId, state), batch));
    return resultCommands(deps, executionId, batch, state, chunks, index);
  };
  let result = await handle(deps.store, workflowExecutionAggregate, executionId, step(0), { context });
  let accepted = acceptedIn(result.events);
  for (let index = 1; index < chunks.length; index++) {
    result = await handle(deps.store, workflowExecutionAggregate, executionId, step(index), { context });
    accepted += acceptedIn(result.events);
  }
  const state = result.state;
  return {
    revision: result.revision,
    position: result.position,
    status: state.status,
    attempt: state.attempt,
    itemCount: state.itemCount,
    accepted,
    duplicates: batch.items.length - accepted,
  };
}

function acceptedIn(events: readonly { type: string; data: unknown }[]): number {
  const collected = events.find((e) => e.type === 'ItemsCollected');
  return collected ? (collected.data as { items: unknown[] }).items.length : 0;
}

function resolvedType(executionId: string, state: WorkflowExecutionState): ResolvedWorkflowType {
  const request = state.request;
  if (!request) throw notFound('execution');
  const resolved = workflowType(request.type);
  if (!resolved) throw new DomainError('CONFLICT', `execution ${executionId} is of an unknown workflow type ${request.type}`, { type: request.type });
  return resolved;
}

/** The commands of chunk `index` of the batch's items: the first chunk starts the run, the last completes it. */
function resultCommands(
  deps: WorkflowDeps,
  executionId: string,
  batch: ResultBatch,
  state: WorkflowExecutionState,
  chunks: readonly CollectedItem[][],
  index: number,
): WorkflowExecutionCommand[] {
  resolvedType(executionId, state);
  const items = chunks[index] ?? [];
  const last = index >= chunks.length - 1;
  const now = deps.now().toISOString();
  const commands: WorkflowExecutionCommand[] = [];
  if (index === 0 && (state.status === 'requested' || state.status === 'retrying'))
    commands.push({ type: 'StartExecution', executionId, workerId: batch.workerId, now });
  // only known items (or none): nothing to record, and no refusal for a finished execution either
  if (items.some((item) => !hasId(state.seenItems, item.platformContentId))) {
    // a chunk before the last leaves the cursor where it was: a batch cut short is sent again whole
    const cursor = last && batch.cursor !== undefined ? batch.cursor : state.cursor;
    commands.push({ type: 'CollectItems', executionId, batchId: chunkBatchId(batch.batchId, index), items, cursor, now });
  }
  if (last && batch.done) commands.push({ type: 'CompleteExecution', executionId, now });
  return commands;
}

/** Every item against the kind's schema (all problems at once); the parsed item is what is recorded. */
function validItems(resolved: ResolvedWorkflowType, batch: ResultBatch): CollectedItem[] {
  const kind = batch.kind ?? resolved.spec.itemKinds[0];
  const spec = kind !== undefined && resolved.spec.itemKinds.includes(kind) ? itemSpec(kind) : undefined;
  if (!kind || !spec) {
    throw invalidBody(`${resolved.type} collects ${resolved.spec.itemKinds.join(', ')}`, [
      { path: ['kind'], message: `one of ${resolved.spec.itemKinds.join(', ')}`, code: 'invalid_value' },
    ]);
  }
  const issues: { path: (string | number)[]; message: string; code: string }[] = [];
  const items: CollectedItem[] = [];
  batch.items.forEach((raw, index) => {
    const parsed = spec.schema.safeParse(raw);
    if (!parsed.success) {
      issues.push(...zodIssuesUnder(['items', index], parsed.error.issues));
      return;
    }
    items.push({ platformContentId: spec.key(parsed.data), kind, data: parsed.data as Record<string, unknown> });
  });
  if (issues.length > 0) throw invalidBody(`items do not fit ${kind}`, issues);
  return items;
}

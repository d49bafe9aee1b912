import { randomUUID } from 'node:crypto';
import type { EventStore } from '../event-store/port.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load, type HandleResult } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { uuidFromName } from '../write-model/core/event-ids.js';
import {
  duplicateAlert,
  novelAlertAggregate,
  novelAlertRuleAggregate,
  ruleAfterChange,
  type NovelAlertEvent,
  type NovelAlertKind,
  type NovelAlertState,
  type RuleHolder,
} from '../write-model/novel-alert/index.js';
import { loadTracking, novelTrackingId } from './novel-trackings.js';
import { releaseResource, reserveResource, type QuotaCall } from './subscription-quotas.js';

/**
 * Novel alert rules (NovelAlert aggregate, `novel_alert-{alertId}`): each
 * holds one unit of the qidian plan's alert_notifications (resource id =
 * the alert id) while it exists. pm-qidian-alerts fires them.
 *
 * An owner sets a rule (novel, kind, words) once: the rule's reservation
 * stream (`novel_alert_rule-{ruleId}`, rule-reservation.ts) names the alert
 * that has it, and a create or a change into it takes it there first, so a
 * duplicate is refused (CONFLICT, `details.reason: duplicate_alert`, the
 * existing alertId) before anything is written, and of two concurrent
 * takers one is. Who holds a rule is judged on the holder's own stream
 * (ruleStanding), so a release lost to a crash frees the rule all the same.
 *
 * - create: the novel must be one the user tracks (CONFLICT otherwise,
 *   `details.reason: novel_not_tracked`); take the rule, reserve the unit
 *   (QUOTA_EXCEEDED at the limit), then CreateNovelAlert; a refused create
 *   gives both back.
 * - change: into another rule takes that rule first and gives the old one
 *   back after.
 * - delete: DeleteNovelAlert, then give back the rule and the unit — also on
 *   a repeat, so a DELETE retried after a failed release heals them.
 */

export const ALERT_FEATURE = 'alert_notifications';

export interface AlertCall {
  store: EventStore;
  userId: string;
  now: Date;
  /** config QUOTA_TIME_ZONE */
  timeZone: string;
  context: CommandContext;
}

type Result = HandleResult<NovelAlertState, NovelAlertEvent>;

interface Rule {
  userId: string;
  novelId: string;
  kind: NovelAlertKind;
  words: number | null;
}

function quotaCall(call: AlertCall): QuotaCall {
  return { store: call.store, userId: call.userId, service: 'qidian', now: call.now, timeZone: call.timeZone, context: call.context };
}

/** The reservation stream id of an owner's rule: the same rule, the same stream. */
export function alertRuleId(rule: Rule): string {
  return uuidFromName(`novel_alert_rule:${rule.userId}:${rule.novelId}:${rule.kind}:${rule.words ?? ''}`);
}

export async function loadAlert(store: EventStore, alertId: string): Promise<{ state: NovelAlertState; revision: bigint }> {
  return load(store, novelAlertAggregate, alertId);
}

/**
 * Who holds a rule, by the holder's own stream:
 * - `free`: nobody;
 * - `held`: an active alert with this rule, or one changing into it (it
 *   took the rule at the revision it is still at);
 * - `unwritten`: a create that took it and has not written its alert yet
 *   (in flight, or lost to a crash);
 * - `stale`: an alert deleted, or changed to another rule since it took
 *   this one (its release lost to a crash): free to take from it.
 */
async function ruleStanding(store: EventStore, rule: Rule): Promise<{ holder: RuleHolder | null; standing: 'free' | 'held' | 'unwritten' | 'stale' }> {
  const { holder } = (await load(store, novelAlertRuleAggregate, alertRuleId(rule))).state;
  if (holder === null) return { holder, standing: 'free' };
  const { state, revision } = await loadAlert(store, holder.alertId);
  if (state.status === 'none') return { holder, standing: 'unwritten' };
  if (state.status === 'deleted') return { holder, standing: 'stale' };
  const same = state.userId === rule.userId && state.novelId === rule.novelId && state.kind === rule.kind && state.words === rule.words;
  return { holder, standing: same || revision <= BigInt(holder.alertRevision) ? 'held' : 'stale' };
}

async function reserveRule(call: AlertCall, rule: Rule, alertId: string, alertRevision: bigint, replaces: RuleHolder | undefined): Promise<void> {
  const ruleId = alertRuleId(rule);
  await handle(
    call.store,
    novelAlertRuleAggregate,
    ruleId,
    { type: 'ReserveNovelAlertRule', ruleId, alertId, alertRevision: Number(alertRevision), ...rule, ...(replaces ? { replaces } : {}) },
    { context: call.context },
  );
}

async function releaseRule(call: AlertCall, rule: Rule, alertId: string, upTo?: bigint): Promise<void> {
  const ruleId = alertRuleId(rule);
  await handle(
    call.store,
    novelAlertRuleAggregate,
    ruleId,
    { type: 'ReleaseNovelAlertRule', ruleId, alertId, ...(upTo !== undefined ? { upTo: Number(upTo) } : {}) },
    { context: call.context },
  );
}

/** Whether the alert is written and has this rule now. */
async function hasRule(store: EventStore, alertId: string, rule: Omit<Rule, 'userId' | 'novelId'>): Promise<boolean> {
  const { state } = await loadAlert(store, alertId);
  return state.status === 'active' && state.kind === rule.kind && state.words === rule.words;
}

export async function createAlert(
  call: AlertCall,
  input: { novelId: string; kind: NovelAlertKind; words: number | null },
): Promise<Result & { alertId: string }> {
  const { state: tracking } = await loadTracking(call.store, novelTrackingId(call.userId, input.novelId));
  if (tracking.status !== 'tracking') {
    throw new DomainError('CONFLICT', `novel ${input.novelId} is not tracked: track it first`, { novelId: input.novelId, reason: 'novel_not_tracked' });
  }
  const rule: Rule = { userId: call.userId, ...input };
  const { holder, standing } = await ruleStanding(call.store, rule);
  if (holder && standing === 'held') throw duplicateAlert(holder.alertId);
  // a create that took the rule and wrote no alert is finished under its id (as registerUser finishes a
  // reserved email): of it and this request, only one writes that alert; the other is its duplicate
  const finishing = holder !== null && standing === 'unwritten';
  const alertId = finishing ? holder.alertId : randomUUID();
  await reserveRule(call, rule, alertId, -1n, holder && standing === 'stale' ? holder : undefined);
  try {
    await reserveResource(quotaCall(call), ALERT_FEATURE, alertId);
    const result = await handle(
      call.store,
      novelAlertAggregate,
      alertId,
      { type: 'CreateNovelAlert', alertId, userId: call.userId, novelId: input.novelId, kind: input.kind, words: input.words, now: call.now.toISOString() },
      { context: call.context, expectedRevision: 'no_stream' },
    );
    return { ...result, alertId };
  } catch (error) {
    if (await hasRule(call.store, alertId, rule).catch(() => false)) throw duplicateAlert(alertId);
    // what it took is the taker's to give back; a finisher leaves it to the create it finishes
    if (!finishing) {
      await releaseRule(call, rule, alertId).catch(() => undefined);
      await releaseResource(quotaCall(call), ALERT_FEATURE, alertId).catch(() => undefined);
    }
    throw error;
  }
}

export async function changeAlert(
  call: AlertCall,
  alertId: string,
  change: { kind?: NovelAlertKind; words?: number | null },
  expectedRevision?: bigint,
): Promise<Result> {
  const apply = (expected: bigint | undefined) =>
    handle(
      call.store,
      novelAlertAggregate,
      alertId,
      { type: 'ChangeNovelAlert', alertId, requestedBy: call.userId, ...change, now: call.now.toISOString() },
      { context: call.context, ...(expected !== undefined ? { expectedRevision: expected } : {}) },
    );
  const { state, revision } = await loadAlert(call.store, alertId);
  // what the decider or If-Match refuses, and a change to the same rule, take no rule
  if (state.status !== 'active' || state.userId !== call.userId || (expectedRevision !== undefined && expectedRevision !== revision)) {
    return apply(expectedRevision);
  }
  const target: Rule = { userId: state.userId, novelId: state.novelId, ...ruleAfterChange(state, change) };
  if (target.kind === state.kind && target.words === state.words) return apply(expectedRevision);
  const { holder, standing } = await ruleStanding(call.store, target);
  const other = holder !== null && holder.alertId !== alertId;
  if (other && (standing === 'held' || standing === 'unwritten')) throw duplicateAlert(holder.alertId);
  await reserveRule(call, target, alertId, revision, other && standing === 'stale' ? holder : undefined);
  let result: Result;
  try {
    // at the revision it took the rule at: takers judge this alert by it (ruleStanding)
    result = await apply(revision);
  } catch (error) {
    // a concurrent identical change that landed keeps the rule; otherwise give back what this one took
    if (!(await hasRule(call.store, alertId, target).catch(() => true))) await releaseRule(call, target, alertId, revision).catch(() => undefined);
    throw error;
  }
  // the old rule is free for another (lost to a crash: the next taker finds this alert moved on); a
  // concurrent change back into it took it at a later revision and keeps it
  await releaseRule(call, { userId: state.userId, novelId: state.novelId, kind: state.kind, words: state.words }, alertId, revision);
  return result;
}

export async function deleteAlert(call: AlertCall, alertId: string, expectedRevision?: bigint): Promise<Result> {
  const result = await handle(
    call.store,
    novelAlertAggregate,
    alertId,
    { type: 'DeleteNovelAlert', alertId, requestedBy: call.userId, now: call.now.toISOString() },
    { context: call.context, ...(expectedRevision !== undefined ? { expectedRevision } : {}) },
  );
  const a = result.state;
  if (a.status !== 'none') await releaseRule(call, { userId: a.userId, novelId: a.novelId, kind: a.kind, words: a.words }, alertId);
  await releaseResource(quotaCall(call), ALERT_FEATURE, alertId);
  return result;
}

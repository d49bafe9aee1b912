import { z } from 'zod';
import { SNAPSHOT_EVERY, type Aggregate } from '../core/aggregate.js';
import type { Decider, DomainEvent } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { eventCodec } from '../core/event-codec.js';
import { invalid, requireOneOf, requireText } from '../core/validate.js';
import { NOVEL_ALERT_KINDS, type NovelAlertKind } from './events.js';

/**
 * The alert rule reservation: one stream per rule of one owner,
 * `novel_alert_rule-{ruleId}`, the id name-based on the owner, the novel, the
 * kind and the words (src/application/novel-alerts.ts derives it). It makes
 * "an owner sets a rule once" hold without a read model, as the keyword
 * watch's name-based id does for keywords: a create or a change takes the
 * rule here before writing the alert, and of two concurrent takers only one
 * append lands; the other is decided again on the fresh state and refused
 * (CONFLICT, `details.reason: duplicate_alert` with the holder's alertId).
 * Delete, and a change away from the rule, give it back.
 *
 * The holder is an alert and the revision of its stream when it took the
 * rule (-1: a create whose alert is not written yet). Taking the rule from a
 * holder that no longer has it (deleted, or changed to another rule since:
 * its release lost to a crash) names that holder, as read, in `replaces`;
 * the application judges that from the holder's own stream.
 *
 * Rules: tests/unit/novel-alert-rule.spec.test.ts.
 */

export interface RuleHolder {
  alertId: string;
  /** the alert stream's revision when it took the rule; -1 before its alert is written */
  alertRevision: number;
}

export interface NovelAlertRuleReservedData extends RuleHolder {
  ruleId: string;
  userId: string;
  novelId: string;
  kind: NovelAlertKind;
  words: number | null;
  /** the holder this reservation took the rule from (it no longer had it); null otherwise */
  replaced: string | null;
}

export interface NovelAlertRuleReleasedData {
  ruleId: string;
  alertId: string;
}

export type NovelAlertRuleEvent =
  | DomainEvent<'NovelAlertRuleReserved', NovelAlertRuleReservedData>
  | DomainEvent<'NovelAlertRuleReleased', NovelAlertRuleReleasedData>;

/** The decode boundary of the reservation's stored events (see core/event-codec.ts). */
export const novelAlertRuleEvents = eventCodec<NovelAlertRuleEvent>({
  NovelAlertRuleReserved: {
    schema: z.object({
      ruleId: z.string(),
      alertId: z.string(),
      alertRevision: z.number().int(),
      userId: z.string(),
      novelId: z.string(),
      kind: z.enum(NOVEL_ALERT_KINDS),
      words: z.number().int().nullable(),
      replaced: z.string().nullable(),
    }),
  },
  NovelAlertRuleReleased: { schema: z.object({ ruleId: z.string(), alertId: z.string() }) },
});

/** Takes the rule for the alert; a no-op when it holds it at that revision already. */
export interface ReserveNovelAlertRule {
  type: 'ReserveNovelAlertRule';
  ruleId: string;
  alertId: string;
  alertRevision: number;
  userId: string;
  novelId: string;
  kind: NovelAlertKind;
  words: number | null;
  /** the holder found no longer having the rule, exactly as read: taken from it only while it still holds it so */
  replaces?: RuleHolder;
}

/**
 * Gives the rule back; a no-op unless the alert holds it. With `upTo`, only
 * a reservation the alert took at that revision or before (a later one is
 * a concurrent change's).
 */
export interface ReleaseNovelAlertRule {
  type: 'ReleaseNovelAlertRule';
  ruleId: string;
  alertId: string;
  upTo?: number;
}

export type NovelAlertRuleCommand = ReserveNovelAlertRule | ReleaseNovelAlertRule;

export interface NovelAlertRuleState {
  /** who holds the rule now; null: free */
  holder: RuleHolder | null;
}

export function initialNovelAlertRuleState(): NovelAlertRuleState {
  return { holder: null };
}

export function novelAlertRuleStream(ruleId: string): string {
  return `novel_alert_rule-${ruleId}`;
}

/** The refusal of a rule its owner has set already, naming the alert that has it. */
export function duplicateAlert(alertId: string): DomainError {
  return new DomainError('CONFLICT', `the same alert rule is set already (alert ${alertId})`, { reason: 'duplicate_alert', alertId });
}

function requireRevision(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < -1)
    throw invalid(`${field} must be a stream revision (-1 or more)`, { field, got: value });
  return value;
}

function reserve(command: ReserveNovelAlertRule, state: NovelAlertRuleState): NovelAlertRuleEvent[] {
  const ruleId = requireText(command.ruleId, 'ruleId');
  const alertId = requireText(command.alertId, 'alertId');
  const alertRevision = requireRevision(command.alertRevision, 'alertRevision');
  const userId = requireText(command.userId, 'userId');
  const novelId = requireText(command.novelId, 'novelId');
  const kind = requireOneOf(command.kind, NOVEL_ALERT_KINDS, 'kind');
  const words = command.words;
  if (words !== null && (typeof words !== 'number' || !Number.isInteger(words) || words < 1))
    throw invalid('words must be a whole number or null', { field: 'words', got: words });
  const held = state.holder;
  const data = { ruleId, alertId, alertRevision, userId, novelId, kind, words, replaced: null };
  if (held === null) return [{ type: 'NovelAlertRuleReserved', data }];
  if (held.alertId === alertId) return held.alertRevision === alertRevision ? [] : [{ type: 'NovelAlertRuleReserved', data }];
  const stale = command.replaces;
  if (stale && stale.alertId === held.alertId && stale.alertRevision === held.alertRevision) {
    return [{ type: 'NovelAlertRuleReserved', data: { ...data, replaced: held.alertId } }];
  }
  throw duplicateAlert(held.alertId);
}

function release(command: ReleaseNovelAlertRule, state: NovelAlertRuleState): NovelAlertRuleEvent[] {
  const ruleId = requireText(command.ruleId, 'ruleId');
  const alertId = requireText(command.alertId, 'alertId');
  const upTo = command.upTo === undefined ? undefined : requireRevision(command.upTo, 'upTo');
  const held = state.holder;
  if (held?.alertId !== alertId || (upTo !== undefined && held.alertRevision > upTo)) return [];
  return [{ type: 'NovelAlertRuleReleased', data: { ruleId, alertId } }];
}

function decide(command: NovelAlertRuleCommand, state: NovelAlertRuleState): NovelAlertRuleEvent[] {
  switch (command.type) {
    case 'ReserveNovelAlertRule':
      return reserve(command, state);
    case 'ReleaseNovelAlertRule':
      return release(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

function evolve(state: NovelAlertRuleState, event: NovelAlertRuleEvent): NovelAlertRuleState {
  state.holder = event.type === 'NovelAlertRuleReserved' ? { alertId: event.data.alertId, alertRevision: event.data.alertRevision } : null;
  return state;
}

export const novelAlertRuleDecider: Decider<NovelAlertRuleState, NovelAlertRuleCommand, NovelAlertRuleEvent> = {
  initialState: initialNovelAlertRuleState,
  decide,
  evolve,
};

/**
 * The binding the command handler uses: stream `novel_alert_rule-{ruleId}`.
 * An owner who sets and deletes the same rule again and again adds a pair of
 * events each time, so it is snapshotted: a load reads at most a few events.
 */
export const novelAlertRuleAggregate: Aggregate<NovelAlertRuleState, NovelAlertRuleCommand, NovelAlertRuleEvent> = {
  name: 'novel_alert_rule',
  streamName: novelAlertRuleStream,
  decider: novelAlertRuleDecider,
  events: novelAlertRuleEvents,
  snapshot: { version: 1, every: SNAPSHOT_EVERY.lifecycle },
};

import { randomUUID } from 'node:crypto';
import type { EventStore } from '../../event-store/port.js';
import type { Position } from '../../event-store/position.js';
import type { CommandContext } from '../../write-model/core/command-context.js';
import { handle, load } from '../../write-model/core/command-handler.js';
import { DomainError } from '../../write-model/core/domain-error.js';
import { reviewRuleSetAggregate } from '../../write-model/review-rules/decider.js';
import { PLATFORM_SCOPE, type RedLineCategory, type ReviewRule, type ReviewRuleParams, type RuleKind } from '../../write-model/review-rules/events.js';
import { currentPlans } from '../api-keys.js';
import { requireOwnReviewRules } from '../plan-gates.js';
import { authorize } from '../authorization/policy.js';
import { requirePlatformRuleEditor, requirePlatformRuleReader, type Actor } from './policy.js';
import { preReview, type PreReviewInput, type PreReviewResult } from './pre-review.js';

/**
 * Managing rule sets (GET/POST/PUT/DELETE /api/v1/review-rules): the
 * platform's set (`platform`: platform.review-rules.edit changes it, platform.review-rules.view reads it) and a
 * tenant's own (`mine`: stream `review_rule_set-{userId}`, for enterprise
 * plans). Rules are read and changed on the event store, never on the read
 * model, so a change right after a creation finds the rule.
 */

export type RuleScopeChoice = 'platform' | 'mine';

export interface RuleInput {
  kind: RuleKind;
  name: string;
  phrases?: string[] | undefined;
  category?: RedLineCategory | null | undefined;
  platforms?: string[] | undefined;
  regions?: string[] | undefined;
  params?: ReviewRuleParams | undefined;
  enabled?: boolean | undefined;
}

export interface RuleCall {
  store: EventStore;
  actor: Actor;
  context: CommandContext;
  now: Date;
}

export interface RuleWritten {
  ruleId: string;
  scope: RuleScopeChoice;
  revision: bigint;
  position: Position | undefined;
}

export interface FoundRule {
  rule: ReviewRule;
  scope: RuleScopeChoice;
  revision: bigint;
}

async function requireOwnSet(store: EventStore, actor: Actor): Promise<void> {
  requireOwnReviewRules(await currentPlans(store, actor.userId));
}

/** The stream scope the actor may use: `platform` (reviewers read, admins write) or their own (enterprise). */
export async function scopeFor(store: EventStore, actor: Actor, choice: RuleScopeChoice, access: 'read' | 'write'): Promise<string> {
  if (choice === 'platform') {
    if (access === 'write') requirePlatformRuleEditor(actor, "changing the platform's review rules");
    else requirePlatformRuleReader(actor, "the platform's review rules");
    return PLATFORM_SCOPE;
  }
  await requireOwnSet(store, actor);
  return actor.userId;
}

function ruleOf(ruleId: string, input: RuleInput): ReviewRule {
  return {
    ruleId,
    kind: input.kind,
    name: input.name,
    phrases: input.phrases ?? [],
    category: input.category ?? null,
    platforms: input.platforms ?? [],
    regions: input.regions ?? [],
    params: input.params ?? {},
    enabled: input.enabled ?? true,
  };
}

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * The rule set decider names a field as the command holds it (`rule.params.allowedDomains`);
 * the caller sent the rule as the request body: its refusal names the body's field
 * (`params`, `allowed_domains`), one path segment each.
 */
async function asBodyFields<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof DomainError) || error.code !== 'VALIDATION_ERROR' || error.details.issues !== undefined) throw error;
    const field = error.details.field;
    if (typeof field !== 'string' || (field !== 'rule' && !field.startsWith('rule.'))) throw error;
    const path = field === 'rule' ? [] : field.slice('rule.'.length).split('.').map(snake);
    throw new DomainError('VALIDATION_ERROR', error.message, {
      ...error.details,
      field: path.join('.'),
      issues: [{ path, message: error.message, code: 'invalid' }],
    });
  }
}

export async function addReviewRule(call: RuleCall, choice: RuleScopeChoice, input: RuleInput): Promise<RuleWritten> {
  const scope = await scopeFor(call.store, call.actor, choice, 'write');
  const ruleId = randomUUID();
  const result = await asBodyFields(() =>
    handle(
      call.store,
      reviewRuleSetAggregate,
      scope,
      { type: 'AddReviewRule', scope, rule: ruleOf(ruleId, input), by: call.actor.userId, now: call.now.toISOString() },
      { context: call.context },
    ),
  );
  return { ruleId, scope: choice, revision: result.revision, position: result.position };
}

/**
 * The rule and its set: the actor's own set first, then the platform's.
 * NOT_FOUND when neither the actor may see holds it; a platform rule the
 * actor may read but not change (a reviewer's write) is PERMISSION_DENIED.
 */
export async function findReviewRule(store: EventStore, actor: Actor, ruleId: string, access: 'read' | 'write'): Promise<FoundRule> {
  const own = await load(store, reviewRuleSetAggregate, actor.userId);
  if (Object.hasOwn(own.state.rules, ruleId)) {
    await requireOwnSet(store, actor);
    return { rule: own.state.rules[ruleId]!, scope: 'mine', revision: own.revision };
  }
  if (authorize(actor.principal, 'platform.review-rules.view').allowed) {
    const platform = await load(store, reviewRuleSetAggregate, PLATFORM_SCOPE);
    if (Object.hasOwn(platform.state.rules, ruleId)) {
      if (access === 'write') requirePlatformRuleEditor(actor, "changing the platform's review rules");
      return { rule: platform.state.rules[ruleId]!, scope: 'platform', revision: platform.revision };
    }
  }
  throw new DomainError('NOT_FOUND', `review rule ${ruleId} not found`, { ruleId });
}

/**
 * Replaces the rule (its kind stays); a rule that is the same already is a no-op.
 * expectedRevision: the caller's If-Match, the revision of the rule's set (checked once the rule is found).
 */
export async function changeReviewRule(call: RuleCall, ruleId: string, input: RuleInput, expectedRevision?: bigint): Promise<RuleWritten> {
  const found = await findReviewRule(call.store, call.actor, ruleId, 'write');
  const scope = found.scope === 'platform' ? PLATFORM_SCOPE : call.actor.userId;
  const result = await asBodyFields(() =>
    handle(
      call.store,
      reviewRuleSetAggregate,
      scope,
      { type: 'ChangeReviewRule', scope, rule: ruleOf(ruleId, input), by: call.actor.userId, now: call.now.toISOString() },
      { context: call.context, expectedRevision },
    ),
  );
  return { ruleId, scope: found.scope, revision: result.revision, position: result.position };
}

/** Removes the rule (one removed already: NOT_FOUND); expectedRevision as for changeReviewRule. */
export async function removeReviewRule(call: RuleCall, ruleId: string, expectedRevision?: bigint): Promise<RuleWritten> {
  const found = await findReviewRule(call.store, call.actor, ruleId, 'write');
  const scope = found.scope === 'platform' ? PLATFORM_SCOPE : call.actor.userId;
  const result = await handle(
    call.store,
    reviewRuleSetAggregate,
    scope,
    { type: 'RemoveReviewRule', scope, ruleId, by: call.actor.userId, now: call.now.toISOString() },
    { context: call.context, expectedRevision },
  );
  return { ruleId, scope: found.scope, revision: result.revision, position: result.position };
}

/** The dry run: the pre-review of the caller's own text, exactly as a publication of theirs would meet it. */
export function testReviewRules(store: EventStore, actor: Actor, input: Omit<PreReviewInput, 'ownerId'>): Promise<PreReviewResult> {
  return preReview({ store }, { ...input, ownerId: actor.userId });
}

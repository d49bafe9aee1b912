import { SNAPSHOT_EVERY, type Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { withoutInvisible } from '../core/invisible.js';
import { instant, invalid, requireOneOf, requireText } from '../core/validate.js';
import type { AddReviewRule, ChangeReviewRule, RemoveReviewRule, ReviewRuleSetCommand } from './commands.js';
import {
  CONTACT_TYPES,
  LENGTH_FIELDS,
  MAX_ALLOWED_DOMAINS,
  MAX_PHRASE_LENGTH,
  MAX_PHRASES_PER_RULE,
  MAX_PHRASES_PER_SET,
  MAX_RULE_NAME,
  MAX_RULE_TARGETS,
  MAX_RULES_PER_SET,
  PLATFORM_SCOPE,
  RED_LINE_CATEGORIES,
  RULE_KINDS,
  reviewRuleSetEvents,
  type ContactType,
  type ReviewRule,
  type ReviewRuleParams,
  type ReviewRuleSetEvent,
} from './events.js';
import { initialState, type ReviewRuleSetState } from './state.js';
import { characterCount } from '../core/characters.js';

/**
 * A rule set: stream `review_rule_set-{scope}` (`platform`, or a tenant's
 * user id). Who may change which scope is the caller's check (admins the
 * platform's, an enterprise tenant their own); the decider keeps the rules
 * well-formed and the set bounded.
 *
 * Rules (tests/unit/review-rules.spec.test.ts):
 * - AddReviewRule: a well-formed rule (normalizeRule); the same rule again
 *   is a no-op, another rule under the same id CONFLICT; at most
 *   MAX_RULES_PER_SET rules and MAX_PHRASES_PER_SET phrases in the set
 *   (VALIDATION_ERROR, details.limit).
 * - ChangeReviewRule: the rule must be there (NOT_FOUND); its kind never
 *   changes (VALIDATION_ERROR); unchanged: a no-op.
 * - RemoveReviewRule: a rule that is not there is a no-op.
 */
export function reviewRuleSetStream(scope: string): string {
  return `review_rule_set-${scope}`;
}

type State = ReviewRuleSetState;
type Event = ReviewRuleSetEvent;

const PLATFORM_ID = /^[a-z0-9_-]{1,40}$/;
const REGION = /^[A-Z0-9_-]{1,40}$/;
const DOMAIN = /^(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+[\p{L}\p{N}-]{2,63}$/u;
const MAX_LENGTH_BOUND = 1_000_000;
const MAX_IMAGE_BOUND = 1_000;

function uniqueList(values: unknown, field: string, max: number, each: (value: string) => string): string[] {
  if (values === undefined || values === null) return [];
  if (!Array.isArray(values)) throw invalid(`${field} must be a list`, { field });
  if (values.length > max) throw invalid(`${field} holds at most ${max} entries`, { field, max });
  const out = new Set<string>();
  for (const value of values) {
    if (typeof value !== 'string') throw invalid(`${field} must hold strings`, { field });
    out.add(each(value));
  }
  return [...out];
}

function bound(value: unknown, field: string, max: number): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max)
    throw invalid(`${field} must be an integer between 0 and ${max}`, { field, max });
  return value;
}

function minMax(params: ReviewRuleParams, kind: string, max: number): { min: number | null; max: number | null } {
  const lo = bound(params.min, 'rule.params.min', max);
  const hi = bound(params.max, 'rule.params.max', max);
  if (lo === null && hi === null) throw invalid(`a ${kind} rule needs params.min or params.max`, { field: 'rule.params' });
  if (lo !== null && hi !== null && lo > hi) throw invalid('params.min must not exceed params.max', { field: 'rule.params.min' });
  return { min: lo, max: hi };
}

/** A domain as links are compared against it: lower case, no scheme, no leading `*.` or dot. */
export function normalizeDomain(value: string): string {
  const domain = value
    .trim()
    .toLowerCase()
    .replace(/^https?:\/\//, '')
    .replace(/^\*?\./, '')
    .replace(/\/.*$/, '')
    .replace(/\.$/, '');
  if (!DOMAIN.test(domain)) throw invalid(`${JSON.stringify(value)} is not a domain`, { field: 'rule.params.allowedDomains' });
  return domain;
}

function kindParams(rule: ReviewRule): ReviewRuleParams {
  const params = (rule.params ?? {}) as ReviewRuleParams;
  if (typeof params !== 'object' || Array.isArray(params)) throw invalid('params must be an object', { field: 'rule.params' });
  const given = Object.keys(params).filter((k) => (params as Record<string, unknown>)[k] !== undefined);
  const allowedKeys: Record<ReviewRule['kind'], readonly string[]> = {
    banned_phrase: [],
    red_line: [],
    contact: ['contactTypes'],
    link: ['allowedDomains'],
    length: ['field', 'min', 'max'],
    image: ['min', 'max'],
  };
  const stray = given.filter((k) => !allowedKeys[rule.kind].includes(k));
  if (stray.length > 0) throw invalid(`a ${rule.kind} rule takes no params.${stray[0]}`, { field: `rule.params.${stray[0]}` });
  switch (rule.kind) {
    case 'banned_phrase':
    case 'red_line':
      return {};
    case 'contact':
      return {
        contactTypes: uniqueList(params.contactTypes, 'rule.params.contactTypes', CONTACT_TYPES.length, (t) =>
          requireOneOf(t, CONTACT_TYPES, 'rule.params.contactTypes'),
        ) as ContactType[],
      };
    case 'link':
      return { allowedDomains: uniqueList(params.allowedDomains, 'rule.params.allowedDomains', MAX_ALLOWED_DOMAINS, normalizeDomain) };
    case 'length':
      return { field: requireOneOf(params.field, LENGTH_FIELDS, 'rule.params.field'), ...minMax(params, 'length', MAX_LENGTH_BOUND) };
    case 'image':
      return minMax(params, 'image', MAX_IMAGE_BOUND);
  }
}

/**
 * A rule as it is kept: name trimmed; phrases trimmed, without blanks and
 * repeats; platform ids lower case, regions upper case, both without
 * repeats; only the params of its kind, domains normalised. Any other
 * shape is VALIDATION_ERROR naming the field (`rule.…`).
 */
export function normalizeRule(rule: ReviewRule): ReviewRule {
  if (typeof rule !== 'object' || rule === null) throw invalid('rule must be an object', { field: 'rule' });
  const ruleId = requireText(rule.ruleId, 'rule.ruleId');
  const kind = requireOneOf(rule.kind, RULE_KINDS, 'rule.kind');
  const name = requireText(rule.name, 'rule.name').trim();
  if (characterCount(name) > MAX_RULE_NAME) throw invalid(`rule.name must be at most ${MAX_RULE_NAME} characters`, { field: 'rule.name', max: MAX_RULE_NAME });
  const phraseKind = kind === 'banned_phrase' || kind === 'red_line';
  let phrases: string[] = [];
  if (phraseKind) {
    phrases = uniqueList(rule.phrases, 'rule.phrases', MAX_PHRASES_PER_RULE, (p) => {
      const phrase = p.trim();
      // only invisible characters: nothing the pre-review could ever find (it drops them from the text and the phrase alike)
      if (withoutInvisible(phrase).trim() === '') throw invalid('rule.phrases must not hold blank phrases', { field: 'rule.phrases' });
      if (characterCount(phrase) > MAX_PHRASE_LENGTH)
        throw invalid(`a phrase is at most ${MAX_PHRASE_LENGTH} characters`, { field: 'rule.phrases', max: MAX_PHRASE_LENGTH });
      return phrase;
    });
    if (phrases.length === 0) throw invalid(`a ${kind} rule needs at least one phrase`, { field: 'rule.phrases' });
  } else if (Array.isArray(rule.phrases) && rule.phrases.length > 0) {
    throw invalid(`a ${kind} rule takes no phrases`, { field: 'rule.phrases' });
  }
  let category: ReviewRule['category'] = null;
  if (kind === 'red_line') category = requireOneOf(rule.category, RED_LINE_CATEGORIES, 'rule.category');
  else if (kind === 'banned_phrase' && rule.category !== null && rule.category !== undefined)
    category = requireOneOf(rule.category, RED_LINE_CATEGORIES, 'rule.category');
  else if (rule.category !== null && rule.category !== undefined) throw invalid(`a ${kind} rule takes no category`, { field: 'rule.category' });
  const platforms = uniqueList(rule.platforms, 'rule.platforms', MAX_RULE_TARGETS, (p) => {
    const id = p.trim().toLowerCase();
    if (!PLATFORM_ID.test(id)) throw invalid(`${JSON.stringify(p)} is not a platform id`, { field: 'rule.platforms' });
    return id;
  });
  const regions = uniqueList(rule.regions, 'rule.regions', MAX_RULE_TARGETS, (r) => {
    const region = r.trim().toUpperCase();
    if (!REGION.test(region)) throw invalid(`${JSON.stringify(r)} is not a region code`, { field: 'rule.regions' });
    return region;
  });
  if (typeof rule.enabled !== 'boolean') throw invalid('rule.enabled must be a boolean', { field: 'rule.enabled' });
  return { ruleId, kind, name, phrases, category, platforms, regions, params: kindParams({ ...rule, kind }), enabled: rule.enabled };
}

function sameRule(a: ReviewRule, b: ReviewRule): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function requireScope(scope: unknown, state: State): string {
  const s = requireText(scope, 'scope');
  if (state.scope !== null && state.scope !== s) throw invalid(`this rule set is ${state.scope}'s`, { field: 'scope' });
  return s;
}

function checkBounds(state: State, rule: ReviewRule, replacing: ReviewRule | undefined): void {
  if (!replacing && Object.keys(state.rules).length >= MAX_RULES_PER_SET)
    throw invalid(`a rule set holds at most ${MAX_RULES_PER_SET} rules`, { field: 'rule', limit: MAX_RULES_PER_SET });
  const phrases = state.phraseCount - (replacing?.phrases.length ?? 0) + rule.phrases.length;
  if (phrases > MAX_PHRASES_PER_SET)
    throw invalid(`a rule set holds at most ${MAX_PHRASES_PER_SET} phrases`, { field: 'rule.phrases', limit: MAX_PHRASES_PER_SET, count: phrases });
}

function add(command: AddReviewRule, state: State): Event[] {
  const scope = requireScope(command.scope, state);
  const rule = normalizeRule(command.rule);
  const by = requireText(command.by, 'by');
  instant(command.now, 'now');
  const existing = Object.hasOwn(state.rules, rule.ruleId) ? state.rules[rule.ruleId] : undefined;
  if (existing) {
    if (sameRule(existing, rule)) return [];
    throw new DomainError('CONFLICT', `rule ${rule.ruleId} exists with other content`, { ruleId: rule.ruleId });
  }
  checkBounds(state, rule, undefined);
  return [{ type: 'ReviewRuleAdded', data: { scope, rule, by, addedAt: command.now } }];
}

function change(command: ChangeReviewRule, state: State): Event[] {
  const scope = requireScope(command.scope, state);
  const rule = normalizeRule(command.rule);
  const by = requireText(command.by, 'by');
  instant(command.now, 'now');
  const existing = Object.hasOwn(state.rules, rule.ruleId) ? state.rules[rule.ruleId] : undefined;
  if (!existing) throw new DomainError('NOT_FOUND', `rule ${rule.ruleId} not found`, { ruleId: rule.ruleId });
  if (existing.kind !== rule.kind) throw invalid(`a rule's kind never changes (it is ${existing.kind})`, { field: 'rule.kind', kind: existing.kind });
  if (sameRule(existing, rule)) return [];
  checkBounds(state, rule, existing);
  return [{ type: 'ReviewRuleChanged', data: { scope, rule, by, changedAt: command.now } }];
}

function remove(command: RemoveReviewRule, state: State): Event[] {
  const scope = requireScope(command.scope, state);
  const ruleId = requireText(command.ruleId, 'ruleId');
  const by = requireText(command.by, 'by');
  instant(command.now, 'now');
  if (!Object.hasOwn(state.rules, ruleId)) return [];
  return [{ type: 'ReviewRuleRemoved', data: { scope, ruleId, by, removedAt: command.now } }];
}

function decide(command: ReviewRuleSetCommand, state: State): Event[] {
  switch (command.type) {
    case 'AddReviewRule':
      return add(command, state);
    case 'ChangeReviewRule':
      return change(command, state);
    case 'RemoveReviewRule':
      return remove(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

function put(rules: Record<string, ReviewRule>, rule: ReviewRule): void {
  // defined, not assigned: a rule id like __proto__ stays an ordinary key
  Object.defineProperty(rules, rule.ruleId, { value: rule, enumerable: true, writable: true, configurable: true });
}

/** O(1) per event (the rule replaced in place); a fold owns its state. */
function evolve(state: State, event: Event): State {
  switch (event.type) {
    case 'ReviewRuleAdded': {
      state.scope ??= event.data.scope;
      const before = Object.hasOwn(state.rules, event.data.rule.ruleId) ? state.rules[event.data.rule.ruleId] : undefined;
      state.phraseCount += event.data.rule.phrases.length - (before?.phrases.length ?? 0);
      put(state.rules, event.data.rule);
      return state;
    }
    case 'ReviewRuleChanged': {
      state.scope ??= event.data.scope;
      const before = Object.hasOwn(state.rules, event.data.rule.ruleId) ? state.rules[event.data.rule.ruleId] : undefined;
      state.phraseCount += event.data.rule.phrases.length - (before?.phrases.length ?? 0);
      put(state.rules, event.data.rule);
      return state;
    }
    case 'ReviewRuleRemoved': {
      state.scope ??= event.data.scope;
      const before = Object.hasOwn(state.rules, event.data.ruleId) ? state.rules[event.data.ruleId] : undefined;
      if (before) {
        state.phraseCount -= before.phrases.length;
        delete state.rules[event.data.ruleId];
      }
      return state;
    }
  }
}

export const reviewRuleSetDecider: Decider<ReviewRuleSetState, ReviewRuleSetCommand, ReviewRuleSetEvent> = {
  initialState,
  decide,
  evolve,
};

/** Whether a scope names the platform-wide set. */
export const isPlatformScope = (scope: string): boolean => scope === PLATFORM_SCOPE;

/**
 * The binding the command handler uses: stream `review_rule_set-{scope}`.
 * A set lives as long as the platform (or the tenant) and every edit adds an
 * event, so it snapshots like a lifecycle stream; the pre-review keeps the
 * compiled set per revision and reads only the revision on each call.
 */
export const reviewRuleSetAggregate: Aggregate<ReviewRuleSetState, ReviewRuleSetCommand, ReviewRuleSetEvent> = {
  name: 'review_rule_set',
  streamName: reviewRuleSetStream,
  decider: reviewRuleSetDecider,
  events: reviewRuleSetEvents,
  snapshot: { version: 1, every: SNAPSHOT_EVERY.lifecycle },
};

import { SNAPSHOT_EVERY, type Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, requireOneOf, requireText } from '../core/validate.js';
import { PLAN_CODES, SERVICES, featureLimit, isDailyCounter, isResourceLimit, plan as planOf, type QuotaFeature } from '../subscription/plans.js';
import type { QuotaTerms } from '../subscription/quota-terms.js';
import type { ConsumeQuota, RecordQuotaExceeded, SubscriptionUsageCommand } from './commands.js';
import { subscriptionUsageEvents, type SubscriptionUsageEvent } from './events.js';
import { initialState, type DayUsage, type SubscriptionUsageState } from './state.js';

/**
 * The daily usage of one subscription: stream
 * `subscription_usage-{userId}_{service}_{YYYYMMDD}`, one per quota day. The
 * long-lived subscription keeps its lifecycle; what recurs every day lives
 * here and is left behind when the day is over.
 *
 * Rules (tests/unit/subscription-usage.spec.test.ts):
 * - Commands carry the subscription's terms (QuotaTerms: id, user, service,
 *   plan in force, plan-change count), read once from the subscription's
 *   stream. The first event opens the stream for that subscription and day;
 *   a command for another user, service or day is a CONFLICT (it belongs in
 *   another stream).
 * - ConsumeQuota: the plan's limit of the daily counter (plans.ts). Within
 *   it, or unlimited → UsageRecorded with the day's total. Over it
 *   (all-or-nothing: usedToday + amount > limit) → [QuotaExceeded] the first
 *   time that day under that plan change (the caller answers 429), then
 *   QUOTA_EXCEEDED thrown, nothing recorded. A plan change that took effect
 *   (a higher planChange) makes the next excess a new fact; the day's count
 *   carries over. A counter the plan does not have → PERMISSION_DENIED; a
 *   feature that is not a daily counter, a bad amount or day →
 *   VALIDATION_ERROR.
 * - RecordQuotaExceeded: a reservation the subscription refused at a
 *   resource limit, recorded once per feature, day and plan change (a repeat
 *   is a no-op: the caller refuses either way).
 */

export function subscriptionUsageStream(id: string): string {
  return `subscription_usage-${id}`;
}

/** The stream id of a subscription's day: `{userId}_{service}_{YYYYMMDD}`. */
export function dailyUsageId(userId: string, service: string, day: string): string {
  return `${userId}_${service}_${day.replaceAll('-', '')}`;
}

type Event = SubscriptionUsageEvent;
type State = SubscriptionUsageState;

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function requireDay(value: unknown): string {
  if (typeof value !== 'string' || !DAY.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
    throw invalid('day must be a date YYYY-MM-DD', { field: 'day', got: value });
  }
  return value;
}

function requireCount(value: unknown, field: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalid(`${field} must be a whole number of at least ${min}`, { field, got: value });
  }
  return value;
}

function requireTerms(value: unknown): QuotaTerms {
  const t = (typeof value === 'object' && value !== null ? value : {}) as Partial<QuotaTerms>;
  return {
    subscriptionId: requireText(t.subscriptionId, 'subscription.subscriptionId'),
    userId: requireText(t.userId, 'subscription.userId'),
    service: requireOneOf(t.service, SERVICES, 'subscription.service'),
    plan: requireOneOf(t.plan, PLAN_CODES, 'subscription.plan'),
    planChange: requireCount(t.planChange, 'subscription.planChange', 0),
  };
}

/** A stream holds one subscription's one day. */
function requireSameDay(state: State, terms: QuotaTerms, day: string): void {
  if (state.status === 'none') return;
  if (state.userId !== terms.userId || state.service !== terms.service || state.day !== day) {
    throw new DomainError('CONFLICT', 'this usage stream is for another subscription or day', {
      day,
      streamDay: state.day,
      service: terms.service,
      streamService: state.service,
    });
  }
}

function alreadyExceeded(state: State, feature: QuotaFeature, planChange: number): boolean {
  if (state.status === 'none') return false;
  const marked = state.exceeded[feature];
  return marked !== undefined && marked >= planChange;
}

function ref(terms: QuotaTerms) {
  return { subscriptionId: terms.subscriptionId, userId: terms.userId, service: terms.service, plan: terms.plan, planChange: terms.planChange };
}

// ---------------------------------------------------------------- decide

function consume(command: ConsumeQuota, state: State): Event[] {
  const terms = requireTerms(command.subscription);
  const feature = command.feature;
  if (!isDailyCounter(feature)) throw invalid(`${String(feature)} is not a daily counter`, { field: 'feature', got: feature });
  const amount = requireCount(command.amount, 'amount', 1);
  const day = requireDay(command.day);
  instant(command.resetsAt, 'resetsAt');
  instant(command.now, 'now');
  requireSameDay(state, terms, day);
  const limit = featureLimit(planOf(terms.service, terms.plan), feature);
  if (limit.kind === 'not_in_plan') {
    throw new DomainError('PERMISSION_DENIED', `${feature} is not in the ${terms.service} ${terms.plan} plan`, {
      feature,
      plan: terms.plan,
      service: terms.service,
    });
  }
  const used = state.status === 'open' ? (state.counts[feature] ?? 0) : 0;
  if (limit.kind === 'limited' && used + amount > limit.limit) {
    if (alreadyExceeded(state, feature, terms.planChange)) {
      const remaining = Math.max(0, limit.limit - used);
      const message =
        remaining === 0
          ? `the ${feature} quota of ${limit.limit} is used up`
          : `${amount} ${feature} asked for, ${remaining} of the quota of ${limit.limit} left`;
      throw new DomainError('QUOTA_EXCEEDED', message, {
        feature,
        limit: limit.limit,
        resetsAt: command.resetsAt,
        used,
        requested: amount,
        remaining,
        // the plan and subscription that counted it (an organization's, for its members)
        plan: terms.plan,
        subscriptionId: terms.subscriptionId,
      });
    }
    return [
      {
        type: 'QuotaExceeded',
        data: {
          ...ref(terms),
          feature,
          kind: 'daily_counter',
          limit: limit.limit,
          used,
          requested: amount,
          resourceId: null,
          day,
          resetsAt: command.resetsAt,
          exceededAt: command.now,
        },
      },
    ];
  }
  return [
    {
      type: 'UsageRecorded',
      data: {
        ...ref(terms),
        feature,
        amount,
        day,
        usedToday: used + amount,
        limit: limit.kind === 'limited' ? limit.limit : null,
        recordedAt: command.now,
      },
    },
  ];
}

function recordExceeded(command: RecordQuotaExceeded, state: State): Event[] {
  const terms = requireTerms(command.subscription);
  const feature = command.feature;
  if (!isResourceLimit(feature)) throw invalid(`${String(feature)} is not a resource limit`, { field: 'feature', got: feature });
  const limit = requireCount(command.limit, 'limit', 0);
  const used = requireCount(command.used, 'used', 0);
  const resourceId = requireText(command.resourceId, 'resourceId');
  const day = requireDay(command.day);
  instant(command.resetsAt, 'resetsAt');
  instant(command.now, 'now');
  requireSameDay(state, terms, day);
  if (alreadyExceeded(state, feature, terms.planChange)) return [];
  return [
    {
      type: 'QuotaExceeded',
      data: {
        ...ref(terms),
        feature,
        kind: 'resource_limit',
        limit,
        used,
        requested: 1,
        resourceId,
        day,
        resetsAt: command.resetsAt,
        exceededAt: command.now,
      },
    },
  ];
}

function decide(command: SubscriptionUsageCommand, state: State): Event[] {
  switch (command.type) {
    case 'ConsumeQuota':
      return consume(command, state);
    case 'RecordQuotaExceeded':
      return recordExceeded(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

// ---------------------------------------------------------------- evolve

/** The first event opens the day (either kind can come first). */
function opened(state: State, event: Event): DayUsage {
  if (state.status === 'open') return state;
  const d = event.data;
  return { status: 'open', subscriptionId: d.subscriptionId, userId: d.userId, service: d.service, day: d.day, counts: {}, exceeded: {} };
}

/** Updates the day in place (the fold owns its state): O(1) per event. */
function evolve(state: State, event: Event): State {
  const day = opened(state, event);
  switch (event.type) {
    case 'UsageRecorded':
      day.counts[event.data.feature] = event.data.usedToday;
      return day;
    case 'QuotaExceeded': {
      const { feature, planChange } = event.data;
      day.exceeded[feature] = Math.max(day.exceeded[feature] ?? planChange, planChange);
      return day;
    }
  }
}

export const subscriptionUsageDecider: Decider<SubscriptionUsageState, SubscriptionUsageCommand, SubscriptionUsageEvent> = {
  initialState,
  decide,
  evolve,
};

/**
 * The binding: stream `subscription_usage-{userId}_{service}_{YYYYMMDD}`.
 * A day is short-lived, but a busy one (an unlimited plan, many small uses)
 * can hold thousands of uses: snapshots keep each decision's read short.
 */
export const subscriptionUsageAggregate: Aggregate<SubscriptionUsageState, SubscriptionUsageCommand, SubscriptionUsageEvent> = {
  name: 'subscription_usage',
  streamName: subscriptionUsageStream,
  decider: subscriptionUsageDecider,
  events: subscriptionUsageEvents,
  snapshot: { version: 1, every: SNAPSHOT_EVERY.busy },
};

import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { invalid, instant, requireText, optionalText, requireOneOf } from '../core/validate.js';
import type {
  CancelSubscription,
  ChangePlan,
  ConsumeQuota,
  ExpireSubscription,
  ReleaseResource,
  RenewSubscription,
  ReserveResource,
  StartSubscription,
  SubscriptionCommand,
} from './commands.js';
import type { OverLimit, SubscriptionEvent, SubscriptionRef } from './events.js';
import {
  PLAN_CODES,
  SERVICES,
  compareRank,
  featureLimit,
  isDailyCounter,
  isResourceLimit,
  plan as planOf,
  resourceLimitsOf,
  type DailyCounterFeature,
  type FeatureLimit,
  type PlanCode,
  type ResourceFeature,
} from './plans.js';
import { inUse, initialState, isPaidPlan, usedOn, type ActiveSubscription, type SubscriptionState } from './state.js';

/**
 * The Subscription aggregate: one user's plan of one service, its paid
 * period, its daily usage and its reserved resources.
 *
 * The rules (the specs in tests/unit/subscription.spec.test.ts follow them):
 *
 * Lifecycle
 * - StartSubscription opens the stream; free has no period end (it never
 *   expires), a paid plan needs one. A repeat with the plan it started with
 *   is a no-op; any other start of a started stream is a CONFLICT. Every
 *   other command on an unstarted stream is NOT_FOUND.
 * - A started subscription never closes: an ended paid period falls back to
 *   a lower plan. So "only when none is active" = only on an empty stream.
 * - Invariant: `periodEnd` is null exactly when the plan is free.
 *
 * Plan changes (ChangePlan)
 * - An `orderId` already applied (by any command) → no-op. Same plan →
 *   no-op; but same plan with a new order → CONFLICT: a paid order for the
 *   current plan is a renewal (RenewSubscription), never silently dropped.
 * - Higher rank → SubscriptionUpgraded, effective at once. With an order the
 *   paid period starts now and ends at the command's `periodEnd` (required,
 *   after now); proration of the old period is the price's business, not
 *   this aggregate's. Without an order (an operator's grant) the period is
 *   kept, or ends at `periodEnd` when given; from free, `periodEnd` is
 *   required. An upgrade clears a pending downgrade and a cancellation.
 * - Lower rank → SubscriptionDowngraded, effective at the end of the period
 *   (the current plan stays in force until then; `pendingDowngrade`).
 *   Refused with CONFLICT (details.violations) when the resources held
 *   exceed the lower plan's limits: release them first. A downgrade to a
 *   paid plan may come with an order and the `periodEnd` of the lower plan's
 *   next period (which starts at the current period's end); without an
 *   order `periodEnd` is refused. Free is never sold: no order for free.
 *   Repeating the pending downgrade (unpaid) is a no-op, as is a downgrade
 *   to free of a cancelled subscription. A new downgrade replaces a pending
 *   one and clears a cancellation.
 * - Resources reserved after a downgrade was scheduled are not checked
 *   again: the current plan is in force until the period ends (see expiry).
 *
 * Renewal, cancellation, expiry
 * - RenewSubscription extends the current paid plan to `periodEnd` (which
 *   must be after the current period end and after now); once per order.
 *   A renewal of a free plan is a CONFLICT (buying a plan is ChangePlan).
 *   It clears a cancellation and a pending downgrade: the customer paid for
 *   the current plan again (a prepaid downgrade is then a refund matter).
 * - CancelSubscription: the paid plan stays until the period's end, then
 *   falls back to free. Already cancelled → no-op; free → CONFLICT; a
 *   pending downgrade whose next period is already paid → CONFLICT (refund
 *   it first); an unpaid pending downgrade is dropped.
 * - ExpireSubscription (the expiry scheduler): before `periodEnd` →
 *   CONFLICT; free → CONFLICT (it never expires). The fallback plan is:
 *   free when cancelled; the pending downgrade's plan when it is free or its
 *   next period was paid (that period follows on); free when the pending
 *   downgrade's plan was never paid for (`abandonedDowngrade`); free
 *   otherwise. Expiry never refuses because of resources: what is held
 *   beyond the fallback plan's limits is listed in `overLimit` and no new
 *   reservation is accepted until enough are released.
 *
 * Quotas
 * - Daily counters (ConsumeQuota): counted per feature and `day` (the
 *   caller's day in the configured time zone); only the latest day is kept,
 *   a later day starts from 0, an earlier day than the one tracked is a
 *   CONFLICT (a stale clock: retry with a fresh one). Within the limit, or
 *   unlimited → UsageRecorded. Over the limit (all-or-nothing: usedToday +
 *   amount > limit): the first time that day for that feature →
 *   [QuotaExceeded] (the caller answers 429); after that → QUOTA_EXCEEDED
 *   thrown, nothing recorded.
 * - Resource limits (ReserveResource / ReleaseResource): the same resource
 *   twice → no-op; at the limit → QuotaExceeded once per feature and day,
 *   then QUOTA_EXCEEDED. Releasing what is not held → no-op.
 * - Not in the plan → PERMISSION_DENIED: `false` in the plan, or a feature
 *   the service does not have at all (daily_api_calls for qidian, which has
 *   no daily counter in the seed; novel_tracking_limit for xiaohongshu). A
 *   feature of the wrong kind (ConsumeQuota of a resource limit, Reserve of
 *   a daily counter, an unknown name) → VALIDATION_ERROR.
 * - A plan change that takes effect (upgrade, expiry) clears the
 *   "already exceeded today" markers, so going over the new limit is
 *   recorded again; the day's counts carry over.
 */

export function subscriptionStream(userId: string, service: string): string {
  return `subscription-${userId}_${service}`;
}

type Event = SubscriptionEvent;

// ---------------------------------------------------------------- validation

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function requireDay(value: unknown): string {
  if (typeof value !== 'string' || !DAY.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
    throw invalid('day must be a date YYYY-MM-DD', { field: 'day', got: value });
  }
  return value;
}

function requireStarted(state: SubscriptionState): ActiveSubscription {
  if (state.status === 'none') throw new DomainError('NOT_FOUND', 'no subscription to this service');
  return state;
}

function ref(state: ActiveSubscription): SubscriptionRef {
  return { subscriptionId: state.subscriptionId, userId: state.userId, service: state.service };
}

function limitOf(state: ActiveSubscription, feature: DailyCounterFeature | ResourceFeature, code: PlanCode = state.plan): FeatureLimit {
  return featureLimit(planOf(state.service, code), feature);
}

/** Resources held beyond what a plan allows. */
function overLimit(state: ActiveSubscription, code: PlanCode): OverLimit[] {
  const result: OverLimit[] = [];
  for (const feature of resourceLimitsOf(state.service)) {
    const held = inUse(state, feature);
    const limit = limitOf(state, feature, code);
    if (limit.kind === 'unlimited') continue;
    const allowed = limit.kind === 'limited' ? limit.limit : 0;
    if (held > allowed) result.push({ feature, inUse: held, limit: allowed });
  }
  return result;
}

function alreadyExceeded(state: ActiveSubscription, feature: DailyCounterFeature | ResourceFeature, day: string): boolean {
  return state.exceeded?.day === day && state.exceeded.features.includes(feature);
}

function quotaError(feature: string, limit: number, resetsAt: string, used: number): DomainError {
  return new DomainError('QUOTA_EXCEEDED', `the ${feature} quota of ${limit} is used up`, { feature, limit, resetsAt, used });
}

// ---------------------------------------------------------------- decisions

function start(command: StartSubscription, state: SubscriptionState): Event[] {
  const plan = requireOneOf(command.plan, PLAN_CODES, 'plan');
  if (state.status === 'active') {
    if (plan === state.startedWith) return [];
    throw new DomainError('CONFLICT', 'the subscription is already started', { plan: state.plan, startedWith: state.startedWith });
  }
  const subscriptionId = requireText(command.subscriptionId, 'subscriptionId');
  const userId = requireText(command.userId, 'userId');
  const service = requireOneOf(command.service, SERVICES, 'service');
  const now = instant(command.now, 'now');
  let periodEnd: string | null = null;
  if (isPaidPlan(plan)) {
    if (command.periodEnd === undefined || command.periodEnd === null) throw invalid('a paid plan needs periodEnd', { field: 'periodEnd' });
    if (instant(command.periodEnd, 'periodEnd') <= now) throw invalid('periodEnd must be after now', { field: 'periodEnd' });
    periodEnd = command.periodEnd;
  } else if (command.periodEnd !== undefined && command.periodEnd !== null) {
    throw invalid('the free plan has no periodEnd', { field: 'periodEnd' });
  }
  return [
    {
      type: 'SubscriptionStarted',
      data: { subscriptionId, userId, service, plan, periodStart: command.now, periodEnd, startedAt: command.now },
    },
  ];
}

function changePlan(command: ChangePlan, state: SubscriptionState): Event[] {
  const s = requireStarted(state);
  const target = requireOneOf(command.plan, PLAN_CODES, 'plan');
  const now = instant(command.now, 'now');
  const orderId = optionalText(command.orderId, 'orderId');
  if (orderId !== null && s.appliedOrders.includes(orderId)) return [];
  if (target === s.plan) {
    if (orderId === null) return [];
    throw new DomainError('CONFLICT', 'this order pays for the current plan: renew it with RenewSubscription', { plan: target, orderId });
  }

  if (compareRank(target, s.plan) > 0) {
    if (!isPaidPlan(target)) throw new Error('unreachable: a higher plan is paid');
    let periodStart = s.periodStart;
    let periodEnd = s.periodEnd;
    if (command.periodEnd !== undefined) {
      if (instant(command.periodEnd, 'periodEnd') <= now) throw invalid('periodEnd must be after now', { field: 'periodEnd' });
      periodEnd = command.periodEnd;
    }
    if (orderId !== null) {
      if (command.periodEnd === undefined) throw invalid('an upgrade paid by an order needs the periodEnd it paid for', { field: 'periodEnd' });
      periodStart = command.now;
    }
    if (periodEnd === null) throw invalid('an upgrade from free needs periodEnd', { field: 'periodEnd' });
    return [
      {
        type: 'SubscriptionUpgraded',
        data: {
          ...ref(s),
          fromPlan: s.plan,
          toPlan: target,
          orderId,
          periodStart,
          periodEnd,
          previousPeriodEnd: s.periodEnd,
          upgradedAt: command.now,
        },
      },
    ];
  }

  // a downgrade: the current plan is a paid one, so it has a period end
  const current = s.plan;
  if (!isPaidPlan(current) || s.periodEnd === null) throw new Error('unreachable: a lower plan exists only below a paid one');
  let nextPeriodEnd: string | null = null;
  if (orderId !== null) {
    if (!isPaidPlan(target)) throw invalid('the free plan is never sold: no order for it', { field: 'orderId' });
    if (command.periodEnd === undefined) throw invalid('a paid downgrade needs the periodEnd of the period it paid for', { field: 'periodEnd' });
    if (instant(command.periodEnd, 'periodEnd') <= instant(s.periodEnd, 'periodEnd')) {
      throw invalid('periodEnd must be after the current period end', { field: 'periodEnd', currentPeriodEnd: s.periodEnd });
    }
    nextPeriodEnd = command.periodEnd;
  } else {
    if (command.periodEnd !== undefined) throw invalid('periodEnd is only given with an order', { field: 'periodEnd' });
    if (s.pendingDowngrade?.plan === target) return [];
    if (target === 'free' && s.cancelAtPeriodEnd) return [];
  }
  const violations = overLimit(s, target);
  if (violations.length > 0) {
    throw new DomainError('CONFLICT', `more resources are in use than the ${target} plan allows: release them first`, {
      plan: target,
      violations,
    });
  }
  return [
    {
      type: 'SubscriptionDowngraded',
      data: {
        ...ref(s),
        fromPlan: current,
        toPlan: target,
        effectiveAt: s.periodEnd,
        orderId,
        nextPeriodEnd,
        requestedAt: command.now,
      },
    },
  ];
}

function renew(command: RenewSubscription, state: SubscriptionState): Event[] {
  const s = requireStarted(state);
  const orderId = requireText(command.orderId, 'orderId');
  const now = instant(command.now, 'now');
  if (s.appliedOrders.includes(orderId)) return [];
  const current = s.plan;
  if (!isPaidPlan(current) || s.periodEnd === null) {
    throw new DomainError('CONFLICT', 'the free plan is not renewed: buy a plan with ChangePlan', { plan: current });
  }
  const end = instant(command.periodEnd, 'periodEnd');
  if (end <= instant(s.periodEnd, 'periodEnd') || end <= now) {
    throw invalid('periodEnd must be after the current period end and after now', { field: 'periodEnd', currentPeriodEnd: s.periodEnd });
  }
  return [
    {
      type: 'SubscriptionRenewed',
      data: { ...ref(s), plan: current, orderId, previousPeriodEnd: s.periodEnd, periodEnd: command.periodEnd, renewedAt: command.now },
    },
  ];
}

function cancel(command: CancelSubscription, state: SubscriptionState): Event[] {
  const s = requireStarted(state);
  instant(command.now, 'now');
  const current = s.plan;
  if (!isPaidPlan(current) || s.periodEnd === null) throw new DomainError('CONFLICT', 'the free plan cannot be cancelled', { plan: current });
  if (s.cancelAtPeriodEnd) return [];
  if (s.pendingDowngrade?.orderId) {
    throw new DomainError('CONFLICT', 'a downgrade with a paid next period is pending: refund it first', {
      pendingDowngrade: s.pendingDowngrade.plan,
      orderId: s.pendingDowngrade.orderId,
    });
  }
  return [{ type: 'SubscriptionCancelled', data: { ...ref(s), plan: current, effectiveAt: s.periodEnd, cancelledAt: command.now } }];
}

function expire(command: ExpireSubscription, state: SubscriptionState): Event[] {
  const s = requireStarted(state);
  const now = instant(command.now, 'now');
  const current = s.plan;
  if (!isPaidPlan(current) || s.periodEnd === null) throw new DomainError('CONFLICT', 'the free plan does not expire', { plan: current });
  if (now < instant(s.periodEnd, 'periodEnd')) {
    throw new DomainError('CONFLICT', 'the period has not ended yet', { periodEnd: s.periodEnd });
  }
  let fallbackPlan: PlanCode = 'free';
  let periodEnd: string | null = null;
  let orderId: string | null = null;
  let abandonedDowngrade: Exclude<PlanCode, 'free'> | null = null;
  const pending = s.pendingDowngrade;
  if (!s.cancelAtPeriodEnd && pending) {
    if (!isPaidPlan(pending.plan)) fallbackPlan = 'free';
    else if (pending.orderId !== null && pending.periodEnd !== null) {
      fallbackPlan = pending.plan;
      periodEnd = pending.periodEnd;
      orderId = pending.orderId;
    } else abandonedDowngrade = pending.plan;
  }
  return [
    {
      type: 'SubscriptionExpired',
      data: {
        ...ref(s),
        fromPlan: current,
        fallbackPlan,
        expiredPeriodEnd: s.periodEnd,
        periodStart: s.periodEnd,
        periodEnd,
        orderId,
        abandonedDowngrade,
        overLimit: overLimit(s, fallbackPlan),
        expiredAt: command.now,
      },
    },
  ];
}

/** The feature's limit in the current plan; PERMISSION_DENIED when the plan does not have it. */
function limitInPlan(s: ActiveSubscription, feature: DailyCounterFeature | ResourceFeature): Exclude<FeatureLimit, { kind: 'not_in_plan' }> {
  const limit = limitOf(s, feature);
  if (limit.kind === 'not_in_plan') {
    throw new DomainError('PERMISSION_DENIED', `${feature} is not in the ${s.service} ${s.plan} plan`, { feature, plan: s.plan, service: s.service });
  }
  return limit;
}

interface Overrun {
  feature: DailyCounterFeature | ResourceFeature;
  kind: 'daily_counter' | 'resource_limit';
  limit: number;
  used: number;
  requested: number;
  resourceId: string | null;
  day: string;
  resetsAt: string;
  now: string;
}

/** Going over a limit: recorded once per feature and day (the caller answers 429), refused outright after that. */
function overQuota(s: ActiveSubscription, o: Overrun): Event[] {
  if (alreadyExceeded(s, o.feature, o.day)) throw quotaError(o.feature, o.limit, o.resetsAt, o.used);
  const { now, ...rest } = o;
  return [{ type: 'QuotaExceeded', data: { ...ref(s), plan: s.plan, ...rest, exceededAt: now } }];
}

function consume(command: ConsumeQuota, state: SubscriptionState): Event[] {
  const s = requireStarted(state);
  const feature = command.feature;
  if (!isDailyCounter(feature)) throw invalid(`${String(feature)} is not a daily counter`, { field: 'feature', got: feature });
  const amount = command.amount;
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0) {
    throw invalid('amount must be a positive whole number', { field: 'amount', got: amount });
  }
  const day = requireDay(command.day);
  instant(command.resetsAt, 'resetsAt');
  instant(command.now, 'now');
  if (s.usage && day < s.usage.day) {
    throw new DomainError('CONFLICT', 'usage is already counted for a later day', { day, currentDay: s.usage.day });
  }
  const limit = limitInPlan(s, feature);
  const used = usedOn(s, feature, day);
  if (limit.kind === 'limited' && used + amount > limit.limit) {
    const overrun = { feature, kind: 'daily_counter', limit: limit.limit, used, requested: amount, resourceId: null } as const;
    return overQuota(s, { ...overrun, day, resetsAt: command.resetsAt, now: command.now });
  }
  return [
    {
      type: 'UsageRecorded',
      data: {
        ...ref(s),
        plan: s.plan,
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

function requireResourceFeature(feature: unknown): ResourceFeature {
  if (!isResourceLimit(feature)) throw invalid(`${String(feature)} is not a resource limit`, { field: 'feature', got: feature });
  return feature;
}

function reserve(command: ReserveResource, state: SubscriptionState): Event[] {
  const s = requireStarted(state);
  const feature = requireResourceFeature(command.feature);
  const resourceId = requireText(command.resourceId, 'resourceId');
  const day = requireDay(command.day);
  instant(command.resetsAt, 'resetsAt');
  instant(command.now, 'now');
  if (s.reservations[feature]?.includes(resourceId)) return [];
  const limit = limitInPlan(s, feature);
  const held = inUse(s, feature);
  if (limit.kind === 'limited' && held >= limit.limit) {
    const overrun = { feature, kind: 'resource_limit', limit: limit.limit, used: held, requested: 1, resourceId } as const;
    return overQuota(s, { ...overrun, day, resetsAt: command.resetsAt, now: command.now });
  }
  return [
    {
      type: 'ResourceReserved',
      data: {
        ...ref(s),
        plan: s.plan,
        feature,
        resourceId,
        inUse: held + 1,
        limit: limit.kind === 'limited' ? limit.limit : null,
        reservedAt: command.now,
      },
    },
  ];
}

function release(command: ReleaseResource, state: SubscriptionState): Event[] {
  const s = requireStarted(state);
  const feature = requireResourceFeature(command.feature);
  const resourceId = requireText(command.resourceId, 'resourceId');
  instant(command.now, 'now');
  if (!s.reservations[feature]?.includes(resourceId)) return [];
  return [
    {
      type: 'ResourceReleased',
      data: { ...ref(s), plan: s.plan, feature, resourceId, inUse: inUse(s, feature) - 1, releasedAt: command.now },
    },
  ];
}

function decide(command: SubscriptionCommand, state: SubscriptionState): Event[] {
  switch (command.type) {
    case 'StartSubscription':
      return start(command, state);
    case 'ChangePlan':
      return changePlan(command, state);
    case 'RenewSubscription':
      return renew(command, state);
    case 'CancelSubscription':
      return cancel(command, state);
    case 'ExpireSubscription':
      return expire(command, state);
    case 'ConsumeQuota':
      return consume(command, state);
    case 'ReserveResource':
      return reserve(command, state);
    case 'ReleaseResource':
      return release(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

// ---------------------------------------------------------------- evolve

function withOrder(orders: string[], orderId: string | null): string[] {
  return orderId === null || orders.includes(orderId) ? orders : [...orders, orderId];
}

/**
 * Every event changes the state. Events other than SubscriptionStarted
 * cannot come before it (decide refuses every other command on an empty
 * stream); in a stream that somehow has one, it leaves the empty state as it is.
 */
function evolve(state: SubscriptionState, event: Event): SubscriptionState {
  if (event.type === 'SubscriptionStarted') {
    const d = event.data;
    return {
      status: 'active',
      subscriptionId: d.subscriptionId,
      userId: d.userId,
      service: d.service,
      startedWith: d.plan,
      plan: d.plan,
      periodStart: d.periodStart,
      periodEnd: d.periodEnd,
      cancelAtPeriodEnd: false,
      pendingDowngrade: null,
      appliedOrders: [],
      usage: null,
      exceeded: null,
      reservations: {},
    };
  }
  if (state.status === 'none') return state;
  const s = state;
  switch (event.type) {
    case 'SubscriptionUpgraded': {
      const d = event.data;
      return {
        ...s,
        plan: d.toPlan,
        periodStart: d.periodStart,
        periodEnd: d.periodEnd,
        cancelAtPeriodEnd: false,
        pendingDowngrade: null,
        appliedOrders: withOrder(s.appliedOrders, d.orderId),
        exceeded: null,
      };
    }
    case 'SubscriptionDowngraded': {
      const d = event.data;
      return {
        ...s,
        cancelAtPeriodEnd: false,
        pendingDowngrade: { plan: d.toPlan, orderId: d.orderId, periodEnd: d.nextPeriodEnd },
        appliedOrders: withOrder(s.appliedOrders, d.orderId),
      };
    }
    case 'SubscriptionRenewed': {
      const d = event.data;
      return {
        ...s,
        periodEnd: d.periodEnd,
        cancelAtPeriodEnd: false,
        pendingDowngrade: null,
        appliedOrders: withOrder(s.appliedOrders, d.orderId),
      };
    }
    case 'SubscriptionCancelled':
      return { ...s, cancelAtPeriodEnd: true, pendingDowngrade: null };
    case 'SubscriptionExpired': {
      const d = event.data;
      return {
        ...s,
        plan: d.fallbackPlan,
        periodStart: d.periodStart,
        periodEnd: d.periodEnd,
        cancelAtPeriodEnd: false,
        pendingDowngrade: null,
        exceeded: null,
      };
    }
    case 'UsageRecorded': {
      const d = event.data;
      const counts = s.usage?.day === d.day ? s.usage.counts : {};
      return { ...s, usage: { day: d.day, counts: { ...counts, [d.feature]: d.usedToday } } };
    }
    case 'QuotaExceeded': {
      const d = event.data;
      const features = s.exceeded?.day === d.day ? s.exceeded.features : [];
      return { ...s, exceeded: { day: d.day, features: features.includes(d.feature) ? features : [...features, d.feature] } };
    }
    case 'ResourceReserved': {
      const d = event.data;
      const held = s.reservations[d.feature] ?? [];
      return held.includes(d.resourceId) ? s : { ...s, reservations: { ...s.reservations, [d.feature]: [...held, d.resourceId] } };
    }
    case 'ResourceReleased': {
      const d = event.data;
      const held = s.reservations[d.feature] ?? [];
      return { ...s, reservations: { ...s.reservations, [d.feature]: held.filter((id) => id !== d.resourceId) } };
    }
  }
}

export const subscriptionDecider: Decider<SubscriptionState, SubscriptionCommand, SubscriptionEvent> = {
  initialState,
  decide,
  evolve,
};

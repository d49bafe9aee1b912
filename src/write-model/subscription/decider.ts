import { SNAPSHOT_EVERY, type Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { invalid, instant, requireText, optionalText, requireOneOf } from '../core/validate.js';
import type {
  CancelSubscription,
  ChangePlan,
  ExpireSubscription,
  ReleaseResource,
  RenewSubscription,
  ReserveResource,
  RecordRenewalOrder,
  RemindExpiry,
  RevokePaidPlan,
  SetAutoRenew,
  StartSubscription,
  SubscriptionCommand,
} from './commands.js';
import { EXPIRY_REMINDER_REASONS, RENEWAL_CHANNELS, RENEWAL_PROVIDERS } from './commands.js';
import { subscriptionEvents, type OverLimit, type SubscriptionEvent, type SubscriptionRef } from './events.js';
import { addId, hasId, removeId } from '../core/id-set.js';
import { ResourceLimitReached } from './quota-refusal.js';
import {
  PLAN_CODES,
  SERVICES,
  compareRank,
  featureLimit,
  isResourceLimit,
  plan as planOf,
  resourceLimitsOf,
  type FeatureLimit,
  type PlanCode,
  type ResourceFeature,
} from './plans.js';
import { inUse, initialState, isPaidPlan, type ActiveSubscription, type PendingDowngrade, type SubscriptionState } from './state.js';

/**
 * The Subscription aggregate: one user's plan of one service, its paid
 * period and its reserved resources. Its stream keeps the lifecycle only:
 * daily usage lives in the day's stream (subscription-usage/), which takes
 * the plan from here (quota-terms.ts).
 *
 * The rules (the specs in tests/unit/subscription.spec.test.ts follow them):
 *
 * Lifecycle
 * - StartSubscription opens the stream; free has no period end (it never
 *   expires), a paid plan needs one. A repeat with the plan it started with
 *   is a no-op; any other start of a started stream is a CONFLICT. Every
 *   other command on an unstarted stream is NOT_FOUND.
 * - The holder: a user's own subscription, or (`holderKind: organization`)
 *   the one an organization holds for its members; every event of an
 *   organization's subscription carries `holderKind`, and `userId` is then
 *   the organization's id. A holderKind other than user or organization is
 *   a VALIDATION_ERROR.
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
 *   this aggregate's. But an upgrade whose order was placed (`orderedAt`)
 *   before the subscription was last paid for (`lastPaidAt`: another paid
 *   upgrade, a renewal, a paid downgrade) while that paid period runs is a
 *   CONFLICT (`paid_since_order`): it would discard a period paid for after
 *   the customer ordered, so its order is refunded instead.
 *   Without an order (an operator's grant) the period is
 *   kept, or ends at `periodEnd` when given; from free, `periodEnd` is
 *   required. An upgrade clears an unpaid pending downgrade and a
 *   cancellation; a paid one stays, its paid period moved to follow the
 *   upgraded one (`pendingDowngradePeriodEnd`): what was paid is never lost.
 * - Lower rank → SubscriptionDowngraded, effective at the end of the period
 *   (the current plan stays in force until then; `pendingDowngrade`).
 *   Refused with CONFLICT (details.violations) when the resources held
 *   exceed the lower plan's limits: release them first. A downgrade to a
 *   paid plan may come with an order and the `periodEnd` of the lower plan's
 *   next period (which starts at the current period's end); without an
 *   order `periodEnd` is refused. Free is never sold: no order for free.
 *   Repeating the pending downgrade (unpaid) is a no-op, as is a downgrade
 *   to free of a cancelled subscription. A new downgrade replaces an unpaid
 *   pending one and clears a cancellation; while a paid one is pending any
 *   other downgrade, paid or not, is a CONFLICT (refund it first).
 * - Resources reserved after a downgrade was scheduled are not checked
 *   again: the current plan is in force until the period ends (see expiry).
 *
 * Renewal, cancellation, expiry
 * - RenewSubscription extends the current paid plan to `periodEnd` (which
 *   must be after the current period end and after now); once per order.
 *   A renewal of a free plan is a CONFLICT (buying a plan is ChangePlan).
 *   It clears a cancellation and an unpaid pending downgrade: the customer
 *   paid for the current plan again. A paid pending downgrade stays, its
 *   paid period moved back by as much as the renewal added
 *   (`pendingDowngradePeriodEnd`).
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
 * Refunds
 * - RevokePaidPlan (an order refunded in full): when the order paid for the
 *   plan in force (its upgrade, a renewal of it, or the paid downgrade that
 *   became it: `planOrders`), the period ends now — SubscriptionExpired with
 *   `refundedOrderId`, back to free (a pending paid downgrade is dropped as
 *   `abandonedDowngrade`: its order is refunded on its own). The order
 *   that paid a pending downgrade's next period →
 *   SubscriptionDowngradeRefunded: the downgrade stays pending, unpaid (so
 *   its plan is not given at the period's end, and another downgrade may
 *   replace it). Any other order, a free plan, or a repeat → no-op.
 *
 * Automatic renewal and reminders
 * - SetAutoRenew on: a paid plan only (free → VALIDATION_ERROR: nothing to
 *   renew), not a cancelled one (CONFLICT), with a provider (and channel);
 *   the same again → no-op. Off: already off → no-op. It stays on through
 *   renewals, upgrades and a paid downgrade; cancelling turns it off, and so
 *   does falling back to free (SubscriptionExpired).
 * - RecordRenewalOrder / RemindExpiry (the renewal deadline, before the
 *   period ends): at most one of them per period end (`remindedFor`); for a
 *   period end that is no longer the current one → CONFLICT (superseded: the
 *   sweeper drops it); at or after the end, or on free → no-op (late).
 *   `renewalDue` says which one is due at a time, if any.
 *
 * Resource limits
 * - ReserveResource / ReleaseResource: the same resource twice → no-op; at
 *   the limit → ResourceLimitReached (QUOTA_EXCEEDED, nothing appended here;
 *   the caller records the refusal once a day in the day's usage stream).
 *   Releasing what is not held → no-op.
 * - Not in the plan → PERMISSION_DENIED: `false` in the plan, or a feature
 *   the service does not have at all (novel_tracking_limit for xiaohongshu).
 *   A feature that is not a resource limit → VALIDATION_ERROR.
 * - A plan change that takes effect (upgrade, expiry) counts up
 *   `planChange`: the daily usage streams key "already exceeded today" by
 *   it, so going over the new plan's limit is recorded again that day.
 */

/** Who may hold a subscription: a user (their own) or an organization (shared by its members). */
const HOLDER_KINDS = ['user', 'organization'] as const;

/**
 * The stream id of a holder's subscription to a service: `{holderId}_{service}`
 * (a user's id, or an organization's for the subscription its members share).
 */
export function subscriptionKey(userId: string, service: string): string {
  return `${userId}_${service}`;
}

export function subscriptionStream(userId: string, service: string): string {
  return `subscription-${subscriptionKey(userId, service)}`;
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
  const base: SubscriptionRef = { subscriptionId: state.subscriptionId, userId: state.userId, service: state.service };
  return state.holderKind === 'organization' ? { ...base, holderKind: 'organization' } : base;
}

function limitOf(state: ActiveSubscription, feature: ResourceFeature, code: PlanCode = state.plan): FeatureLimit {
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

// ---------------------------------------------------------------- decisions

/**
 * Where a paid pending downgrade's period ends once the period in force ends
 * at `periodEnd` instead: as long after it as it was after the old end. The
 * downgrade must be paid (undefined otherwise: an unpaid one is dropped).
 */
function movedDowngradeEnd(s: ActiveSubscription, periodEnd: string): string | undefined {
  const pending = s.pendingDowngrade;
  if (!pending || pending.orderId === null || pending.periodEnd === null || s.periodEnd === null) return undefined;
  const length = Date.parse(pending.periodEnd) - Date.parse(s.periodEnd);
  return new Date(Date.parse(periodEnd) + length).toISOString();
}

/** A paid pending downgrade is never replaced: its order would pay for nothing. */
function refusePaidDowngradePending(s: ActiveSubscription, asked: { plan: PlanCode; orderId: string | null }): void {
  const pending = s.pendingDowngrade;
  if (!pending?.orderId) return;
  throw new DomainError('CONFLICT', `a downgrade to ${pending.plan} with a paid next period is pending: refund it first`, {
    pendingDowngrade: pending.plan,
    pendingOrderId: pending.orderId,
    plan: asked.plan,
    ...(asked.orderId === null ? {} : { orderId: asked.orderId }),
  });
}

function start(command: StartSubscription, state: SubscriptionState): Event[] {
  const plan = requireOneOf(command.plan, PLAN_CODES, 'plan');
  if (state.status === 'active') {
    if (plan === state.startedWith) return [];
    throw new DomainError('CONFLICT', 'the subscription is already started', { plan: state.plan, startedWith: state.startedWith });
  }
  const subscriptionId = requireText(command.subscriptionId, 'subscriptionId');
  const userId = requireText(command.userId, 'userId');
  const service = requireOneOf(command.service, SERVICES, 'service');
  const holderKind = command.holderKind === undefined ? 'user' : requireOneOf(command.holderKind, HOLDER_KINDS, 'holderKind');
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
      data: {
        subscriptionId,
        userId,
        service,
        ...(holderKind === 'organization' ? { holderKind } : {}),
        plan,
        periodStart: command.now,
        periodEnd,
        startedAt: command.now,
      },
    },
  ];
}

function changePlan(command: ChangePlan, state: SubscriptionState): Event[] {
  const s = requireStarted(state);
  const target = requireOneOf(command.plan, PLAN_CODES, 'plan');
  const now = instant(command.now, 'now');
  const orderId = optionalText(command.orderId, 'orderId');
  if (orderId !== null && hasId(s.appliedOrders, orderId)) return [];
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
      refuseUpgradeOrderedBeforeLastPayment(s, orderId, command, now);
      periodStart = command.now;
    }
    if (periodEnd === null) throw invalid('an upgrade from free needs periodEnd', { field: 'periodEnd' });
    const pendingDowngradePeriodEnd = movedDowngradeEnd(s, periodEnd);
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
          ...(pendingDowngradePeriodEnd === undefined ? {} : { pendingDowngradePeriodEnd }),
        },
      },
    ];
  }

  // a downgrade: the current plan is a paid one, so it has a period end
  const current = s.plan;
  if (!isPaidPlan(current) || s.periodEnd === null) throw new Error('unreachable: a lower plan exists only below a paid one');
  let nextPeriodEnd: string | null = null;
  if (orderId !== null) {
    refusePaidDowngradePending(s, { plan: target, orderId });
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
    refusePaidDowngradePending(s, { plan: target, orderId });
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

/**
 * An upgrade starts a new paid period and leaves the rest of the current one
 * unused. The customer chose that when ordering, but not for a period paid
 * after the order was placed (a second checkout paid first, a renewal): that
 * payment would be thrown away, so the upgrade is refused and its order
 * refunded instead.
 */
function refuseUpgradeOrderedBeforeLastPayment(s: ActiveSubscription, orderId: string, command: ChangePlan, now: number): void {
  if (command.orderedAt === undefined || s.lastPaidAt === undefined || s.periodEnd === null) return;
  const orderedAt = instant(command.orderedAt, 'orderedAt');
  if (orderedAt >= instant(s.lastPaidAt, 'lastPaidAt') || instant(s.periodEnd, 'periodEnd') <= now) return;
  throw new DomainError('CONFLICT', 'the subscription was paid for after this order was placed: upgrading now would discard that paid period', {
    reason: 'paid_since_order',
    orderId,
    orderedAt: command.orderedAt,
    lastPaidAt: s.lastPaidAt,
  });
}

function renew(command: RenewSubscription, state: SubscriptionState): Event[] {
  const s = requireStarted(state);
  const orderId = requireText(command.orderId, 'orderId');
  const now = instant(command.now, 'now');
  if (hasId(s.appliedOrders, orderId)) return [];
  const current = s.plan;
  if (!isPaidPlan(current) || s.periodEnd === null) {
    throw new DomainError('CONFLICT', 'the free plan is not renewed: buy a plan with ChangePlan', { plan: current });
  }
  const end = instant(command.periodEnd, 'periodEnd');
  if (end <= instant(s.periodEnd, 'periodEnd') || end <= now) {
    throw invalid('periodEnd must be after the current period end and after now', { field: 'periodEnd', currentPeriodEnd: s.periodEnd });
  }
  const pendingDowngradePeriodEnd = movedDowngradeEnd(s, command.periodEnd);
  return [
    {
      type: 'SubscriptionRenewed',
      data: {
        ...ref(s),
        plan: current,
        orderId,
        previousPeriodEnd: s.periodEnd,
        periodEnd: command.periodEnd,
        renewedAt: command.now,
        ...(pendingDowngradePeriodEnd === undefined ? {} : { pendingDowngradePeriodEnd }),
      },
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

/** The plan that follows when the current paid period ends (what ExpireSubscription will fall back to). */
export function fallbackPlanOf(s: ActiveSubscription): PlanCode {
  const pending = s.pendingDowngrade;
  if (s.cancelAtPeriodEnd || !pending) return 'free';
  if (!isPaidPlan(pending.plan)) return 'free';
  return pending.orderId !== null && pending.periodEnd !== null ? pending.plan : 'free';
}

/**
 * What the renewal deadline has to do for `state` at `now`, `leadMs` before
 * the period ends: `renew` (automatic renewal on, neither cancelled nor a
 * downgrade pending: place a renewal order), `remind` (the period ends
 * without renewal: an expiry reminder, with why), or null — free, too early,
 * at or after the end, or already done for this period end.
 */
export function renewalDue(
  state: SubscriptionState,
  now: Date,
  leadMs: number,
): { action: 'renew'; periodEnd: string } | { action: 'remind'; periodEnd: string; reason: 'auto_renew_off' | 'cancelled' | 'downgrade' } | null {
  if (state.status !== 'active' || !isPaidPlan(state.plan) || state.periodEnd === null) return null;
  const end = Date.parse(state.periodEnd);
  if (state.remindedFor === state.periodEnd) return null;
  if (now.getTime() < end - leadMs || now.getTime() >= end) return null;
  if (state.cancelAtPeriodEnd) return { action: 'remind', periodEnd: state.periodEnd, reason: 'cancelled' };
  if (state.pendingDowngrade) return { action: 'remind', periodEnd: state.periodEnd, reason: 'downgrade' };
  if (!state.autoRenew) return { action: 'remind', periodEnd: state.periodEnd, reason: 'auto_renew_off' };
  return { action: 'renew', periodEnd: state.periodEnd };
}

function setAutoRenew(command: SetAutoRenew, state: SubscriptionState): Event[] {
  const s = requireStarted(state);
  instant(command.now, 'now');
  if (typeof command.enabled !== 'boolean') throw invalid('enabled must be true or false', { field: 'enabled', got: command.enabled });
  if (!command.enabled) {
    if (s.autoRenew === null) return [];
    return [{ type: 'AutoRenewChanged', data: { ...ref(s), enabled: false, provider: null, channel: null, changedAt: command.now } }];
  }
  if (!isPaidPlan(s.plan) || s.periodEnd === null) {
    throw invalid('only a paid plan renews automatically: the free plan never ends', { field: 'auto_renew', plan: s.plan, code: 'PAID_PLAN_REQUIRED' });
  }
  if (s.cancelAtPeriodEnd) {
    throw new DomainError('CONFLICT', 'the subscription is cancelled at the end of the period: it is not renewed', { plan: s.plan, effectiveAt: s.periodEnd });
  }
  const provider = requireOneOf(command.provider, RENEWAL_PROVIDERS, 'provider');
  const channel = requireOneOf(command.channel, RENEWAL_CHANNELS, 'channel');
  if (s.autoRenew && s.autoRenew.provider === provider && s.autoRenew.channel === channel) return [];
  return [{ type: 'AutoRenewChanged', data: { ...ref(s), enabled: true, provider, channel, changedAt: command.now } }];
}

/** The period the renewal deadline acts on: the current one, not done yet, not over. null: nothing to do (late, done, free). */
function reminderPeriod(s: ActiveSubscription, periodEnd: string, now: string): { plan: Exclude<PlanCode, 'free'>; periodEnd: string } | null {
  const current = s.plan;
  if (!isPaidPlan(current) || s.periodEnd === null) return null;
  if (instant(periodEnd, 'periodEnd') !== instant(s.periodEnd, 'periodEnd')) {
    throw new DomainError('CONFLICT', 'the period has moved on since: nothing to remind of', { periodEnd: s.periodEnd, asked: periodEnd });
  }
  if (s.remindedFor === s.periodEnd) return null;
  if (instant(now, 'now') >= instant(s.periodEnd, 'periodEnd')) return null;
  return { plan: current, periodEnd: s.periodEnd };
}

function recordRenewalOrder(command: RecordRenewalOrder, state: SubscriptionState): Event[] {
  const s = requireStarted(state);
  const orderId = requireText(command.orderId, 'orderId');
  const provider = requireOneOf(command.provider, RENEWAL_PROVIDERS, 'provider');
  const channel = requireOneOf(command.channel, RENEWAL_CHANNELS, 'channel');
  if (typeof command.amountFen !== 'number' || !Number.isSafeInteger(command.amountFen) || command.amountFen <= 0) {
    throw invalid('amountFen must be a positive whole number of fen', { field: 'amountFen', got: command.amountFen });
  }
  instant(command.orderExpiresAt, 'orderExpiresAt');
  const period = reminderPeriod(s, command.periodEnd, command.now);
  if (!period) return [];
  const payUrl = typeof command.payUrl === 'string' && command.payUrl !== '' ? command.payUrl : null;
  const codeUrl = typeof command.codeUrl === 'string' && command.codeUrl !== '' ? command.codeUrl : null;
  return [
    {
      type: 'SubscriptionRenewalOrdered',
      data: {
        ...ref(s),
        plan: period.plan,
        periodEnd: period.periodEnd,
        orderId,
        provider,
        channel,
        amountFen: command.amountFen,
        payUrl,
        codeUrl,
        orderExpiresAt: command.orderExpiresAt,
        orderedAt: command.now,
      },
    },
  ];
}

function remindExpiry(command: RemindExpiry, state: SubscriptionState): Event[] {
  const s = requireStarted(state);
  const reason = requireOneOf(command.reason, EXPIRY_REMINDER_REASONS, 'reason');
  const period = reminderPeriod(s, command.periodEnd, command.now);
  if (!period) return [];
  return [
    {
      type: 'SubscriptionExpiryReminded',
      data: { ...ref(s), plan: period.plan, periodEnd: period.periodEnd, fallbackPlan: fallbackPlanOf(s), reason, remindedAt: command.now },
    },
  ];
}

function revoke(command: RevokePaidPlan, state: SubscriptionState): Event[] {
  const s = requireStarted(state);
  const orderId = requireText(command.orderId, 'orderId');
  instant(command.now, 'now');
  const current = s.plan;
  const pending = s.pendingDowngrade;
  if (pending?.orderId === orderId && isPaidPlan(pending.plan) && s.periodEnd !== null) {
    // the lower plan's paid period is refunded: the downgrade stays, unpaid
    return [{ type: 'SubscriptionDowngradeRefunded', data: { ...ref(s), plan: pending.plan, orderId, effectiveAt: s.periodEnd, refundedAt: command.now } }];
  }
  if (!hasId(s.planOrders, orderId) || !isPaidPlan(current) || s.periodEnd === null) return [];
  return [
    {
      type: 'SubscriptionExpired',
      data: {
        ...ref(s),
        fromPlan: current,
        fallbackPlan: 'free',
        expiredPeriodEnd: s.periodEnd,
        periodStart: command.now,
        periodEnd: null,
        orderId: null,
        abandonedDowngrade: pending && isPaidPlan(pending.plan) ? pending.plan : null,
        overLimit: overLimit(s, 'free'),
        expiredAt: command.now,
        refundedOrderId: orderId,
      },
    },
  ];
}

/** The feature's limit in the current plan; PERMISSION_DENIED when the plan does not have it. */
function limitInPlan(s: ActiveSubscription, feature: ResourceFeature): Exclude<FeatureLimit, { kind: 'not_in_plan' }> {
  const limit = limitOf(s, feature);
  if (limit.kind === 'not_in_plan') {
    throw new DomainError('PERMISSION_DENIED', `${feature} is not in the ${s.service} ${s.plan} plan`, { feature, plan: s.plan, service: s.service });
  }
  return limit;
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
  if (hasId(s.reservations[feature]?.ids, resourceId)) return [];
  const limit = limitInPlan(s, feature);
  const held = inUse(s, feature);
  if (limit.kind === 'limited' && held >= limit.limit) {
    const subscription = { ...ref(s), plan: s.plan, planChange: s.planChange };
    throw new ResourceLimitReached({ subscription, feature, limit: limit.limit, used: held, resourceId, day, resetsAt: command.resetsAt, now: command.now });
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
  if (!hasId(s.reservations[feature]?.ids, resourceId)) return [];
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
    case 'RevokePaidPlan':
      return revoke(command, state);
    case 'SetAutoRenew':
      return setAutoRenew(command, state);
    case 'RecordRenewalOrder':
      return recordRenewalOrder(command, state);
    case 'RemindExpiry':
      return remindExpiry(command, state);
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

/**
 * Every event changes the state, in place (the fold owns its state; decide
 * never mutates): O(1) per event, nothing copied. Events other than
 * SubscriptionStarted cannot come before it (decide refuses every other
 * command on an empty stream); in a stream that somehow has one, it leaves
 * the empty state as it is.
 */
function evolve(state: SubscriptionState, event: Event): SubscriptionState {
  if (event.type === 'SubscriptionStarted') {
    const d = event.data;
    return {
      status: 'active',
      subscriptionId: d.subscriptionId,
      userId: d.userId,
      ...(d.holderKind === 'organization' ? { holderKind: d.holderKind } : {}),
      service: d.service,
      startedWith: d.plan,
      plan: d.plan,
      planChange: 0,
      periodStart: d.periodStart,
      periodEnd: d.periodEnd,
      cancelAtPeriodEnd: false,
      pendingDowngrade: null,
      appliedOrders: {},
      planOrders: {},
      autoRenew: null,
      remindedFor: null,
      reservations: {},
    };
  }
  if (state.status === 'none') return state;
  const s = state;
  switch (event.type) {
    case 'SubscriptionUpgraded': {
      const d = event.data;
      s.plan = d.toPlan;
      s.planChange += 1;
      s.periodStart = d.periodStart;
      s.periodEnd = d.periodEnd;
      s.cancelAtPeriodEnd = false;
      s.pendingDowngrade = keptDowngrade(s, d.pendingDowngradePeriodEnd);
      if (d.orderId !== null) addId(s.appliedOrders, d.orderId);
      s.planOrders = {};
      if (d.orderId !== null) {
        addId(s.planOrders, d.orderId);
        s.lastPaidAt = d.upgradedAt;
      }
      return s;
    }
    case 'SubscriptionDowngraded': {
      const d = event.data;
      s.cancelAtPeriodEnd = false;
      s.pendingDowngrade = { plan: d.toPlan, orderId: d.orderId, periodEnd: d.nextPeriodEnd };
      if (d.orderId !== null) {
        addId(s.appliedOrders, d.orderId);
        s.lastPaidAt = d.requestedAt;
      }
      return s;
    }
    case 'SubscriptionRenewed': {
      const d = event.data;
      s.periodEnd = d.periodEnd;
      s.cancelAtPeriodEnd = false;
      s.pendingDowngrade = keptDowngrade(s, d.pendingDowngradePeriodEnd);
      addId(s.appliedOrders, d.orderId);
      addId(s.planOrders, d.orderId);
      s.lastPaidAt = d.renewedAt;
      return s;
    }
    case 'SubscriptionCancelled':
      s.cancelAtPeriodEnd = true;
      s.pendingDowngrade = null;
      s.autoRenew = null;
      return s;
    case 'SubscriptionExpired': {
      const d = event.data;
      s.plan = d.fallbackPlan;
      s.planChange += 1;
      s.periodStart = d.periodStart;
      s.periodEnd = d.periodEnd;
      s.cancelAtPeriodEnd = false;
      s.pendingDowngrade = null;
      s.planOrders = {};
      if (d.orderId !== null) addId(s.planOrders, d.orderId);
      if (!isPaidPlan(d.fallbackPlan)) s.autoRenew = null;
      return s;
    }
    case 'AutoRenewChanged': {
      const d = event.data;
      s.autoRenew = d.enabled && d.provider !== null && d.channel !== null ? { provider: d.provider, channel: d.channel } : null;
      return s;
    }
    case 'SubscriptionRenewalOrdered':
    case 'SubscriptionExpiryReminded':
      s.remindedFor = event.data.periodEnd;
      return s;
    case 'SubscriptionDowngradeRefunded':
      if (s.pendingDowngrade) s.pendingDowngrade = { plan: s.pendingDowngrade.plan, orderId: null, periodEnd: null };
      return s;
    case 'ResourceReserved': {
      const d = event.data;
      const held = (s.reservations[d.feature] ??= { count: 0, ids: {} });
      if (!hasId(held.ids, d.resourceId)) {
        addId(held.ids, d.resourceId);
        held.count += 1;
      }
      return s;
    }
    case 'ResourceReleased': {
      const d = event.data;
      const held = s.reservations[d.feature];
      if (held && hasId(held.ids, d.resourceId)) {
        removeId(held.ids, d.resourceId);
        held.count -= 1;
      }
      return s;
    }
  }
}

/** The paid pending downgrade an upgrade or renewal kept, its period moved to end at `periodEnd`; none without one. */
function keptDowngrade(s: ActiveSubscription, periodEnd: string | undefined): PendingDowngrade | null {
  const pending = s.pendingDowngrade;
  if (periodEnd === undefined || !pending) return null;
  return { plan: pending.plan, orderId: pending.orderId, periodEnd };
}

export const subscriptionDecider: Decider<SubscriptionState, SubscriptionCommand, SubscriptionEvent> = {
  initialState,
  decide,
  evolve,
};

/**
 * The binding: stream `subscription-{userId}_{service}` (id:
 * subscriptionKey). It lives as long as the user: its lifecycle facts and
 * reservations add up over the years, so it is snapshotted.
 */
export const subscriptionAggregate: Aggregate<SubscriptionState, SubscriptionCommand, SubscriptionEvent> = {
  name: 'subscription',
  streamName: (id) => `subscription-${id}`,
  decider: subscriptionDecider,
  events: subscriptionEvents,
  snapshot: { version: 4, every: SNAPSHOT_EVERY.lifecycle },
};

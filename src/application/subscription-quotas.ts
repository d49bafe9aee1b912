import { IdempotencyConflictError, StreamNotFoundError } from '../event-store/errors.js';
import type { EventStore } from '../event-store/port.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load, readEvents, type HandleResult } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import type { EventIdSource } from '../write-model/core/event-ids.js';
import { subscriptionAggregate, subscriptionKey } from '../write-model/subscription/decider.js';
import type { SubscriptionEvent } from '../write-model/subscription/events.js';
import { plan as catalogue, type DailyCounterFeature, type PlanFor, type ResourceFeature, type Service } from '../write-model/subscription/plans.js';
import { ResourceLimitReached, type ResourceOverrun } from '../write-model/subscription/quota-refusal.js';
import { quotaTermsOf, type QuotaTerms } from '../write-model/subscription/quota-terms.js';
import type { SubscriptionState } from '../write-model/subscription/state.js';
import { dailyUsageId, subscriptionUsageAggregate } from '../write-model/subscription-usage/decider.js';
import type { QuotaExceededData, SubscriptionUsageEvent } from '../write-model/subscription-usage/events.js';
import type { SubscriptionUsageState } from '../write-model/subscription-usage/state.js';
import { addDays, quotaDay } from './quota-day.js';

/**
 * Quota use from the other slices (platform accounts, workflows, trackings,
 * executions): one place that turns "the decider recorded QuotaExceeded" into
 * the QUOTA_EXCEEDED refusal the API answers with 429 (feature, limit,
 * resets_at), so every caller refuses alike.
 *
 * Daily counters are counted in the day's usage stream
 * (`subscription_usage-{userId}_{service}_{YYYYMMDD}`), with the plan read
 * once from the subscription's stream; reservations are the subscription's
 * own (`subscription-{userId}_{service}`), and a refused one is recorded in
 * the day's usage stream.
 */

export interface QuotaCall {
  store: EventStore;
  userId: string;
  service: Service;
  now: Date;
  /** the quota day's zone (config QUOTA_TIME_ZONE) */
  timeZone: string;
  context: CommandContext;
}

type SubscriptionResult = HandleResult<SubscriptionState, SubscriptionEvent>;
export type UsageResult = HandleResult<SubscriptionUsageState, SubscriptionUsageEvent>;

/** The subscription as quota decisions need it, from one read of its stream. */
export interface QuotaSubject<S extends Service = Service> {
  service: S;
  /** the plan in force; free when no subscription was started */
  plan: PlanFor<S>;
  /** what a use of a daily counter carries from the subscription; null when none was started */
  terms: QuotaTerms | null;
}

/** Reads the subscription once: its plan, and the terms consumeQuota needs (pass it as `subject`). */
export async function loadQuotaSubject<S extends Service>(store: EventStore, userId: string, service: S): Promise<QuotaSubject<S>> {
  const { state } = await load(store, subscriptionAggregate, subscriptionKey(userId, service));
  if (state.status === 'none') return { service, plan: catalogue(service, 'free'), terms: null };
  return { service, plan: catalogue(service, state.plan), terms: quotaTermsOf(state) };
}

/** The plan the user's subscription to `service` is on now; free when it has not been started yet. */
export async function currentPlan<S extends Service>(store: EventStore, userId: string, service: S): Promise<PlanFor<S>> {
  return (await loadQuotaSubject(store, userId, service)).plan;
}

/** Holds one unit of a resource limit for `resourceId` (a repeat is a no-op). Throws QUOTA_EXCEEDED / PERMISSION_DENIED. */
export async function reserveResource(call: QuotaCall, feature: ResourceFeature, resourceId: string): Promise<SubscriptionResult> {
  const { day, resetsAt } = quotaDay(call.now, call.timeZone);
  try {
    return await handle(
      call.store,
      subscriptionAggregate,
      subscriptionKey(call.userId, call.service),
      { type: 'ReserveResource', feature, resourceId, day, resetsAt, now: call.now.toISOString() },
      { context: call.context },
    );
  } catch (error) {
    if (error instanceof ResourceLimitReached) await recordRefusal(call, error.overrun);
    throw error;
  }
}

/** The refusal at a resource limit, once a day (and plan change) in the day's usage stream. */
async function recordRefusal(call: QuotaCall, overrun: ResourceOverrun): Promise<void> {
  const { subscription, feature, limit, used, resourceId, day, resetsAt, now } = overrun;
  await handle(
    call.store,
    subscriptionUsageAggregate,
    dailyUsageId(subscription.userId, subscription.service, day),
    { type: 'RecordQuotaExceeded', subscription, feature, limit, used, resourceId, day, resetsAt, now },
    { context: call.context },
  );
}

/** Gives back what `resourceId` held (releasing what is not held is a no-op). */
export async function releaseResource(call: QuotaCall, feature: ResourceFeature, resourceId: string): Promise<SubscriptionResult> {
  return handle(
    call.store,
    subscriptionAggregate,
    subscriptionKey(call.userId, call.service),
    { type: 'ReleaseResource', feature, resourceId, now: call.now.toISOString() },
    { context: call.context },
  );
}

export interface ConsumeOptions {
  /**
   * Name-based ids make the use idempotent: when they were appended before
   * (a redelivered reaction), that earlier verdict is given again — counted,
   * or refused — and nothing is counted twice.
   */
  eventIds?: EventIdSource;
  /** the subscription read earlier (loadQuotaSubject): its stream is not read again */
  subject?: QuotaSubject;
}

/**
 * Counts `amount` uses of a daily counter today, in the day's usage stream.
 * Throws QUOTA_EXCEEDED / PERMISSION_DENIED, NOT_FOUND without a subscription.
 */
export async function consumeQuota(call: QuotaCall, feature: DailyCounterFeature, amount: number, options: ConsumeOptions = {}): Promise<UsageResult> {
  const subject = options.subject ?? (await loadQuotaSubject(call.store, call.userId, call.service));
  if (subject.terms === null) throw new DomainError('NOT_FOUND', 'no subscription to this service');
  const terms = subject.terms;
  const { day, resetsAt } = quotaDay(call.now, call.timeZone);
  const id = dailyUsageId(terms.userId, terms.service, day);
  const { eventIds } = options;
  let result: UsageResult;
  try {
    result = await handle(
      call.store,
      subscriptionUsageAggregate,
      id,
      { type: 'ConsumeQuota', subscription: terms, feature, amount, day, resetsAt, now: call.now.toISOString() },
      { context: call.context, ...(eventIds ? { eventIds } : {}) },
    );
  } catch (error) {
    if (!eventIds) throw error;
    // a use already counted may be what now refuses (over the limit), or it was counted on the day before
    const refusedNow = error instanceof DomainError && error.code === 'QUOTA_EXCEEDED';
    const elsewhere = error instanceof IdempotencyConflictError;
    if (!refusedNow && !elsewhere) throw error;
    const earlierDay = refusedNow ? day : addDays(day, -1);
    const earlier = await earlierUse(call.store, dailyUsageId(terms.userId, terms.service, earlierDay), eventIds(0));
    if (!earlier) throw error;
    return repeated(call.store, dailyUsageId(terms.userId, terms.service, earlierDay), earlier);
  }
  if (eventIds && result.events.length === 0) {
    // the store answered a repeat of these ids: give that use's verdict again
    const earlier = await earlierUse(call.store, id, eventIds(0));
    if (earlier) return repeated(call.store, id, earlier);
  }
  refuseIfExceeded(result.events);
  return result;
}

/** The use with this event id in a day's stream. */
async function earlierUse(store: EventStore, id: string, eventId: string): Promise<SubscriptionUsageEvent | undefined> {
  let recorded;
  try {
    recorded = await store.readStream(subscriptionUsageAggregate.streamName(id));
  } catch (error) {
    if (error instanceof StreamNotFoundError) return undefined;
    throw error;
  }
  const found = recorded.find((e) => e.id === eventId);
  return found ? subscriptionUsageAggregate.events.decode(found) : undefined;
}

/** An earlier use's verdict: its refusal, or the day as it stands (nothing appended now). */
async function repeated(store: EventStore, id: string, earlier: SubscriptionUsageEvent): Promise<UsageResult> {
  refuseIfExceeded([earlier]);
  const { state, revision } = await load(store, subscriptionUsageAggregate, id);
  return { events: [], state, revision, position: undefined };
}

/** The decider recorded QuotaExceeded (the first refusal of the day): refuse like its later QUOTA_EXCEEDED. */
function refuseIfExceeded(events: readonly SubscriptionUsageEvent[]): void {
  const exceeded = events.find((e) => e.type === 'QuotaExceeded');
  if (exceeded) throw quotaRefusal(exceeded.data);
}

/** The 429 of a recorded QuotaExceeded. */
export function quotaRefusal(d: QuotaExceededData): DomainError {
  return new DomainError('QUOTA_EXCEEDED', `the ${d.feature} quota of ${d.limit} is used up`, {
    feature: d.feature,
    limit: d.limit,
    resetsAt: d.resetsAt,
    used: d.used,
  });
}

/** What was recorded on a subscription's day (uses and refusals), decoded. */
export async function usageOfDay(store: EventStore, userId: string, service: Service, day: string): Promise<SubscriptionUsageEvent[]> {
  return readEvents(store, subscriptionUsageAggregate, dailyUsageId(userId, service, day));
}

import { IdempotencyConflictError, StreamNotFoundError, WrongExpectedVersionError } from '../event-store/errors.js';
import type { AppendCondition, EventStore, Json } from '../event-store/port.js';
import { toMetadata, type CommandContext } from '../write-model/core/command-context.js';
import { decideOnKept, handle, load, readEvents, type HandleResult, type RetryPolicy } from '../write-model/core/command-handler.js';
import { SCHEMA_VERSION } from '../write-model/core/event-codec.js';
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
import { holdersEverOf, planHolderIn, type PlanHolder } from './plan-holder.js';
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
 *
 * Every use counts on the subscription of the user's plan holder
 * (plan-holder.ts): their organization's for a member, their own outside
 * one; the holder is read from the event store at each call unless the
 * caller names it (`holder`).
 */

export interface QuotaCall {
  store: EventStore;
  /** the user whose use it is */
  userId: string;
  /** the holder whose subscription counts it; default: the user's plan holder now */
  holder?: PlanHolder;
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

/** Reads the user's plan holder's subscription once: its plan, and the terms consumeQuota needs (pass it as `subject`). */
export async function loadQuotaSubject<S extends Service>(store: EventStore, userId: string, service: S): Promise<QuotaSubject<S>> {
  return loadHolderSubject(store, await planHolderIn(store, userId), service);
}

/** Reads a holder's subscription once (loadQuotaSubject for a holder already known). */
export async function loadHolderSubject<S extends Service>(store: EventStore, holder: PlanHolder, service: S): Promise<QuotaSubject<S>> {
  const { state } = await load(store, subscriptionAggregate, subscriptionKey(holder.id, service));
  return quotaSubjectOf(service, state);
}

/** The holder whose subscription a call counts on. */
async function holderOf(call: Pick<QuotaCall, 'store' | 'userId' | 'holder'>): Promise<PlanHolder> {
  return call.holder ?? planHolderIn(call.store, call.userId);
}

/** The subscription's plan and terms from its state (loaded, or kept by a process manager); new objects each time. */
export function quotaSubjectOf<S extends Service>(service: S, state: SubscriptionState): QuotaSubject<S> {
  if (state.status === 'none') return { service, plan: catalogue(service, 'free'), terms: null };
  return { service, plan: catalogue(service, state.plan), terms: quotaTermsOf(state) };
}

/** The plan the user's plan holder's subscription to `service` is on now (their organization's for a member); free when none was started. */
export async function currentPlan<S extends Service>(store: EventStore, userId: string, service: S): Promise<PlanFor<S>> {
  return (await loadQuotaSubject(store, userId, service)).plan;
}

/** Holds one unit of a resource limit for `resourceId` (a repeat is a no-op). Throws QUOTA_EXCEEDED / PERMISSION_DENIED. */
export async function reserveResource(call: QuotaCall, feature: ResourceFeature, resourceId: string): Promise<SubscriptionResult> {
  const { day, resetsAt } = quotaDay(call.now, call.timeZone);
  const holder = await holderOf(call);
  try {
    return await handle(
      call.store,
      subscriptionAggregate,
      subscriptionKey(holder.id, call.service),
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

/**
 * A release runs after its resource is gone (deleted, disconnected,
 * untracked): one lost to the holder's other reservations and releases at
 * that moment would leave the unit held and answer 409 for a deletion that
 * happened. It is never refused, so it is simply tried again, longer than
 * other commands (a burst of a holder's deletions all append to one
 * subscription stream).
 */
const RELEASE_RETRY: RetryPolicy = { maxAttempts: 12, baseDelayMs: 3 };

/**
 * Gives back what `resourceId` held (releasing what is not held is a no-op),
 * on the subscription that holds it: the user's plan holder's now, else
 * (a member who left, or joined, since it was reserved) their own or that of
 * an organization they belonged to (holdersEverOf). With `holder` named,
 * there only.
 */
export async function releaseResource(call: QuotaCall, feature: ResourceFeature, resourceId: string): Promise<SubscriptionResult> {
  const release = (holder: PlanHolder) =>
    handle(
      call.store,
      subscriptionAggregate,
      subscriptionKey(holder.id, call.service),
      { type: 'ReleaseResource', feature, resourceId, now: call.now.toISOString() },
      { context: call.context, retry: RELEASE_RETRY },
    );
  const current = await holderOf(call);
  if (call.holder) return release(current);
  let first: SubscriptionResult | undefined;
  let missing: unknown;
  try {
    first = await release(current);
    if (first.events.length > 0) return first;
  } catch (error) {
    if (!notStarted(error)) throw error;
    missing = error;
  }
  for (const holder of await holdersEverOf(call.store, call.userId)) {
    if (holder.id === current.id) continue;
    try {
      const released = await release(holder);
      if (released.events.length > 0) return released;
    } catch (error) {
      // a holder whose subscription to the service was never started holds nothing
      if (!notStarted(error)) throw error;
    }
  }
  if (first) return first;
  throw missing;
}

const notStarted = (error: unknown) => error instanceof DomainError && error.code === 'NOT_FOUND';

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
  if (options.subject) return consumeOn(call, feature, amount, options, options.subject, []);
  const holder = await holderOf(call);
  // the subscription as this process last saw it; the use lands only while it is still that revision
  return decideOnKept(call.store, subscriptionAggregate, subscriptionKey(holder.id, call.service), (read, condition) =>
    consumeOn(call, feature, amount, options, quotaSubjectOf(call.service, read.state), [condition]),
  );
}

async function consumeOn(
  call: QuotaCall,
  feature: DailyCounterFeature,
  amount: number,
  options: ConsumeOptions,
  subject: QuotaSubject,
  conditions: readonly AppendCondition[],
): Promise<UsageResult> {
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
      { context: call.context, ...(eventIds ? { eventIds } : {}), ...(conditions.length > 0 ? { conditions } : {}) },
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

/** One use of a daily counter among several (consumeQuotas): its ids and causation are its own. */
export interface QuotaUse {
  feature: DailyCounterFeature;
  amount: number;
  /** name-based ids, as consumeQuota's `eventIds` */
  eventIds: EventIdSource;
  context: CommandContext;
}

/** A use's verdict: counted, or what consumeQuota would have thrown for it. */
export type QuotaVerdict = { counted: true } | { counted: false; error: unknown };

/** the day's stream changed under the batch this many times: the uses then go one by one */
const BATCH_ATTEMPTS = 4;

/**
 * Several uses of one subscription's daily counters, in order, with the
 * verdicts consumeQuota would give them one after another: the day's stream
 * read once, every use decided on the state the previous left (the limit is
 * never passed, QuotaExceeded is recorded once a day and plan change, a use
 * refused after it records nothing) and the counted ones appended together.
 *
 * The batch stands only when none of its ids was recorded before. Any sign
 * that some were (the store answers a repeat, or ids of which only some are
 * there or they are in another day's stream), or a stream that keeps moving
 * under it (other writers), and the uses go one by one through consumeQuota,
 * which gives each recorded use its first verdict again.
 */
export async function consumeQuotas(call: Omit<QuotaCall, 'context'>, subject: QuotaSubject, uses: readonly QuotaUse[]): Promise<QuotaVerdict[]> {
  if (uses.length === 0) return [];
  if (subject.terms === null) return uses.map(() => ({ counted: false, error: new DomainError('NOT_FOUND', 'no subscription to this service') }));
  const terms = subject.terms;
  const { day, resetsAt } = quotaDay(call.now, call.timeZone);
  const id = dailyUsageId(terms.userId, terms.service, day);
  const streamName = subscriptionUsageAggregate.streamName(id);
  const { decider, events: codec } = subscriptionUsageAggregate;
  const now = call.now.toISOString();
  for (let attempt = 1; attempt <= BATCH_ATTEMPTS; attempt++) {
    const { state: loaded, revision } = await load(call.store, subscriptionUsageAggregate, id);
    let state = loaded;
    const verdicts: QuotaVerdict[] = [];
    const appended: { use: QuotaUse; event: SubscriptionUsageEvent }[] = [];
    for (const use of uses) {
      let decided: SubscriptionUsageEvent[];
      try {
        decided = decider.decide({ type: 'ConsumeQuota', subscription: terms, feature: use.feature, amount: use.amount, day, resetsAt, now }, state);
      } catch (error) {
        verdicts.push({ counted: false, error });
        continue;
      }
      for (const event of decided) {
        state = decider.evolve(state, event);
        appended.push({ use, event });
      }
      const exceeded = decided.find((e) => e.type === 'QuotaExceeded');
      verdicts.push(exceeded ? { counted: false, error: quotaRefusal(exceeded.data) } : { counted: true });
    }
    if (appended.length === 0) return verdicts;
    try {
      const result = await call.store.append(
        streamName,
        appended.map(({ use, event }) => ({
          id: use.eventIds(0),
          type: event.type,
          data: event.data as unknown as Json,
          metadata: { ...toMetadata(use.context), [SCHEMA_VERSION]: codec.version(event.type) },
        })),
        revision < 0n ? 'no_stream' : revision,
        { deterministicIds: true },
      );
      // a repeat of ids already in the stream: those uses were decided before, on a day that did not hold them yet
      if (result.nextExpectedRevision <= revision) break;
      return verdicts;
    } catch (error) {
      if (error instanceof IdempotencyConflictError) break;
      if (!(error instanceof WrongExpectedVersionError)) throw error;
    }
  }
  const verdicts: QuotaVerdict[] = [];
  for (const use of uses) {
    try {
      await consumeQuota({ ...call, context: use.context }, use.feature, use.amount, { eventIds: use.eventIds, subject });
      verdicts.push({ counted: true });
    } catch (error) {
      verdicts.push({ counted: false, error });
    }
  }
  return verdicts;
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

/**
 * The 429 of a recorded QuotaExceeded: it names the plan and subscription
 * that counted it (an organization's for a member), what was asked for and
 * what is left (a use is all or nothing: one larger than what is left is
 * refused while some is left).
 */
export function quotaRefusal(d: QuotaExceededData): DomainError {
  const remaining = Math.max(0, d.limit - d.used);
  const message =
    remaining === 0 ? `the ${d.feature} quota of ${d.limit} is used up` : `${d.requested} ${d.feature} asked for, ${remaining} of the quota of ${d.limit} left`;
  return new DomainError('QUOTA_EXCEEDED', message, {
    feature: d.feature,
    limit: d.limit,
    resetsAt: d.resetsAt,
    used: d.used,
    requested: d.requested,
    remaining,
    plan: d.plan,
    subscriptionId: d.subscriptionId,
  });
}

/** What was recorded on a subscription's day (uses and refusals), decoded; `userId` is the holder's id (the subscription's). */
export async function usageOfDay(store: EventStore, userId: string, service: Service, day: string): Promise<SubscriptionUsageEvent[]> {
  return readEvents(store, subscriptionUsageAggregate, dailyUsageId(userId, service, day));
}

import type { EventStore } from '../event-store/port.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handleCommand, loadState, type HandleResult } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { plan as catalogue, type DailyCounterFeature, type PlanFor, type ResourceFeature, type Service } from '../write-model/subscription/plans.js';
import { subscriptionDecider, subscriptionStream } from '../write-model/subscription/decider.js';
import type { SubscriptionEvent } from '../write-model/subscription/events.js';
import type { SubscriptionState } from '../write-model/subscription/state.js';
import { quotaDay } from './quota-day.js';

/**
 * Quota use from the other slices (platform accounts, workflows, trackings,
 * executions): one place that turns "the decider recorded QuotaExceeded" into
 * the QUOTA_EXCEEDED refusal the API answers with 429 (feature, limit,
 * resets_at), so every caller refuses alike.
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

type Result = HandleResult<SubscriptionState, SubscriptionEvent>;

/** The plan the user's subscription to `service` is on now; free when it has not been started yet. */
export async function currentPlan<S extends Service>(store: EventStore, userId: string, service: S): Promise<PlanFor<S>> {
  const { state } = await loadState(store, subscriptionStream(userId, service), subscriptionDecider);
  return catalogue(service, state.status === 'active' ? state.plan : 'free');
}

/** Holds one unit of a resource limit for `resourceId` (a repeat is a no-op). Throws QUOTA_EXCEEDED / PERMISSION_DENIED. */
export async function reserveResource(call: QuotaCall, feature: ResourceFeature, resourceId: string): Promise<Result> {
  const { day, resetsAt } = quotaDay(call.now, call.timeZone);
  const result = await handleCommand(
    call.store,
    subscriptionStream(call.userId, call.service),
    subscriptionDecider,
    { type: 'ReserveResource', feature, resourceId, day, resetsAt, now: call.now.toISOString() },
    { context: call.context },
  );
  refuseIfExceeded(result);
  return result;
}

/** Gives back what `resourceId` held (releasing what is not held is a no-op). */
export async function releaseResource(call: QuotaCall, feature: ResourceFeature, resourceId: string): Promise<Result> {
  return handleCommand(
    call.store,
    subscriptionStream(call.userId, call.service),
    subscriptionDecider,
    { type: 'ReleaseResource', feature, resourceId, now: call.now.toISOString() },
    { context: call.context },
  );
}

/** Counts `amount` uses of a daily counter today. Throws QUOTA_EXCEEDED / PERMISSION_DENIED. */
export async function consumeQuota(call: QuotaCall, feature: DailyCounterFeature, amount: number, eventIds?: (index: number) => string): Promise<Result> {
  const { day, resetsAt } = quotaDay(call.now, call.timeZone);
  const result = await handleCommand(
    call.store,
    subscriptionStream(call.userId, call.service),
    subscriptionDecider,
    { type: 'ConsumeQuota', feature, amount, day, resetsAt, now: call.now.toISOString() },
    { context: call.context, ...(eventIds ? { eventIds } : {}) },
  );
  refuseIfExceeded(result);
  return result;
}

/** The decider recorded QuotaExceeded (the first refusal of the day): refuse like its later QUOTA_EXCEEDED. */
function refuseIfExceeded(result: Result): void {
  const exceeded = result.events.find((e) => e.type === 'QuotaExceeded');
  if (!exceeded) return;
  const d = exceeded.data;
  throw new DomainError('QUOTA_EXCEEDED', `the ${d.feature} quota of ${d.limit} is used up`, {
    feature: d.feature,
    limit: d.limit,
    resetsAt: d.resetsAt,
    used: d.used,
  });
}

import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../subscriptions/consumer.js';
import { SUBSCRIPTION_EVENT_TYPES, subscriptionEvents, type SubscriptionEvent } from '../write-model/subscription/events.js';
import { SUBSCRIPTION_USAGE_EVENT_TYPES, subscriptionUsageEvents, type SubscriptionUsageEvent } from '../write-model/subscription-usage/events.js';

/**
 * Read model of the Subscription aggregate (stream `subscription-{userId}_{service}`)
 * and of its daily usage (streams `subscription_usage-{userId}_{service}_{YYYYMMDD}`),
 * read from `$all` by event type, whatever stream they are in:
 *
 * - `subscriptions`: one row per subscription, the plan in force, its status
 *   (`active`, or `cancelled` = ends at the period's end and falls back to
 *   free), the period, a pending downgrade and `last_revision`.
 * - `feature_usage_stats`: one row per subscription, feature and day. For a
 *   daily counter `used` is the day's total (UsageRecorded carries it, so the
 *   row is set, never incremented) and `exceeded_at` the first refusal that
 *   day; for a resource limit a row appears only when a reservation was
 *   refused (`used` = held then).
 * - `subscription_reservations`: the resources held now (ResourceReserved /
 *   ResourceReleased); count them per feature for the current use.
 *
 * Idempotent under redelivery: a subscription event is applied only when its
 * stream revision is above the subscription's `last_revision`, which is moved
 * in the same transaction (the consumer's); usage events are upserts that a
 * repeat leaves as they are (a day's total only grows, the first refusal's
 * time is kept). So replaying any batch changes nothing.
 */
export const SUBSCRIPTIONS_PROJECTION = 'subscriptions-v1';

export function createSubscriptionsProjection(name: string = SUBSCRIPTIONS_PROJECTION): Consumer {
  return {
    name,
    filter: { eventTypes: [...SUBSCRIPTION_EVENT_TYPES, ...SUBSCRIPTION_USAGE_EVENT_TYPES] },
    async handle(events, { tx }) {
      const usage = new DailyTotals();
      for (const recorded of events) {
        if (recorded.type === 'UsageRecorded') {
          usage.add(subscriptionUsageEvents.decode(recorded));
          continue;
        }
        await usage.flush(tx); // a refusal or a plan change lands after the uses before it
        await applyEvent(tx, recorded);
      }
      await usage.flush(tx);
    },
  };
}

/**
 * A batch's uses folded per subscription, feature and day: the event carries
 * the day's total, so only the largest (and the latest limit) matters, and a
 * busy day's thousands of uses cost one upsert per batch.
 */
class DailyTotals {
  private readonly byKey = new Map<string, Extract<SubscriptionUsageEvent, { type: 'UsageRecorded' }>>();

  add(event: SubscriptionUsageEvent): void {
    if (event.type !== 'UsageRecorded') return;
    const d = event.data;
    const key = `${d.subscriptionId} ${d.feature} ${d.day}`;
    const before = this.byKey.get(key);
    // keep the latest event, with the largest total seen (a repeat never lowers it)
    this.byKey.set(key, before && before.data.usedToday > d.usedToday ? { ...event, data: { ...d, usedToday: before.data.usedToday } } : event);
  }

  async flush(tx: Knex.Transaction | Knex): Promise<void> {
    for (const event of this.byKey.values()) await applyUsage(tx, event);
    this.byKey.clear();
  }
}

export const subscriptionsProjection: Consumer = createSubscriptionsProjection();

/** Applies one recorded event (a subscription's unless its revision was applied already). Exported for tests. */
export async function applyEvent(tx: Knex.Transaction | Knex, recorded: RecordedEvent): Promise<void> {
  if (subscriptionUsageEvents.owns(recorded.type)) return applyUsage(tx, subscriptionUsageEvents.decode(recorded));
  if (!subscriptionEvents.owns(recorded.type)) return;
  const event = subscriptionEvents.decode(recorded);
  const id = event.data.subscriptionId;
  const revision = recorded.revision;

  const row = (await tx('subscriptions').where({ id }).forUpdate().first('last_revision')) as { last_revision: string } | undefined;
  if (row && BigInt(row.last_revision) >= revision) return; // applied already
  if (!row && event.type !== 'SubscriptionStarted') return; // cannot happen: Started is revision 0 and comes first

  const ref = { subscription_id: id, user_id: event.data.userId, service: event.data.service };
  const base = { updated_at: timeOf(event), last_revision: revision.toString() };

  switch (event.type) {
    case 'SubscriptionStarted': {
      const d = event.data;
      await tx('subscriptions')
        .insert({
          id,
          stream_name: recorded.streamName,
          user_id: d.userId,
          service: d.service,
          plan: d.plan,
          status: 'active',
          period_start: d.periodStart,
          period_end: d.periodEnd,
          pending_downgrade: null,
          pending_downgrade_at: null,
          cancel_at_period_end: false,
          cancelled_at: null,
          last_expired_at: null,
          started_at: d.startedAt,
          ...base,
        })
        .onConflict('id')
        .ignore();
      return;
    }
    case 'SubscriptionUpgraded': {
      const d = event.data;
      await update(tx, id, {
        plan: d.toPlan,
        status: 'active',
        period_start: d.periodStart,
        period_end: d.periodEnd,
        ...clearPending,
        ...base,
      });
      return;
    }
    case 'SubscriptionDowngraded': {
      const d = event.data;
      await update(tx, id, {
        pending_downgrade: d.toPlan,
        pending_downgrade_at: d.effectiveAt,
        status: 'active',
        cancel_at_period_end: false,
        cancelled_at: null,
        ...base,
      });
      return;
    }
    case 'SubscriptionRenewed': {
      const d = event.data;
      await update(tx, id, { plan: d.plan, status: 'active', period_end: d.periodEnd, ...clearPending, ...base });
      return;
    }
    case 'SubscriptionCancelled': {
      const d = event.data;
      await update(tx, id, {
        status: 'cancelled',
        cancel_at_period_end: true,
        cancelled_at: d.cancelledAt,
        pending_downgrade: null,
        pending_downgrade_at: null,
        ...base,
      });
      return;
    }
    case 'SubscriptionExpired': {
      const d = event.data;
      // the subscription goes on, on the fallback plan
      await update(tx, id, {
        plan: d.fallbackPlan,
        status: 'active',
        period_start: d.periodStart,
        period_end: d.periodEnd,
        last_expired_at: d.expiredAt,
        ...clearPending,
        ...base,
      });
      return;
    }
    case 'ResourceReserved': {
      const d = event.data;
      await tx('subscription_reservations')
        .insert({ ...ref, feature: d.feature, resource_id: d.resourceId, reserved_at: d.reservedAt })
        .onConflict(['subscription_id', 'feature', 'resource_id'])
        .ignore();
      break;
    }
    case 'ResourceReleased': {
      const d = event.data;
      await tx('subscription_reservations').where({ subscription_id: id, feature: d.feature, resource_id: d.resourceId }).delete();
      break;
    }
  }
  // reservations: move the subscription's revision (and nothing else)
  await update(tx, id, base);
}

/** A day's use or refusal: one row per subscription, feature and day. */
async function applyUsage(tx: Knex.Transaction | Knex, event: SubscriptionUsageEvent): Promise<void> {
  const d = event.data;
  const row = { subscription_id: d.subscriptionId, user_id: d.userId, service: d.service, feature: d.feature, day: d.day };
  if (event.type === 'UsageRecorded') {
    const { usedToday, limit, recordedAt } = event.data;
    await tx('feature_usage_stats')
      .insert({ ...row, used: usedToday, limit, exceeded_at: null, updated_at: recordedAt })
      .onConflict(['subscription_id', 'feature', 'day'])
      .merge({ used: tx.raw('GREATEST(feature_usage_stats.used, excluded.used)'), limit, updated_at: recordedAt });
    return;
  }
  const { used, limit, exceededAt } = event.data;
  await tx('feature_usage_stats')
    .insert({ ...row, used, limit, exceeded_at: exceededAt, updated_at: exceededAt })
    .onConflict(['subscription_id', 'feature', 'day'])
    .merge({
      limit,
      exceeded_at: tx.raw('COALESCE(feature_usage_stats.exceeded_at, excluded.exceeded_at)'),
      updated_at: exceededAt,
    });
}

const clearPending = { pending_downgrade: null, pending_downgrade_at: null, cancel_at_period_end: false, cancelled_at: null };

async function update(tx: Knex.Transaction | Knex, id: string, values: Record<string, unknown>): Promise<void> {
  await tx('subscriptions').where({ id }).update(values);
}

function timeOf(event: SubscriptionEvent): string {
  switch (event.type) {
    case 'SubscriptionStarted':
      return event.data.startedAt;
    case 'SubscriptionUpgraded':
      return event.data.upgradedAt;
    case 'SubscriptionDowngraded':
      return event.data.requestedAt;
    case 'SubscriptionRenewed':
      return event.data.renewedAt;
    case 'SubscriptionCancelled':
      return event.data.cancelledAt;
    case 'SubscriptionExpired':
      return event.data.expiredAt;
    case 'ResourceReserved':
      return event.data.reservedAt;
    case 'ResourceReleased':
      return event.data.releasedAt;
  }
}

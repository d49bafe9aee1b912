import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../consumers/consumer.js';
import { SUBSCRIPTION_EVENT_TYPES, subscriptionEvents, type SubscriptionEvent } from '../write-model/subscription/events.js';
import { SUBSCRIPTION_USAGE_EVENT_TYPES, subscriptionUsageEvents, type SubscriptionUsageEvent } from '../write-model/subscription-usage/events.js';
import { deleteRows, patchRows, selectRows, upsertRows, type Row } from './sql-batch.js';

/**
 * Read model of the Subscription aggregate (stream `subscription-{userId}_{service}`)
 * and of its daily usage (streams `subscription_usage-{userId}_{service}_{YYYYMMDD}`),
 * read from `$all` by event type, whatever stream they are in:
 *
 * - `subscriptions`: one row per subscription, the plan in force, its status
 *   (`active`, or `cancelled` = ends at the period's end and falls back to
 *   free), the period, a pending downgrade, automatic renewal (`auto_renew`,
 *   its provider and channel; cancelling and falling back to free turn it
 *   off), the renewal order placed for the current period
 *   (`renewal_order_id`, cleared when the period changes) and `last_revision`.
 * - `feature_usage_stats`: one row per subscription, feature and day. For a
 *   daily counter `used` is the day's total (UsageRecorded carries it, so the
 *   row is set, never incremented) and `exceeded_at` the first refusal that
 *   day; for a resource limit a row appears only when a reservation was
 *   refused (`used` = held then).
 * - `subscription_reservations`: the resources held now (ResourceReserved /
 *   ResourceReleased); count them per feature for the current use.
 *
 * A batch is folded in memory and written with a few statements, whatever
 * its size. Idempotent under redelivery: a subscription event is applied
 * only when its stream revision is above the subscription's `last_revision`
 * (read, locked, at the start of the batch; the update is guarded the same
 * way), which is moved in the same transaction (the consumer's); usage
 * events are upserts that a repeat leaves as they are (a day's total only
 * grows, the first refusal's time is kept). So replaying any batch changes
 * nothing.
 */
export const SUBSCRIPTIONS_PROJECTION = 'subscriptions-v1';

export function createSubscriptionsProjection(name: string = SUBSCRIPTIONS_PROJECTION): Consumer {
  return {
    name,
    filter: { eventTypes: [...SUBSCRIPTION_EVENT_TYPES, ...SUBSCRIPTION_USAGE_EVENT_TYPES] },
    async handle(events, { tx }) {
      const lifecycle: Lifecycle[] = [];
      const usage: SubscriptionUsageEvent[] = [];
      for (const recorded of events) {
        if (subscriptionUsageEvents.owns(recorded.type)) usage.push(subscriptionUsageEvents.decode(recorded));
        else if (subscriptionEvents.owns(recorded.type))
          lifecycle.push({ event: subscriptionEvents.decode(recorded), revision: recorded.revision, streamName: recorded.streamName });
      }
      // the subscriptions first: the usage and reservation rows refer to them
      await writeSubscriptions(tx, lifecycle);
      await writeUsage(tx, usage);
    },
  };
}

export const subscriptionsProjection: Consumer = createSubscriptionsProjection();

interface Lifecycle {
  event: SubscriptionEvent;
  revision: bigint;
  streamName: RecordedEvent['streamName'];
}

/** A reservation's fate in the batch: deleted first (a release came), then inserted unless it exists (a reservation came after). */
interface Reservation {
  key: Row;
  release: boolean;
  insert?: Row;
}

/**
 * Each subscription's events in stream order over its row as the batch
 * finds it: a new row is inserted whole, an existing one patched with the
 * columns the applied events set (later over earlier) and the last revision.
 * The reservations of the applied events reduce per resource to a delete
 * and an insert that ignores an existing row, which is what applying them
 * one by one leaves.
 */
async function writeSubscriptions(tx: Knex.Transaction, events: Lifecycle[]): Promise<void> {
  if (events.length === 0) return;
  const ids = [...new Set(events.map((e) => e.event.data.subscriptionId))];
  const current = await selectRows<{ id: string; last_revision: string }>(
    tx,
    'subscriptions',
    ids.map((id) => ({ id })),
    {
      key: ['id'],
      columns: ['id', 'last_revision'],
      forUpdate: true,
    },
  );
  const rows = new Map<string, { revision: bigint; insert?: Row; patch?: Row }>(current.map((r) => [r.id, { revision: BigInt(r.last_revision) }]));
  const reservations = new Map<string, Reservation>();

  for (const { event, revision, streamName } of events) {
    const id = event.data.subscriptionId;
    const row = rows.get(id);
    if (row && revision <= row.revision) continue; // applied already
    const base = { updated_at: timeOf(event), last_revision: revision.toString() };
    if (event.type === 'SubscriptionStarted') {
      if (row) continue;
      const d = event.data;
      rows.set(id, {
        revision,
        insert: {
          id,
          stream_name: streamName,
          user_id: d.userId,
          holder_kind: d.holderKind ?? 'user',
          organization_id: d.holderKind === 'organization' ? d.userId : null,
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
          auto_renew: false,
          auto_renew_provider: null,
          auto_renew_channel: null,
          renewal_order_id: null,
          started_at: d.startedAt,
          ...base,
        },
      });
      continue;
    }
    if (!row) continue; // cannot happen: Started is revision 0 and comes first
    const target = row.insert ?? (row.patch ??= { id });
    Object.assign(target, changesOf(event), base);
    row.revision = revision;

    if (event.type === 'ResourceReserved' || event.type === 'ResourceReleased') {
      const d = event.data;
      const key = { subscription_id: id, feature: d.feature, resource_id: d.resourceId };
      const k = `${id}\u0000${d.feature}\u0000${d.resourceId}`;
      const r: Reservation = reservations.get(k) ?? { key, release: false };
      if (event.type === 'ResourceReleased') {
        r.release = true;
        delete r.insert;
      } else {
        r.insert ??= { ...key, user_id: d.userId, service: d.service, reserved_at: event.data.reservedAt };
      }
      reservations.set(k, r);
    }
  }

  const inserts = [...rows.values()].flatMap((r) => (r.insert ? [r.insert] : []));
  const patches = [...rows.values()].flatMap((r) => (r.patch ? [r.patch] : []));
  await upsertRows(tx, 'subscriptions', inserts, { conflict: ['id'] });
  await patchRows(tx, 'subscriptions', patches, { key: ['id'], guard: 't.last_revision < n.last_revision' });
  const all = [...reservations.values()];
  await deleteRows(
    tx,
    'subscription_reservations',
    all.filter((r) => r.release).map((r) => r.key),
    { key: ['subscription_id', 'feature', 'resource_id'] },
  );
  await upsertRows(
    tx,
    'subscription_reservations',
    all.flatMap((r) => (r.insert ? [r.insert] : [])),
    { conflict: ['subscription_id', 'feature', 'resource_id'] },
  );
}

/** The columns a subscription event after the start sets (besides the time and revision). */
function changesOf(event: Exclude<SubscriptionEvent, { type: 'SubscriptionStarted' }>): Row {
  switch (event.type) {
    case 'SubscriptionUpgraded': {
      const d = event.data;
      return { plan: d.toPlan, status: 'active', period_start: d.periodStart, period_end: d.periodEnd, renewal_order_id: null, ...pendingAfter(d) };
    }
    case 'SubscriptionDowngraded': {
      const d = event.data;
      return { pending_downgrade: d.toPlan, pending_downgrade_at: d.effectiveAt, status: 'active', cancel_at_period_end: false, cancelled_at: null };
    }
    case 'SubscriptionRenewed': {
      const d = event.data;
      return { plan: d.plan, status: 'active', period_end: d.periodEnd, renewal_order_id: null, ...pendingAfter(d) };
    }
    case 'SubscriptionCancelled':
      return {
        status: 'cancelled',
        cancel_at_period_end: true,
        cancelled_at: event.data.cancelledAt,
        pending_downgrade: null,
        pending_downgrade_at: null,
        ...autoRenewOff,
      };
    case 'SubscriptionExpired': {
      const d = event.data;
      // the subscription goes on, on the fallback plan
      return {
        plan: d.fallbackPlan,
        status: 'active',
        period_start: d.periodStart,
        period_end: d.periodEnd,
        last_expired_at: d.expiredAt,
        renewal_order_id: null,
        ...clearPending,
        // free is never renewed: falling back to it turns automatic renewal off
        ...(d.fallbackPlan === 'free' ? autoRenewOff : {}),
      };
    }
    case 'AutoRenewChanged': {
      const d = event.data;
      return d.enabled ? { auto_renew: true, auto_renew_provider: d.provider, auto_renew_channel: d.channel } : autoRenewOff;
    }
    case 'SubscriptionRenewalOrdered':
      return { renewal_order_id: event.data.orderId };
    case 'SubscriptionExpiryReminded':
      return {};
    case 'SubscriptionDowngradeRefunded':
      return {}; // the downgrade stays pending (the row does not say whether it was paid)
    case 'ResourceReserved':
    case 'ResourceReleased':
      return {}; // a reservation moves the subscription's revision (and nothing else)
  }
}

const autoRenewOff = { auto_renew: false, auto_renew_provider: null, auto_renew_channel: null };

const clearPending = { pending_downgrade: null, pending_downgrade_at: null, cancel_at_period_end: false, cancelled_at: null };

/** After an upgrade or renewal: a paid downgrade it kept now takes effect at the new period's end; anything else pending is gone. */
function pendingAfter(d: { periodEnd: string; pendingDowngradePeriodEnd?: string | undefined }): Row {
  if (d.pendingDowngradePeriodEnd === undefined) return clearPending;
  return { pending_downgrade_at: d.periodEnd, cancel_at_period_end: false, cancelled_at: null };
}

const USAGE_KEY = ['subscription_id', 'feature', 'day'] as const;

/**
 * A day's uses and refusals, one row per subscription, feature and day, in
 * at most two upserts. UsageRecorded carries the day's total: the row keeps
 * the largest (`used`), and the latest limit and time; QuotaExceeded keeps
 * the first refusal's time. Folded per row, a batch's events leave what
 * applying them one by one leaves: only a row whose first event is a
 * refusal needs that refusal written on its own first (it would create the
 * row with the refusal's `used`, which later uses must not overwrite).
 */
async function writeUsage(tx: Knex.Transaction, events: SubscriptionUsageEvent[]): Promise<void> {
  if (events.length === 0) return;
  const byRow = new Map<string, SubscriptionUsageEvent[]>();
  for (const event of events) {
    const d = event.data;
    const k = `${d.subscriptionId}\u0000${d.feature}\u0000${d.day}`;
    const list = byRow.get(k);
    if (list) list.push(event);
    else byRow.set(k, [event]);
  }

  const firstRefusals: Row[] = [];
  const folded: Row[] = [];
  for (const list of byRow.values()) {
    let rest = list;
    if (list[0]!.type === 'QuotaExceeded') {
      firstRefusals.push(fold([list[0]!], false));
      rest = list.slice(1);
    }
    if (rest.length > 0) folded.push(fold(rest, rest !== list));
  }
  const update = {
    used: 'GREATEST(t.used, excluded.used)',
    limit: 'excluded."limit"',
    exceeded_at: 'COALESCE(t.exceeded_at, excluded.exceeded_at)',
    updated_at: 'excluded.updated_at',
  };
  // a refusal never changes the used count of a row that exists
  await upsertRows(tx, 'feature_usage_stats', firstRefusals, { conflict: USAGE_KEY, update: { ...update, used: 't.used' } });
  await upsertRows(tx, 'feature_usage_stats', folded, { conflict: USAGE_KEY, update });
}

/**
 * One row's events as one upsert: `used` the largest day's total of its uses
 * (a refusal's `used` only when it comes first, alone), `exceeded_at` the
 * first refusal's time, the limit and time of the last event.
 * `rowExists`: the row was written just before (its first refusal).
 */
function fold(events: SubscriptionUsageEvent[], rowExists: boolean): Row {
  const first = events[0]!;
  const last = events[events.length - 1]!;
  let used: number | null = null;
  let exceededAt: string | null = null;
  for (const event of events) {
    if (event.type === 'UsageRecorded') used = Math.max(used ?? 0, event.data.usedToday);
    else if (events.length === 1 && !rowExists) used = event.data.used;
    if (event.type === 'QuotaExceeded') exceededAt ??= event.data.exceededAt;
  }
  const d = first.data;
  return {
    subscription_id: d.subscriptionId,
    user_id: d.userId,
    service: d.service,
    feature: d.feature,
    day: d.day,
    // a row written just before and only refusals after it: GREATEST(t.used, 0) keeps the row's count
    used: used ?? 0,
    limit: last.data.limit,
    exceeded_at: exceededAt,
    updated_at: last.type === 'UsageRecorded' ? last.data.recordedAt : last.data.exceededAt,
  };
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
    case 'AutoRenewChanged':
      return event.data.changedAt;
    case 'SubscriptionRenewalOrdered':
      return event.data.orderedAt;
    case 'SubscriptionExpiryReminded':
      return event.data.remindedAt;
    case 'SubscriptionDowngradeRefunded':
      return event.data.refundedAt;
    case 'ResourceReserved':
      return event.data.reservedAt;
    case 'ResourceReleased':
      return event.data.releasedAt;
  }
}

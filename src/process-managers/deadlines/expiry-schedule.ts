import type { RecordedEvent } from '../../event-store/port.js';
import type { Consumer } from '../../consumers/consumer.js';
import { paymentOrderEvents } from '../../write-model/payment-order/events.js';
import { subscriptionEvents } from '../../write-model/subscription/events.js';
import { cancelDeadline, scheduleDeadline } from './deadline-table.js';

export const DEADLINES = 'pm-deadlines';

/** The subscription events that set where the current period ends (Downgraded and Cancelled keep the end). */
const PERIOD_SETTERS = new Set(['SubscriptionStarted', 'SubscriptionUpgraded', 'SubscriptionRenewed', 'SubscriptionExpired']);
const ORDER_CLOSERS = new Set(['PaymentSucceeded', 'TopUpPaid', 'PaymentFailed', 'PaymentOrderExpired']);

export interface ExpiryScheduleOptions {
  /**
   * How long after an order's expiresAt it is closed: a provider's
   * notification of a payment made in time may arrive a little late, and
   * the PaymentOrder decider accepts it until the order is closed.
   */
  paymentGraceMs: number;
  /**
   * How long before a paid period ends its renewal deadline falls due
   * (`subscription.renewal`: a renewal order or an expiry reminder;
   * SUBSCRIPTION_RENEWAL_LEAD_DAYS). Unset: no renewal deadlines.
   */
  renewalLeadMs?: number;
}

/**
 * Writes the `deadlines` rows from the events (the event catalogue has no event for
 * "time passed"; this consumer turns periods and order expiries into rows
 * the sweeper works off):
 * - a paid period → `subscription.expire` at its end and
 *   `subscription.renewal` `renewalLeadMs` before it; free (no end) → none;
 * - a pending order → `payment_order.expire` at expiresAt + grace; closed → none.
 * Writes go through the consumer's transaction, so the rows and the
 * checkpoint move together and a replay rebuilds the same rows.
 */
export function createExpirySchedule(options: ExpiryScheduleOptions, name = DEADLINES): Consumer {
  return {
    name,
    filter: { streamPrefixes: ['subscription-', 'payment-'] },
    async handle(events, { tx }) {
      for (const event of events) {
        if (PERIOD_SETTERS.has(event.type)) await onPeriod(tx, event, options.renewalLeadMs);
        else if (event.type === 'PaymentOrderCreated' || event.type === 'TopUpOrderCreated') {
          const created = paymentOrderEvents.decode(event);
          if (created.type !== 'PaymentOrderCreated' && created.type !== 'TopUpOrderCreated') continue;
          const expiresAt = Date.parse(created.data.expiresAt);
          await scheduleDeadline(tx, 'payment_order.expire', event.streamName, new Date(expiresAt + options.paymentGraceMs).toISOString(), event);
        } else if (ORDER_CLOSERS.has(event.type)) await cancelDeadline(tx, 'payment_order.expire', event.streamName);
      }
    },
  };
}

async function onPeriod(tx: Parameters<typeof cancelDeadline>[0], event: RecordedEvent, renewalLeadMs: number | undefined): Promise<void> {
  const decoded = subscriptionEvents.decode(event);
  const periodEnd = 'periodEnd' in decoded.data ? decoded.data.periodEnd : null;
  if (typeof periodEnd === 'string') {
    await scheduleDeadline(tx, 'subscription.expire', event.streamName, periodEnd, event);
    // due at once when the period is shorter than the lead: the action reminds (or orders) while the period lasts
    if (renewalLeadMs !== undefined)
      await scheduleDeadline(tx, 'subscription.renewal', event.streamName, new Date(Date.parse(periodEnd) - renewalLeadMs).toISOString(), event);
  } else {
    await cancelDeadline(tx, 'subscription.expire', event.streamName);
    await cancelDeadline(tx, 'subscription.renewal', event.streamName);
  }
}

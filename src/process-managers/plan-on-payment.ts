import type { Consumer } from '../consumers/consumer.js';
import { handle } from '../write-model/core/command-handler.js';
import { contextFromEvent } from '../write-model/core/command-context.js';
import { eventIdsFrom } from '../write-model/core/event-ids.js';
import { paymentOrderEvents, type BillingCycle, type PaymentSucceededData } from '../write-model/payment-order/events.js';
import { compareRank } from '../write-model/subscription/plans.js';
import { subscriptionAggregate, subscriptionKey } from '../write-model/subscription/decider.js';
import type { SubscriptionCommand } from '../write-model/subscription/commands.js';
import type { SubscriptionState } from '../write-model/subscription/state.js';
import { react, subscriptionIdFor, type ProcessManagerDeps } from './shared.js';

export const PLAN_ON_PAYMENT = 'pm-plan-on-payment';

/** `iso` plus one calendar month or year (UTC), the day clamped to the month's last (31 Jan + 1 month = 28/29 Feb). */
export function addBillingCycle(iso: string, cycle: BillingCycle): string {
  const d = new Date(iso);
  const months = cycle === 'yearly' ? 12 : 1;
  const target = new Date(
    Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()),
  );
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(d.getUTCDate(), lastDay));
  return target.toISOString();
}

/**
 * The command a paid order means for the subscription in `state`:
 * - the plan in force → RenewSubscription, the new period end one cycle after
 *   the current one (a renewal paid early loses nothing) or after paidAt when
 *   that is later;
 * - a higher plan → ChangePlan (upgrade now), periodEnd = paidAt + one cycle,
 *   with when the order was placed (the decider refuses an upgrade ordered
 *   before the subscription was last paid for: that period would be lost);
 * - a lower paid plan → ChangePlan (downgrade at the period's end), its
 *   prepaid period one cycle after the current period end.
 * `now` is paidAt: the reaction decides the same whenever it runs (a replay).
 */
export function commandForPayment(paid: PaymentSucceededData, current: { plan: string; periodEnd: string | null } | null): SubscriptionCommand {
  const now = paid.paidAt;
  if (current && current.plan === paid.plan && current.periodEnd !== null) {
    const base = Date.parse(current.periodEnd) > Date.parse(paid.paidAt) ? current.periodEnd : paid.paidAt;
    return { type: 'RenewSubscription', orderId: paid.orderId, periodEnd: addBillingCycle(base, paid.billingCycle), now };
  }
  if (current && current.periodEnd !== null && compareRank(paid.plan, current.plan as never) < 0) {
    return { type: 'ChangePlan', plan: paid.plan, orderId: paid.orderId, periodEnd: addBillingCycle(current.periodEnd, paid.billingCycle), now };
  }
  const orderedAt = paid.orderedAt === undefined ? {} : { orderedAt: paid.orderedAt };
  return { type: 'ChangePlan', plan: paid.plan, orderId: paid.orderId, periodEnd: addBillingCycle(paid.paidAt, paid.billingCycle), ...orderedAt, now };
}

/**
 * What a paid order means for the subscription in `state`, decided on the
 * state the command handler just read (again after a conflict): a
 * subscription not started yet is started on free first.
 */
export function commandsForPayment(paid: PaymentSucceededData, state: SubscriptionState): SubscriptionCommand[] {
  if (state.status === 'active') return [commandForPayment(paid, { plan: state.plan, periodEnd: state.periodEnd })];
  return [
    {
      type: 'StartSubscription',
      subscriptionId: subscriptionIdFor(holderIdOf(paid), paid.service),
      userId: holderIdOf(paid),
      ...(paid.organizationId === undefined ? {} : { holderKind: 'organization' as const }),
      service: paid.service,
      plan: 'free',
      periodEnd: null,
      now: paid.paidAt,
    },
    commandForPayment(paid, null),
  ];
}

/** The holder of the subscription a plan order pays for: the organization it names, else the user who placed it. */
export function holderIdOf(order: { userId: string; organizationId?: string | undefined }): string {
  return order.organizationId ?? order.userId;
}

/**
 * PaymentSucceeded → upgrade / renew the subscription the order
 * was for (the organization's when the order names one: a member bought
 * the plan for it). An order already applied is the decider's no-op (appliedOrders),
 * and the event ids are named after the triggering event, so a redelivery
 * appends nothing. A subscription not started yet (the free-plans PM is a
 * separate consumer and may lag) is started on free first, in the same
 * append, with the same name-based id the free-plans PM uses — its later
 * start is then a no-op.
 */
export function createPlanOnPayment(deps: ProcessManagerDeps, name = PLAN_ON_PAYMENT): Consumer {
  return {
    name,
    filter: { eventTypes: ['PaymentSucceeded'] },
    async handle(events) {
      for (const event of events) {
        if (event.type !== 'PaymentSucceeded') continue;
        const decoded = paymentOrderEvents.decode(event);
        if (decoded.type !== 'PaymentSucceeded') continue;
        const paid = decoded.data;
        const context = contextFromEvent(event, name);
        await react(deps, name, event, async () => {
          await handle(deps.store, subscriptionAggregate, subscriptionKey(holderIdOf(paid), paid.service), (state) => commandsForPayment(paid, state), {
            context,
            eventIds: eventIdsFrom(`${name}:${event.id}`),
          });
        });
      }
    },
  };
}

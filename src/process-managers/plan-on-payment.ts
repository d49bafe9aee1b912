import type { Consumer } from '../subscriptions/consumer.js';
import { handleCommand, loadState } from '../write-model/core/command-handler.js';
import { contextFromEvent } from '../write-model/core/command-context.js';
import { eventIdsFrom } from '../write-model/core/event-ids.js';
import type { BillingCycle, PaymentSucceededData } from '../write-model/payment-order/events.js';
import { compareRank } from '../write-model/subscription/plans.js';
import { subscriptionDecider, subscriptionStream } from '../write-model/subscription/decider.js';
import type { SubscriptionCommand } from '../write-model/subscription/commands.js';
import { react, subscriptionIdFor, type ProcessManagerDeps } from './shared.js';

export const PLAN_ON_PAYMENT = 'pm-plan-on-payment';

/** `iso` plus one calendar month or year (UTC), the day clamped to the month's last (31 Jan + 1 month = 28/29 Feb). */
export function addBillingCycle(iso: string, cycle: BillingCycle): string {
  const d = new Date(iso);
  const months = cycle === 'yearly' ? 12 : 1;
  const target = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(d.getUTCDate(), lastDay));
  return target.toISOString();
}

/**
 * The command a paid order means for the subscription in `state`:
 * - the plan in force → RenewSubscription, the new period end one cycle after
 *   the current one (a renewal paid early loses nothing) or after paidAt when
 *   that is later;
 * - a higher plan → ChangePlan (upgrade now), periodEnd = paidAt + one cycle;
 * - a lower paid plan → ChangePlan (downgrade at the period's end), its
 *   prepaid period one cycle after the current period end.
 * `now` is paidAt: the reaction decides the same whenever it runs (a replay).
 */
export function commandForPayment(
  paid: PaymentSucceededData,
  current: { plan: string; periodEnd: string | null } | null,
): SubscriptionCommand {
  const now = paid.paidAt;
  if (current && current.plan === paid.plan && current.periodEnd !== null) {
    const base = Date.parse(current.periodEnd) > Date.parse(paid.paidAt) ? current.periodEnd : paid.paidAt;
    return { type: 'RenewSubscription', orderId: paid.orderId, periodEnd: addBillingCycle(base, paid.billingCycle), now };
  }
  if (current && current.periodEnd !== null && compareRank(paid.plan, current.plan as never) < 0) {
    return { type: 'ChangePlan', plan: paid.plan, orderId: paid.orderId, periodEnd: addBillingCycle(current.periodEnd, paid.billingCycle), now };
  }
  return { type: 'ChangePlan', plan: paid.plan, orderId: paid.orderId, periodEnd: addBillingCycle(paid.paidAt, paid.billingCycle), now };
}

/**
 * DESIGN §6: PaymentSucceeded → upgrade / renew the subscription the order
 * was for. An order already applied is the decider's no-op (appliedOrders),
 * and the event ids are named after the triggering event, so a redelivery
 * appends nothing. A subscription not started yet (the free-plans PM is a
 * separate consumer and may lag) is started on free first, with the same
 * name-based id the free-plans PM uses — its later start is then a no-op.
 */
export function createPlanOnPayment(deps: ProcessManagerDeps, name = PLAN_ON_PAYMENT): Consumer {
  return {
    name,
    filter: { eventTypes: ['PaymentSucceeded'] },
    async handle(events) {
      for (const event of events) {
        if (event.type !== 'PaymentSucceeded') continue;
        const paid = event.data as unknown as PaymentSucceededData;
        const stream = subscriptionStream(paid.userId, paid.service);
        const context = contextFromEvent(event, name);
        await react(deps, name, event, async () => {
          const { state } = await loadState(deps.store, stream, subscriptionDecider);
          if (state.status === 'none') {
            await handleCommand(
              deps.store,
              stream,
              subscriptionDecider,
              {
                type: 'StartSubscription',
                subscriptionId: subscriptionIdFor(paid.userId, paid.service),
                userId: paid.userId,
                service: paid.service,
                plan: 'free',
                periodEnd: null,
                now: paid.paidAt,
              },
              { context, eventIds: eventIdsFrom(`${name}:${event.id}:start`) },
            );
          }
          const current = state.status === 'active' ? { plan: state.plan, periodEnd: state.periodEnd } : null;
          await handleCommand(deps.store, stream, subscriptionDecider, commandForPayment(paid, current), {
            context,
            eventIds: eventIdsFrom(`${name}:${event.id}`),
          });
        });
      }
    },
  };
}

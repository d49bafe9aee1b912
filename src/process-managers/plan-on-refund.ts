import type { Consumer } from '../consumers/consumer.js';
import { handle } from '../write-model/core/command-handler.js';
import { contextFromEvent } from '../write-model/core/command-context.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { eventIdsFrom } from '../write-model/core/event-ids.js';
import { paymentOrderEvents } from '../write-model/payment-order/events.js';
import { subscriptionAggregate, subscriptionKey } from '../write-model/subscription/decider.js';
import { react, type ProcessManagerDeps } from './shared.js';
import { holderIdOf } from './plan-on-payment.js';

export const PLAN_ON_REFUND = 'pm-plan-on-refund';

/**
 * PaymentRefunded (the reverse of pm-plan-on-payment) → when the order is now
 * refunded in full, RevokePaidPlan on the subscription it was for: if that
 * order paid for the plan in force, the paid period ends now and the
 * subscription falls back to free (SubscriptionExpired with
 * refundedOrderId); if it paid a pending downgrade's next period, that
 * downgrade stays pending, unpaid (SubscriptionDowngradeRefunded). A partial
 * refund changes no plan. Idempotent under
 * redelivery: the event ids are named after the triggering event (a repeat
 * appends nothing) and a revoked order no longer pays for anything in force
 * (the decider's no-op). `now` is the refund's time: a replay decides the same.
 */
export function createPlanOnRefund(deps: ProcessManagerDeps, name = PLAN_ON_REFUND): Consumer {
  return {
    name,
    filter: { eventTypes: ['PaymentRefunded'] },
    async handle(events) {
      for (const event of events) {
        if (event.type !== 'PaymentRefunded') continue;
        const decoded = paymentOrderEvents.decode(event);
        if (decoded.type !== 'PaymentRefunded' || !decoded.data.fullyRefunded) continue;
        const refunded = decoded.data;
        await react(
          deps,
          name,
          event,
          async () => {
            await handle(
              deps.store,
              subscriptionAggregate,
              subscriptionKey(holderIdOf(refunded), refunded.service),
              { type: 'RevokePaidPlan', orderId: refunded.orderId, now: refunded.refundedAt },
              { context: contextFromEvent(event, name), eventIds: eventIdsFrom(`${name}:${event.id}`) },
            );
          },
          // no subscription stream at all: nothing was bought through it to end
          (error) => error instanceof DomainError && error.code === 'NOT_FOUND',
        );
      }
    },
  };
}

import type { EventStore } from '../../event-store/port.js';
import type { CommandContext } from '../../write-model/core/command-context.js';
import { handleCommand } from '../../write-model/core/command-handler.js';
import { eventIdsFrom } from '../../write-model/core/event-ids.js';
import { paymentOrderDecider } from '../../write-model/payment-order/decider.js';
import { subscriptionDecider } from '../../write-model/subscription/decider.js';
import type { Deadline, DeadlineKind } from './deadline-table.js';
import { resumeActions } from './resume-actions.js';

/** Runs the command a due deadline stands for; throws to be retried later. */
export type DeadlineAction = (deadline: Deadline, now: Date, context: CommandContext) => Promise<void>;

/**
 * The commands behind each kind. Both deciders decide from their own state
 * (an early call is a CONFLICT, an order already closed a no-op), so the
 * sweeper can only ever be late, never wrong. Event ids are named after the
 * deadline and its time: a sweep that crashed after appending repeats nothing.
 */
export function expiryActions(store: EventStore): Record<DeadlineKind, DeadlineAction> {
  return {
    ...resumeActions(store),
    'subscription.expire': async (deadline, now, context) => {
      await handleCommand(store, deadline.subjectId, subscriptionDecider, { type: 'ExpireSubscription', now: now.toISOString() }, {
        context,
        eventIds: eventIdsFrom(`deadline:${deadline.key}:${deadline.dueAt}`),
      });
    },
    'payment_order.expire': async (deadline, now, context) => {
      const orderId = deadline.subjectId.replace(/^payment-/, '');
      await handleCommand(store, deadline.subjectId, paymentOrderDecider, { type: 'ExpirePaymentOrder', orderId, now: now.toISOString() }, {
        context,
        eventIds: eventIdsFrom(`deadline:${deadline.key}:${deadline.dueAt}`),
      });
    },
  };
}

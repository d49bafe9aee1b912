import type { EventStore } from '../../event-store/port.js';
import type { CommandContext } from '../../write-model/core/command-context.js';
import { handle } from '../../write-model/core/command-handler.js';
import { eventIdsFrom } from '../../write-model/core/event-ids.js';
import { paymentOrderAggregate } from '../../write-model/payment-order/decider.js';
import { subscriptionAggregate } from '../../write-model/subscription/decider.js';
import type { Deadline, DeadlineKind } from './deadline-table.js';
import { renewalActions, DEFAULT_RENEWAL_LEAD_MS, type RenewalOptions } from './renewal-actions.js';
import { publicationActions } from './publication-actions.js';
import { smsBatchActions } from './sms-batch-actions.js';
import { resumeActions } from './resume-actions.js';
import { oauthRefreshActions, type OAuthRefreshOptions } from './oauth-refresh-actions.js';

/** Runs the command a due deadline stands for; throws to be retried later. */
export type DeadlineAction = (deadline: Deadline, now: Date, context: CommandContext) => Promise<void>;

/**
 * The commands behind each kind. Both deciders decide from their own state
 * (an early call is a CONFLICT, an order already closed a no-op), so the
 * sweeper can only ever be late, never wrong. Event ids are named after the
 * deadline and its time: a sweep that crashed after appending repeats nothing.
 */
export function expiryActions(
  store: EventStore,
  options: { renewals?: RenewalOptions; oauthRefresh?: OAuthRefreshOptions } = {},
): Record<DeadlineKind, DeadlineAction> {
  return {
    // OAuth tokens refreshed before they expire (./oauth-refresh-actions.ts); no clients given: nothing is refreshed
    ...oauthRefreshActions(store, options.oauthRefresh),
    ...resumeActions(store),
    // scheduled publications whose time came
    ...publicationActions(store),
    // scheduled SMS batches whose time came
    ...smsBatchActions(store),
    // renewal orders and expiry reminders (./renewal-actions.ts); no providers given: reminders only
    ...renewalActions(store, options.renewals ?? { providers: {}, leadMs: DEFAULT_RENEWAL_LEAD_MS }),
    // the subject is the stream name: `subscription-{userId}_{service}`, `payment-{orderId}`
    'subscription.expire': async (deadline, now, context) => {
      const key = deadline.subjectId.replace(/^subscription-/, '');
      await handle(
        store,
        subscriptionAggregate,
        key,
        { type: 'ExpireSubscription', now: now.toISOString() },
        {
          context,
          eventIds: eventIdsFrom(`deadline:${deadline.key}:${deadline.dueAt}`),
        },
      );
    },
    'payment_order.expire': async (deadline, now, context) => {
      const orderId = deadline.subjectId.replace(/^payment-/, '');
      await handle(
        store,
        paymentOrderAggregate,
        orderId,
        { type: 'ExpirePaymentOrder', orderId, now: now.toISOString() },
        {
          context,
          eventIds: eventIdsFrom(`deadline:${deadline.key}:${deadline.dueAt}`),
        },
      );
    },
  };
}

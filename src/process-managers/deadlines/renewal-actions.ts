import type { PaymentProviders } from '../../application/ports/payment-providers.js';
import { checkout, PaymentPlacementError, ProviderNotOfferedError, type Checkout } from '../../application/payments.js';
import type { EventStore } from '../../event-store/port.js';
import type { Logger } from '../../logger.js';
import { handle, load } from '../../write-model/core/command-handler.js';
import { DomainError } from '../../write-model/core/domain-error.js';
import { eventIdsFrom, uuidFromName } from '../../write-model/core/event-ids.js';
import { paymentOrderAggregate } from '../../write-model/payment-order/decider.js';
import { isPaid } from '../../write-model/payment-order/state.js';
import type { ExpiryReminderReason } from '../../write-model/subscription/commands.js';
import { renewalDue, subscriptionAggregate } from '../../write-model/subscription/decider.js';
import type { DeadlineKind } from './deadline-table.js';
import type { DeadlineAction } from './expiry-actions.js';

export const SUBSCRIPTION_RENEWAL: DeadlineKind = 'subscription.renewal';

export interface RenewalOptions {
  /** the providers renewal orders are placed with (those configured here) */
  providers: PaymentProviders;
  /** SUBSCRIPTION_RENEWAL_LEAD_DAYS in ms: the deadline is due this long before the period ends */
  leadMs: number;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** renewal orders that failed to be placed before the user is only reminded (default 5) */
  maxPlacementAttempts?: number;
}

export const DEFAULT_RENEWAL_LEAD_MS = 3 * 24 * 60 * 60 * 1000;

/**
 * The id of the renewal order for the period of `subscriptionId` ending at
 * `periodEnd`, `attempt` 0 first: name-based, so a deadline run again names
 * the same order (placed once); a later attempt only after the one before
 * failed to be placed.
 */
export function renewalOrderId(subscriptionId: string, periodEnd: string, attempt: number): string {
  return uuidFromName(`subscription-renewal:${subscriptionId}:${new Date(periodEnd).toISOString()}#${attempt}`);
}

/**
 * `subscription.renewal` (subject: the subscription stream), due
 * SUBSCRIPTION_RENEWAL_LEAD_DAYS before a paid period ends. What is due is
 * decided on the subscription as it is now (`renewalDue`): too early, at or
 * after the end, free, or already done for this period end → nothing.
 *
 * - automatic renewal on (and neither cancelled nor a downgrade pending):
 *   an order for one more month of the plan is placed with the chosen
 *   provider through `checkout` — what POST /payments/orders does — payable
 *   until the period ends, its id named after the subscription and the
 *   period end (a run again finds the order placed and asks no provider);
 *   then RecordRenewalOrder → SubscriptionRenewalOrdered, which
 *   pm-notify-user turns into a `subscription_renewal` notification with the
 *   pay link. Paying it renews the plan (pm-plan-on-payment →
 *   SubscriptionRenewed). A provider that does not answer or refuses: the
 *   order is recorded failed and the deadline retried with back-off, with
 *   the next order id; after `maxPlacementAttempts`, or with the provider no
 *   longer offered, the user is reminded instead (`renewal_not_placed`).
 * - otherwise RemindExpiry → SubscriptionExpiryReminded
 *   (`subscription_expiring`).
 *
 * Event ids are named after the deadline and the period end; the decider
 * takes one of the two once per period end, so repeats append nothing.
 */
export function renewalActions(store: EventStore, options: RenewalOptions): Record<'subscription.renewal', DeadlineAction> {
  const maxAttempts = options.maxPlacementAttempts ?? 5;
  return {
    'subscription.renewal': async (deadline, now, context) => {
      const key = deadline.subjectId.replace(/^subscription-/, '');
      const { state } = await load(store, subscriptionAggregate, key);
      const due = renewalDue(state, now, options.leadMs);
      if (!due || state.status !== 'active') return;
      const eventIds = eventIdsFrom(`deadline:${deadline.key}:${due.periodEnd}`);
      const remind = (reason: ExpiryReminderReason) =>
        handle(store, subscriptionAggregate, key, { type: 'RemindExpiry', periodEnd: due.periodEnd, reason, now: now.toISOString() }, { context, eventIds });
      if (due.action === 'remind') {
        await remind(due.reason);
        return;
      }

      const renewWith = state.autoRenew!;
      // the first order of this period not closed before it was placed (a failed placement moves on to the next id)
      let attempt = 0;
      for (; attempt < maxAttempts; attempt++) {
        const order = await load(store, paymentOrderAggregate, renewalOrderId(state.subscriptionId, due.periodEnd, attempt));
        if (order.state.status !== 'failed' && order.state.status !== 'expired') break;
      }
      if (attempt >= maxAttempts) {
        options.logger?.warn({ subscription: deadline.subjectId, attempts: attempt }, 'renewal order never placed: reminding instead');
        await remind('renewal_not_placed');
        return;
      }
      const orderId = renewalOrderId(state.subscriptionId, due.periodEnd, attempt);
      let placed: Checkout;
      try {
        placed = await checkout(
          { store, providers: options.providers, now: () => now, ...(options.logger ? { logger: options.logger } : {}) },
          {
            userId: state.userId,
            // an organization's subscription: its id is the holder's (userId above is then the organization's too)
            ...(state.holderKind === 'organization' ? { organizationId: state.userId } : {}),
            service: state.service,
            plan: state.plan as 'basic' | 'pro' | 'enterprise',
            billingCycle: 'monthly',
            provider: renewWith.provider,
            channel: renewWith.channel,
            ttlMinutes: 0,
            orderId,
            expiresAt: due.periodEnd,
            context,
          },
        );
      } catch (error) {
        if (error instanceof ProviderNotOfferedError || (error instanceof DomainError && error.code === 'VALIDATION_ERROR')) {
          // the provider (or its channel) is no longer offered here: nothing to retry
          options.logger?.warn(
            { subscription: deadline.subjectId, provider: renewWith.provider, reason: error.message },
            'renewal order not placed: reminding instead',
          );
          await remind('renewal_not_placed');
          return;
        }
        if (error instanceof DomainError && error.code === 'CONFLICT') {
          // the order was closed meanwhile (paid: the renewal comes; expired or failed: a retry takes the next id)
          const order = await load(store, paymentOrderAggregate, orderId);
          if (isPaid(order.state)) return;
          if (order.state.status === 'pending') {
            // there with other terms (the price changed since): not this order
            options.logger?.warn({ subscription: deadline.subjectId, orderId, reason: error.message }, 'renewal order not placed: reminding instead');
            await remind('renewal_not_placed');
            return;
          }
          throw new Error(`renewal order ${orderId} is ${order.state.status}: retrying with the next one`);
        }
        if (error instanceof PaymentPlacementError) {
          // recorded as failed: the sweeper retries later (a plain error), with the next order id
          throw new Error(`renewal order ${orderId} not placed: ${error.failure.reason}`);
        }
        throw error;
      }
      await handle(
        store,
        subscriptionAggregate,
        key,
        {
          type: 'RecordRenewalOrder',
          periodEnd: due.periodEnd,
          orderId: placed.orderId,
          provider: renewWith.provider,
          channel: placed.placement.channel,
          amountFen: placed.amountFen,
          payUrl: placed.placement.payUrl,
          codeUrl: placed.placement.codeUrl,
          orderExpiresAt: placed.expiresAt,
          now: now.toISOString(),
        },
        { context, eventIds },
      );
    },
  };
}

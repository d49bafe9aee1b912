import { ledgerWriterOf, type LedgerWriterOptions } from '../application/ledger/writer.js';
import type { Consumer } from '../consumers/consumer.js';
import { contextFromEvent } from '../write-model/core/command-context.js';
import { paymentOrderEvents } from '../write-model/payment-order/events.js';
import { react, type ProcessManagerDeps } from './shared.js';

export const LEDGER_DEPOSITS = 'pm-ledger-deposits';

/**
 * TopUpPaid → deposit the amount to the holder's balance (FundsDeposited);
 * TopUpRefunded → withdraw the refunded amount (FundsWithdrawn). Each
 * posting's event id is named after the order (and refund), so a
 * redelivery posts nothing twice, in whichever month it comes.
 */
export function createLedgerDeposits(deps: ProcessManagerDeps & { ledger: Pick<LedgerWriterOptions, 'timeZone' | 'now'> }, name = LEDGER_DEPOSITS): Consumer {
  return {
    name,
    filter: { eventTypes: ['TopUpPaid', 'TopUpRefunded'] },
    async handle(events) {
      const writer = ledgerWriterOf(deps.store, deps.ledger);
      await Promise.all(
        events.map((event) =>
          react(deps, name, event, async () => {
            const decoded = paymentOrderEvents.decode(event);
            const context = contextFromEvent(event, name);
            let outcome;
            if (decoded.type === 'TopUpPaid') {
              const d = decoded.data;
              outcome = await writer.submit({
                kind: 'deposit',
                holder: { kind: d.holderKind, id: d.holderId },
                orderId: d.orderId,
                provider: d.provider,
                amountCents: d.amountFen,
                reason: `top-up paid through ${d.provider} (trade ${d.providerTradeNo})`,
                context,
              });
            } else if (decoded.type === 'TopUpRefunded') {
              const d = decoded.data;
              outcome = await writer.submit({
                kind: 'withdraw',
                holder: { kind: d.holderKind, id: d.holderId },
                orderId: d.orderId,
                refundId: d.refundId,
                amountCents: d.refundedFen,
                reason: `top-up refunded: ${d.reason}`,
                context,
              });
            } else return;
            if (outcome.status === 'refused') throw outcome.error;
          }),
        ),
      );
    },
  };
}

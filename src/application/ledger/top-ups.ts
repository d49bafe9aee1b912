import { randomUUID } from 'node:crypto';
import type { EventStore } from '../../event-store/port.js';
import type { Logger } from '../../logger.js';
import type { CommandContext } from '../../write-model/core/command-context.js';
import { handle } from '../../write-model/core/command-handler.js';
import { paymentOrderAggregate, type PaymentProvider } from '../../write-model/payment-order/index.js';
import { channelFor, PaymentPlacementError, ProviderNotOfferedError, tradeRef } from '../payments.js';
import { PaymentProviderError, type PaymentChannel, type PaymentProviders, type Placement } from '../ports/payment-providers.js';
import type { BalanceHolder } from '../ports/ledger.js';

/** The smallest and largest top-up, in cents (fen): ¥1 – ¥1,000,000. */
export const TOP_UP_MIN_CENTS = 100;
export const TOP_UP_MAX_CENTS = 100_000_000;

export interface TopUpInput {
  userId: string;
  holder: BalanceHolder;
  amountCents: number;
  provider: PaymentProvider;
  channel?: PaymentChannel;
  ttlMinutes: number;
  context: CommandContext;
}

export interface TopUpCheckout {
  orderId: string;
  amountCents: number;
  expiresAt: string;
  placement: Placement;
  revision: bigint;
  position: import('../../event-store/position.js').Position | undefined;
}

/**
 * A top-up: a payment order for an amount to the holder's balance
 * (TopUpOrderCreated), placed with the provider like a plan order
 * (PaymentOrderPlaced, or PaymentFailed and PaymentPlacementError). The
 * provider's notification records TopUpPaid; pm-ledger-deposits then
 * deposits it (once per order).
 */
export async function checkoutTopUp(
  deps: { store: EventStore; providers: PaymentProviders; logger?: Pick<Logger, 'warn'>; now?: () => Date },
  input: TopUpInput,
): Promise<TopUpCheckout> {
  const client = deps.providers[input.provider];
  if (!client) throw new ProviderNotOfferedError(input.provider);
  const channel = channelFor(input.provider, input.channel);
  const at = deps.now?.() ?? new Date();
  const orderId = randomUUID();
  const expiresAt = new Date(at.getTime() + input.ttlMinutes * 60_000).toISOString();
  await handle(
    deps.store,
    paymentOrderAggregate,
    orderId,
    {
      type: 'CreateTopUpOrder',
      orderId,
      userId: input.userId,
      holderKind: input.holder.kind,
      holderId: input.holder.id,
      amountFen: input.amountCents,
      provider: input.provider,
      expiresAt,
      now: at.toISOString(),
    },
    { context: input.context, expectedRevision: 'no_stream' },
  );
  let placement: Placement;
  try {
    placement = await client.place({
      orderId: tradeRef(input.provider, orderId),
      amountFen: input.amountCents,
      subject: '账户余额充值 balance top-up',
      expiresAt,
      channel,
    });
  } catch (error) {
    if (!(error instanceof PaymentProviderError)) throw error;
    deps.logger?.warn({ orderId, provider: input.provider, kind: error.kind, code: error.code }, 'top-up order not placed');
    await handle(
      deps.store,
      paymentOrderAggregate,
      orderId,
      { type: 'FailPayment', orderId, provider: input.provider, reason: `not placed: ${error.reason}`, now: (deps.now?.() ?? new Date()).toISOString() },
      { context: input.context },
    );
    throw new PaymentPlacementError(orderId, error);
  }
  const placed = await handle(
    deps.store,
    paymentOrderAggregate,
    orderId,
    {
      type: 'RecordPlacement',
      orderId,
      channel: placement.channel,
      payUrl: placement.payUrl,
      codeUrl: placement.codeUrl,
      now: (deps.now?.() ?? new Date()).toISOString(),
    },
    { context: input.context },
  );
  return { orderId, amountCents: input.amountCents, expiresAt, placement, revision: placed.revision, position: placed.position };
}

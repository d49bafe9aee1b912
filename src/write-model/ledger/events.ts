import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';
import { HOLDER_KINDS, type HolderKind } from './holder.js';
import { LEDGER_ITEMS, type LedgerItem } from './prices.js';

/**
 * The balance ledger of one holder for one month, stream
 * `ledger-{org|user}_{holderId}_{YYYYMM}` ("closing the books": the month
 * is closed when the next one opens, which carries its balance and credit
 * limit over). Money is integer cents (fen, CNY); times ISO-8601. Every
 * event names its holder and period, so projections read them from `$all`
 * without knowing the stream.
 */

interface InPeriod {
  holderKind: HolderKind;
  holderId: string;
  /** YYYY-MM */
  period: string;
}

export interface LedgerPeriodOpenedData extends InPeriod {
  /** the previous period's closing balance (0 for the first) */
  openingBalanceCents: number;
  /** carried from the previous period */
  creditLimitCents: number;
  /** the period this one carries on from; null for the holder's first */
  previousPeriod: string | null;
  openedAt: string;
}

/** A top-up: money paid through a payment order. */
export interface FundsDepositedData extends InPeriod {
  depositId: string;
  amountCents: number;
  source: { kind: 'payment_order'; orderId: string; provider: string };
  reason: string;
  balanceAfterCents: number;
  depositedAt: string;
}

/** A top-up's refund: the money went back to the payer. */
export interface FundsWithdrawnData extends InPeriod {
  withdrawalId: string;
  amountCents: number;
  source: { kind: 'payment_refund'; orderId: string; refundId: string };
  reason: string;
  balanceAfterCents: number;
  withdrawnAt: string;
}

/** A metered charge; `postingId` is named after the source event (charging it again posts nothing). */
export interface ChargePostedData extends InPeriod {
  postingId: string;
  item: LedgerItem;
  quantity: number;
  unitPriceCents: number;
  amountCents: number;
  /** for per-country prices (sms) */
  country: string | null;
  /** the event the charge is for, and its stream */
  sourceEventId: string;
  sourceStream: string;
  reason: string;
  balanceAfterCents: number;
  postedAt: string;
}

export interface CreditLimitChangedData extends InPeriod {
  creditLimitCents: number;
  previousCreditLimitCents: number;
  /** the operator's user id */
  changedBy: string;
  reason: string;
  changedAt: string;
}

/** The month is over: nothing more lands here; its balance goes on in `nextPeriod`. */
export interface LedgerPeriodClosedData extends InPeriod {
  closingBalanceCents: number;
  creditLimitCents: number;
  nextPeriod: string;
  closedAt: string;
}

export type LedgerEvent =
  | DomainEvent<'LedgerPeriodOpened', LedgerPeriodOpenedData>
  | DomainEvent<'FundsDeposited', FundsDepositedData>
  | DomainEvent<'FundsWithdrawn', FundsWithdrawnData>
  | DomainEvent<'ChargePosted', ChargePostedData>
  | DomainEvent<'CreditLimitChanged', CreditLimitChangedData>
  | DomainEvent<'LedgerPeriodClosed', LedgerPeriodClosedData>;

export const LEDGER_EVENT_TYPES = [
  'LedgerPeriodOpened',
  'FundsDeposited',
  'FundsWithdrawn',
  'ChargePosted',
  'CreditLimitChanged',
  'LedgerPeriodClosed',
] as const satisfies readonly LedgerEvent['type'][];

// ---------------------------------------------------------------- decoding

const inPeriod = { holderKind: z.enum(HOLDER_KINDS), holderId: z.string(), period: z.string() };
const cents = z.number().int();

/** The decode boundary of the ledger period streams (see core/event-codec.ts). */
export const ledgerEvents = eventCodec<LedgerEvent>({
  LedgerPeriodOpened: {
    schema: z.object({
      ...inPeriod,
      openingBalanceCents: cents,
      creditLimitCents: cents,
      previousPeriod: z.string().nullable(),
      openedAt: z.string(),
    }),
  },
  FundsDeposited: {
    schema: z.object({
      ...inPeriod,
      depositId: z.string(),
      amountCents: cents,
      source: z.object({ kind: z.literal('payment_order'), orderId: z.string(), provider: z.string() }),
      reason: z.string(),
      balanceAfterCents: cents,
      depositedAt: z.string(),
    }),
  },
  FundsWithdrawn: {
    schema: z.object({
      ...inPeriod,
      withdrawalId: z.string(),
      amountCents: cents,
      source: z.object({ kind: z.literal('payment_refund'), orderId: z.string(), refundId: z.string() }),
      reason: z.string(),
      balanceAfterCents: cents,
      withdrawnAt: z.string(),
    }),
  },
  ChargePosted: {
    schema: z.object({
      ...inPeriod,
      postingId: z.string(),
      item: z.enum(LEDGER_ITEMS),
      quantity: z.number().int(),
      unitPriceCents: cents,
      amountCents: cents,
      country: z.string().nullable(),
      sourceEventId: z.string(),
      sourceStream: z.string(),
      reason: z.string(),
      balanceAfterCents: cents,
      postedAt: z.string(),
    }),
  },
  CreditLimitChanged: {
    schema: z.object({
      ...inPeriod,
      creditLimitCents: cents,
      previousCreditLimitCents: cents,
      changedBy: z.string(),
      reason: z.string(),
      changedAt: z.string(),
    }),
  },
  LedgerPeriodClosed: {
    schema: z.object({ ...inPeriod, closingBalanceCents: cents, creditLimitCents: cents, nextPeriod: z.string(), closedAt: z.string() }),
  },
});

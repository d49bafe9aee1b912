import type { Holder } from './holder.js';
import type { LedgerItem } from './prices.js';

/** Commands of a holder's month (`ledger-{holder}_{YYYYMM}`); each names the holder and period and carries `now`. */
interface ForPeriod {
  holder: Holder;
  /** YYYY-MM */
  period: string;
  now: string;
}

/** Open the month with what the previous one closed with (its balance and credit limit). */
export interface OpenLedgerPeriod extends ForPeriod {
  type: 'OpenLedgerPeriod';
  openingBalanceCents: number;
  creditLimitCents: number;
  previousPeriod: string | null;
}

/** Charge `quantity × unitPriceCents` (the caller took the unit price from the catalogue). */
export interface PostCharge extends ForPeriod {
  type: 'PostCharge';
  postingId: string;
  item: LedgerItem;
  quantity: number;
  unitPriceCents: number;
  country: string | null;
  sourceEventId: string;
  sourceStream: string;
  reason: string;
}

export interface DepositFunds extends ForPeriod {
  type: 'DepositFunds';
  depositId: string;
  amountCents: number;
  orderId: string;
  provider: string;
  reason: string;
}

export interface WithdrawFunds extends ForPeriod {
  type: 'WithdrawFunds';
  withdrawalId: string;
  amountCents: number;
  orderId: string;
  refundId: string;
  reason: string;
}

export interface ChangeCreditLimit extends ForPeriod {
  type: 'ChangeCreditLimit';
  creditLimitCents: number;
  changedBy: string;
  reason: string;
}

/** Close the month; its balance goes on in `nextPeriod`. */
export interface CloseLedgerPeriod extends ForPeriod {
  type: 'CloseLedgerPeriod';
  nextPeriod: string;
}

export type LedgerCommand = OpenLedgerPeriod | PostCharge | DepositFunds | WithdrawFunds | ChangeCreditLimit | CloseLedgerPeriod;

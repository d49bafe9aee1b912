import type { Holder } from '../ledger/holder.js';

/** Move the holder's balance on to `period` (a no-op when it is there or later already). */
export interface StartLedgerPeriod {
  type: 'StartLedgerPeriod';
  holder: Holder;
  period: string;
  now: string;
}

export interface ChangeLedgerSettings {
  type: 'ChangeLedgerSettings';
  holder: Holder;
  overage: boolean;
  changedBy: string;
  now: string;
}

export type LedgerAccountCommand = StartLedgerPeriod | ChangeLedgerSettings;

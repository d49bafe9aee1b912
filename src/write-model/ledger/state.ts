import type { HolderKind } from './holder.js';

export interface NoPeriod {
  status: 'none';
}

/** One holder's month: what a charge needs to be decided (plain JSON: it is snapshotted). */
export interface LedgerPeriod {
  status: 'open' | 'closed';
  holderKind: HolderKind;
  holderId: string;
  period: string;
  balanceCents: number;
  creditLimitCents: number;
  /** set once closed */
  nextPeriod: string | null;
}

export type LedgerState = NoPeriod | LedgerPeriod;

export function initialState(): LedgerState {
  return { status: 'none' };
}

/** What may still be spent: balance + credit limit (never negative). */
export function availableCents(state: LedgerState): number {
  return state.status === 'none' ? 0 : Math.max(0, state.balanceCents + state.creditLimitCents);
}

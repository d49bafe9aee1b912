export interface LedgerAccountState {
  /** the current month (YYYY-MM); null before the first */
  period: string | null;
  /** the month the current one carries on from */
  previousPeriod: string | null;
  overage: boolean;
}

export function initialState(): LedgerAccountState {
  return { period: null, previousPeriod: null, overage: false };
}

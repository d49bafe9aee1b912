/** Who a balance belongs to (the port's BalanceHolder, repeated here: the write model imports no application code). */
export const HOLDER_KINDS = ['organization', 'user'] as const;
export type HolderKind = (typeof HOLDER_KINDS)[number];

export interface Holder {
  kind: HolderKind;
  id: string;
}

/** `org_{id}` or `user_{id}`: the holder's part of a ledger stream name. */
export function holderKey(holder: Holder): string {
  return `${holder.kind === 'organization' ? 'org' : 'user'}_${holder.id}`;
}

const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** A ledger period is a calendar month, `YYYY-MM`. */
export function isPeriod(value: unknown): value is string {
  return typeof value === 'string' && PERIOD.test(value);
}

/** The month's stream id: `{org|user}_{holderId}_{YYYYMM}`. */
export function ledgerPeriodId(holder: Holder, period: string): string {
  return `${holderKey(holder)}_${period.replace('-', '')}`;
}

/** The month after `period`. */
export function nextPeriod(period: string): string {
  const [y, m] = period.split('-').map(Number) as [number, number];
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
}

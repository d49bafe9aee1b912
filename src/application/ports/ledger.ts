/** Who a balance belongs to: an organization, or a user outside one. */
export type BalanceHolder = { kind: 'organization'; id: string } | { kind: 'user'; id: string };

/** A metered charge: the price comes from the ledger's price catalogue. */
export interface ChargeRequest {
  holder: BalanceHolder;
  /** what is charged: collection_run, publication, sms */
  item: 'collection_run' | 'publication' | 'sms';
  /** how many units (an SMS of three segments: 3) */
  quantity: number;
  /** for per-country prices (SMS): ISO 3166 alpha-2 */
  country?: string;
  /** the event the charge is for: charging it twice posts once */
  sourceEventId: string;
  sourceStream: string;
  reason: string;
}

export type ChargeResult =
  | { ok: true; postingId: string; amountCents: number; balanceCents: number; duplicate: boolean }
  | { ok: false; reason: 'insufficient_balance'; amountCents: number; availableCents: number };

/** Charges to a prepaid balance; never overdraws past the credit limit, never posts one source twice. */
export interface LedgerCharges {
  charge(request: ChargeRequest): Promise<ChargeResult>;
  /** the holder a user's usage is charged to (their organization, or themselves) */
  holderOf(userId: string): Promise<BalanceHolder>;
}

import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';
import { HOLDER_KINDS, type HolderKind } from '../ledger/holder.js';

/**
 * A balance holder's lifecycle beside its monthly ledger streams, stream
 * `ledger_account-{org|user}_{holderId}`: which month is the current one
 * (one LedgerPeriodStarted a month the holder uses its balance, at most 12
 * a year) and the holder's settings (overage opt-in).
 */

interface OfHolder {
  holderKind: HolderKind;
  holderId: string;
}

/** The holder's balance goes on in `period` (opened from `previousPeriod`'s closing). */
export interface LedgerPeriodStartedData extends OfHolder {
  period: string;
  previousPeriod: string | null;
  startedAt: string;
}

/** overage: usage past the plan's quota is charged to the balance instead of refused. */
export interface LedgerSettingsChangedData extends OfHolder {
  overage: boolean;
  changedBy: string;
  changedAt: string;
}

export type LedgerAccountEvent = DomainEvent<'LedgerPeriodStarted', LedgerPeriodStartedData> | DomainEvent<'LedgerSettingsChanged', LedgerSettingsChangedData>;

export const LEDGER_ACCOUNT_EVENT_TYPES = ['LedgerPeriodStarted', 'LedgerSettingsChanged'] as const satisfies readonly LedgerAccountEvent['type'][];

const ofHolder = { holderKind: z.enum(HOLDER_KINDS), holderId: z.string() };

export const ledgerAccountEvents = eventCodec<LedgerAccountEvent>({
  LedgerPeriodStarted: { schema: z.object({ ...ofHolder, period: z.string(), previousPeriod: z.string().nullable(), startedAt: z.string() }) },
  LedgerSettingsChanged: { schema: z.object({ ...ofHolder, overage: z.boolean(), changedBy: z.string(), changedAt: z.string() }) },
});

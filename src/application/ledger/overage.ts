import type { EventStore } from '../../event-store/port.js';
import type { CommandContext } from '../../write-model/core/command-context.js';
import { handle, load, type HandleResult } from '../../write-model/core/command-handler.js';
import { ledgerAccountAggregate, ledgerAccountId, type LedgerAccountEvent, type LedgerAccountState } from '../../write-model/ledger-account/index.js';
import type { BalanceHolder, ChargeRequest, ChargeResult, LedgerCharges } from '../ports/ledger.js';
import { asHolder } from './charges.js';

/** Whether the holder charges usage past the plan's quota to its balance (PUT /ledger/settings). */
export async function overageEnabled(store: EventStore, holder: BalanceHolder): Promise<boolean> {
  return (await load(store, ledgerAccountAggregate, ledgerAccountId(asHolder(holder)))).state.overage;
}

export async function changeLedgerSettings(
  store: EventStore,
  holder: BalanceHolder,
  input: { overage: boolean; changedBy: string; now: Date; context: CommandContext; expectedRevision?: bigint | undefined },
): Promise<HandleResult<LedgerAccountState, LedgerAccountEvent>> {
  return handle(
    store,
    ledgerAccountAggregate,
    ledgerAccountId(asHolder(holder)),
    { type: 'ChangeLedgerSettings', holder: asHolder(holder), overage: input.overage, changedBy: input.changedBy, now: input.now.toISOString() },
    // If-Match: the account's revision the caller saw (a mismatch is 412)
    input.expectedRevision === undefined ? { context: input.context } : { context: input.context, expectedRevision: input.expectedRevision },
  );
}

/** A use past the plan's quota, to be charged instead of refused. */
export interface OverageUse extends Omit<ChargeRequest, 'holder'> {
  /** whose usage it is: charged to their holder */
  userId: string;
}

/**
 * Charges usage past a quota when the user's holder opted in: null when it
 * did not (refuse as ever), else the charge's result (ok: the use goes on,
 * paid from the balance; not ok: refuse as ever).
 */
export type OverageCharger = (use: OverageUse) => Promise<ChargeResult | null>;

export function overageCharger(store: EventStore, charges: LedgerCharges): OverageCharger {
  return async (use) => {
    const holder = await charges.holderOf(use.userId);
    if (!(await overageEnabled(store, holder))) return null;
    const { userId: _userId, ...request } = use;
    return charges.charge({ ...request, holder });
  };
}

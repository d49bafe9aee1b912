import { SNAPSHOT_EVERY, type Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { instant, invalid, requireOneOf, requireText } from '../core/validate.js';
import { HOLDER_KINDS, holderKey, isPeriod, type Holder } from '../ledger/holder.js';
import type { LedgerAccountCommand } from './commands.js';
import { ledgerAccountEvents, type LedgerAccountEvent } from './events.js';
import { initialState, type LedgerAccountState } from './state.js';

/**
 * A holder's ledger account, stream `ledger_account-{org|user}_{holderId}`:
 * the pointer to the current month (so opening a month finds the last one
 * in one read, however long the holder was idle) and the settings.
 *
 * - StartLedgerPeriod: a later month than the current → LedgerPeriodStarted
 *   (previousPeriod: the current); the same or an earlier month → no-op.
 * - ChangeLedgerSettings: the same settings again → no-op.
 */

export function ledgerAccountStream(id: string): string {
  return `ledger_account-${id}`;
}

/** The account's stream id: `{org|user}_{holderId}`. */
export const ledgerAccountId = holderKey;

function requireHolder(value: unknown): Holder {
  const h = (typeof value === 'object' && value !== null ? value : {}) as Partial<Holder>;
  return { kind: requireOneOf(h.kind, HOLDER_KINDS, 'holder.kind'), id: requireText(h.id, 'holder.id') };
}

function decide(command: LedgerAccountCommand, state: LedgerAccountState): LedgerAccountEvent[] {
  const holder = requireHolder(command.holder);
  instant(command.now, 'now');
  switch (command.type) {
    case 'StartLedgerPeriod': {
      if (!isPeriod(command.period)) throw invalid('period must be a month YYYY-MM', { field: 'period', got: command.period });
      if (state.period !== null && state.period >= command.period) return [];
      return [
        {
          type: 'LedgerPeriodStarted',
          data: { holderKind: holder.kind, holderId: holder.id, period: command.period, previousPeriod: state.period, startedAt: command.now },
        },
      ];
    }
    case 'ChangeLedgerSettings': {
      if (typeof command.overage !== 'boolean') throw invalid('overage must be true or false', { field: 'overage', got: command.overage });
      if (state.overage === command.overage) return [];
      return [
        {
          type: 'LedgerSettingsChanged',
          data: {
            holderKind: holder.kind,
            holderId: holder.id,
            overage: command.overage,
            changedBy: requireText(command.changedBy, 'changedBy'),
            changedAt: command.now,
          },
        },
      ];
    }
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

function evolve(state: LedgerAccountState, event: LedgerAccountEvent): LedgerAccountState {
  switch (event.type) {
    case 'LedgerPeriodStarted':
      state.previousPeriod = event.data.previousPeriod;
      state.period = event.data.period;
      return state;
    case 'LedgerSettingsChanged':
      state.overage = event.data.overage;
      return state;
  }
}

export const ledgerAccountDecider: Decider<LedgerAccountState, LedgerAccountCommand, LedgerAccountEvent> = { initialState, decide, evolve };

/** The binding: a lifecycle stream (≤ 12 months a year + settings changes). */
export const ledgerAccountAggregate: Aggregate<LedgerAccountState, LedgerAccountCommand, LedgerAccountEvent> = {
  name: 'ledger_account',
  streamName: ledgerAccountStream,
  decider: ledgerAccountDecider,
  events: ledgerAccountEvents,
  snapshot: { version: 1, every: SNAPSHOT_EVERY.lifecycle },
};

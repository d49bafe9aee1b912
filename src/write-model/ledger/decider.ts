import { SNAPSHOT_EVERY, type Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, requireOneOf, requireText } from '../core/validate.js';
import type { ChangeCreditLimit, CloseLedgerPeriod, DepositFunds, LedgerCommand, OpenLedgerPeriod, PostCharge, WithdrawFunds } from './commands.js';
import { ledgerEvents, type LedgerEvent } from './events.js';
import { HOLDER_KINDS, isPeriod, type Holder } from './holder.js';
import { LEDGER_ITEMS } from './prices.js';
import { initialState, type LedgerPeriod, type LedgerState } from './state.js';

/**
 * A holder's balance for one month: stream `ledger-{org|user}_{holderId}_{YYYYMM}`.
 * No stream grows with usage: the month is closed when the next one opens
 * (LedgerPeriodClosed here, LedgerPeriodOpened there with the closing
 * balance and the credit limit), and the fold is O(1) per event.
 *
 * Rules (tests/unit/ledger.spec.test.ts):
 * - OpenLedgerPeriod opens an empty stream; again for the same period is a
 *   no-op. Every other command needs the period open: before, CONFLICT
 *   (details.reason period_not_open); after it closed, CONFLICT
 *   (period_closed, details.nextPeriod) — the caller goes on in the next.
 * - PostCharge: amount = quantity × unitPriceCents (both positive); never
 *   overdraws: balance − amount ≥ −creditLimit, else CONFLICT
 *   (reason insufficient_balance, details.availableCents). Charging the same
 *   source twice is refused by the store, not here: the posting's event id
 *   is named after its source event (the unique event id index), so the
 *   state needs no set of posted sources.
 * - DepositFunds: a positive amount; WithdrawFunds (a top-up refunded):
 *   a positive amount, taken even past the credit limit (the money has gone
 *   back to the payer already) — charges are then refused until topped up.
 * - ChangeCreditLimit: ≥ 0; the same limit again is a no-op.
 * - CloseLedgerPeriod: nextPeriod after this one; a closed period again is a no-op.
 */

export function ledgerStream(id: string): string {
  return `ledger-${id}`;
}

type Event = LedgerEvent;
type State = LedgerState;

function requireHolder(value: unknown): Holder {
  const h = (typeof value === 'object' && value !== null ? value : {}) as Partial<Holder>;
  return { kind: requireOneOf(h.kind, HOLDER_KINDS, 'holder.kind'), id: requireText(h.id, 'holder.id') };
}

function requirePeriod(value: unknown, field = 'period'): string {
  if (!isPeriod(value)) throw invalid(`${field} must be a month YYYY-MM`, { field, got: value });
  return value;
}

function requireCents(value: unknown, field: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalid(`${field} must be a whole number of cents of at least ${min}`, { field, got: value });
  }
  return value;
}

/** The open period the command is for; CONFLICT when it is not open, or is another holder's or month. */
function openPeriod(state: State, command: { holder: Holder; period: string }): LedgerPeriod {
  const holder = requireHolder(command.holder);
  const period = requirePeriod(command.period);
  if (state.status === 'none') throw new DomainError('CONFLICT', `ledger period ${period} is not open`, { reason: 'period_not_open', period });
  if (state.holderKind !== holder.kind || state.holderId !== holder.id || state.period !== period) {
    throw new DomainError('CONFLICT', 'this ledger stream is for another holder or period', { reason: 'wrong_stream', period, streamPeriod: state.period });
  }
  if (state.status === 'closed') {
    throw new DomainError('CONFLICT', `ledger period ${period} is closed`, { reason: 'period_closed', period, nextPeriod: state.nextPeriod });
  }
  return state;
}

const inPeriod = (p: LedgerPeriod) => ({ holderKind: p.holderKind, holderId: p.holderId, period: p.period });

// ---------------------------------------------------------------- decide

function open(command: OpenLedgerPeriod, state: State): Event[] {
  const holder = requireHolder(command.holder);
  const period = requirePeriod(command.period);
  const openingBalanceCents = requireCents(command.openingBalanceCents, 'openingBalanceCents', Number.MIN_SAFE_INTEGER);
  const creditLimitCents = requireCents(command.creditLimitCents, 'creditLimitCents', 0);
  const previousPeriod = command.previousPeriod === null ? null : requirePeriod(command.previousPeriod, 'previousPeriod');
  if (previousPeriod !== null && previousPeriod >= period)
    throw invalid('previousPeriod must be before period', { field: 'previousPeriod', got: previousPeriod });
  instant(command.now, 'now');
  if (state.status !== 'none') {
    if (state.holderKind === holder.kind && state.holderId === holder.id && state.period === period) return [];
    throw new DomainError('CONFLICT', 'this ledger stream is for another holder or period', { reason: 'wrong_stream', period, streamPeriod: state.period });
  }
  return [
    {
      type: 'LedgerPeriodOpened',
      data: { holderKind: holder.kind, holderId: holder.id, period, openingBalanceCents, creditLimitCents, previousPeriod, openedAt: command.now },
    },
  ];
}

function charge(command: PostCharge, state: State): Event[] {
  const p = openPeriod(state, command);
  const item = requireOneOf(command.item, LEDGER_ITEMS, 'item');
  const quantity = requireCents(command.quantity, 'quantity', 1);
  const unitPriceCents = requireCents(command.unitPriceCents, 'unitPriceCents', 1);
  const amountCents = quantity * unitPriceCents;
  if (!Number.isSafeInteger(amountCents)) throw invalid('the charge is too large', { field: 'quantity', got: quantity });
  instant(command.now, 'now');
  const available = p.balanceCents + p.creditLimitCents;
  if (amountCents > available) {
    throw new DomainError('CONFLICT', `the balance does not cover a charge of ${amountCents} cents`, {
      reason: 'insufficient_balance',
      amountCents,
      availableCents: Math.max(0, available),
    });
  }
  return [
    {
      type: 'ChargePosted',
      data: {
        ...inPeriod(p),
        postingId: requireText(command.postingId, 'postingId'),
        item,
        quantity,
        unitPriceCents,
        amountCents,
        country: command.country ?? null,
        sourceEventId: requireText(command.sourceEventId, 'sourceEventId'),
        sourceStream: requireText(command.sourceStream, 'sourceStream'),
        reason: requireText(command.reason, 'reason'),
        balanceAfterCents: p.balanceCents - amountCents,
        postedAt: command.now,
      },
    },
  ];
}

function deposit(command: DepositFunds, state: State): Event[] {
  const p = openPeriod(state, command);
  const amountCents = requireCents(command.amountCents, 'amountCents', 1);
  instant(command.now, 'now');
  return [
    {
      type: 'FundsDeposited',
      data: {
        ...inPeriod(p),
        depositId: requireText(command.depositId, 'depositId'),
        amountCents,
        source: { kind: 'payment_order', orderId: requireText(command.orderId, 'orderId'), provider: requireText(command.provider, 'provider') },
        reason: requireText(command.reason, 'reason'),
        balanceAfterCents: p.balanceCents + amountCents,
        depositedAt: command.now,
      },
    },
  ];
}

function withdraw(command: WithdrawFunds, state: State): Event[] {
  const p = openPeriod(state, command);
  const amountCents = requireCents(command.amountCents, 'amountCents', 1);
  instant(command.now, 'now');
  return [
    {
      type: 'FundsWithdrawn',
      data: {
        ...inPeriod(p),
        withdrawalId: requireText(command.withdrawalId, 'withdrawalId'),
        amountCents,
        source: { kind: 'payment_refund', orderId: requireText(command.orderId, 'orderId'), refundId: requireText(command.refundId, 'refundId') },
        reason: requireText(command.reason, 'reason'),
        balanceAfterCents: p.balanceCents - amountCents,
        withdrawnAt: command.now,
      },
    },
  ];
}

function changeLimit(command: ChangeCreditLimit, state: State): Event[] {
  const p = openPeriod(state, command);
  const creditLimitCents = requireCents(command.creditLimitCents, 'creditLimitCents', 0);
  instant(command.now, 'now');
  if (creditLimitCents === p.creditLimitCents) return [];
  return [
    {
      type: 'CreditLimitChanged',
      data: {
        ...inPeriod(p),
        creditLimitCents,
        previousCreditLimitCents: p.creditLimitCents,
        changedBy: requireText(command.changedBy, 'changedBy'),
        reason: requireText(command.reason, 'reason'),
        changedAt: command.now,
      },
    },
  ];
}

function close(command: CloseLedgerPeriod, state: State): Event[] {
  const nextPeriod = requirePeriod(command.nextPeriod, 'nextPeriod');
  if (state.status === 'closed' && state.period === command.period && state.holderId === command.holder?.id) return [];
  const p = openPeriod(state, command);
  if (nextPeriod <= p.period) throw invalid('nextPeriod must be after the period', { field: 'nextPeriod', got: nextPeriod });
  instant(command.now, 'now');
  return [
    {
      type: 'LedgerPeriodClosed',
      data: { ...inPeriod(p), closingBalanceCents: p.balanceCents, creditLimitCents: p.creditLimitCents, nextPeriod, closedAt: command.now },
    },
  ];
}

function decide(command: LedgerCommand, state: State): Event[] {
  switch (command.type) {
    case 'OpenLedgerPeriod':
      return open(command, state);
    case 'PostCharge':
      return charge(command, state);
    case 'DepositFunds':
      return deposit(command, state);
    case 'WithdrawFunds':
      return withdraw(command, state);
    case 'ChangeCreditLimit':
      return changeLimit(command, state);
    case 'CloseLedgerPeriod':
      return close(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

// ---------------------------------------------------------------- evolve

/** O(1) per event; updates the period in place (the fold owns its state). */
function evolve(state: State, event: Event): State {
  if (event.type === 'LedgerPeriodOpened') {
    const d = event.data;
    return {
      status: 'open',
      holderKind: d.holderKind,
      holderId: d.holderId,
      period: d.period,
      balanceCents: d.openingBalanceCents,
      creditLimitCents: d.creditLimitCents,
      nextPeriod: null,
    };
  }
  if (state.status === 'none') return state; // a stream always starts with its opening
  switch (event.type) {
    case 'FundsDeposited':
    case 'FundsWithdrawn':
    case 'ChargePosted':
      state.balanceCents = event.data.balanceAfterCents;
      return state;
    case 'CreditLimitChanged':
      state.creditLimitCents = event.data.creditLimitCents;
      return state;
    case 'LedgerPeriodClosed':
      state.status = 'closed';
      state.nextPeriod = event.data.nextPeriod;
      return state;
  }
}

export const ledgerDecider: Decider<LedgerState, LedgerCommand, LedgerEvent> = { initialState, decide, evolve };

/** The binding. A busy month holds many postings: snapshots keep each read short. */
export const ledgerAggregate: Aggregate<LedgerState, LedgerCommand, LedgerEvent> = {
  name: 'ledger',
  streamName: ledgerStream,
  decider: ledgerDecider,
  events: ledgerEvents,
  snapshot: { version: 1, every: SNAPSHOT_EVERY.busy },
};

import fc from 'fast-check';
import { ledgerAccountAggregate, type LedgerAccountCommand } from '../../../src/write-model/ledger-account/index.js';
import { ledgerAggregate, type LedgerCommand } from '../../../src/write-model/ledger/index.js';
import { historySource, sequence } from './harness.js';

const holder = { kind: 'organization' as const, id: 'o1' };

/** One holder's month: opened, then deposits, charges (some refused: past the credit), limit changes, withdrawals, closed. */
export const ledgerHistories = historySource(
  ledgerAggregate,
  sequence(
    fc.record({
      kind: fc.constantFrom('open', 'charge', 'charge', 'charge', 'deposit', 'withdraw', 'limit', 'close'),
      amount: fc.integer({ min: 1, max: 500 }),
      n: fc.integer({ min: 0, max: 1_000_000 }),
    }),
    (c, now): LedgerCommand => {
      const base = { holder, period: '2026-12', now };
      switch (c.kind) {
        case 'open':
          return { type: 'OpenLedgerPeriod', ...base, openingBalanceCents: c.amount, creditLimitCents: 100, previousPeriod: '2026-11' };
        case 'charge':
          return {
            type: 'PostCharge',
            ...base,
            postingId: `p${c.n}`,
            item: 'sms',
            quantity: 1 + (c.n % 3),
            unitPriceCents: c.amount,
            country: 'CN',
            sourceEventId: `e${c.n}`,
            sourceStream: `sms_message-${c.n}`,
            reason: 'sms',
          };
        case 'deposit':
          return { type: 'DepositFunds', ...base, depositId: `d${c.n}`, amountCents: c.amount * 3, orderId: `o${c.n}`, provider: 'alipay', reason: 'top-up' };
        case 'withdraw':
          return { type: 'WithdrawFunds', ...base, withdrawalId: `w${c.n}`, amountCents: c.amount, orderId: `o${c.n}`, refundId: `r${c.n}`, reason: 'refund' };
        case 'limit':
          return { type: 'ChangeCreditLimit', ...base, creditLimitCents: c.amount, changedBy: 'admin', reason: 'terms' };
        default:
          return { type: 'CloseLedgerPeriod', ...base, nextPeriod: '2027-01' };
      }
    },
  ),
);

/** A holder's account: months started (some earlier than the current: no-ops) and overage switched. */
export const ledgerAccountHistories = historySource(
  ledgerAccountAggregate,
  sequence(
    fc.record({ kind: fc.constantFrom('start', 'start', 'settings'), month: fc.integer({ min: 1, max: 12 }), overage: fc.boolean() }),
    (c, now): LedgerAccountCommand =>
      c.kind === 'start'
        ? { type: 'StartLedgerPeriod', holder, period: `2026-${String(c.month).padStart(2, '0')}`, now }
        : { type: 'ChangeLedgerSettings', holder, overage: c.overage, changedBy: 'u1', now },
  ),
);

import { expect } from 'chai';
import { fold } from '../../src/write-model/core/decider.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { ledgerAccountDecider, ledgerAccountStream, type LedgerAccountEvent } from '../../src/write-model/ledger-account/index.js';
import {
  availableCents,
  ledgerDecider,
  ledgerPeriodId,
  ledgerStream,
  nextPeriod,
  unitPriceCents,
  type LedgerCommand,
  type LedgerEvent,
} from '../../src/write-model/ledger/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(ledgerDecider);
const NOW = '2026-12-10T08:00:00.000Z';
const holder = { kind: 'organization' as const, id: 'org-1' };
const IN = { holderKind: 'organization' as const, holderId: 'org-1', period: '2026-12' };
const base = { holder, period: '2026-12', now: NOW };
const reason = (r: string) => (e: DomainError) => e.code === 'CONFLICT' && e.details?.reason === r;
const invalid = (e: DomainError) => e.code === 'VALIDATION_ERROR';

const opened = (opening = 1_000, credit = 0): LedgerEvent => ({
  type: 'LedgerPeriodOpened',
  data: { ...IN, openingBalanceCents: opening, creditLimitCents: credit, previousPeriod: '2026-11', openedAt: NOW },
});
const charge = (quantity: number, unit: number, source = 'ev-1'): LedgerCommand => ({
  type: 'PostCharge',
  ...base,
  postingId: `p-${source}`,
  item: 'sms',
  quantity,
  unitPriceCents: unit,
  country: 'CN',
  sourceEventId: source,
  sourceStream: `sms_message-${source}`,
  reason: 'SMS to +86',
});
const posted = (quantity: number, unit: number, after: number, source = 'ev-1'): LedgerEvent => ({
  type: 'ChargePosted',
  data: {
    ...IN,
    postingId: `p-${source}`,
    item: 'sms',
    quantity,
    unitPriceCents: unit,
    amountCents: quantity * unit,
    country: 'CN',
    sourceEventId: source,
    sourceStream: `sms_message-${source}`,
    reason: 'SMS to +86',
    balanceAfterCents: after,
    postedAt: NOW,
  },
});
const limitChanged = (to: number, from = 0): LedgerEvent => ({
  type: 'CreditLimitChanged',
  data: { ...IN, creditLimitCents: to, previousCreditLimitCents: from, changedBy: 'admin-1', reason: 'terms', changedAt: NOW },
});
const closed = (balance: number, credit = 0): LedgerEvent => ({
  type: 'LedgerPeriodClosed',
  data: { ...IN, closingBalanceCents: balance, creditLimitCents: credit, nextPeriod: '2027-01', closedAt: NOW },
});

describe("Ledger aggregate (a holder's month)", () => {
  it('names its stream ledger-{org|user}_{holderId}_{YYYYMM}', () => {
    expect(ledgerStream(ledgerPeriodId(holder, '2026-12'))).to.equal('ledger-org_org-1_202612');
    expect(ledgerStream(ledgerPeriodId({ kind: 'user', id: 'u-9' }, '2027-01'))).to.equal('ledger-user_u-9_202701');
    expect(nextPeriod('2026-12')).to.equal('2027-01');
    expect(nextPeriod('2027-01')).to.equal('2027-02');
  });

  describe('OpenLedgerPeriod', () => {
    const open: LedgerCommand = { type: 'OpenLedgerPeriod', ...base, openingBalanceCents: 1_000, creditLimitCents: 0, previousPeriod: '2026-11' };
    it('opens the month with the balance and credit limit carried over', () => spec.given([]).when(open).then([opened()]));
    it('is a no-op when the month is open', () => spec.given([opened()]).when(open).then([]));
    it('refuses another month in this stream', () =>
      spec
        .given([opened()])
        .when({ ...open, period: '2027-01', previousPeriod: '2026-12' })
        .thenThrows(DomainError, reason('wrong_stream')));
    it('refuses a bad month or a previous month not before it', () => {
      spec
        .given([])
        .when({ ...open, period: '2026-13' })
        .thenThrows(DomainError, invalid);
      spec
        .given([])
        .when({ ...open, previousPeriod: '2026-12' })
        .thenThrows(DomainError, invalid);
      spec
        .given([])
        .when({ ...open, creditLimitCents: -1 })
        .thenThrows(DomainError, invalid);
    });
  });

  describe('PostCharge', () => {
    it('posts quantity × unit price with the balance after', () =>
      spec
        .given([opened(1_000)])
        .when(charge(3, 5))
        .then([posted(3, 5, 985)]));
    it('may take the whole balance', () =>
      spec
        .given([opened(15)])
        .when(charge(3, 5))
        .then([posted(3, 5, 0)]));
    it('never overdraws: balance − amount must stay ≥ −credit limit', () => {
      spec
        .given([opened(14)])
        .when(charge(3, 5))
        .thenThrows(DomainError, (e: DomainError) => reason('insufficient_balance')(e) && e.details?.availableCents === 14 && e.details?.amountCents === 15);
    });
    it('may go below zero down to the credit limit, not further', () => {
      spec
        .given([opened(10), limitChanged(5)])
        .when(charge(3, 5))
        .then([posted(3, 5, -5)]);
      spec
        .given([opened(10), limitChanged(5), posted(3, 5, -5)])
        .when(charge(1, 1, 'ev-2'))
        .thenThrows(DomainError, reason('insufficient_balance'));
    });
    it('refuses before the month is open and after it closed', () => {
      spec.given([]).when(charge(1, 5)).thenThrows(DomainError, reason('period_not_open'));
      spec
        .given([opened(), closed(1_000)])
        .when(charge(1, 5))
        .thenThrows(DomainError, (e: DomainError) => reason('period_closed')(e) && e.details?.nextPeriod === '2027-01');
    });
    it('refuses a bad quantity, price, item or an empty source / reason', () => {
      spec.given([opened()]).when(charge(0, 5)).thenThrows(DomainError, invalid);
      spec.given([opened()]).when(charge(1, 0)).thenThrows(DomainError, invalid);
      spec.given([opened()]).when(charge(1.5, 5)).thenThrows(DomainError, invalid);
      spec
        .given([opened()])
        .when({ ...charge(1, 5), item: 'gold' as never } as LedgerCommand)
        .thenThrows(DomainError, invalid);
      spec
        .given([opened()])
        .when({ ...charge(1, 5), sourceEventId: '' } as LedgerCommand)
        .thenThrows(DomainError, invalid);
      spec
        .given([opened()])
        .when({ ...charge(1, 5), reason: ' ' } as LedgerCommand)
        .thenThrows(DomainError, invalid);
    });
  });

  describe('DepositFunds / WithdrawFunds', () => {
    const deposit: LedgerCommand = { type: 'DepositFunds', ...base, depositId: 'o-1', amountCents: 500, orderId: 'o-1', provider: 'alipay', reason: 'top-up' };
    it('deposits a top-up with its payment order as source', () =>
      spec
        .given([opened(100)])
        .when(deposit)
        .then([
          {
            type: 'FundsDeposited',
            data: {
              ...IN,
              depositId: 'o-1',
              amountCents: 500,
              source: { kind: 'payment_order', orderId: 'o-1', provider: 'alipay' },
              reason: 'top-up',
              balanceAfterCents: 600,
              depositedAt: NOW,
            },
          },
        ]));
    it('withdraws a refunded top-up, past the credit limit too (the money went back already)', () =>
      spec
        .given([opened(100)])
        .when({ type: 'WithdrawFunds', ...base, withdrawalId: 'r-1', amountCents: 300, orderId: 'o-1', refundId: 'r-1', reason: 'refund' })
        .then([
          {
            type: 'FundsWithdrawn',
            data: {
              ...IN,
              withdrawalId: 'r-1',
              amountCents: 300,
              source: { kind: 'payment_refund', orderId: 'o-1', refundId: 'r-1' },
              reason: 'refund',
              balanceAfterCents: -200,
              withdrawnAt: NOW,
            },
          },
        ]));
    it('refuses a non-positive amount', () =>
      spec
        .given([opened()])
        .when({ ...deposit, amountCents: 0 } as LedgerCommand)
        .thenThrows(DomainError, invalid));
  });

  describe('ChangeCreditLimit', () => {
    const change = (to: number): LedgerCommand => ({ type: 'ChangeCreditLimit', ...base, creditLimitCents: to, changedBy: 'admin-1', reason: 'terms' });
    it('records the new limit and the old one', () =>
      spec
        .given([opened()])
        .when(change(5_000))
        .then([limitChanged(5_000)]));
    it('is a no-op for the same limit', () =>
      spec
        .given([opened(), limitChanged(5_000)])
        .when(change(5_000))
        .then([]));
    it('refuses a negative limit', () => spec.given([opened()]).when(change(-1)).thenThrows(DomainError, invalid));
  });

  describe('CloseLedgerPeriod', () => {
    const close: LedgerCommand = { type: 'CloseLedgerPeriod', ...base, nextPeriod: '2027-01' };
    it('closes with the balance and limit to carry', () =>
      spec
        .given([opened(1_000), limitChanged(300), posted(1, 5, 995)])
        .when(close)
        .then([closed(995, 300)]));
    it('is a no-op once closed', () =>
      spec
        .given([opened(), closed(1_000)])
        .when(close)
        .then([]));
    it('refuses a next month that is not after it', () =>
      spec
        .given([opened()])
        .when({ ...close, nextPeriod: '2026-12' })
        .thenThrows(DomainError, invalid));
  });

  it('folds in O(1) per event: balance, limit, status', () => {
    const state = fold(ledgerDecider, [opened(1_000), limitChanged(200), posted(2, 5, 990), closed(990, 200)]);
    expect(state).to.deep.equal({
      status: 'closed',
      holderKind: 'organization',
      holderId: 'org-1',
      period: '2026-12',
      balanceCents: 990,
      creditLimitCents: 200,
      nextPeriod: '2027-01',
    });
    expect(availableCents(state)).to.equal(1_190);
  });

  it('prices from one catalogue: per-country SMS, the default elsewhere', () => {
    expect(unitPriceCents('sms', 'CN')).to.equal(5);
    expect(unitPriceCents('sms', 'us')).to.equal(8);
    expect(unitPriceCents('sms', 'ZZ')).to.equal(10);
    expect(unitPriceCents('sms')).to.equal(10);
    expect(unitPriceCents('collection_run')).to.equal(20);
    expect(unitPriceCents('publication')).to.equal(50);
  });
});

describe("LedgerAccount aggregate (a holder's current month and settings)", () => {
  const account = deciderSpec(ledgerAccountDecider);
  const started = (period: string, previousPeriod: string | null): LedgerAccountEvent => ({
    type: 'LedgerPeriodStarted',
    data: { holderKind: 'organization', holderId: 'org-1', period, previousPeriod, startedAt: NOW },
  });
  it('names its stream ledger_account-{org|user}_{holderId}', () => expect(ledgerAccountStream('org_org-1')).to.equal('ledger_account-org_org-1'));
  it('moves to a later month, naming the one before', () => {
    account
      .given([])
      .when({ type: 'StartLedgerPeriod', holder, period: '2026-12', now: NOW })
      .then([started('2026-12', null)]);
    account
      .given([started('2026-12', null)])
      .when({ type: 'StartLedgerPeriod', holder, period: '2027-02', now: NOW })
      .then([started('2027-02', '2026-12')]);
  });
  it('never moves back or repeats a month', () => {
    account
      .given([started('2027-02', '2026-12')])
      .when({ type: 'StartLedgerPeriod', holder, period: '2027-02', now: NOW })
      .then([]);
    account
      .given([started('2027-02', '2026-12')])
      .when({ type: 'StartLedgerPeriod', holder, period: '2027-01', now: NOW })
      .then([]);
  });
  it('switches overage, a repeat is a no-op', () => {
    const on = { type: 'ChangeLedgerSettings' as const, holder, overage: true, changedBy: 'u-1', now: NOW };
    const event: LedgerAccountEvent = {
      type: 'LedgerSettingsChanged',
      data: { holderKind: 'organization', holderId: 'org-1', overage: true, changedBy: 'u-1', changedAt: NOW },
    };
    account.given([]).when(on).then([event]);
    account.given([event]).when(on).then([]);
    account
      .given([])
      .when({ ...on, overage: 'yes' as never })
      .thenThrows(DomainError, invalid);
  });
});

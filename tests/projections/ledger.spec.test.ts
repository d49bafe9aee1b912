import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { createFinanceProjection } from '../../src/projections/finance.js';
import { ledgerProjection } from '../../src/projections/ledger.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { projectionSpec, recorded } from '../support/projection-spec.js';

describe('ledger-v1 and finance-v1 projections (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const T = '2026-12-10T08:00:00.000Z';

  function history(holderId: string) {
    const IN = { holderKind: 'user', holderId, period: '2026-12' };
    const dec = `ledger-user_${holderId}_202612`;
    const jan = `ledger-user_${holderId}_202701`;
    const src = randomUUID();
    return {
      src,
      events: [
        recorded(dec, 'LedgerPeriodOpened', { ...IN, openingBalanceCents: 0, creditLimitCents: 0, previousPeriod: null, openedAt: T }),
        recorded(dec, 'FundsDeposited', {
          ...IN,
          depositId: 'o1',
          amountCents: 1_000,
          source: { kind: 'payment_order', orderId: 'o1', provider: 'alipay' },
          reason: 'top-up',
          balanceAfterCents: 1_000,
          depositedAt: T,
        }),
        recorded(dec, 'CreditLimitChanged', { ...IN, creditLimitCents: 300, previousCreditLimitCents: 0, changedBy: 'admin', reason: 'terms', changedAt: T }),
        recorded(dec, 'ChargePosted', {
          ...IN,
          postingId: 'p1',
          item: 'sms',
          quantity: 3,
          unitPriceCents: 5,
          amountCents: 15,
          country: 'CN',
          sourceEventId: src,
          sourceStream: `sms_message-${src}`,
          reason: 'SMS',
          balanceAfterCents: 985,
          postedAt: T,
        }),
        recorded(dec, 'LedgerPeriodClosed', {
          ...IN,
          closingBalanceCents: 985,
          creditLimitCents: 300,
          nextPeriod: '2027-01',
          closedAt: '2026-12-31T16:00:01.000Z',
        }),
        recorded(jan, 'LedgerPeriodOpened', {
          ...IN,
          period: '2027-01',
          openingBalanceCents: 985,
          creditLimitCents: 300,
          previousPeriod: '2026-12',
          openedAt: '2026-12-31T16:00:02.000Z',
        }),
        recorded(jan, 'FundsWithdrawn', {
          ...IN,
          period: '2027-01',
          withdrawalId: 'r1',
          amountCents: 400,
          source: { kind: 'payment_refund', orderId: 'o1', refundId: 'r1' },
          reason: 'refund',
          balanceAfterCents: 585,
          withdrawnAt: '2027-01-02T00:00:00.000Z',
        }),
        recorded(`ledger_account-user_${holderId}`, 'LedgerSettingsChanged', { holderKind: 'user', holderId, overage: true, changedBy: 'u', changedAt: T }),
      ],
    };
  }

  it('months with totals, postings with their sources, the account at its newest month — whatever the batching, redelivered too', async () => {
    for (const batchSize of [500, 3, 1]) {
      const holderId = randomUUID();
      const { src, events } = history(holderId);
      await projectionSpec(knex, ledgerProjection, { batchSize })
        .given(events)
        .thenAll([
          {
            table: 'ledger_periods',
            query: {
              where: { holder_id: holderId },
              columns: [
                'period',
                'status',
                'opening_balance_cents',
                'balance_cents',
                'credit_limit_cents',
                'deposits_cents',
                'withdrawals_cents',
                'charges_cents',
                'postings',
              ],
            },
            expected: [
              {
                period: '2026-12',
                status: 'closed',
                opening_balance_cents: '0',
                balance_cents: '985',
                credit_limit_cents: '300',
                deposits_cents: '1000',
                withdrawals_cents: '0',
                charges_cents: '15',
                postings: 2,
              },
              {
                period: '2027-01',
                status: 'open',
                opening_balance_cents: '985',
                balance_cents: '585',
                credit_limit_cents: '300',
                deposits_cents: '0',
                withdrawals_cents: '400',
                charges_cents: '0',
                postings: 1,
              },
            ],
          },
          {
            table: 'ledger_postings',
            query: {
              where: { holder_id: holderId },
              columns: ['period', 'kind', 'amount_cents', 'balance_after_cents', 'source_event_id', 'order_id'],
              orderBy: ['period', 'balance_after_cents'],
            },
            expected: [
              { period: '2026-12', kind: 'charge', amount_cents: '-15', balance_after_cents: '985', source_event_id: src, order_id: null },
              { period: '2026-12', kind: 'deposit', amount_cents: '1000', balance_after_cents: '1000', source_event_id: null, order_id: 'o1' },
              { period: '2027-01', kind: 'withdrawal', amount_cents: '-400', balance_after_cents: '585', source_event_id: null, order_id: 'o1' },
            ],
          },
          {
            table: 'ledger_accounts',
            query: { where: { holder_id: holderId }, columns: ['period', 'balance_cents', 'credit_limit_cents', 'overage'] },
            expected: [{ period: '2027-01', balance_cents: '585', credit_limit_cents: '300', overage: true }],
          },
        ]);
    }
  });

  it('a batch that holds only a credit-limit change of a month keeps its balance', async () => {
    for (const batchSize of [500, 1]) {
      const holderId = randomUUID();
      const IN = { holderKind: 'user', holderId, period: '2026-12' };
      const dec = `ledger-user_${holderId}_202612`;
      await projectionSpec(knex, ledgerProjection, { batchSize })
        .given([
          recorded(dec, 'LedgerPeriodOpened', { ...IN, openingBalanceCents: 1_000, creditLimitCents: 0, previousPeriod: null, openedAt: T }),
          recorded(dec, 'CreditLimitChanged', { ...IN, creditLimitCents: 300, previousCreditLimitCents: 0, changedBy: 'admin', reason: 'terms', changedAt: T }),
        ])
        .thenAll([
          {
            table: 'ledger_periods',
            query: { where: { holder_id: holderId }, columns: ['balance_cents', 'credit_limit_cents'] },
            expected: [{ balance_cents: '1000', credit_limit_cents: '300' }],
          },
          {
            table: 'ledger_accounts',
            query: { where: { holder_id: holderId }, columns: ['balance_cents', 'credit_limit_cents'] },
            expected: [{ balance_cents: '1000', credit_limit_cents: '300' }],
          },
        ]);
    }
  });

  it("an account's updated_at is the time of its newest event (its month's or a settings change), whatever the batches", async () => {
    for (const batchSize of [500, 1]) {
      const holderId = randomUUID();
      const IN = { holderKind: 'user', holderId, period: '2026-12' };
      const dec = `ledger-user_${holderId}_202612`;
      const account = `ledger_account-user_${holderId}`;
      const settings = (overage: boolean, changedAt: string) =>
        recorded(account, 'LedgerSettingsChanged', { holderKind: 'user', holderId, overage, changedBy: 'u', changedAt });
      await projectionSpec(knex, ledgerProjection, { batchSize })
        .given([
          settings(true, '2026-12-01T00:00:00.000Z'),
          recorded(dec, 'LedgerPeriodOpened', {
            ...IN,
            openingBalanceCents: 0,
            creditLimitCents: 0,
            previousPeriod: null,
            openedAt: '2026-12-01T00:00:01.000Z',
          }),
          recorded(dec, 'FundsDeposited', {
            ...IN,
            depositId: 'o1',
            amountCents: 1_000,
            source: { kind: 'payment_order', orderId: 'o1', provider: 'alipay' },
            reason: 'top-up',
            balanceAfterCents: 1_000,
            depositedAt: '2026-12-02T00:00:00.000Z',
          }),
          settings(false, '2026-12-03T00:00:00.000Z'),
        ])
        .then('ledger_accounts', { where: { holder_id: holderId }, columns: ['balance_cents', 'overage', 'updated_at'] }, [
          { balance_cents: '1000', overage: false, updated_at: new Date('2026-12-03T00:00:00.000Z') },
        ]);
    }
  });

  it('finance records: revenue, top-ups and the uses that cost, one row per event', async () => {
    const order = randomUUID();
    const msg = randomUUID();
    const exec = randomUUID();
    const events = [
      recorded(`payment-${order}`, 'PaymentSucceeded', {
        orderId: order,
        userId: 'u',
        service: 'xiaohongshu',
        plan: 'basic',
        billingCycle: 'monthly',
        amountFen: 3990,
        provider: 'alipay',
        providerTradeNo: 't',
        paidAt: '2026-12-09T17:00:00.000Z',
      }),
      recorded(`sms_message-${msg}`, 'SmsRequested', {
        messageId: msg,
        ownerId: 'u',
        to: '+12025550123',
        country: 'US',
        callingCode: '1',
        text: 'hi',
        encoding: 'GSM-7',
        segments: 2,
        unitPriceFen: 8,
        priceFen: 16,
        requestedAt: T,
      }),
      recorded(`sms_message-${msg}`, 'SmsSent', {
        messageId: msg,
        ownerId: 'u',
        providerMessageId: 'SM',
        senderNumber: null,
        providerPriceMicros: null,
        providerCurrency: null,
        sentAt: T,
        source: 'send',
        recordedAt: T,
      }),
      recorded(`workflow_execution-${exec}`, 'ProxyAssigned', {
        executionId: exec,
        workflowId: 'w',
        proxyId: 'px1',
        leaseId: null,
        reason: 'initial',
        previous: null,
        assignedAt: T,
      }),
    ];
    await projectionSpec(knex, createFinanceProjection({ timeZone: 'Asia/Shanghai' }))
      .given(events)
      .thenQuery(
        (tx) =>
          tx('finance_records')
            .whereIn(
              'record_id',
              events.map((e) => e.id),
            )
            .select('kind', knex.raw("to_char(day, 'YYYY-MM-DD') AS day"), 'amount_cents', 'units', 'proxy_id', 'country')
            .orderBy('kind'),
        [
          // 17:00 UTC on the 9th is the 10th in Shanghai
          { kind: 'plan_payment', day: '2026-12-10', amount_cents: '3990', units: 0, proxy_id: null, country: null },
          { kind: 'proxy_use', day: '2026-12-10', amount_cents: '0', units: 1, proxy_id: 'px1', country: null },
          { kind: 'sms_message', day: '2026-12-10', amount_cents: '0', units: 2, proxy_id: null, country: 'US' },
        ],
      );
  });
});

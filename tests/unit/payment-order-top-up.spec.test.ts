import { DomainError } from '../../src/write-model/core/domain-error.js';
import { paymentOrderDecider, type PaymentOrderCommand, type PaymentOrderEvent } from '../../src/write-model/payment-order/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(paymentOrderDecider);
const NOW = '2026-12-10T08:00:00.000Z';
const EXPIRES = '2026-12-10T08:30:00.000Z';
const terms = { orderId: 'o-1', userId: 'u-1', holderKind: 'organization' as const, holderId: 'org-1', amountFen: 5_000, provider: 'alipay' as const };
const create: PaymentOrderCommand = { type: 'CreateTopUpOrder', ...terms, expiresAt: EXPIRES, now: NOW };
const created: PaymentOrderEvent = { type: 'TopUpOrderCreated', data: { ...terms, status: 'pending', expiresAt: EXPIRES, createdAt: NOW } };
const paid: PaymentOrderEvent = { type: 'TopUpPaid', data: { ...terms, providerTradeNo: 'T1', paidAt: NOW } };
const confirm: PaymentOrderCommand = {
  type: 'ConfirmPayment',
  orderId: 'o-1',
  provider: 'alipay',
  providerTradeNo: 'T1',
  paidAmountFen: 5_000,
  paidAt: NOW,
  now: NOW,
};

describe('PaymentOrder: balance top-ups', () => {
  it('opens a top-up order for an amount to a holder', () => spec.given([]).when(create).then([created]));
  it('is a no-op asked again with the same terms, a CONFLICT with others', () => {
    spec.given([created]).when(create).then([]);
    spec
      .given([created])
      .when({ ...create, amountFen: 6_000 } as PaymentOrderCommand)
      .thenThrows(DomainError, (e: DomainError) => e.code === 'CONFLICT');
  });
  it('refuses a non-positive amount or an unknown holder kind', () => {
    spec
      .given([])
      .when({ ...create, amountFen: 0 } as PaymentOrderCommand)
      .thenThrows(DomainError, (e: DomainError) => e.code === 'VALIDATION_ERROR');
    spec
      .given([])
      .when({ ...create, holderKind: 'team' } as never)
      .thenThrows(DomainError, (e: DomainError) => e.code === 'VALIDATION_ERROR');
  });
  it('is paid as TopUpPaid (never PaymentSucceeded: no plan reaction sees it); a repeated notification is a no-op', () => {
    spec.given([created]).when(confirm).then([paid]);
    spec.given([created, paid]).when(confirm).then([]);
    spec
      .given([created])
      .when({ ...confirm, paidAmountFen: 4_000 } as PaymentOrderCommand)
      .thenThrows(DomainError, (e: DomainError) => e.code === 'VALIDATION_ERROR');
  });
  it('is refunded as TopUpRefunded, with the refunded amount', () =>
    spec
      .given([created, paid])
      .when({ type: 'RefundPayment', orderId: 'o-1', refundId: 'r-1', amountFen: 2_000, reason: 'asked', now: NOW })
      .then([
        {
          type: 'TopUpRefunded',
          data: {
            ...terms,
            providerTradeNo: 'T1',
            refundId: 'r-1',
            refundedFen: 2_000,
            reason: 'asked',
            totalRefundedFen: 2_000,
            fullyRefunded: false,
            refundedAt: NOW,
          },
        },
      ]));
  it('a plan order cannot take the id of a top-up', () =>
    spec
      .given([created])
      .when({
        type: 'CreatePaymentOrder',
        orderId: 'o-1',
        userId: 'u-1',
        service: 'xiaohongshu',
        plan: 'basic',
        billingCycle: 'monthly',
        amountFen: 3990,
        provider: 'alipay',
        expiresAt: EXPIRES,
        now: NOW,
      })
      .thenThrows(DomainError, (e: DomainError) => e.code === 'CONFLICT'));
});

import fc from 'fast-check';
import { paymentOrderAggregate, type PaymentOrderCommand } from '../../../src/write-model/payment-order/index.js';
import { historySource, sequence } from './harness.js';

/** One order (for a plan, or a balance top-up): created, paid (or failed, or expired), refunded in parts. */
export const paymentOrderHistories = historySource(
  paymentOrderAggregate,
  sequence(
    fc.record({
      kind: fc.constantFrom('create', 'top_up', 'confirm', 'confirm', 'fail', 'expire', 'refund', 'refund'),
      trade: fc.constantFrom('t1', 't2'),
      refund: fc.constantFrom('f1', 'f2', 'f3'),
      amount: fc.constantFrom(100, 500, 3990),
    }),
    (c, now): PaymentOrderCommand => {
      switch (c.kind) {
        case 'create':
          return {
            type: 'CreatePaymentOrder',
            orderId: 'o1',
            userId: 'u1',
            service: 'xiaohongshu',
            plan: 'basic',
            billingCycle: 'monthly',
            amountFen: 3990,
            provider: 'alipay',
            expiresAt: '2026-01-02T00:00:00.000Z',
            now,
          };
        case 'top_up':
          // a balance top-up instead (the first create wins: the other is refused)
          return {
            type: 'CreateTopUpOrder',
            orderId: 'o1',
            userId: 'u1',
            holderKind: 'organization',
            holderId: 'org1',
            amountFen: 3990,
            provider: 'alipay',
            expiresAt: '2026-01-02T00:00:00.000Z',
            now,
          };
        case 'confirm':
          return { type: 'ConfirmPayment', orderId: 'o1', provider: 'alipay', providerTradeNo: c.trade, paidAmountFen: 3990, paidAt: now, now };
        case 'fail':
          return { type: 'FailPayment', orderId: 'o1', provider: 'alipay', reason: 'declined', now };
        case 'expire':
          return { type: 'ExpirePaymentOrder', orderId: 'o1', now };
        case 'refund':
          return { type: 'RefundPayment', orderId: 'o1', refundId: c.refund, amountFen: c.amount, reason: 'asked', now };
      }
    },
  ),
);

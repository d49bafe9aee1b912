import { expect } from 'chai';
import { fold } from '../../src/write-model/core/decider.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  initialState,
  paymentOrderAggregate,
  paymentOrderDecider,
  paymentOrderEvents,
  paymentStream,
  type ConfirmPayment,
  type CreatePaymentOrder,
  type ExpirePaymentOrder,
  type FailPayment,
  type PaymentOrderEvent,
  type PaymentOrderState,
  type RefundPayment,
  type RecordPlacement,
  type RequestRefund,
  type FailRefund,
} from '../../src/write-model/payment-order/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(paymentOrderDecider);
const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;

const ORDER = 'ord-20250301-0001';
const CREATED_AT = '2025-03-01T10:00:00.000Z';
const EXPIRES_AT = '2025-03-01T10:30:00.000Z';
const BEFORE_EXPIRY = '2025-03-01T10:29:59.999Z';
const AFTER_EXPIRY = '2025-03-01T10:45:00.000Z';
const TRADE = '2025030122001400001234567890';

const create: CreatePaymentOrder = {
  type: 'CreatePaymentOrder',
  orderId: ORDER,
  userId: 'user-1',
  service: 'xiaohongshu',
  plan: 'pro',
  billingCycle: 'monthly',
  amountFen: 9900,
  provider: 'alipay',
  expiresAt: EXPIRES_AT,
  now: CREATED_AT,
};

const created: PaymentOrderEvent = {
  type: 'PaymentOrderCreated',
  data: {
    orderId: ORDER,
    userId: 'user-1',
    service: 'xiaohongshu',
    plan: 'pro',
    billingCycle: 'monthly',
    amountFen: 9900,
    provider: 'alipay',
    status: 'pending',
    expiresAt: EXPIRES_AT,
    createdAt: CREATED_AT,
  },
};

const confirm: ConfirmPayment = {
  type: 'ConfirmPayment',
  orderId: ORDER,
  provider: 'alipay',
  providerTradeNo: TRADE,
  paidAmountFen: 9900,
  paidAt: '2025-03-01T10:05:00.000Z',
  now: '2025-03-01T10:05:02.000Z',
};

const succeeded: PaymentOrderEvent = {
  type: 'PaymentSucceeded',
  data: {
    orderId: ORDER,
    userId: 'user-1',
    service: 'xiaohongshu',
    plan: 'pro',
    billingCycle: 'monthly',
    amountFen: 9900,
    provider: 'alipay',
    providerTradeNo: TRADE,
    paidAt: '2025-03-01T10:05:00.000Z',
    orderedAt: CREATED_AT,
  },
};

const failCmd: FailPayment = { type: 'FailPayment', orderId: ORDER, provider: 'alipay', reason: 'TRADE_CLOSED', now: '2025-03-01T10:06:00.000Z' };

const failed: PaymentOrderEvent = {
  type: 'PaymentFailed',
  data: { orderId: ORDER, userId: 'user-1', provider: 'alipay', reason: 'TRADE_CLOSED', providerTradeNo: null, failedAt: '2025-03-01T10:06:00.000Z' },
};

const expireCmd: ExpirePaymentOrder = { type: 'ExpirePaymentOrder', orderId: ORDER, now: EXPIRES_AT };

const expired: PaymentOrderEvent = {
  type: 'PaymentOrderExpired',
  data: { orderId: ORDER, userId: 'user-1', expiresAt: EXPIRES_AT, expiredAt: EXPIRES_AT },
};

const refundCmd = (refundId: string, amountFen: number, now = '2025-03-02T09:00:00.000Z'): RefundPayment => ({
  type: 'RefundPayment',
  orderId: ORDER,
  refundId,
  amountFen,
  reason: 'customer request',
  now,
});

const refunded = (refundId: string, amountFen: number, totalRefundedFen: number, now = '2025-03-02T09:00:00.000Z'): PaymentOrderEvent => ({
  type: 'PaymentRefunded',
  data: {
    orderId: ORDER,
    userId: 'user-1',
    service: 'xiaohongshu',
    plan: 'pro',
    billingCycle: 'monthly',
    provider: 'alipay',
    providerTradeNo: TRADE,
    refundId,
    amountFen,
    reason: 'customer request',
    totalRefundedFen,
    fullyRefunded: totalRefundedFen >= 9900,
    refundedAt: now,
  },
});

const pendingState: PaymentOrderState = {
  ...initialState(),
  status: 'pending',
  order: {
    orderId: ORDER,
    userId: 'user-1',
    service: 'xiaohongshu',
    plan: 'pro',
    billingCycle: 'monthly',
    amountFen: 9900,
    provider: 'alipay',
    expiresAt: EXPIRES_AT,
    createdAt: CREATED_AT,
  },
};

const paidState: PaymentOrderState = {
  ...pendingState,
  status: 'paid',
  payment: { provider: 'alipay', providerTradeNo: TRADE, paidAmountFen: 9900, paidAt: '2025-03-01T10:05:00.000Z' },
};

describe('PaymentOrder', () => {
  it('lives in the stream payment-{orderId}, short-lived (no snapshots)', () => {
    expect(paymentStream('ord-1')).to.equal('payment-ord-1');
    expect(paymentOrderAggregate.streamName('ord-1')).to.equal('payment-ord-1');
    expect(paymentOrderAggregate.snapshot).to.equal(undefined);
  });

  it('decodes its stored events, and refuses one that does not fit', () => {
    expect(paymentOrderEvents.decode({ type: 'PaymentOrderCreated', data: JSON.parse(JSON.stringify(created.data)) })).to.deep.equal(created);
    expect(() => paymentOrderEvents.decode({ type: 'PaymentOrderCreated', data: { ...created.data, plan: 'free' } })).to.throw(
      /cannot decode PaymentOrderCreated/,
    );
  });

  it('starts with no order', () => {
    expect(paymentOrderDecider.initialState()).to.deep.equal({
      status: 'none',
      order: null,
      topUp: null,
      payment: null,
      failure: null,
      expiredAt: null,
      refunds: [],
      refundedFen: 0,
      placement: null,
      pendingRefunds: [],
      failedRefundIds: [],
    });
  });

  describe('CreatePaymentOrder', () => {
    it('opens a pending order', () => {
      spec.given([]).when(create).then([created]);
    });

    it('leaves the order pending with its terms', () => {
      spec.given([]).when(create).thenState(pendingState);
    });

    it('accepts a wechat yearly order for another service', () => {
      const cmd: CreatePaymentOrder = { ...create, service: 'qidian', plan: 'enterprise', billingCycle: 'yearly', amountFen: 299900, provider: 'wechat' };
      spec
        .given([])
        .when(cmd)
        .then([
          {
            type: 'PaymentOrderCreated',
            data: { ...created.data, service: 'qidian', plan: 'enterprise', billingCycle: 'yearly', amountFen: 299900, provider: 'wechat' },
          } as PaymentOrderEvent,
        ]);
    });

    it('is a no-op when repeated with the same terms, at a later time', () => {
      spec
        .given([created])
        .when({ ...create, now: '2025-03-01T10:00:05.000Z' })
        .then([]);
    });

    it('is a no-op when repeated with the same expiry written in another zone', () => {
      spec
        .given([created])
        .when({ ...create, expiresAt: '2025-03-01T18:30:00.000+08:00' })
        .then([]);
    });

    it('is a no-op when repeated after the order was paid', () => {
      spec
        .given([created, succeeded])
        .when({ ...create, now: AFTER_EXPIRY })
        .then([]);
    });

    it('refuses an existing order id with other terms (CONFLICT)', () => {
      spec
        .given([created])
        .when({ ...create, amountFen: 9800 })
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
      spec
        .given([created])
        .when({ ...create, plan: 'basic' })
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
      spec
        .given([created])
        .when({ ...create, userId: 'user-2' })
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
      spec
        .given([created])
        .when({ ...create, provider: 'wechat' })
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
      spec
        .given([created])
        .when({ ...create, expiresAt: AFTER_EXPIRY })
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('refuses the free plan (VALIDATION_ERROR)', () => {
      spec
        .given([])
        .when({ ...create, plan: 'free' })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'plan');
    });

    it('refuses a zero, negative or fractional amount (VALIDATION_ERROR)', () => {
      for (const amountFen of [0, -100, 99.5, Number.NaN]) {
        spec
          .given([])
          .when({ ...create, amountFen })
          .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'amountFen');
      }
    });

    it('refuses an unknown service, plan, billing cycle or provider (VALIDATION_ERROR)', () => {
      spec
        .given([])
        .when({ ...create, service: 'douyin' as never })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'service');
      spec
        .given([])
        .when({ ...create, plan: 'gold' as never })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'plan');
      spec
        .given([])
        .when({ ...create, billingCycle: 'weekly' as never })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'billingCycle');
      spec
        .given([])
        .when({ ...create, provider: 'bank_card' as never })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'provider');
    });

    it('refuses an empty order or user id (VALIDATION_ERROR)', () => {
      spec
        .given([])
        .when({ ...create, orderId: '' })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'orderId');
      spec
        .given([])
        .when({ ...create, userId: ' ' })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'userId');
    });

    it('refuses an expiry that is not after now (VALIDATION_ERROR)', () => {
      spec
        .given([])
        .when({ ...create, expiresAt: CREATED_AT })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'expiresAt');
      spec
        .given([])
        .when({ ...create, expiresAt: '2025-03-01T09:00:00.000Z' })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'expiresAt');
    });

    it('refuses times that are not ISO-8601 with a zone (VALIDATION_ERROR)', () => {
      spec
        .given([])
        .when({ ...create, expiresAt: '2025-03-01 18:30:00' })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'expiresAt');
      spec
        .given([])
        .when({ ...create, now: 'yesterday' })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'now');
    });
  });

  describe('ConfirmPayment', () => {
    it('records the payment of a pending order', () => {
      spec.given([created]).when(confirm).then([succeeded]);
    });

    it('makes the order paid', () => {
      spec.given([created]).when(confirm).thenState(paidState);
    });

    it('accepts a wechat payment of a wechat order', () => {
      const wechatCreated = { type: 'PaymentOrderCreated', data: { ...created.data, provider: 'wechat' } } as PaymentOrderEvent;
      spec
        .given([wechatCreated])
        .when({ ...confirm, provider: 'wechat', providerTradeNo: '4200001234202503011234567890' })
        .then([
          { type: 'PaymentSucceeded', data: { ...succeeded.data, provider: 'wechat', providerTradeNo: '4200001234202503011234567890' } } as PaymentOrderEvent,
        ]);
    });

    it('accepts a payment notified just before the expiry', () => {
      spec
        .given([created])
        .when({ ...confirm, paidAt: BEFORE_EXPIRY, now: BEFORE_EXPIRY })
        .then([{ type: 'PaymentSucceeded', data: { ...succeeded.data, paidAt: BEFORE_EXPIRY } } as PaymentOrderEvent]);
    });

    it('accepts a late notification of a payment the provider took before the expiry', () => {
      spec
        .given([created])
        .when({ ...confirm, paidAt: BEFORE_EXPIRY, now: AFTER_EXPIRY })
        .then([{ type: 'PaymentSucceeded', data: { ...succeeded.data, paidAt: BEFORE_EXPIRY } } as PaymentOrderEvent]);
    });

    it('compares times as instants, whatever their zone', () => {
      // 18:29 in Beijing is 10:29 UTC: before the expiry
      spec
        .given([created])
        .when({ ...confirm, paidAt: '2025-03-01T18:29:00+08:00', now: AFTER_EXPIRY })
        .then([{ type: 'PaymentSucceeded', data: { ...succeeded.data, paidAt: '2025-03-01T18:29:00+08:00' } } as PaymentOrderEvent]);
    });

    it('is a no-op for a replayed (duplicate) notification of the same trade', () => {
      spec.given([created, succeeded]).when(confirm).then([]);
      spec
        .given([created, succeeded])
        .when({ ...confirm, now: '2025-03-01T12:00:00.000Z' })
        .then([]);
    });

    it('is a no-op for a duplicate notification after a refund', () => {
      spec
        .given([created, succeeded, refunded('rf-1', 1000, 1000)])
        .when(confirm)
        .then([]);
      spec
        .given([created, succeeded, refunded('rf-1', 9900, 9900)])
        .when(confirm)
        .then([]);
    });

    it('refuses a duplicate notification of the same trade with another amount (VALIDATION_ERROR)', () => {
      spec
        .given([created, succeeded])
        .when({ ...confirm, paidAmountFen: 1 })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.expected === 9900 && e.details.got === 1);
    });

    it('refuses another trade for a paid order (CONFLICT)', () => {
      spec
        .given([created, succeeded])
        .when({ ...confirm, providerTradeNo: '2025030122001400009999999999' })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'CONFLICT' && e.details.providerTradeNo === TRADE);
    });

    it('refuses a paid amount that differs from the order (VALIDATION_ERROR {expected, got}, no event)', () => {
      spec
        .given([created])
        .when({ ...confirm, paidAmountFen: 990 })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.expected === 9900 && e.details.got === 990);
      spec
        .given([created])
        .when({ ...confirm, paidAmountFen: 9901 })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.expected === 9900 && e.details.got === 9901);
    });

    it('refuses a notification from another provider (VALIDATION_ERROR)', () => {
      spec
        .given([created])
        .when({ ...confirm, provider: 'wechat' })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'provider' && e.details.expected === 'alipay');
      spec
        .given([created, succeeded])
        .when({ ...confirm, provider: 'wechat' })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'provider');
    });

    it('refuses a payment taken at or after the expiry and notified after it (CONFLICT)', () => {
      spec
        .given([created])
        .when({ ...confirm, paidAt: AFTER_EXPIRY, now: AFTER_EXPIRY })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'CONFLICT' && e.details.expiresAt === EXPIRES_AT);
      spec
        .given([created])
        .when({ ...confirm, paidAt: EXPIRES_AT, now: EXPIRES_AT })
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('refuses any payment once the order has expired (CONFLICT), even one taken in time', () => {
      spec
        .given([created, expired])
        .when({ ...confirm, paidAt: BEFORE_EXPIRY, now: AFTER_EXPIRY })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'CONFLICT' && e.details.status === 'expired');
    });

    it('refuses a payment of a failed order (CONFLICT): failed is final', () => {
      spec
        .given([created, failed])
        .when(confirm)
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'CONFLICT' && e.details.status === 'failed');
    });

    it('refuses an unknown order (NOT_FOUND)', () => {
      spec
        .given([])
        .when(confirm)
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'NOT_FOUND' && e.details.orderId === ORDER);
    });

    it('refuses an empty trade number or a malformed payment time (VALIDATION_ERROR)', () => {
      spec
        .given([created])
        .when({ ...confirm, providerTradeNo: '' })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'providerTradeNo');
      spec
        .given([created])
        .when({ ...confirm, paidAt: '20250301100500' })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'paidAt');
    });
  });

  describe('FailPayment', () => {
    it('records the failure of a pending order', () => {
      spec.given([created]).when(failCmd).then([failed]);
    });

    it('keeps the provider trade number when there is one', () => {
      spec
        .given([created])
        .when({ ...failCmd, providerTradeNo: TRADE })
        .then([{ type: 'PaymentFailed', data: { ...failed.data, providerTradeNo: TRADE } } as PaymentOrderEvent]);
    });

    it('makes the order failed', () => {
      spec
        .given([created])
        .when(failCmd)
        .thenState({ ...pendingState, status: 'failed', failure: { reason: 'TRADE_CLOSED', providerTradeNo: null, failedAt: '2025-03-01T10:06:00.000Z' } });
    });

    it('is a no-op when the order has already failed', () => {
      spec.given([created, failed]).when(failCmd).then([]);
      spec
        .given([created, failed])
        .when({ ...failCmd, reason: 'another reason', now: AFTER_EXPIRY })
        .then([]);
    });

    it('refuses a paid, refunded or expired order (CONFLICT)', () => {
      spec
        .given([created, succeeded])
        .when(failCmd)
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'CONFLICT' && e.details.status === 'paid');
      spec
        .given([created, succeeded, refunded('rf-1', 9900, 9900)])
        .when(failCmd)
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'CONFLICT' && e.details.status === 'refunded');
      spec
        .given([created, expired])
        .when(failCmd)
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'CONFLICT' && e.details.status === 'expired');
    });

    it('refuses a notification from another provider (VALIDATION_ERROR)', () => {
      spec
        .given([created])
        .when({ ...failCmd, provider: 'wechat' })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'provider');
    });

    it('refuses an unknown order (NOT_FOUND)', () => {
      spec.given([]).when(failCmd).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
    });
  });

  describe('ExpirePaymentOrder', () => {
    it('expires a pending order at its expiry', () => {
      spec.given([created]).when(expireCmd).then([expired]);
    });

    it('expires a pending order after its expiry', () => {
      spec
        .given([created])
        .when({ ...expireCmd, now: AFTER_EXPIRY })
        .then([{ type: 'PaymentOrderExpired', data: { ...expired.data, expiredAt: AFTER_EXPIRY } } as PaymentOrderEvent]);
    });

    it('makes the order expired', () => {
      spec
        .given([created])
        .when(expireCmd)
        .thenState({ ...pendingState, status: 'expired', expiredAt: EXPIRES_AT });
    });

    it('refuses to expire a pending order too early (CONFLICT)', () => {
      spec
        .given([created])
        .when({ ...expireCmd, now: BEFORE_EXPIRY })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'CONFLICT' && e.details.expiresAt === EXPIRES_AT);
    });

    it('is a no-op when the order has already expired', () => {
      spec
        .given([created, expired])
        .when({ ...expireCmd, now: AFTER_EXPIRY })
        .then([]);
    });

    it('is a no-op when the order has failed (already closed without payment)', () => {
      spec.given([created, failed]).when(expireCmd).then([]);
    });

    it('refuses a paid or refunded order (CONFLICT)', () => {
      spec
        .given([created, succeeded])
        .when(expireCmd)
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'CONFLICT' && e.details.status === 'paid');
      spec
        .given([created, succeeded, refunded('rf-1', 100, 100)])
        .when(expireCmd)
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'CONFLICT' && e.details.status === 'partially_refunded');
    });

    it('refuses an unknown order (NOT_FOUND)', () => {
      spec.given([]).when(expireCmd).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
    });
  });

  describe('RefundPayment', () => {
    it('refunds the whole paid amount', () => {
      spec
        .given([created, succeeded])
        .when(refundCmd('rf-1', 9900))
        .then([refunded('rf-1', 9900, 9900)]);
    });

    it('makes a fully refunded order refunded', () => {
      spec
        .given([created, succeeded])
        .when(refundCmd('rf-1', 9900))
        .thenState({
          ...paidState,
          status: 'refunded',
          refunds: [{ refundId: 'rf-1', amountFen: 9900, reason: 'customer request', refundedAt: '2025-03-02T09:00:00.000Z' }],
          refundedFen: 9900,
        });
    });

    it('refunds part of the amount', () => {
      spec
        .given([created, succeeded])
        .when(refundCmd('rf-1', 3000))
        .then([refunded('rf-1', 3000, 3000)]);
      spec
        .given([created, succeeded])
        .when(refundCmd('rf-1', 3000))
        .thenState({
          ...paidState,
          status: 'partially_refunded',
          refunds: [{ refundId: 'rf-1', amountFen: 3000, reason: 'customer request', refundedAt: '2025-03-02T09:00:00.000Z' }],
          refundedFen: 3000,
        });
    });

    it('refunds the rest after a partial refund', () => {
      spec
        .given([created, succeeded, refunded('rf-1', 3000, 3000)])
        .when(refundCmd('rf-2', 6900, '2025-03-03T09:00:00.000Z'))
        .then([refunded('rf-2', 6900, 9900, '2025-03-03T09:00:00.000Z')]);
    });

    it('is a no-op when the same refund is repeated', () => {
      spec
        .given([created, succeeded, refunded('rf-1', 3000, 3000)])
        .when(refundCmd('rf-1', 3000, '2025-03-02T09:00:05.000Z'))
        .then([]);
      spec
        .given([created, succeeded, refunded('rf-1', 9900, 9900)])
        .when(refundCmd('rf-1', 9900))
        .then([]);
    });

    it('refuses a refund id already used for another amount (CONFLICT)', () => {
      spec
        .given([created, succeeded, refunded('rf-1', 3000, 3000)])
        .when(refundCmd('rf-1', 2000))
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'CONFLICT' && e.details.refundId === 'rf-1' && e.details.amountFen === 3000);
    });

    it('refuses a refund over the paid amount (VALIDATION_ERROR)', () => {
      spec
        .given([created, succeeded])
        .when(refundCmd('rf-1', 9901))
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.refundableFen === 9900 && e.details.got === 9901);
    });

    it('refuses refunds that together go over the paid amount (VALIDATION_ERROR)', () => {
      spec
        .given([created, succeeded, refunded('rf-1', 3000, 3000)])
        .when(refundCmd('rf-2', 7000))
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.refundableFen === 6900 && e.details.refundedFen === 3000);
      spec
        .given([created, succeeded, refunded('rf-1', 9900, 9900)])
        .when(refundCmd('rf-2', 1))
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.refundableFen === 0);
    });

    it('refuses to refund an order that was not paid (CONFLICT)', () => {
      spec
        .given([created])
        .when(refundCmd('rf-1', 100))
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'CONFLICT' && e.details.status === 'pending');
      spec
        .given([created, failed])
        .when(refundCmd('rf-1', 100))
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'CONFLICT' && e.details.status === 'failed');
      spec
        .given([created, expired])
        .when(refundCmd('rf-1', 100))
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'CONFLICT' && e.details.status === 'expired');
    });

    it('refuses a zero, negative or fractional amount, an empty refund id or reason (VALIDATION_ERROR)', () => {
      for (const amountFen of [0, -1, 0.5]) {
        spec
          .given([created, succeeded])
          .when(refundCmd('rf-1', amountFen))
          .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'amountFen');
      }
      spec
        .given([created, succeeded])
        .when(refundCmd('', 100))
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'refundId');
      spec
        .given([created, succeeded])
        .when({ ...refundCmd('rf-1', 100), reason: '' })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'reason');
    });

    it('refuses an unknown order (NOT_FOUND)', () => {
      spec.given([]).when(refundCmd('rf-1', 100)).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
    });
  });

  describe('evolve', () => {
    it('folds a whole life: created, paid, refunded in two parts', () => {
      const state = fold(paymentOrderDecider, [created, succeeded, refunded('rf-1', 3000, 3000), refunded('rf-2', 6900, 9900, '2025-03-03T09:00:00.000Z')]);
      expect(state.status).to.equal('refunded');
      expect(state.refundedFen).to.equal(9900);
      expect(state.refunds.map((r) => r.refundId)).to.deep.equal(['rf-1', 'rf-2']);
      expect(state.payment?.providerTradeNo).to.equal(TRADE);
      expect(state.order?.amountFen).to.equal(9900);
    });

    it('pushes a refund onto the state it is given (in place), leaving the events as they were', () => {
      const history = [created, succeeded, refunded('rf-1', 3000, 3000)];
      const copy = JSON.parse(JSON.stringify(history)) as PaymentOrderEvent[];
      const state = fold(paymentOrderDecider, history);
      const refunds = state.refunds;
      expect(paymentOrderDecider.evolve(state, refunded('rf-2', 6900, 9900))).to.equal(state);
      expect(state.refunds).to.equal(refunds);
      expect(refunds.map((r) => r.refundId)).to.deep.equal(['rf-1', 'rf-2']);
      expect(history).to.deep.equal(copy);
    });
  });

  describe('placement with the provider (RecordPlacement)', () => {
    const place = (over: Partial<RecordPlacement> = {}): RecordPlacement => ({
      type: 'RecordPlacement',
      orderId: ORDER,
      channel: 'page',
      payUrl: 'https://openapi.alipay.com/gateway.do?sign=x',
      codeUrl: null,
      now: '2025-03-01T10:00:01.000Z',
      ...over,
    });
    const placed: PaymentOrderEvent = {
      type: 'PaymentOrderPlaced',
      data: {
        orderId: ORDER,
        userId: 'user-1',
        provider: 'alipay',
        channel: 'page',
        payUrl: 'https://openapi.alipay.com/gateway.do?sign=x',
        codeUrl: null,
        placedAt: '2025-03-01T10:00:01.000Z',
      },
    };

    it('records once where the buyer pays; the same answer again is a no-op, another a CONFLICT', () => {
      spec.given([created]).when(place()).then([placed]);
      spec
        .given([created, placed])
        .when(place({ now: '2025-03-01T10:00:09.000Z' }))
        .then([]);
      spec
        .given([created, placed])
        .when(place({ payUrl: 'https://elsewhere' }))
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
      expect(fold(paymentOrderDecider, [created, placed]).placement).to.deep.include({ channel: 'page', codeUrl: null });
    });

    it('needs exactly one of payUrl and codeUrl, a known channel and a pending order', () => {
      spec
        .given([created])
        .when(place({ codeUrl: 'weixin://x' }))
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      spec
        .given([created])
        .when(place({ payUrl: null }))
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      spec
        .given([created])
        .when(place({ channel: 'app' as never }))
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      spec.given([created, failed]).when(place()).thenThrows<DomainError>(DomainError, code('CONFLICT'));
      spec.given([]).when(place()).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
    });
  });

  describe('refunds through the provider (RequestRefund, then RefundPayment or FailRefund)', () => {
    const request = (refundId: string, amountFen: number): RequestRefund => ({
      type: 'RequestRefund',
      orderId: ORDER,
      refundId,
      amountFen,
      reason: 'customer request',
      requestedBy: 'admin-1',
      now: '2025-03-02T08:59:00.000Z',
    });
    const requested = (refundId: string, amountFen: number): PaymentOrderEvent => ({
      type: 'RefundRequested',
      data: {
        orderId: ORDER,
        userId: 'user-1',
        provider: 'alipay',
        refundId,
        amountFen,
        reason: 'customer request',
        requestedBy: 'admin-1',
        requestedAt: '2025-03-02T08:59:00.000Z',
      },
    });
    const failRefund = (refundId: string): FailRefund => ({
      type: 'FailRefund',
      orderId: ORDER,
      refundId,
      reason: 'alipay refused: ACQ.X',
      now: '2025-03-02T09:00:00.000Z',
    });
    const refundFailed = (refundId: string, amountFen: number): PaymentOrderEvent => ({
      type: 'RefundFailed',
      data: { orderId: ORDER, userId: 'user-1', refundId, amountFen, reason: 'alipay refused: ACQ.X', failedAt: '2025-03-02T09:00:00.000Z' },
    });

    it('reserves the amount; a repeat is a no-op; requested and made refunds together at most the paid amount', () => {
      spec
        .given([created, succeeded])
        .when(request('rf-1', 9900))
        .then([requested('rf-1', 9900)]);
      spec
        .given([created, succeeded, requested('rf-1', 9900)])
        .when(request('rf-1', 9900))
        .then([]);
      spec
        .given([created, succeeded, requested('rf-1', 9900)])
        .when(request('rf-1', 100))
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
      spec
        .given([created, succeeded, requested('rf-1', 5000)])
        .when(request('rf-2', 5000))
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      spec
        .given([created, succeeded, refunded('rf-0', 4900, 4900), requested('rf-1', 4000)])
        .when(request('rf-2', 1000))
        .then([requested('rf-2', 1000)]);
      spec.given([created]).when(request('rf-1', 100)).thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('the provider made it: PaymentRefunded settles the request', () => {
      const history = [created, succeeded, requested('rf-1', 9900)];
      spec
        .given(history)
        .when(refundCmd('rf-1', 9900))
        .then([refunded('rf-1', 9900, 9900)]);
      spec.given(history).when(refundCmd('rf-1', 100)).thenThrows<DomainError>(DomainError, code('CONFLICT'));
      const state = fold(paymentOrderDecider, [...history, refunded('rf-1', 9900, 9900)]);
      expect(state.pendingRefunds).to.deep.equal([]);
      expect(state.status).to.equal('refunded');
      // a late failure of a refund that was made is refused
      spec
        .given([...history, refunded('rf-1', 9900, 9900)])
        .when(failRefund('rf-1'))
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('the provider refused it: RefundFailed frees the amount, and that refundId is spent', () => {
      const history = [created, succeeded, requested('rf-1', 9900)];
      spec
        .given(history)
        .when(failRefund('rf-1'))
        .then([refundFailed('rf-1', 9900)]);
      spec
        .given([...history, refundFailed('rf-1', 9900)])
        .when(failRefund('rf-1'))
        .then([]);
      spec
        .given([...history, refundFailed('rf-1', 9900)])
        .when(request('rf-2', 9900))
        .then([requested('rf-2', 9900)]);
      spec
        .given([...history, refundFailed('rf-1', 9900)])
        .when(request('rf-1', 9900))
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
      spec
        .given([...history, refundFailed('rf-1', 9900)])
        .when(refundCmd('rf-1', 9900))
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
      spec.given([created, succeeded]).when(failRefund('rf-9')).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
      expect(fold(paymentOrderDecider, [...history, refundFailed('rf-1', 9900)])).to.deep.include({
        status: 'paid',
        pendingRefunds: [],
        failedRefundIds: ['rf-1'],
      });
    });

    it('decodes the new events', () => {
      for (const event of [requested('rf-1', 9900), refundFailed('rf-1', 9900)]) {
        expect(paymentOrderEvents.decode({ type: event.type, data: JSON.parse(JSON.stringify(event.data)) })).to.deep.equal(event);
      }
    });
  });
});

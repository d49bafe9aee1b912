import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { paymentOrdersProjection } from '../../src/projections/payment-orders.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { projectionSpec, recorded } from '../support/projection-spec.js';

describe('payment-orders-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const CREATED = '2026-12-01T00:00:00.000Z';
  const sold = (orderId: string, userId: string) => ({ orderId, userId, service: 'xiaohongshu', plan: 'basic', billingCycle: 'monthly', provider: 'alipay' });

  function history(orderId: string, userId: string) {
    const stream = `payment-${orderId}`;
    return {
      created: recorded(stream, 'PaymentOrderCreated', {
        ...sold(orderId, userId),
        amountFen: 3990,
        status: 'pending',
        expiresAt: '2026-12-01T00:30:00.000Z',
        createdAt: CREATED,
      }),
      placed: recorded(stream, 'PaymentOrderPlaced', {
        orderId,
        userId,
        provider: 'alipay',
        channel: 'page',
        payUrl: 'https://pay.test/gateway.do?sign=s',
        codeUrl: null,
        placedAt: '2026-12-01T00:00:01.000Z',
      }),
      paid: recorded(stream, 'PaymentSucceeded', { ...sold(orderId, userId), amountFen: 3990, providerTradeNo: 'T-1', paidAt: '2026-12-01T00:05:00.000Z' }),
      requested: (refundId: string, amountFen: number, at: string) =>
        recorded(stream, 'RefundRequested', {
          orderId,
          userId,
          provider: 'alipay',
          refundId,
          amountFen,
          reason: 'asked',
          requestedBy: 'admin',
          requestedAt: at,
        }),
      refunded: (refundId: string, amountFen: number, total: number, at: string) =>
        recorded(stream, 'PaymentRefunded', {
          ...sold(orderId, userId),
          providerTradeNo: 'T-1',
          refundId,
          amountFen,
          reason: 'asked',
          totalRefundedFen: total,
          fullyRefunded: total >= 3990,
          refundedAt: at,
        }),
      refundFailed: (refundId: string, amountFen: number, at: string) =>
        recorded(stream, 'RefundFailed', { orderId, userId, refundId, amountFen, reason: 'refused', failedAt: at }),
      failed: recorded(stream, 'PaymentFailed', {
        orderId,
        userId,
        provider: 'alipay',
        reason: 'not placed: alipay refused: X',
        providerTradeNo: null,
        failedAt: '2026-12-01T00:00:02.000Z',
      }),
      expired: recorded(stream, 'PaymentOrderExpired', { orderId, userId, expiresAt: '2026-12-01T00:30:00.000Z', expiredAt: '2026-12-01T00:40:00.000Z' }),
    };
  }

  const COLUMNS = [
    'id',
    'status',
    'channel',
    'pay_url',
    'provider_trade_no',
    'paid_at',
    'refunded_fen',
    'refunds_pending',
    'refund_pending_since',
    'updated_at',
    'last_revision',
  ];

  it('follows an order from created to placed, paid and refunded in part, then in full — in one batch or one event at a time', async () => {
    const orderId = randomUUID();
    const h = history(orderId, randomUUID());
    const events = [
      h.created,
      h.placed,
      h.paid,
      h.requested('rf-1', 1000, '2026-12-02T00:00:00.000Z'),
      h.requested('rf-2', 2990, '2026-12-02T01:00:00.000Z'),
      h.refunded('rf-1', 1000, 1000, '2026-12-02T02:00:00.000Z'),
    ];
    for (const batchSize of [500, 1, 4]) {
      await projectionSpec(knex, paymentOrdersProjection, { batchSize })
        .given(events)
        .then('payment_orders', { where: { id: orderId }, columns: COLUMNS }, [
          {
            id: orderId,
            status: 'partially_refunded',
            channel: 'page',
            pay_url: 'https://pay.test/gateway.do?sign=s',
            provider_trade_no: 'T-1',
            paid_at: '2026-12-01T00:05:00.000Z',
            refunded_fen: 1000,
            refunds_pending: { 'rf-2': { amountFen: 2990, requestedAt: '2026-12-02T01:00:00.000Z' } },
            refund_pending_since: '2026-12-02T01:00:00.000Z',
            updated_at: '2026-12-02T02:00:00.000Z',
            last_revision: events[5]!.revision.toString(),
          },
        ]);
    }
    await projectionSpec(knex, paymentOrdersProjection)
      .given([...events, h.refunded('rf-2', 2990, 3990, '2026-12-02T03:00:00.000Z')])
      .then('payment_orders', { where: { id: orderId }, columns: ['status', 'refunded_fen', 'refunds_pending', 'refund_pending_since'] }, [
        { status: 'refunded', refunded_fen: 3990, refunds_pending: {}, refund_pending_since: null },
      ]);
  });

  it('a refused refund frees its amount; a failed placement and an expiry close the order', async () => {
    const a = randomUUID();
    const ha = history(a, randomUUID());
    await projectionSpec(knex, paymentOrdersProjection)
      .given([
        ha.created,
        ha.placed,
        ha.paid,
        ha.requested('rf-1', 3990, '2026-12-02T00:00:00.000Z'),
        ha.refundFailed('rf-1', 3990, '2026-12-02T00:00:05.000Z'),
      ])
      .then('payment_orders', { where: { id: a }, columns: ['status', 'refunded_fen', 'refunds_pending', 'refund_pending_since'] }, [
        { status: 'paid', refunded_fen: 0, refunds_pending: {}, refund_pending_since: null },
      ]);
    const b = randomUUID();
    const hb = history(b, randomUUID());
    await projectionSpec(knex, paymentOrdersProjection)
      .given([hb.created, hb.failed])
      .then('payment_orders', { where: { id: b }, columns: ['status', 'failure_reason', 'placed_at'] }, [
        { status: 'failed', failure_reason: 'not placed: alipay refused: X', placed_at: null },
      ]);
    const c = randomUUID();
    const hc = history(c, randomUUID());
    await projectionSpec(knex, paymentOrdersProjection)
      .given([hc.created, hc.placed, hc.expired])
      .then('payment_orders', { where: { id: c }, columns: ['status', 'expired_at'] }, [{ status: 'expired', expired_at: '2026-12-01T00:40:00.000Z' }]);
  });

  it('an event of an earlier revision than the row (a redelivery after later ones) changes nothing', async () => {
    const orderId = randomUUID();
    const h = history(orderId, randomUUID());
    await projectionSpec(knex, paymentOrdersProjection, { batchSize: 1 })
      .given([h.created, h.placed, h.paid, h.placed])
      .then('payment_orders', { where: { id: orderId }, columns: ['status', 'last_revision'] }, [{ status: 'paid', last_revision: '2' }]);
  });
});

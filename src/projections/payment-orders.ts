import type { Knex } from 'knex';
import type { Consumer } from '../consumers/consumer.js';
import type { EventFilter } from '../event-store/port.js';
import { paymentOrderEvents, type PaymentOrderEvent } from '../write-model/payment-order/events.js';
import { patchRows, selectRows, upsertRows, type Row } from './sql-batch.js';

/**
 * Read model of the PaymentOrder aggregate (streams `payment-{orderId}`):
 * `payment_orders`, one row per order — the billing history
 * (GET /api/v1/payments/orders) and the reconcile job's list of pending
 * orders and pending refunds (src/application/payments.ts).
 *
 * A batch is folded in memory per order over its row as the batch finds it
 * (read and locked once, whatever the batch's size): a new order is inserted
 * whole, an existing one patched with the columns its events set, in one
 * statement each. Idempotent under redelivery: an event is applied only when
 * its stream revision is above the row's `last_revision`, and the patch is
 * guarded the same way. Requested refunds still waiting for the provider
 * are kept per refund id (`refunds_pending`), with the oldest request's time
 * (`refund_pending_since`) for the reconcile job.
 */
export const PAYMENT_ORDERS_PROJECTION = 'payment-orders-v1';

export const PAYMENT_STREAM_PREFIX = 'payment-';

type PendingRefunds = Record<string, { amountFen: number; requestedAt: string }>;

interface Folded {
  revision: bigint;
  insert?: Row;
  patch?: Row;
  pending: PendingRefunds;
  pendingTouched: boolean;
}

/** The events the billing history is built from. */
export const PAYMENT_ORDERS_FILTER: EventFilter = { streamPrefixes: [PAYMENT_STREAM_PREFIX], eventTypes: paymentOrderEvents.types };

export function createPaymentOrdersProjection(name: string = PAYMENT_ORDERS_PROJECTION): Consumer {
  return {
    name,
    filter: PAYMENT_ORDERS_FILTER,
    async handle(events, { tx }) {
      const decoded: { event: PaymentOrderEvent; revision: bigint }[] = [];
      for (const recorded of events) {
        if (!paymentOrderEvents.owns(recorded.type) || !recorded.streamName.startsWith(PAYMENT_STREAM_PREFIX)) continue;
        decoded.push({ event: paymentOrderEvents.decode(recorded), revision: recorded.revision });
      }
      await writeOrders(tx, decoded);
    },
  };
}

export const paymentOrdersProjection: Consumer = createPaymentOrdersProjection();

async function writeOrders(tx: Knex.Transaction, events: { event: PaymentOrderEvent; revision: bigint }[]): Promise<void> {
  if (events.length === 0) return;
  const ids = [...new Set(events.map((e) => e.event.data.orderId))];
  const current = await selectRows<{ id: string; last_revision: string; refunds_pending: PendingRefunds | string | null }>(
    tx,
    'payment_orders',
    ids.map((id) => ({ id })),
    { key: ['id'], columns: ['id', 'last_revision', 'refunds_pending'], forUpdate: true },
  );
  const rows = new Map<string, Folded>(
    current.map((r) => [
      r.id,
      {
        revision: BigInt(r.last_revision),
        pending: typeof r.refunds_pending === 'string' ? (JSON.parse(r.refunds_pending) as PendingRefunds) : (r.refunds_pending ?? {}),
        pendingTouched: false,
      },
    ]),
  );

  for (const { event, revision } of events) {
    const id = event.data.orderId;
    const row = rows.get(id);
    if (row && revision <= row.revision) continue; // applied already
    if (event.type === 'PaymentOrderCreated') {
      if (row) continue;
      const d = event.data;
      rows.set(id, {
        revision,
        pending: {},
        pendingTouched: false,
        insert: {
          id,
          user_id: d.userId,
          service: d.service,
          plan: d.plan,
          billing_cycle: d.billingCycle,
          amount_fen: d.amountFen,
          provider: d.provider,
          status: 'pending',
          channel: null,
          pay_url: null,
          code_url: null,
          placed_at: null,
          provider_trade_no: null,
          paid_at: null,
          failure_reason: null,
          failed_at: null,
          expired_at: null,
          refunded_fen: 0,
          refunds_pending: {},
          refund_pending_since: null,
          created_at: d.createdAt,
          expires_at: d.expiresAt,
          updated_at: d.createdAt,
          last_revision: revision.toString(),
        },
      });
      continue;
    }
    if (!row) continue; // cannot happen: PaymentOrderCreated is revision 0 and comes first
    const target = row.insert ?? (row.patch ??= { id });
    row.revision = revision;
    target['last_revision'] = revision.toString();
    switch (event.type) {
      case 'PaymentOrderPlaced': {
        const d = event.data;
        Object.assign(target, { channel: d.channel, pay_url: d.payUrl, code_url: d.codeUrl, placed_at: d.placedAt, updated_at: d.placedAt });
        break;
      }
      case 'PaymentSucceeded': {
        const d = event.data;
        Object.assign(target, { status: 'paid', provider_trade_no: d.providerTradeNo, paid_at: d.paidAt, updated_at: d.paidAt });
        break;
      }
      case 'PaymentFailed': {
        const d = event.data;
        Object.assign(target, { status: 'failed', failure_reason: d.reason, failed_at: d.failedAt, updated_at: d.failedAt });
        if (d.providerTradeNo !== null) target['provider_trade_no'] = d.providerTradeNo;
        break;
      }
      case 'PaymentOrderExpired': {
        const d = event.data;
        Object.assign(target, { status: 'expired', expired_at: d.expiredAt, updated_at: d.expiredAt });
        break;
      }
      case 'RefundRequested': {
        const d = event.data;
        row.pending[d.refundId] = { amountFen: d.amountFen, requestedAt: d.requestedAt };
        row.pendingTouched = true;
        target['updated_at'] = d.requestedAt;
        break;
      }
      case 'PaymentRefunded': {
        const d = event.data;
        Object.assign(target, { status: d.fullyRefunded ? 'refunded' : 'partially_refunded', refunded_fen: d.totalRefundedFen, updated_at: d.refundedAt });
        delete row.pending[d.refundId];
        row.pendingTouched = true;
        break;
      }
      case 'RefundFailed': {
        const d = event.data;
        delete row.pending[d.refundId];
        row.pendingTouched = true;
        target['updated_at'] = d.failedAt;
        break;
      }
    }
  }

  for (const row of rows.values()) {
    if (!row.pendingTouched) continue;
    const target = (row.insert ?? row.patch)!;
    const times = Object.values(row.pending).map((p) => p.requestedAt);
    target['refunds_pending'] = row.pending;
    target['refund_pending_since'] = times.length === 0 ? null : times.reduce((a, b) => (Date.parse(a) <= Date.parse(b) ? a : b));
  }
  const inserts = [...rows.values()].flatMap((r) => (r.insert ? [r.insert] : []));
  const patches = [...rows.values()].flatMap((r) => (r.patch ? [r.patch] : []));
  await upsertRows(tx, 'payment_orders', inserts, { conflict: ['id'] });
  await patchRows(tx, 'payment_orders', patches, { key: ['id'], guard: 't.last_revision < n.last_revision' });
}

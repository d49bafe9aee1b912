import type { Knex } from 'knex';
import { pageOf, type Page, type PageRequest } from './page.js';
import { selectPage } from './page-query.js';

/** Queries of the `payment-orders-v1` read model (table `payment_orders`). */

export const PAYMENT_ORDER_STATUSES = ['pending', 'paid', 'failed', 'expired', 'partially_refunded', 'refunded'] as const;
export type PaymentOrderStatusFilter = (typeof PAYMENT_ORDER_STATUSES)[number];

/** One order of the billing history (what its owner may see: no provider secrets exist here to leak). */
export interface PaymentOrderView {
  order_id: string;
  status: string;
  service: string;
  plan: string;
  billing_cycle: string;
  amount_fen: number;
  currency: 'CNY';
  provider: string;
  channel: string | null;
  /** while pending: where to pay (Alipay) */
  pay_url: string | null;
  /** while pending: the QR code's content (WeChat Pay) */
  code_url: string | null;
  created_at: string;
  expires_at: string;
  paid_at: string | null;
  provider_trade_no: string | null;
  failure_reason: string | null;
  expired_at: string | null;
  refunded_fen: number;
  refund_pending_fen: number;
}

const COLUMNS = [
  'id',
  'status',
  'service',
  'plan',
  'billing_cycle',
  'amount_fen',
  'provider',
  'channel',
  'pay_url',
  'code_url',
  'created_at',
  'expires_at',
  'paid_at',
  'provider_trade_no',
  'failure_reason',
  'expired_at',
  'refunded_fen',
  'refunds_pending',
] as const;

const iso = (value: unknown): string => (value instanceof Date ? value : new Date(String(value))).toISOString();
const isoOrNull = (value: unknown): string | null => (value == null ? null : iso(value));

function toView(row: Record<string, any>): PaymentOrderView {
  const pending = (typeof row.refunds_pending === 'string' ? JSON.parse(row.refunds_pending) : (row.refunds_pending ?? {})) as Record<
    string,
    { amountFen: number }
  >;
  const open = row.status === 'pending';
  return {
    order_id: row.id,
    status: row.status,
    service: row.service,
    plan: row.plan,
    billing_cycle: row.billing_cycle,
    amount_fen: Number(row.amount_fen),
    currency: 'CNY',
    provider: row.provider,
    channel: row.channel ?? null,
    // a closed order's pay URL leads nowhere: shown only while it can be paid
    pay_url: open ? (row.pay_url ?? null) : null,
    code_url: open ? (row.code_url ?? null) : null,
    created_at: iso(row.created_at),
    expires_at: iso(row.expires_at),
    paid_at: isoOrNull(row.paid_at),
    provider_trade_no: row.provider_trade_no ?? null,
    failure_reason: row.failure_reason ?? null,
    expired_at: isoOrNull(row.expired_at),
    refunded_fen: Number(row.refunded_fen),
    refund_pending_fen: Object.values(pending).reduce((sum, p) => sum + Number(p.amountFen), 0),
  };
}

/** The user's orders, newest first, optionally of one status / service. */
export async function listPaymentOrders(
  knex: Knex,
  userId: string,
  request: PageRequest & { status?: PaymentOrderStatusFilter | undefined; service?: string | undefined },
): Promise<Page<PaymentOrderView>> {
  let query = knex('payment_orders').where({ user_id: userId });
  if (request.status) query = query.where({ status: request.status });
  if (request.service) query = query.where({ service: request.service });
  const ordered = query.select(COLUMNS).orderBy([
    { column: 'created_at', order: 'desc' },
    { column: 'id', order: 'desc' },
  ]);
  const { rows, total } = await selectPage(knex, ordered, request);
  return pageOf(rows.map(toView), request, total);
}

/**
 * A pending order of the user for exactly this plan and provider, placed and
 * payable for at least `minRemainingMs` more: a repeated checkout answers it
 * instead of opening another order.
 */
export async function findOpenCheckout(
  knex: Knex,
  input: { userId: string; service: string; plan: string; provider: string; channel: string; now: Date; minRemainingMs: number },
): Promise<PaymentOrderView | undefined> {
  const row = await knex('payment_orders')
    .where({ user_id: input.userId, service: input.service, plan: input.plan, provider: input.provider, channel: input.channel, status: 'pending' })
    .where('expires_at', '>', new Date(input.now.getTime() + input.minRemainingMs))
    .whereNotNull('placed_at')
    .select(COLUMNS)
    .orderBy('created_at', 'desc')
    .first();
  return row ? toView(row) : undefined;
}

export interface ReconcileCandidate {
  orderId: string;
  provider: string;
  expiresAt: string;
}

/** Pending, placed orders created before `createdBefore`, oldest first, at most `limit` (index payment_orders_pending). */
export async function pendingOrdersToReconcile(knex: Knex, input: { createdBefore: Date; limit: number }): Promise<ReconcileCandidate[]> {
  const rows = await knex('payment_orders')
    .where({ status: 'pending' })
    .where('created_at', '<', input.createdBefore)
    .whereNotNull('placed_at')
    .select('id', 'provider', 'expires_at')
    .orderBy('created_at', 'asc')
    .limit(input.limit);
  return rows.map((r: Record<string, any>) => ({ orderId: r.id, provider: r.provider, expiresAt: iso(r.expires_at) }));
}

/** Orders with a refund requested before `requestedBefore` and still waiting for the provider, oldest first. */
export async function ordersWithPendingRefunds(knex: Knex, input: { requestedBefore: Date; limit: number }): Promise<string[]> {
  const rows = await knex('payment_orders')
    .whereNotNull('refund_pending_since')
    .where('refund_pending_since', '<', input.requestedBefore)
    .select('id')
    .orderBy('refund_pending_since', 'asc')
    .limit(input.limit);
  return rows.map((r: { id: string }) => r.id);
}

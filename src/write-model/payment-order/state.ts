import type { PaymentChannel, PaymentOrderTerms, PaymentProvider, TopUpOrderTerms } from './events.js';

export type { PaymentOrderTerms, TopUpOrderTerms };

/**
 * `none`: no order in this stream. `pending`: waiting for the provider.
 * `paid`, `partially_refunded`, `refunded`: the money was taken (and maybe
 * given back in part or in full). `failed`, `expired`: closed without payment;
 * both are final.
 */
export type PaymentOrderStatus = 'none' | 'pending' | 'paid' | 'failed' | 'expired' | 'partially_refunded' | 'refunded';

export interface PaymentRecord {
  provider: PaymentProvider;
  providerTradeNo: string;
  paidAmountFen: number;
  paidAt: string;
}

export interface FailureRecord {
  reason: string;
  providerTradeNo: string | null;
  failedAt: string;
}

export interface RefundRecord {
  refundId: string;
  amountFen: number;
  reason: string;
  refundedAt: string;
}

export interface PlacementRecord {
  channel: PaymentChannel;
  payUrl: string | null;
  codeUrl: string | null;
  placedAt: string;
}

/** A refund asked of the provider whose outcome is not known yet. */
export interface PendingRefund {
  refundId: string;
  amountFen: number;
  reason: string;
  requestedAt: string;
}

export interface PaymentOrderState {
  status: PaymentOrderStatus;
  /** a plan order's terms; null while status is `none` and for a top-up */
  order: PaymentOrderTerms | null;
  /** a top-up order's terms (null for a plan order) */
  topUp: TopUpOrderTerms | null;
  /** set once paid */
  payment: PaymentRecord | null;
  /** set when failed */
  failure: FailureRecord | null;
  /** set when expired */
  expiredAt: string | null;
  /** refunds in the order they were made */
  refunds: RefundRecord[];
  /** the sum of `refunds` */
  refundedFen: number;
  /** set once placed with the provider */
  placement: PlacementRecord | null;
  /** requested refunds still waiting for the provider's outcome */
  pendingRefunds: PendingRefund[];
  /** refund ids the provider refused (a repeat of their failure is a no-op) */
  failedRefundIds: string[];
}

export function initialState(): PaymentOrderState {
  return {
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
  };
}

/** The money was taken: paid, whether or not refunds followed. */
export function isPaid(state: PaymentOrderState): boolean {
  return state.status === 'paid' || state.status === 'partially_refunded' || state.status === 'refunded';
}

/** What every order has, a plan order or a top-up: undefined while there is none. */
export type OrderBasics = Pick<PaymentOrderTerms, 'orderId' | 'userId' | 'amountFen' | 'provider' | 'expiresAt' | 'createdAt'>;

export function orderBasics(state: PaymentOrderState): OrderBasics | undefined {
  return state.order ?? state.topUp ?? undefined;
}

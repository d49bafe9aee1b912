import type { BillingCycle, PaymentChannel, PaymentProvider, PaymentService, PlanName } from './events.js';

/**
 * Commands of the PaymentOrder aggregate. Each names its order (the stream is
 * `payment-{orderId}`) and carries `now` (ISO-8601) — every one of them
 * records a time or compares against the expiry.
 */

/** Open an order to pay for a plan. `amountFen` is the price the caller took from the plan catalogue. */
export interface CreatePaymentOrder {
  type: 'CreatePaymentOrder';
  orderId: string;
  userId: string;
  /** the plan is for this organization's subscription (the one its members share); absent: the user's own */
  organizationId?: string;
  service: PaymentService;
  /** 'free' is refused: it is never sold */
  plan: PlanName;
  billingCycle: BillingCycle;
  amountFen: number;
  provider: PaymentProvider;
  expiresAt: string;
  now: string;
}

/** Open an order to top up a prepaid balance by `amountFen`. */
export interface CreateTopUpOrder {
  type: 'CreateTopUpOrder';
  orderId: string;
  userId: string;
  holderKind: 'organization' | 'user';
  holderId: string;
  amountFen: number;
  provider: PaymentProvider;
  expiresAt: string;
  now: string;
}

/**
 * A provider's success notification (or an active query's answer) whose
 * signature the payments adapter has already verified.
 */
export interface ConfirmPayment {
  type: 'ConfirmPayment';
  orderId: string;
  provider: PaymentProvider;
  providerTradeNo: string;
  paidAmountFen: number;
  /** the provider's time of payment (converted to ISO-8601 with an offset by the adapter) */
  paidAt: string;
  now: string;
}

/** A provider's failure notification. */
export interface FailPayment {
  type: 'FailPayment';
  orderId: string;
  provider: PaymentProvider;
  reason: string;
  providerTradeNo?: string;
  now: string;
}

/** Close an unpaid order once its expiry has passed (sent by the expiry scheduler). */
export interface ExpirePaymentOrder {
  type: 'ExpirePaymentOrder';
  orderId: string;
  now: string;
}

/** Record a refund of (part of) a paid order; `refundId` makes a repeat a no-op. */
export interface RefundPayment {
  type: 'RefundPayment';
  orderId: string;
  refundId: string;
  amountFen: number;
  reason: string;
  now: string;
}

/** What the provider answered when the order was placed: where the buyer pays (one of payUrl / codeUrl). */
export interface RecordPlacement {
  type: 'RecordPlacement';
  orderId: string;
  channel: PaymentChannel;
  payUrl: string | null;
  codeUrl: string | null;
  now: string;
}

/** An operator's refund, before the provider is asked; `refundId` (the provider's out_request_no / out_refund_no) makes a repeat a no-op. */
export interface RequestRefund {
  type: 'RequestRefund';
  orderId: string;
  refundId: string;
  amountFen: number;
  reason: string;
  requestedBy: string;
  now: string;
}

/** The provider refused or closed a requested refund. */
export interface FailRefund {
  type: 'FailRefund';
  orderId: string;
  refundId: string;
  reason: string;
  now: string;
}

export type PaymentOrderCommand =
  | CreatePaymentOrder
  | ConfirmPayment
  | FailPayment
  | ExpirePaymentOrder
  | RefundPayment
  | RecordPlacement
  | RequestRefund
  | FailRefund
  | CreateTopUpOrder;

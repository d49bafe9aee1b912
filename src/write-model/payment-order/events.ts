import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';

/**
 * The PaymentOrder aggregate's events, stream `payment-{orderId}`.
 * Money is integer fen (CNY); times are ISO-8601 strings.
 *
 * The service and plan vocabularies are repeated here on purpose: this
 * aggregate does not depend on the subscription aggregate (or its plan
 * catalogue). The price is decided by whoever builds CreatePaymentOrder and
 * arrives as `amountFen`.
 */
export const PAYMENT_SERVICES = ['xiaohongshu', 'qidian'] as const;
export type PaymentService = (typeof PAYMENT_SERVICES)[number];

export const PLAN_NAMES = ['free', 'basic', 'pro', 'enterprise'] as const;
export type PlanName = (typeof PLAN_NAMES)[number];
/** The plans an order can be for: the free plan is never sold. */
export type PaidPlan = Exclude<PlanName, 'free'>;

export const BILLING_CYCLES = ['monthly', 'yearly'] as const;
export type BillingCycle = (typeof BILLING_CYCLES)[number];

export const PAYMENT_PROVIDERS = ['alipay', 'wechat'] as const;
export type PaymentProvider = (typeof PAYMENT_PROVIDERS)[number];

/** What an order is for: fixed when it is created, repeated where a reaction needs it. */
export interface PaymentOrderTerms {
  orderId: string;
  /** who placed the order */
  userId: string;
  /**
   * set when the plan is bought for an organization's subscription (the
   * subscription its members share); absent: the user's own
   */
  organizationId?: string;
  service: PaymentService;
  plan: PaidPlan;
  billingCycle: BillingCycle;
  amountFen: number;
  provider: PaymentProvider;
  expiresAt: string;
  createdAt: string;
}

export interface PaymentOrderCreatedData extends PaymentOrderTerms {
  status: 'pending';
}

/** The provider took the money: what a process manager needs to upgrade / renew the subscription. */
export interface PaymentSucceededData extends Omit<PaymentOrderTerms, 'expiresAt' | 'createdAt'> {
  providerTradeNo: string;
  /** the provider's time of payment */
  paidAt: string;
  /** when the order was created (absent on payments recorded before it was kept here) */
  orderedAt?: string;
}

/** The provider reported a failed payment. Final: the order can no longer be paid. */
export interface PaymentFailedData {
  orderId: string;
  userId: string;
  provider: PaymentProvider;
  reason: string;
  /** the provider's trade number when it reported one */
  providerTradeNo: string | null;
  failedAt: string;
}

/** One refund (partial or the rest of the amount) of a paid order. */
export interface PaymentRefundedData {
  orderId: string;
  userId: string;
  /** the organization whose subscription the plan was bought for (absent: the user's own) */
  organizationId?: string;
  service: PaymentService;
  plan: PaidPlan;
  billingCycle: BillingCycle;
  provider: PaymentProvider;
  providerTradeNo: string;
  refundId: string;
  /** this refund */
  amountFen: number;
  reason: string;
  /** all refunds of the order so far, this one included */
  totalRefundedFen: number;
  /** true when totalRefundedFen reached the paid amount */
  fullyRefunded: boolean;
  refundedAt: string;
}

/**
 * A top-up of a prepaid balance (the ledger): an order for an amount, not a
 * plan. Its life is an order's (placement, failure, expiry, refunds are the
 * same events); only its creation, payment and refunds have events of their
 * own, so the plan reactions (pm-plan-on-payment, pm-plan-on-refund) never
 * see it.
 */
export interface TopUpOrderTerms {
  orderId: string;
  userId: string;
  /** whose balance it tops up: an organization's or the user's own */
  holderKind: 'organization' | 'user';
  holderId: string;
  amountFen: number;
  provider: PaymentProvider;
  expiresAt: string;
  createdAt: string;
}

export interface TopUpOrderCreatedData extends TopUpOrderTerms {
  status: 'pending';
}

/** The provider took a top-up's money: pm-ledger-deposits deposits it (once per order). */
export interface TopUpPaidData extends Omit<TopUpOrderTerms, 'expiresAt' | 'createdAt'> {
  providerTradeNo: string;
  paidAt: string;
}

/** A refund of (part of) a top-up: pm-ledger-deposits withdraws it from the balance. */
export interface TopUpRefundedData extends Omit<TopUpOrderTerms, 'expiresAt' | 'createdAt'> {
  providerTradeNo: string;
  refundId: string;
  /** this refund */
  refundedFen: number;
  reason: string;
  totalRefundedFen: number;
  fullyRefunded: boolean;
  refundedAt: string;
}

/** How the buyer pays (see adapters/payments/providers.ts): Alipay `page` / `wap`, WeChat Pay `native` (QR code). */
export const PAYMENT_CHANNELS = ['page', 'wap', 'native'] as const;
export type PaymentChannel = (typeof PAYMENT_CHANNELS)[number];

/**
 * The order was placed with the provider: where the buyer pays. `payUrl` is
 * the signed Alipay gateway URL (a signed request, no secret), `codeUrl` the
 * WeChat Pay QR code's content; one of them is set.
 */
export interface PaymentOrderPlacedData {
  orderId: string;
  userId: string;
  provider: PaymentProvider;
  channel: PaymentChannel;
  payUrl: string | null;
  codeUrl: string | null;
  placedAt: string;
}

/** An operator asked for a refund; the provider has been (or is about to be) asked. */
export interface RefundRequestedData {
  orderId: string;
  userId: string;
  provider: PaymentProvider;
  refundId: string;
  amountFen: number;
  reason: string;
  /** who asked (an admin's user id) */
  requestedBy: string;
  requestedAt: string;
}

/** The provider refused (or closed) a requested refund: nothing was given back by it. */
export interface RefundFailedData {
  orderId: string;
  userId: string;
  refundId: string;
  amountFen: number;
  reason: string;
  failedAt: string;
}

/** The order was not paid in time and is closed. */
export interface PaymentOrderExpiredData {
  orderId: string;
  userId: string;
  expiresAt: string;
  expiredAt: string;
}

export type PaymentOrderEvent =
  | DomainEvent<'PaymentOrderCreated', PaymentOrderCreatedData>
  | DomainEvent<'PaymentSucceeded', PaymentSucceededData>
  | DomainEvent<'PaymentFailed', PaymentFailedData>
  | DomainEvent<'PaymentRefunded', PaymentRefundedData>
  | DomainEvent<'PaymentOrderExpired', PaymentOrderExpiredData>
  | DomainEvent<'PaymentOrderPlaced', PaymentOrderPlacedData>
  | DomainEvent<'RefundRequested', RefundRequestedData>
  | DomainEvent<'RefundFailed', RefundFailedData>
  | DomainEvent<'TopUpOrderCreated', TopUpOrderCreatedData>
  | DomainEvent<'TopUpPaid', TopUpPaidData>
  | DomainEvent<'TopUpRefunded', TopUpRefundedData>;

export type PaymentOrderEventType = PaymentOrderEvent['type'];

export const PAYMENT_ORDER_EVENT_TYPES = [
  'PaymentOrderCreated',
  'PaymentSucceeded',
  'PaymentFailed',
  'PaymentRefunded',
  'PaymentOrderExpired',
  'PaymentOrderPlaced',
  'RefundRequested',
  'RefundFailed',
  'TopUpOrderCreated',
  'TopUpPaid',
  'TopUpRefunded',
] as const satisfies readonly PaymentOrderEventType[];

// ---------------------------------------------------------------- decoding

const paidPlan = z.enum(['basic', 'pro', 'enterprise']);
const sold = {
  orderId: z.string(),
  userId: z.string(),
  organizationId: z.string().optional(),
  service: z.enum(PAYMENT_SERVICES),
  plan: paidPlan,
  billingCycle: z.enum(BILLING_CYCLES),
  provider: z.enum(PAYMENT_PROVIDERS),
};

const topUp = {
  orderId: z.string(),
  userId: z.string(),
  holderKind: z.enum(['organization', 'user']),
  holderId: z.string(),
  amountFen: z.number().int(),
  provider: z.enum(PAYMENT_PROVIDERS),
};

/** The decode boundary of the payment order streams (see core/event-codec.ts). */
export const paymentOrderEvents = eventCodec<PaymentOrderEvent>({
  PaymentOrderCreated: {
    schema: z.object({ ...sold, amountFen: z.number().int(), expiresAt: z.string(), createdAt: z.string(), status: z.literal('pending') }),
  },
  PaymentSucceeded: {
    schema: z.object({ ...sold, amountFen: z.number().int(), providerTradeNo: z.string(), paidAt: z.string(), orderedAt: z.string().optional() }),
  },
  PaymentFailed: {
    schema: z.object({
      orderId: z.string(),
      userId: z.string(),
      provider: z.enum(PAYMENT_PROVIDERS),
      reason: z.string(),
      providerTradeNo: z.string().nullable(),
      failedAt: z.string(),
    }),
  },
  PaymentRefunded: {
    schema: z.object({
      ...sold,
      providerTradeNo: z.string(),
      refundId: z.string(),
      amountFen: z.number().int(),
      reason: z.string(),
      totalRefundedFen: z.number().int(),
      fullyRefunded: z.boolean(),
      refundedAt: z.string(),
    }),
  },
  PaymentOrderExpired: { schema: z.object({ orderId: z.string(), userId: z.string(), expiresAt: z.string(), expiredAt: z.string() }) },
  PaymentOrderPlaced: {
    schema: z.object({
      orderId: z.string(),
      userId: z.string(),
      provider: z.enum(PAYMENT_PROVIDERS),
      channel: z.enum(PAYMENT_CHANNELS),
      payUrl: z.string().nullable(),
      codeUrl: z.string().nullable(),
      placedAt: z.string(),
    }),
  },
  RefundRequested: {
    schema: z.object({
      orderId: z.string(),
      userId: z.string(),
      provider: z.enum(PAYMENT_PROVIDERS),
      refundId: z.string(),
      amountFen: z.number().int(),
      reason: z.string(),
      requestedBy: z.string(),
      requestedAt: z.string(),
    }),
  },
  RefundFailed: {
    schema: z.object({ orderId: z.string(), userId: z.string(), refundId: z.string(), amountFen: z.number().int(), reason: z.string(), failedAt: z.string() }),
  },
  TopUpOrderCreated: { schema: z.object({ ...topUp, expiresAt: z.string(), createdAt: z.string(), status: z.literal('pending') }) },
  TopUpPaid: { schema: z.object({ ...topUp, providerTradeNo: z.string(), paidAt: z.string() }) },
  TopUpRefunded: {
    schema: z.object({
      ...topUp,
      providerTradeNo: z.string(),
      refundId: z.string(),
      refundedFen: z.number().int(),
      reason: z.string(),
      totalRefundedFen: z.number().int(),
      fullyRefunded: z.boolean(),
      refundedAt: z.string(),
    }),
  },
});

import type { Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, requireText, requireOneOf } from '../core/validate.js';
import type {
  ConfirmPayment,
  CreatePaymentOrder,
  CreateTopUpOrder,
  ExpirePaymentOrder,
  FailPayment,
  FailRefund,
  PaymentOrderCommand,
  RecordPlacement,
  RefundPayment,
  RequestRefund,
} from './commands.js';
import {
  BILLING_CYCLES,
  PAYMENT_CHANNELS,
  PAYMENT_PROVIDERS,
  PAYMENT_SERVICES,
  PLAN_NAMES,
  paymentOrderEvents,
  type PaidPlan,
  type PaymentOrderEvent,
  type PaymentProvider,
} from './events.js';
import { initialState, isPaid, orderBasics, type OrderBasics, type PaymentOrderState } from './state.js';

/**
 * The PaymentOrder aggregate: one order to pay for one plan of one service,
 * through one provider, before a deadline.
 *
 * Rules the decisions follow (see also the specs):
 * - Time: an order may be confirmed while `now < expiresAt`, and also later
 *   when the provider's own `paidAt` is before `expiresAt` (the money was
 *   taken in time, the notification came late). Once ExpirePaymentOrder has
 *   closed the order, no confirmation is accepted (CONFLICT): the expiry
 *   scheduler is expected to close the trade at the provider first, and a
 *   payment that still slips through is refunded outside this aggregate.
 * - A duplicate success notification (same provider and trade number, same
 *   amount) is a no-op; a second, different trade number for a paid order is
 *   a CONFLICT (the customer paid twice: that is for a refund, not an event).
 * - A wrong amount or provider is a VALIDATION_ERROR and records nothing.
 * - Failed and expired are final: a customer who wants to try again gets a
 *   new order (a new order id).
 * - Refunds: paid orders only, each with its own refundId (a repeat is a
 *   no-op), all refunds together at most the paid amount.
 * - Placement (RecordPlacement): a pending order records once where the
 *   buyer pays (the provider's answer); the same answer again is a no-op,
 *   another one a CONFLICT. A placement the provider refused is a FailPayment.
 * - Refunds through the provider: RequestRefund reserves the amount (all
 *   refunds, done and requested, at most the paid amount), then the
 *   provider's outcome settles it: RefundPayment (PaymentRefunded, the same
 *   amount) or FailRefund (RefundFailed, the amount is free again; that
 *   refundId is spent). RefundPayment without a request (an outcome learnt
 *   elsewhere) is still taken.
 */

export function paymentStream(orderId: string): string {
  return `payment-${orderId}`;
}

type Event = PaymentOrderEvent;

function requirePositiveFen(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new DomainError('VALIDATION_ERROR', `${field} must be a positive whole number of fen`, { field, got: value });
  }
  return value;
}

function existing(state: PaymentOrderState, orderId: string): OrderBasics {
  const order = orderBasics(state);
  if (state.status === 'none' || !order) {
    throw new DomainError('NOT_FOUND', `payment order ${orderId} does not exist`, { orderId });
  }
  return order;
}

function checkProvider(order: OrderBasics, provider: PaymentProvider): void {
  if (provider !== order.provider) {
    throw new DomainError('VALIDATION_ERROR', `order ${order.orderId} is paid through ${order.provider}, not ${String(provider)}`, {
      field: 'provider',
      expected: order.provider,
      got: provider,
    });
  }
}

function sameTerms(order: NonNullable<PaymentOrderState['order']>, command: CreatePaymentOrder): boolean {
  return (
    order.userId === command.userId &&
    (order.organizationId ?? null) === (command.organizationId ?? null) &&
    order.service === command.service &&
    order.plan === command.plan &&
    order.billingCycle === command.billingCycle &&
    order.amountFen === command.amountFen &&
    order.provider === command.provider &&
    Date.parse(order.expiresAt) === Date.parse(command.expiresAt)
  );
}

function create(command: CreatePaymentOrder, state: PaymentOrderState): Event[] {
  if (state.topUp) {
    throw new DomainError('CONFLICT', `payment order ${command.orderId} already exists with other terms`, { orderId: command.orderId, status: state.status });
  }
  if (state.order) {
    // a retried request (its `now` may differ) asks for what is already there
    if (sameTerms(state.order, command)) return [];
    throw new DomainError('CONFLICT', `payment order ${command.orderId} already exists with other terms`, {
      orderId: command.orderId,
      status: state.status,
    });
  }
  requireText(command.orderId, 'orderId');
  requireText(command.userId, 'userId');
  const organizationId = command.organizationId === undefined ? undefined : requireText(command.organizationId, 'organizationId');
  const service = requireOneOf(command.service, PAYMENT_SERVICES, 'service');
  const plan = requireOneOf(command.plan, PLAN_NAMES, 'plan');
  if (plan === 'free') {
    throw new DomainError('VALIDATION_ERROR', 'the free plan is not sold', { field: 'plan', got: plan });
  }
  const billingCycle = requireOneOf(command.billingCycle, BILLING_CYCLES, 'billingCycle');
  const amountFen = requirePositiveFen(command.amountFen, 'amountFen');
  const provider = requireOneOf(command.provider, PAYMENT_PROVIDERS, 'provider');
  const now = instant(command.now, 'now');
  const expiresAt = instant(command.expiresAt, 'expiresAt');
  if (expiresAt <= now) {
    throw new DomainError('VALIDATION_ERROR', 'expiresAt must be later than now', {
      field: 'expiresAt',
      expiresAt: command.expiresAt,
      now: command.now,
    });
  }
  return [
    {
      type: 'PaymentOrderCreated',
      data: {
        orderId: command.orderId,
        userId: command.userId,
        ...(organizationId === undefined ? {} : { organizationId }),
        service,
        plan: plan as PaidPlan,
        billingCycle,
        amountFen,
        provider,
        status: 'pending',
        expiresAt: command.expiresAt,
        createdAt: command.now,
      },
    },
  ];
}

/** A top-up order: like a plan order, for an amount (positive fen) to a holder's balance. */
function createTopUp(command: CreateTopUpOrder, state: PaymentOrderState): Event[] {
  const existingTopUp = state.topUp;
  if (existingTopUp) {
    const same =
      existingTopUp.userId === command.userId &&
      existingTopUp.holderKind === command.holderKind &&
      existingTopUp.holderId === command.holderId &&
      existingTopUp.amountFen === command.amountFen &&
      existingTopUp.provider === command.provider &&
      Date.parse(existingTopUp.expiresAt) === Date.parse(command.expiresAt);
    if (same) return [];
  }
  if (existingTopUp || state.order) {
    throw new DomainError('CONFLICT', `payment order ${command.orderId} already exists with other terms`, { orderId: command.orderId, status: state.status });
  }
  requireText(command.orderId, 'orderId');
  requireText(command.userId, 'userId');
  const holderKind = requireOneOf(command.holderKind, ['organization', 'user'] as const, 'holderKind');
  const holderId = requireText(command.holderId, 'holderId');
  const amountFen = requirePositiveFen(command.amountFen, 'amountFen');
  const provider = requireOneOf(command.provider, PAYMENT_PROVIDERS, 'provider');
  const now = instant(command.now, 'now');
  const expiresAt = instant(command.expiresAt, 'expiresAt');
  if (expiresAt <= now) {
    throw new DomainError('VALIDATION_ERROR', 'expiresAt must be later than now', { field: 'expiresAt', expiresAt: command.expiresAt, now: command.now });
  }
  return [
    {
      type: 'TopUpOrderCreated',
      data: {
        orderId: command.orderId,
        userId: command.userId,
        holderKind,
        holderId,
        amountFen,
        provider,
        status: 'pending',
        expiresAt: command.expiresAt,
        createdAt: command.now,
      },
    },
  ];
}

function confirm(command: ConfirmPayment, state: PaymentOrderState): Event[] {
  const order = existing(state, command.orderId);
  const providerTradeNo = requireText(command.providerTradeNo, 'providerTradeNo');
  const paidAt = instant(command.paidAt, 'paidAt');
  const now = instant(command.now, 'now');
  checkProvider(order, command.provider);

  const amountMismatch = () =>
    new DomainError('VALIDATION_ERROR', `paid amount ${String(command.paidAmountFen)} fen does not match the order's ${order.amountFen} fen`, {
      field: 'paidAmountFen',
      expected: order.amountFen,
      got: command.paidAmountFen,
    });

  if (isPaid(state) && state.payment) {
    if (state.payment.providerTradeNo === providerTradeNo) {
      // the provider repeats its notification until it is acknowledged
      if (command.paidAmountFen !== state.payment.paidAmountFen) throw amountMismatch();
      return [];
    }
    throw new DomainError('CONFLICT', `payment order ${order.orderId} is already paid by another trade`, {
      orderId: order.orderId,
      status: state.status,
      providerTradeNo: state.payment.providerTradeNo,
      got: providerTradeNo,
    });
  }
  if (state.status === 'failed') {
    throw new DomainError('CONFLICT', `payment order ${order.orderId} has failed and can no longer be paid`, {
      orderId: order.orderId,
      status: state.status,
    });
  }
  if (state.status === 'expired') {
    throw new DomainError('CONFLICT', `payment order ${order.orderId} has expired`, {
      orderId: order.orderId,
      status: state.status,
      expiresAt: order.expiresAt,
      paidAt: command.paidAt,
    });
  }
  // pending
  if (command.paidAmountFen !== order.amountFen) throw amountMismatch();
  const expiresAt = instant(order.expiresAt, 'expiresAt');
  if (now >= expiresAt && paidAt >= expiresAt) {
    throw new DomainError('CONFLICT', `payment order ${order.orderId} was paid after it expired`, {
      orderId: order.orderId,
      status: state.status,
      expiresAt: order.expiresAt,
      paidAt: command.paidAt,
    });
  }
  if (state.topUp) {
    const t = state.topUp;
    return [
      {
        type: 'TopUpPaid',
        data: {
          orderId: t.orderId,
          userId: t.userId,
          holderKind: t.holderKind,
          holderId: t.holderId,
          amountFen: t.amountFen,
          provider: t.provider,
          providerTradeNo,
          paidAt: command.paidAt,
        },
      },
    ];
  }
  const plan = state.order!;
  return [
    {
      type: 'PaymentSucceeded',
      data: {
        orderId: order.orderId,
        userId: order.userId,
        ...(plan.organizationId === undefined ? {} : { organizationId: plan.organizationId }),
        service: plan.service,
        plan: plan.plan,
        billingCycle: plan.billingCycle,
        amountFen: order.amountFen,
        provider: order.provider,
        providerTradeNo,
        paidAt: command.paidAt,
        orderedAt: order.createdAt,
      },
    },
  ];
}

function fail(command: FailPayment, state: PaymentOrderState): Event[] {
  const order = existing(state, command.orderId);
  instant(command.now, 'now');
  checkProvider(order, command.provider);
  if (state.status === 'failed') return [];
  if (state.status !== 'pending') {
    throw new DomainError('CONFLICT', `payment order ${order.orderId} is ${state.status}, not pending`, {
      orderId: order.orderId,
      status: state.status,
    });
  }
  const providerTradeNo = command.providerTradeNo === undefined || command.providerTradeNo === '' ? null : command.providerTradeNo;
  return [
    {
      type: 'PaymentFailed',
      data: {
        orderId: order.orderId,
        userId: order.userId,
        provider: order.provider,
        reason: typeof command.reason === 'string' ? command.reason : '',
        providerTradeNo,
        failedAt: command.now,
      },
    },
  ];
}

function expire(command: ExpirePaymentOrder, state: PaymentOrderState): Event[] {
  const order = existing(state, command.orderId);
  const now = instant(command.now, 'now');
  // closed without payment either way: nothing left to expire
  if (state.status === 'expired' || state.status === 'failed') return [];
  if (state.status !== 'pending') {
    throw new DomainError('CONFLICT', `payment order ${order.orderId} is ${state.status} and cannot expire`, {
      orderId: order.orderId,
      status: state.status,
    });
  }
  if (now < instant(order.expiresAt, 'expiresAt')) {
    throw new DomainError('CONFLICT', `payment order ${order.orderId} does not expire before ${order.expiresAt}`, {
      orderId: order.orderId,
      status: state.status,
      expiresAt: order.expiresAt,
      now: command.now,
    });
  }
  return [
    {
      type: 'PaymentOrderExpired',
      data: { orderId: order.orderId, userId: order.userId, expiresAt: order.expiresAt, expiredAt: command.now },
    },
  ];
}

function refund(command: RefundPayment, state: PaymentOrderState): Event[] {
  const order = existing(state, command.orderId);
  const refundId = requireText(command.refundId, 'refundId');
  const amountFen = requirePositiveFen(command.amountFen, 'amountFen');
  const reason = requireText(command.reason, 'reason');
  instant(command.now, 'now');

  const earlier = state.refunds.find((r) => r.refundId === refundId);
  if (earlier) {
    if (earlier.amountFen === amountFen) return [];
    throw new DomainError('CONFLICT', `refund ${refundId} was already made for ${earlier.amountFen} fen`, {
      orderId: order.orderId,
      refundId,
      amountFen: earlier.amountFen,
      got: amountFen,
    });
  }
  if (state.failedRefundIds.includes(refundId)) {
    throw new DomainError('CONFLICT', `refund ${refundId} failed: a new refund needs a new refundId`, { orderId: order.orderId, refundId });
  }
  const requested = state.pendingRefunds.find((r) => r.refundId === refundId);
  if (requested && requested.amountFen !== amountFen) {
    throw new DomainError('CONFLICT', `refund ${refundId} was requested for ${requested.amountFen} fen`, {
      orderId: order.orderId,
      refundId,
      amountFen: requested.amountFen,
      got: amountFen,
    });
  }
  if (!isPaid(state) || !state.payment) {
    throw new DomainError('CONFLICT', `payment order ${order.orderId} is ${state.status}: only paid orders can be refunded`, {
      orderId: order.orderId,
      status: state.status,
    });
  }
  // the other requested refunds hold their amounts (this one's, when requested, is what is being settled)
  const heldFen = state.pendingRefunds.reduce((sum, r) => (r.refundId === refundId ? sum : sum + r.amountFen), 0);
  const refundableFen = state.payment.paidAmountFen - state.refundedFen - heldFen;
  if (amountFen > refundableFen) {
    throw new DomainError('VALIDATION_ERROR', `refund of ${amountFen} fen is more than the ${refundableFen} fen left to refund`, {
      field: 'amountFen',
      paidAmountFen: state.payment.paidAmountFen,
      refundedFen: state.refundedFen,
      refundableFen,
      got: amountFen,
    });
  }
  const totalRefundedFen = state.refundedFen + amountFen;
  if (state.topUp) {
    const t = state.topUp;
    return [
      {
        type: 'TopUpRefunded',
        data: {
          orderId: t.orderId,
          userId: t.userId,
          holderKind: t.holderKind,
          holderId: t.holderId,
          amountFen: t.amountFen,
          provider: t.provider,
          providerTradeNo: state.payment.providerTradeNo,
          refundId,
          refundedFen: amountFen,
          reason,
          totalRefundedFen,
          fullyRefunded: totalRefundedFen >= state.payment.paidAmountFen,
          refundedAt: command.now,
        },
      },
    ];
  }
  const plan = state.order!;
  return [
    {
      type: 'PaymentRefunded',
      data: {
        orderId: order.orderId,
        userId: order.userId,
        ...(plan.organizationId === undefined ? {} : { organizationId: plan.organizationId }),
        service: plan.service,
        plan: plan.plan,
        billingCycle: plan.billingCycle,
        provider: order.provider,
        providerTradeNo: state.payment.providerTradeNo,
        refundId,
        amountFen,
        reason,
        totalRefundedFen,
        fullyRefunded: totalRefundedFen >= state.payment.paidAmountFen,
        refundedAt: command.now,
      },
    },
  ];
}

function recordPlacement(command: RecordPlacement, state: PaymentOrderState): Event[] {
  const order = existing(state, command.orderId);
  const channel = requireOneOf(command.channel, PAYMENT_CHANNELS, 'channel');
  instant(command.now, 'now');
  const payUrl = typeof command.payUrl === 'string' && command.payUrl !== '' ? command.payUrl : null;
  const codeUrl = typeof command.codeUrl === 'string' && command.codeUrl !== '' ? command.codeUrl : null;
  if ((payUrl === null) === (codeUrl === null)) {
    throw new DomainError('VALIDATION_ERROR', 'a placement has either a payUrl or a codeUrl', { field: 'payUrl' });
  }
  if (state.placement) {
    const same = state.placement.channel === channel && state.placement.payUrl === payUrl && state.placement.codeUrl === codeUrl;
    if (same) return [];
    throw new DomainError('CONFLICT', `payment order ${order.orderId} was already placed`, { orderId: order.orderId, status: state.status });
  }
  if (state.status !== 'pending') {
    throw new DomainError('CONFLICT', `payment order ${order.orderId} is ${state.status}, not pending`, { orderId: order.orderId, status: state.status });
  }
  return [
    {
      type: 'PaymentOrderPlaced',
      data: { orderId: order.orderId, userId: order.userId, provider: order.provider, channel, payUrl, codeUrl, placedAt: command.now },
    },
  ];
}

function requestRefund(command: RequestRefund, state: PaymentOrderState): Event[] {
  const order = existing(state, command.orderId);
  const refundId = requireText(command.refundId, 'refundId');
  const amountFen = requirePositiveFen(command.amountFen, 'amountFen');
  const reason = requireText(command.reason, 'reason');
  const requestedBy = requireText(command.requestedBy, 'requestedBy');
  instant(command.now, 'now');
  const same = (earlier: { amountFen: number }) => {
    if (earlier.amountFen === amountFen) return true;
    throw new DomainError('CONFLICT', `refund ${refundId} is for ${earlier.amountFen} fen`, {
      orderId: order.orderId,
      refundId,
      amountFen: earlier.amountFen,
      got: amountFen,
    });
  };
  const done = state.refunds.find((r) => r.refundId === refundId);
  if (done && same(done)) return [];
  const pending = state.pendingRefunds.find((r) => r.refundId === refundId);
  if (pending && same(pending)) return [];
  if (state.failedRefundIds.includes(refundId)) {
    throw new DomainError('CONFLICT', `refund ${refundId} failed: a new refund needs a new refundId`, { orderId: order.orderId, refundId });
  }
  if (!isPaid(state) || !state.payment) {
    throw new DomainError('CONFLICT', `payment order ${order.orderId} is ${state.status}: only paid orders can be refunded`, {
      orderId: order.orderId,
      status: state.status,
    });
  }
  const heldFen = state.pendingRefunds.reduce((sum, r) => sum + r.amountFen, 0);
  const refundableFen = state.payment.paidAmountFen - state.refundedFen - heldFen;
  if (amountFen > refundableFen) {
    throw new DomainError('VALIDATION_ERROR', `refund of ${amountFen} fen is more than the ${refundableFen} fen left to refund`, {
      field: 'amountFen',
      paidAmountFen: state.payment.paidAmountFen,
      refundedFen: state.refundedFen,
      requestedFen: heldFen,
      refundableFen,
      got: amountFen,
    });
  }
  return [
    {
      type: 'RefundRequested',
      data: { orderId: order.orderId, userId: order.userId, provider: order.provider, refundId, amountFen, reason, requestedBy, requestedAt: command.now },
    },
  ];
}

function failRefund(command: FailRefund, state: PaymentOrderState): Event[] {
  const order = existing(state, command.orderId);
  const refundId = requireText(command.refundId, 'refundId');
  instant(command.now, 'now');
  if (state.failedRefundIds.includes(refundId)) return [];
  if (state.refunds.some((r) => r.refundId === refundId)) {
    throw new DomainError('CONFLICT', `refund ${refundId} was made: it cannot fail`, { orderId: order.orderId, refundId });
  }
  const pending = state.pendingRefunds.find((r) => r.refundId === refundId);
  if (!pending) throw new DomainError('NOT_FOUND', `no refund ${refundId} was requested for order ${order.orderId}`, { orderId: order.orderId, refundId });
  return [
    {
      type: 'RefundFailed',
      data: {
        orderId: order.orderId,
        userId: order.userId,
        refundId,
        amountFen: pending.amountFen,
        reason: typeof command.reason === 'string' && command.reason !== '' ? command.reason : 'refused',
        failedAt: command.now,
      },
    },
  ];
}

export const paymentOrderDecider: Decider<PaymentOrderState, PaymentOrderCommand, PaymentOrderEvent> = {
  initialState,
  decide(command, state) {
    switch (command.type) {
      case 'CreatePaymentOrder':
        return create(command, state);
      case 'ConfirmPayment':
        return confirm(command, state);
      case 'FailPayment':
        return fail(command, state);
      case 'ExpirePaymentOrder':
        return expire(command, state);
      case 'RefundPayment':
        return refund(command, state);
      case 'RecordPlacement':
        return recordPlacement(command, state);
      case 'RequestRefund':
        return requestRefund(command, state);
      case 'FailRefund':
        return failRefund(command, state);
      case 'CreateTopUpOrder':
        return createTopUp(command, state);
    }
  },
  // in place (the fold owns its state): a refund is pushed, nothing copied
  evolve(state, event) {
    switch (event.type) {
      case 'PaymentOrderCreated': {
        const { status: _status, ...terms } = event.data;
        state.status = 'pending';
        state.order = terms;
        return state;
      }
      case 'TopUpOrderCreated': {
        const { status: _status, ...terms } = event.data;
        state.status = 'pending';
        state.topUp = terms;
        return state;
      }
      case 'PaymentSucceeded':
      case 'TopUpPaid': {
        const { provider, providerTradeNo, amountFen, paidAt } = event.data;
        state.status = 'paid';
        state.payment = { provider, providerTradeNo, paidAmountFen: amountFen, paidAt };
        return state;
      }
      case 'PaymentFailed': {
        const { reason, providerTradeNo, failedAt } = event.data;
        state.status = 'failed';
        state.failure = { reason, providerTradeNo, failedAt };
        return state;
      }
      case 'PaymentOrderExpired':
        state.status = 'expired';
        state.expiredAt = event.data.expiredAt;
        return state;
      case 'PaymentRefunded':
      case 'TopUpRefunded': {
        const { refundId, reason, refundedAt, totalRefundedFen, fullyRefunded } = event.data;
        const amountFen = event.type === 'TopUpRefunded' ? event.data.refundedFen : event.data.amountFen;
        state.status = fullyRefunded ? 'refunded' : 'partially_refunded';
        state.refunds.push({ refundId, amountFen, reason, refundedAt });
        state.refundedFen = totalRefundedFen;
        state.pendingRefunds = state.pendingRefunds.filter((r) => r.refundId !== refundId);
        return state;
      }
      case 'PaymentOrderPlaced': {
        const { channel, payUrl, codeUrl, placedAt } = event.data;
        state.placement = { channel, payUrl, codeUrl, placedAt };
        return state;
      }
      case 'RefundRequested': {
        const { refundId, amountFen, reason, requestedAt } = event.data;
        state.pendingRefunds.push({ refundId, amountFen, reason, requestedAt });
        return state;
      }
      case 'RefundFailed': {
        state.pendingRefunds = state.pendingRefunds.filter((r) => r.refundId !== event.data.refundId);
        state.failedRefundIds.push(event.data.refundId);
        return state;
      }
    }
  },
};

/** The binding: stream `payment-{orderId}`, short-lived (a few events per order: no snapshots). */
export const paymentOrderAggregate: Aggregate<PaymentOrderState, PaymentOrderCommand, PaymentOrderEvent> = {
  name: 'payment_order',
  streamName: paymentStream,
  decider: paymentOrderDecider,
  events: paymentOrderEvents,
};

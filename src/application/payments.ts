import type { Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import type { EventStore } from '../event-store/port.js';
import type { Logger } from '../logger.js';
import {
  CHANNELS_BY_PROVIDER,
  PaymentProviderError,
  type PaymentChannel,
  type PaymentProviderClient,
  type PaymentProviders,
  type Placement,
  type RefundOutcome,
  type RefundRequest,
} from './ports/payment-providers.js';
import { ordersWithPendingRefunds, pendingOrdersToReconcile } from '../read-api/payments.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load, type HandleResult } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import {
  isPaid,
  orderBasics,
  paymentOrderAggregate,
  type BillingCycle,
  type PaidPlan,
  type PaymentOrderCommand,
  type PaymentOrderEvent,
  type PaymentOrderState,
  type PaymentProvider,
  type PaymentService,
} from '../write-model/payment-order/index.js';
import { plan as catalogue } from '../write-model/subscription/plans.js';
import { subscriptionAggregate, subscriptionKey } from '../write-model/subscription/decider.js';
import { commandsForPayment, holderIdOf } from '../process-managers/plan-on-payment.js';

/**
 * Payments with the providers: placing an order (checkout), the refund an
 * operator asks for, and the reconcile job that asks the providers about
 * orders and refunds whose notification never came. Every provider call is
 * made outside any transaction; its outcome is recorded as a command on the
 * order (`payment-{orderId}`), through the same decisions the providers'
 * notifications take (ConfirmPayment, FailPayment, RefundPayment, FailRefund),
 * so whichever of a notification and a query comes second is a no-op.
 */

export type PaymentsConfig = Pick<
  Config,
  | 'ALIPAY_GATEWAY_URL'
  | 'ALIPAY_APP_ID'
  | 'ALIPAY_APP_PRIVATE_KEY'
  | 'ALIPAY_PUBLIC_KEY'
  | 'WECHAT_API_URL'
  | 'WECHAT_MCH_ID'
  | 'WECHAT_APP_ID'
  | 'WECHAT_MCH_PRIVATE_KEY'
  | 'WECHAT_MCH_SERIAL'
  | 'WECHAT_PLATFORM_PUBLIC_KEY'
  | 'WECHAT_PLATFORM_SERIAL'
  | 'PAYMENT_NOTIFY_BASE_URL'
  | 'PAYMENT_PROVIDER_TIMEOUT_MS'
  | 'PUBLIC_WEB_URL'
>;

export const CALLBACK_PATHS = {
  alipay: '/api/v1/payments/callback/alipay',
  wechat: '/api/v1/payments/callback/wechat',
  wechatRefund: '/api/v1/payments/callback/wechat/refund',
} as const;

/**
 * The order's reference at the provider (`out_trade_no`): WeChat Pay takes
 * 6–32 characters of [A-Za-z0-9_-|*], so the uuid goes without its dashes;
 * Alipay (up to 64) takes it as it is.
 */
export function tradeRef(provider: PaymentProvider, orderId: string): string {
  return provider === 'wechat' ? orderId.replaceAll('-', '') : orderId;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BARE_UUID = /^[0-9a-f]{32}$/i;

/** The order id an `out_trade_no` names (either form of tradeRef), or undefined when it names none. */
export function orderIdFromTradeRef(ref: string): string | undefined {
  if (UUID.test(ref)) return ref.toLowerCase();
  if (BARE_UUID.test(ref)) return `${ref.slice(0, 8)}-${ref.slice(8, 12)}-${ref.slice(12, 16)}-${ref.slice(16, 20)}-${ref.slice(20)}`.toLowerCase();
  return undefined;
}

/** The order could not be placed with the provider: recorded as PaymentFailed; `kind` says whether to blame the provider (502) or its absence (503). */
export class PaymentPlacementError extends Error {
  override readonly name = 'PaymentPlacementError';
  constructor(
    readonly orderId: string,
    readonly failure: PaymentProviderError,
  ) {
    super(failure.reason);
  }
}

/** A provider that is not configured here (no merchant key): nothing is recorded. */
export class ProviderNotOfferedError extends Error {
  override readonly name = 'ProviderNotOfferedError';
  constructor(readonly provider: PaymentProvider) {
    super(`${provider} is not offered on this platform`);
  }
}

export interface PaymentsDeps {
  store: EventStore;
  providers: PaymentProviders;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  now?: () => Date;
}

function clientFor(deps: PaymentsDeps, provider: PaymentProvider): PaymentProviderClient {
  const client = deps.providers[provider];
  if (!client) throw new ProviderNotOfferedError(provider);
  return client;
}

/** The channel asked for, or the provider's default; a channel the provider does not have is a DomainError (422). */
export function channelFor(provider: PaymentProvider, channel: PaymentChannel | undefined): PaymentChannel {
  const offered = CHANNELS_BY_PROVIDER[provider];
  if (channel === undefined) return offered[0]!;
  if (!offered.includes(channel)) {
    throw new DomainError('VALIDATION_ERROR', `${provider} is paid through ${offered.join(' or ')}, not ${channel}`, {
      field: 'channel',
      expected: offered,
      got: channel,
    });
  }
  return channel;
}

export interface CheckoutInput {
  userId: string;
  /** the plan is for this organization's subscription (a member buying for it); absent: the user's own */
  organizationId?: string;
  service: PaymentService;
  plan: PaidPlan;
  billingCycle: BillingCycle;
  provider: PaymentProvider;
  channel?: PaymentChannel;
  ttlMinutes: number;
  context: CommandContext;
  /**
   * A name-based order id (a renewal order named after its subscription and
   * period): asked again, the same order is answered and placed once. Unset:
   * a new order (random id).
   */
  orderId?: string;
  /** until when the order can be paid; default now + ttlMinutes */
  expiresAt?: string;
}

export interface Checkout {
  orderId: string;
  amountFen: number;
  expiresAt: string;
  placement: Placement;
  /** the order stream after placement */
  result: HandleResult<PaymentOrderState, PaymentOrderEvent>;
}

/**
 * Opens an order priced from the catalogue and places it with the provider:
 * PaymentOrderCreated, then PaymentOrderPlaced with where to pay. A refusal
 * or no answer from the provider closes the order (PaymentFailed with the
 * reason) and throws PaymentPlacementError; a provider not configured throws
 * ProviderNotOfferedError before anything is recorded.
 *
 * With a given `orderId` it can be asked again: an order already placed is
 * answered as it is (the provider is not asked twice), one created but not
 * placed (a crash in between) is placed now, and one closed meanwhile
 * (failed, expired, paid) is a CONFLICT.
 */
export async function checkout(deps: PaymentsDeps, input: CheckoutInput): Promise<Checkout> {
  const client = clientFor(deps, input.provider);
  const channel = channelFor(input.provider, input.channel);
  const at = deps.now?.() ?? new Date();
  const orderId = input.orderId ?? randomUUID();
  const offer = catalogue(input.service, input.plan);
  const amountFen = offer.priceMonthlyFen;
  await refuseOrderThatCannotApply(deps.store, { ...input, orderId, amountFen, at });
  const expiresAt = input.expiresAt ?? new Date(at.getTime() + input.ttlMinutes * 60_000).toISOString();
  const created = await handle(
    deps.store,
    paymentOrderAggregate,
    orderId,
    {
      type: 'CreatePaymentOrder',
      orderId,
      userId: input.userId,
      ...(input.organizationId === undefined ? {} : { organizationId: input.organizationId }),
      service: input.service,
      plan: input.plan,
      billingCycle: input.billingCycle,
      amountFen,
      provider: input.provider,
      expiresAt,
      now: at.toISOString(),
    },
    // a random id is new by construction; a named one may be there already (the decider's no-op for the same terms)
    { context: input.context, ...(input.orderId === undefined ? { expectedRevision: 'no_stream' as const } : {}) },
  );
  if (input.orderId !== undefined && created.events.length === 0) {
    const existing = created.state;
    if (existing.status !== 'pending') {
      throw new DomainError('CONFLICT', `payment order ${orderId} is ${existing.status}`, { orderId, status: existing.status });
    }
    if (existing.placement) {
      const placed = existing.placement;
      return { orderId, amountFen, expiresAt, placement: { channel: placed.channel, payUrl: placed.payUrl, codeUrl: placed.codeUrl }, result: created };
    }
  }
  let placement: Placement;
  try {
    placement = await client.place({ orderId: tradeRef(input.provider, orderId), amountFen, subject: offer.name, expiresAt, channel });
  } catch (error) {
    if (!(error instanceof PaymentProviderError)) throw error;
    deps.logger?.warn({ orderId, provider: input.provider, kind: error.kind, code: error.code }, 'payment order not placed');
    await handle(
      deps.store,
      paymentOrderAggregate,
      orderId,
      { type: 'FailPayment', orderId, provider: input.provider, reason: `not placed: ${error.reason}`, now: (deps.now?.() ?? new Date()).toISOString() },
      { context: input.context },
    );
    throw new PaymentPlacementError(orderId, error);
  }
  const result = await handle(
    deps.store,
    paymentOrderAggregate,
    orderId,
    {
      type: 'RecordPlacement',
      orderId,
      channel: placement.channel,
      payUrl: placement.payUrl,
      codeUrl: placement.codeUrl,
      now: (deps.now?.() ?? new Date()).toISOString(),
    },
    { context: input.context },
  );
  return { orderId, amountFen, expiresAt, placement, result };
}

/**
 * Refuses to sell an order whose payment the subscription would refuse as it
 * stands now: a paid downgrade while another paid one is pending, or one to
 * a plan that allows fewer resources than are held. The subscription's own
 * decider is asked, with the command pm-plan-on-payment would send once the
 * order is paid, and its refusal (a DomainError) is thrown as it is. An
 * order opened earlier can still meet such a refusal when it is paid; its
 * payment is then parked by the process manager for an operator's refund.
 */
async function refuseOrderThatCannotApply(store: EventStore, input: CheckoutInput & { orderId: string; amountFen: number; at: Date }): Promise<void> {
  const holderId = holderIdOf({ userId: input.userId, organizationId: input.organizationId });
  const { state } = await load(store, subscriptionAggregate, subscriptionKey(holderId, input.service));
  const decider = subscriptionAggregate.decider;
  const paidAt = input.at.toISOString();
  const paid = {
    orderId: input.orderId,
    userId: input.userId,
    ...(input.organizationId === undefined ? {} : { organizationId: input.organizationId }),
    service: input.service,
    plan: input.plan,
    billingCycle: input.billingCycle,
    amountFen: input.amountFen,
    provider: input.provider,
    providerTradeNo: 'checkout',
    paidAt,
    orderedAt: paidAt,
  };
  // the fold of the trial is the decider's own, on a copy: the loaded state stays as it was
  let trial = structuredClone(state);
  for (const command of commandsForPayment(paid, trial)) {
    for (const event of decider.decide(command, trial)) trial = decider.evolve(trial, event);
  }
}

// ---------------------------------------------------------------- refunds

export interface RefundResult {
  refundId: string;
  amountFen: number;
  /** refunded: done; failed: the provider refused; pending: waiting for the provider (a notification, or the reconcile job) */
  state: 'refunded' | 'failed' | 'pending';
  reason: string | null;
  result: HandleResult<PaymentOrderState, PaymentOrderEvent>;
}

function refundRequestOf(provider: PaymentProvider, state: PaymentOrderState, refund: { refundId: string; amountFen: number; reason: string }): RefundRequest {
  return {
    orderId: tradeRef(provider, orderBasics(state)!.orderId),
    refundId: refund.refundId,
    amountFen: refund.amountFen,
    totalFen: state.payment?.paidAmountFen ?? orderBasics(state)!.amountFen,
    reason: refund.reason,
  };
}

/** Records the provider's outcome of a requested refund (a repeat is the decider's no-op). */
export async function settleRefund(
  deps: PaymentsDeps,
  orderId: string,
  refundId: string,
  outcome: RefundOutcome,
  context: CommandContext,
): Promise<HandleResult<PaymentOrderState, PaymentOrderEvent> | undefined> {
  const now = (deps.now?.() ?? new Date()).toISOString();
  if (outcome.state === 'processing') return undefined;
  return handle(
    deps.store,
    paymentOrderAggregate,
    orderId,
    (state): PaymentOrderCommand => {
      const pending = state.pendingRefunds.find((r) => r.refundId === refundId);
      if (outcome.state === 'failed') return { type: 'FailRefund', orderId, refundId, reason: outcome.reason, now };
      // the refund was made: its amount is the one requested (or, unrequested, known from the provider by the caller)
      const amountFen = pending?.amountFen ?? state.refunds.find((r) => r.refundId === refundId)?.amountFen;
      if (amountFen === undefined) throw new DomainError('NOT_FOUND', `no refund ${refundId} was requested for order ${orderId}`, { orderId, refundId });
      return { type: 'RefundPayment', orderId, refundId, amountFen, reason: pending?.reason ?? 'refund', now: outcome.refundedAt ?? now };
    },
    { context },
  );
}

/**
 * An operator's refund of a paid order: RefundRequested (the amount is
 * reserved), then the provider is asked; its answer settles the refund now
 * (Alipay: refunded or failed) or later (WeChat Pay: PROCESSING until its
 * notification; no answer at all: the reconcile job asks again — the
 * refundId makes a second submission the same refund).
 */
export async function refundOrder(
  deps: PaymentsDeps,
  input: { orderId: string; amountFen?: number | undefined; reason: string; adminId: string; context: CommandContext },
): Promise<RefundResult> {
  const { state } = await load(deps.store, paymentOrderAggregate, input.orderId);
  const order = orderBasics(state);
  if (!order) throw new DomainError('NOT_FOUND', `payment order ${input.orderId} does not exist`, { orderId: input.orderId });
  const provider = order.provider;
  const client = clientFor(deps, provider);
  if (!isPaid(state) || !state.payment) {
    throw new DomainError('CONFLICT', `payment order ${input.orderId} is ${state.status}: only paid orders can be refunded`, {
      orderId: input.orderId,
      status: state.status,
    });
  }
  const held = state.pendingRefunds.reduce((sum, r) => sum + r.amountFen, 0);
  const left = state.payment.paidAmountFen - state.refundedFen - held;
  if (input.amountFen === undefined && left <= 0) {
    throw new DomainError('CONFLICT', `payment order ${input.orderId} has nothing left to refund`, {
      orderId: input.orderId,
      refundedFen: state.refundedFen,
      requestedFen: held,
    });
  }
  const amountFen = input.amountFen ?? left;
  const refundId = randomUUID();
  let result = await handle(
    deps.store,
    paymentOrderAggregate,
    input.orderId,
    {
      type: 'RequestRefund',
      orderId: input.orderId,
      refundId,
      amountFen,
      reason: input.reason,
      requestedBy: input.adminId,
      now: (deps.now?.() ?? new Date()).toISOString(),
    },
    { context: input.context },
  );
  let outcome: RefundOutcome;
  try {
    outcome = await client.refund(refundRequestOf(provider, result.state, { refundId, amountFen, reason: input.reason }));
  } catch (error) {
    if (!(error instanceof PaymentProviderError)) throw error;
    deps.logger?.warn({ orderId: input.orderId, refundId, kind: error.kind, code: error.code }, 'refund not answered');
    // the gateway refused the request itself: this refund will not be made; otherwise it is unknown: reconcile asks again
    if (error.kind !== 'refused') return { refundId, amountFen, state: 'pending', reason: error.reason, result };
    outcome = { state: 'failed', reason: error.reason };
  }
  const settled = await settleRefund(deps, input.orderId, refundId, outcome, input.context);
  if (settled) result = settled;
  return {
    refundId,
    amountFen,
    state: outcome.state === 'succeeded' ? 'refunded' : outcome.state === 'failed' ? 'failed' : 'pending',
    reason: outcome.state === 'failed' ? outcome.reason : null,
    result,
  };
}

// ---------------------------------------------------------------- reconcile

export interface ReconcileReport {
  ordersChecked: number;
  paid: number;
  closed: number;
  stillPending: number;
  refundsChecked: number;
  refunded: number;
  refundsFailed: number;
  errors: number;
}

/**
 * The reconcile run (job `payments-reconcile`): the provider is asked about
 * every pending, placed order older than `minAgeSeconds` (at most `batch`,
 * oldest first, from the payment_orders read model) — paid → ConfirmPayment
 * (what the notification would have recorded), closed → FailPayment, else
 * left pending (the expiry closes it) — and about every refund waiting that
 * long for its outcome. One order's trouble (a provider away, a decision
 * refused) is counted and logged; the run goes on.
 */
export async function reconcilePayments(deps: PaymentsDeps & { knex: Knex }, options: { minAgeSeconds: number; batch: number }): Promise<ReconcileReport> {
  const now = deps.now?.() ?? new Date();
  const cutoff = new Date(now.getTime() - options.minAgeSeconds * 1000);
  const report: ReconcileReport = { ordersChecked: 0, paid: 0, closed: 0, stillPending: 0, refundsChecked: 0, refunded: 0, refundsFailed: 0, errors: 0 };
  const context = (orderId: string): CommandContext => ({
    correlationId: `reconcile:${orderId}`,
    causationId: `reconcile:${now.toISOString()}`,
    actor: 'job:payments-reconcile',
  });

  for (const candidate of await pendingOrdersToReconcile(deps.knex, { createdBefore: cutoff, limit: options.batch })) {
    const provider = candidate.provider as PaymentProvider;
    const client = deps.providers[provider];
    if (!client) continue;
    report.ordersChecked++;
    try {
      const trade = await client.query(tradeRef(provider, candidate.orderId));
      if (trade.state === 'paid') {
        const result = await handle(
          deps.store,
          paymentOrderAggregate,
          candidate.orderId,
          {
            type: 'ConfirmPayment',
            orderId: candidate.orderId,
            provider,
            providerTradeNo: trade.providerTradeNo,
            paidAmountFen: trade.paidAmountFen,
            paidAt: trade.paidAt ?? now.toISOString(),
            now: now.toISOString(),
          },
          { context: context(candidate.orderId) },
        );
        if (result.events.length > 0) report.paid++;
        deps.logger?.info({ orderId: candidate.orderId, provider, recorded: result.events.length > 0 }, 'reconcile: paid at the provider');
      } else if (trade.state === 'closed') {
        const result = await handle(
          deps.store,
          paymentOrderAggregate,
          candidate.orderId,
          {
            type: 'FailPayment',
            orderId: candidate.orderId,
            provider,
            reason: `closed at the provider: ${trade.detail}`,
            ...(trade.providerTradeNo ? { providerTradeNo: trade.providerTradeNo } : {}),
            now: now.toISOString(),
          },
          { context: context(candidate.orderId) },
        );
        if (result.events.length > 0) report.closed++;
      } else {
        report.stillPending++;
      }
    } catch (error) {
      report.errors++;
      const detail =
        error instanceof PaymentProviderError
          ? { kind: error.kind, code: error.code }
          : error instanceof DomainError
            ? { code: error.code, message: error.message }
            : { err: error };
      deps.logger?.warn({ orderId: candidate.orderId, provider, ...detail }, 'reconcile: order not settled');
    }
  }

  for (const orderId of await ordersWithPendingRefunds(deps.knex, { requestedBefore: cutoff, limit: options.batch })) {
    const { state } = await load(deps.store, paymentOrderAggregate, orderId);
    const provider = orderBasics(state)?.provider;
    const client = provider ? deps.providers[provider] : undefined;
    if (!provider || !client) continue;
    for (const pending of [...state.pendingRefunds]) {
      if (Date.parse(pending.requestedAt) >= cutoff.getTime()) continue;
      report.refundsChecked++;
      try {
        const outcome = await client.refundStatus(refundRequestOf(provider, state, pending));
        const settled = await settleRefund(deps, orderId, pending.refundId, outcome, context(orderId));
        if (settled && settled.events.length > 0) {
          if (outcome.state === 'succeeded') report.refunded++;
          else report.refundsFailed++;
        }
      } catch (error) {
        report.errors++;
        const detail = error instanceof PaymentProviderError ? { kind: error.kind, code: error.code } : { err: error };
        deps.logger?.warn({ orderId, refundId: pending.refundId, provider, ...detail }, 'reconcile: refund not settled');
      }
    }
  }
  if (report.ordersChecked + report.refundsChecked > 0) deps.logger?.info({ ...report }, 'payments reconciled');
  return report;
}

import type { PaymentProvider } from '../../write-model/payment-order/events.js';
import { truncateCharacters } from '../../write-model/core/characters.js';

/**
 * The payment providers as the platform uses them: place an order (a signed
 * pay URL or a QR code URL), ask about a trade (reconcile), refund. One
 * client per provider (alipay-client.ts, wechat-client.ts); both speak the
 * providers' real protocols — tests point them at the sandbox in
 * sandbox/payment-provider/.
 *
 * Secrets (the merchant private keys, the APIv3 key) stay inside the clients:
 * nothing they return or throw carries one.
 */

/** How the buyer pays: Alipay's desktop cashier (`page`) or mobile web (`wap`); WeChat Pay's QR code (`native`). */
export const PAYMENT_CHANNELS = ['page', 'wap', 'native'] as const;
export type PaymentChannel = (typeof PAYMENT_CHANNELS)[number];

/** The channels each provider offers; the first is the default. */
export const CHANNELS_BY_PROVIDER: Readonly<Record<PaymentProvider, readonly PaymentChannel[]>> = {
  alipay: ['page', 'wap'],
  wechat: ['native'],
};

export interface OrderToPlace {
  orderId: string;
  amountFen: number;
  /** what the buyer sees (the plan's name) */
  subject: string;
  expiresAt: string;
  channel: PaymentChannel;
}

/** Where the buyer pays: `payUrl` (Alipay: the signed gateway URL the browser opens) or `codeUrl` (WeChat: the QR code's content). */
export interface Placement {
  channel: PaymentChannel;
  payUrl: string | null;
  codeUrl: string | null;
}

/** What the provider says about a trade. */
export type TradeStatus =
  | { state: 'paid'; providerTradeNo: string; paidAmountFen: number; paidAt: string | null }
  /** open, not paid (yet) */
  | { state: 'pending'; detail: string }
  /** the provider knows no such trade (an Alipay cashier never opened) */
  | { state: 'absent' }
  /** closed without payment (or the payment failed) */
  | { state: 'closed'; detail: string; providerTradeNo: string | null };

export interface RefundRequest {
  orderId: string;
  refundId: string;
  amountFen: number;
  /** the order's paid amount */
  totalFen: number;
  reason: string;
}

export type RefundOutcome =
  | { state: 'succeeded'; refundedAt: string | null; providerRefundId: string | null }
  /** accepted; the result comes later (WeChat: by notification or query) */
  | { state: 'processing'; providerRefundId: string | null }
  | { state: 'failed'; reason: string };

/**
 * A call the provider did not take: `refused` (it answered no: a business or
 * parameter error), `invalid_answer` (an answer that does not verify or
 * parse), `unavailable` (no answer: network, timeout, 5xx).
 */
export class PaymentProviderError extends Error {
  override readonly name = 'PaymentProviderError';
  constructor(
    readonly provider: PaymentProvider,
    readonly kind: 'refused' | 'invalid_answer' | 'unavailable',
    /** the provider's code (`ACQ.TRADE_NOT_EXIST`, `PARAM_ERROR`, …) or ours (`TIMEOUT`, `NETWORK`, `HTTP_503`, `BAD_SIGNATURE`) */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  /** `alipay refused: ACQ.X: message` — fit for an event's reason and a log (no secrets in it). */
  get reason(): string {
    return truncateCharacters(`${this.provider} ${this.kind.replace('_', ' ')}: ${this.code}: ${this.message}`, 500);
  }
}

export interface PaymentProviderClient {
  readonly provider: PaymentProvider;
  place(order: OrderToPlace): Promise<Placement>;
  query(orderId: string): Promise<TradeStatus>;
  /** Submits a refund; submitting the same refundId again is safe (the providers treat it as the same refund). */
  refund(request: RefundRequest): Promise<RefundOutcome>;
  /** Where a refund submitted earlier stands (a lost answer, or a WeChat refund still processing). */
  refundStatus(request: RefundRequest): Promise<RefundOutcome>;
}

export type PaymentProviders = Partial<Record<PaymentProvider, PaymentProviderClient>>;

/** fetch with a deadline: a provider that does not answer in time is `unavailable`. */
export async function providerFetch(
  provider: PaymentProvider,
  url: string,
  init: RequestInit,
  timeoutMs: number,
  fetchImpl: typeof fetch = fetch,
): Promise<{ status: number; headers: Headers; text: string }> {
  try {
    const res = await fetchImpl(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text };
  } catch (error) {
    const timedOut = (error as Error)?.name === 'TimeoutError' || (error as Error)?.name === 'AbortError';
    throw new PaymentProviderError(
      provider,
      'unavailable',
      timedOut ? 'TIMEOUT' : 'NETWORK',
      timedOut ? `no answer within ${timeoutMs} ms` : `could not reach ${new URL(url).host}`,
    );
  }
}

/** An ISO-8601 time, or null when the value is not one. */
export function isoOrNull(value: unknown): string | null {
  return typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? value : null;
}

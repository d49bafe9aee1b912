import { verifyWechatSignature, wechatAuthorization } from './wechat.js';
import {
  PaymentProviderError,
  isoOrNull,
  providerFetch,
  type OrderToPlace,
  type PaymentProviderClient,
  type Placement,
  type RefundOutcome,
  type RefundRequest,
  type TradeStatus,
} from '../../application/ports/payment-providers.js';

/**
 * WeChat Pay API v3 (`WECHAT_API_URL`, https://api.mch.weixin.qq.com):
 * JSON requests carrying `Authorization: WECHATPAY2-SHA256-RSA2048
 * mchid=…,nonce_str=…,signature=…,timestamp=…,serial_no=…` signed with the
 * merchant's private key; answers signed by the platform (`Wechatpay-*`
 * headers over `${timestamp}\n${nonce}\n${body}\n`), verified with the
 * platform public key (WECHAT_PLATFORM_PUBLIC_KEY) and its serial.
 *
 * - `POST /v3/pay/transactions/native` → `{code_url}` (the QR code);
 * - `GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=` → the transaction;
 * - `POST /v3/refund/domestic/refunds` → the refund (mostly PROCESSING; the
 *   result comes as a REFUND.* notification), `GET /v3/refund/domestic/refunds/{out_refund_no}`.
 * Errors: 4xx `{code, message}` (PARAM_ERROR, ORDER_NOT_EXIST, NOT_ENOUGH, …), 5xx SYSTEM_ERROR.
 */
export interface WechatPayClientOptions {
  apiUrl: string;
  mchId: string;
  appId: string;
  merchantPrivateKeyPem: string;
  /** the serial number of the merchant certificate (the key pair that signs) */
  merchantSerial: string;
  platformPublicKeyPem: string;
  /** when set, answers must be signed by this platform serial */
  platformSerial?: string;
  /** POST /api/v1/payments/callback/wechat */
  notifyUrl: string;
  /** POST /api/v1/payments/callback/wechat/refund */
  refundNotifyUrl: string;
  timeoutMs: number;
  now?: () => Date;
  fetch?: typeof fetch;
}

/** `2024-05-01T12:30:00+08:00`: RFC 3339 in Beijing time, as WeChat Pay writes times. */
export function rfc3339Beijing(at: Date): string {
  return `${new Date(at.getTime() + 8 * 3600_000).toISOString().slice(0, 19)}+08:00`;
}

const PENDING = new Set(['NOTPAY', 'USERPAYING', 'ACCEPT']);

export class WechatPayClient implements PaymentProviderClient {
  readonly provider = 'wechat' as const;

  constructor(private readonly options: WechatPayClientOptions) {}

  /** A signed call; the verified JSON answer with its status. 5xx and network → unavailable; a bad answer signature → invalid_answer. */
  private async call(method: 'GET' | 'POST', pathWithQuery: string, payload?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const body = payload === undefined ? '' : JSON.stringify(payload);
    const now = this.options.now?.() ?? new Date();
    const authorization = wechatAuthorization({
      method,
      pathWithQuery,
      body,
      mchid: this.options.mchId,
      serial: this.options.merchantSerial,
      merchantPrivateKeyPem: this.options.merchantPrivateKeyPem,
      timestamp: Math.floor(now.getTime() / 1000),
    });
    const headers: Record<string, string> = { Authorization: authorization, Accept: 'application/json', 'User-Agent': 'collector-payments/1' };
    if (payload !== undefined) headers['Content-Type'] = 'application/json';
    const res = await providerFetch(
      'wechat',
      `${this.options.apiUrl}${pathWithQuery}`,
      { method, headers, ...(payload !== undefined ? { body } : {}) },
      this.options.timeoutMs,
      this.options.fetch,
    );
    if (res.status >= 500) throw new PaymentProviderError('wechat', 'unavailable', `HTTP_${res.status}`, `WeChat Pay answered ${res.status}`);
    const verified = verifyWechatSignature({
      headers: Object.fromEntries(res.headers),
      body: res.text,
      platformPublicKeyPem: this.options.platformPublicKeyPem,
      now,
    });
    if (!verified.ok) throw new PaymentProviderError('wechat', 'invalid_answer', 'BAD_SIGNATURE', verified.reason);
    if (this.options.platformSerial !== undefined && res.headers.get('wechatpay-serial') !== this.options.platformSerial) {
      throw new PaymentProviderError('wechat', 'invalid_answer', 'BAD_SERIAL', 'the answer is signed by another platform certificate');
    }
    let parsed: unknown = {};
    if (res.text !== '') {
      try {
        parsed = JSON.parse(res.text);
      } catch {
        throw new PaymentProviderError('wechat', 'invalid_answer', 'NOT_JSON', 'the answer is not JSON');
      }
    }
    if (!parsed || typeof parsed !== 'object') throw new PaymentProviderError('wechat', 'invalid_answer', 'NOT_JSON', 'the answer is not a JSON object');
    return { status: res.status, body: parsed as Record<string, unknown> };
  }

  private refused(body: Record<string, unknown>, status: number): PaymentProviderError {
    return new PaymentProviderError(
      'wechat',
      'refused',
      typeof body['code'] === 'string' ? body['code'] : `HTTP_${status}`,
      typeof body['message'] === 'string' ? body['message'] : `answered ${status}`,
    );
  }

  async place(order: OrderToPlace): Promise<Placement> {
    if (order.channel !== 'native') throw new PaymentProviderError('wechat', 'refused', 'INVALID_CHANNEL', `wechat has no ${order.channel} channel here`);
    const { status, body } = await this.call('POST', '/v3/pay/transactions/native', {
      appid: this.options.appId,
      mchid: this.options.mchId,
      description: order.subject,
      out_trade_no: order.orderId,
      time_expire: rfc3339Beijing(new Date(order.expiresAt)),
      notify_url: this.options.notifyUrl,
      amount: { total: order.amountFen, currency: 'CNY' },
    });
    if (status !== 200) throw this.refused(body, status);
    if (typeof body['code_url'] !== 'string' || body['code_url'] === '')
      throw new PaymentProviderError('wechat', 'invalid_answer', 'NO_CODE_URL', 'the answer has no code_url');
    return { channel: 'native', payUrl: null, codeUrl: body['code_url'] };
  }

  async query(orderId: string): Promise<TradeStatus> {
    const { status, body } = await this.call(
      'GET',
      `/v3/pay/transactions/out-trade-no/${encodeURIComponent(orderId)}?mchid=${encodeURIComponent(this.options.mchId)}`,
    );
    if (status === 404) return { state: 'absent' };
    if (status !== 200) throw this.refused(body, status);
    if (body['mchid'] !== this.options.mchId || body['appid'] !== this.options.appId)
      throw new PaymentProviderError('wechat', 'invalid_answer', 'FOREIGN', 'the transaction is not of this merchant / app');
    const state = String(body['trade_state'] ?? '');
    const transactionId = typeof body['transaction_id'] === 'string' && body['transaction_id'] !== '' ? body['transaction_id'] : null;
    // REFUND: it was paid, then (part) refunded
    if (state === 'SUCCESS' || state === 'REFUND') {
      const amount = body['amount'] as { total?: unknown; currency?: unknown } | undefined;
      if (!transactionId || typeof amount?.total !== 'number' || amount.currency !== 'CNY')
        throw new PaymentProviderError('wechat', 'invalid_answer', 'INCOMPLETE', 'a paid transaction without transaction_id or a CNY amount');
      return { state: 'paid', providerTradeNo: transactionId, paidAmountFen: amount.total, paidAt: isoOrNull(body['success_time']) };
    }
    if (PENDING.has(state)) return { state: 'pending', detail: state };
    return {
      state: 'closed',
      detail: `${state}${body['trade_state_desc'] ? `: ${String(body['trade_state_desc'])}` : ''}`.slice(0, 300),
      providerTradeNo: transactionId,
    };
  }

  private outcome(body: Record<string, unknown>): RefundOutcome {
    const refundId = typeof body['refund_id'] === 'string' ? body['refund_id'] : null;
    switch (body['status']) {
      case 'SUCCESS':
        return { state: 'succeeded', refundedAt: isoOrNull(body['success_time']), providerRefundId: refundId };
      case 'PROCESSING':
        return { state: 'processing', providerRefundId: refundId };
      case 'CLOSED':
      case 'ABNORMAL':
        return { state: 'failed', reason: `wechat refund ${String(body['status'])}` };
      default:
        throw new PaymentProviderError('wechat', 'invalid_answer', 'BAD_STATUS', `unknown refund status ${String(body['status'])}`);
    }
  }

  async refund(request: RefundRequest): Promise<RefundOutcome> {
    const { status, body } = await this.call('POST', '/v3/refund/domestic/refunds', {
      out_trade_no: request.orderId,
      out_refund_no: request.refundId,
      reason: request.reason.slice(0, 80),
      notify_url: this.options.refundNotifyUrl,
      amount: { refund: request.amountFen, total: request.totalFen, currency: 'CNY' },
    });
    if (status === 200) return this.outcome(body);
    // a business refusal (NOT_ENOUGH, INVALID_REQUEST, …): this refund will not happen
    if (status >= 400 && status < 500)
      return { state: 'failed', reason: `wechat refused: ${String(body['code'] ?? status)}: ${String(body['message'] ?? '')}`.slice(0, 500) };
    throw this.refused(body, status);
  }

  async refundStatus(request: RefundRequest): Promise<RefundOutcome> {
    const { status, body } = await this.call('GET', `/v3/refund/domestic/refunds/${encodeURIComponent(request.refundId)}`);
    // never reached WeChat (the answer to our submission was lost before it was made): submit it now
    if (status === 404) return this.refund(request);
    if (status !== 200) throw this.refused(body, status);
    return this.outcome(body);
  }
}

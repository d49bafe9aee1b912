import { beijingTime, beijingTimeToIso, signAlipayRequest, verifyAlipayResponse, type AlipayParams } from './alipay.js';
import { fenToYuan, yuanToFen } from './money.js';
import {
  PaymentProviderError,
  providerFetch,
  type OrderToPlace,
  type PaymentProviderClient,
  type Placement,
  type RefundOutcome,
  type RefundRequest,
  type TradeStatus,
} from '../../application/ports/payment-providers.js';

/**
 * Alipay's open API (开放平台) through its gateway (`ALIPAY_GATEWAY_URL`,
 * `…/gateway.do`): every request carries the common parameters (app_id,
 * method, format, charset, sign_type, timestamp, version) and `biz_content`
 * (JSON), signed RSA2 with the app's private key over the sorted parameters
 * (signAlipayRequest). Answers are `{"<method>_response": {...}, "sign"}`,
 * verified with Alipay's public key over the response object's exact text.
 *
 * - page / wap pay (`alipay.trade.page.pay`, `alipay.trade.wap.pay`) is no
 *   call: the signed request IS the pay URL the buyer's browser opens.
 * - `alipay.trade.query` and `alipay.trade.refund` are form POSTs.
 * Business answers: `code` 10000 = success; 40004 = business failure
 * (`sub_code` says which); 20000 = service unavailable; 40001/40002 = missing
 * or invalid parameters (a bad signature included).
 */
export interface AlipayClientOptions {
  gatewayUrl: string;
  appId: string;
  appPrivateKeyPem: string;
  alipayPublicKeyPem: string;
  /** our async notification URL (POST /api/v1/payments/callback/alipay) */
  notifyUrl: string;
  /** where the buyer's browser returns after paying; none: Alipay's own result page */
  returnUrl?: string;
  timeoutMs: number;
  now?: () => Date;
  fetch?: typeof fetch;
}

const PAID = new Set(['TRADE_SUCCESS', 'TRADE_FINISHED']);

export class AlipayClient implements PaymentProviderClient {
  readonly provider = 'alipay' as const;

  constructor(private readonly options: AlipayClientOptions) {}

  private common(method: string, biz: Record<string, unknown>, extra: AlipayParams = {}): AlipayParams {
    const now = this.options.now?.() ?? new Date();
    return signAlipayRequest(
      {
        app_id: this.options.appId,
        method,
        format: 'JSON',
        charset: 'utf-8',
        sign_type: 'RSA2',
        timestamp: beijingTime(now),
        version: '1.0',
        ...extra,
        biz_content: JSON.stringify(biz),
      },
      this.options.appPrivateKeyPem,
    );
  }

  async place(order: OrderToPlace): Promise<Placement> {
    if (order.channel !== 'page' && order.channel !== 'wap')
      throw new PaymentProviderError('alipay', 'refused', 'INVALID_CHANNEL', `alipay has no ${order.channel} channel`);
    const method = order.channel === 'page' ? 'alipay.trade.page.pay' : 'alipay.trade.wap.pay';
    const params = this.common(
      method,
      {
        out_trade_no: order.orderId,
        total_amount: fenToYuan(order.amountFen),
        subject: order.subject,
        product_code: order.channel === 'page' ? 'FAST_INSTANT_TRADE_PAY' : 'QUICK_WAP_WAY',
        time_expire: beijingTime(new Date(order.expiresAt)),
      },
      { notify_url: this.options.notifyUrl, ...(this.options.returnUrl ? { return_url: this.options.returnUrl } : {}) },
    );
    // the buyer's browser follows this (GET): Alipay verifies the signature and shows its cashier
    return { channel: order.channel, payUrl: `${this.options.gatewayUrl}?${new URLSearchParams(params).toString()}`, codeUrl: null };
  }

  /** One open API call; the verified response object (code 10000 or a business failure the caller reads). */
  private async call(method: string, biz: Record<string, unknown>): Promise<Record<string, unknown>> {
    const params = this.common(method, biz);
    const { status, text } = await providerFetch(
      'alipay',
      `${this.options.gatewayUrl}?charset=utf-8`,
      { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded;charset=utf-8' }, body: new URLSearchParams(params).toString() },
      this.options.timeoutMs,
      this.options.fetch,
    );
    if (status >= 500) throw new PaymentProviderError('alipay', 'unavailable', `HTTP_${status}`, `the gateway answered ${status}`);
    if (status !== 200) throw new PaymentProviderError('alipay', 'invalid_answer', `HTTP_${status}`, `the gateway answered ${status}`);
    const verified = verifyAlipayResponse(text, method, this.options.alipayPublicKeyPem);
    if (!verified.ok) {
      const r = verified.response;
      // an unsigned error_response: the gateway refused the request itself (e.g. our signature, 40002)
      if (r && typeof r['code'] === 'string')
        throw new PaymentProviderError('alipay', 'refused', String(r['sub_code'] ?? r['code']), String(r['sub_msg'] ?? r['msg'] ?? 'refused'));
      throw new PaymentProviderError('alipay', 'invalid_answer', 'BAD_SIGNATURE', verified.reason);
    }
    const response = verified.response;
    if (response['code'] === '20000')
      throw new PaymentProviderError(
        'alipay',
        'unavailable',
        String(response['sub_code'] ?? '20000'),
        String(response['sub_msg'] ?? response['msg'] ?? 'service unavailable'),
      );
    return response;
  }

  async query(orderId: string): Promise<TradeStatus> {
    const r = await this.call('alipay.trade.query', { out_trade_no: orderId });
    if (r['code'] !== '10000') {
      if (r['sub_code'] === 'ACQ.TRADE_NOT_EXIST') return { state: 'absent' };
      throw new PaymentProviderError('alipay', 'refused', String(r['sub_code'] ?? r['code']), String(r['sub_msg'] ?? r['msg'] ?? ''));
    }
    const status = String(r['trade_status'] ?? '');
    const tradeNo = typeof r['trade_no'] === 'string' ? r['trade_no'] : null;
    if (PAID.has(status)) {
      const amount = yuanToFen(String(r['total_amount'] ?? ''));
      if (!tradeNo || amount === undefined)
        throw new PaymentProviderError('alipay', 'invalid_answer', 'INCOMPLETE', 'a paid trade without trade_no or total_amount');
      return { state: 'paid', providerTradeNo: tradeNo, paidAmountFen: amount, paidAt: beijingTimeToIso(String(r['send_pay_date'] ?? '')) ?? null };
    }
    if (status === 'TRADE_CLOSED') return { state: 'closed', detail: 'TRADE_CLOSED', providerTradeNo: tradeNo };
    return { state: 'pending', detail: status || 'unknown' };
  }

  async refund(request: RefundRequest): Promise<RefundOutcome> {
    const r = await this.call('alipay.trade.refund', {
      out_trade_no: request.orderId,
      refund_amount: fenToYuan(request.amountFen),
      out_request_no: request.refundId,
      refund_reason: request.reason.slice(0, 256),
    });
    if (r['code'] === '10000') {
      // a repeat of an out_request_no already refunded answers 10000 again (fund_change N): the refund stands
      return { state: 'succeeded', refundedAt: beijingTimeToIso(String(r['gmt_refund_pay'] ?? '')) ?? null, providerRefundId: null };
    }
    if (r['code'] === '40004')
      return { state: 'failed', reason: `alipay refused: ${String(r['sub_code'] ?? '40004')}: ${String(r['sub_msg'] ?? r['msg'] ?? '')}`.slice(0, 500) };
    throw new PaymentProviderError('alipay', 'refused', String(r['sub_code'] ?? r['code']), String(r['sub_msg'] ?? r['msg'] ?? ''));
  }

  /** Alipay refunds are synchronous and `out_request_no` makes a repeat the same refund: asking again is submitting again. */
  refundStatus(request: RefundRequest): Promise<RefundOutcome> {
    return this.refund(request);
  }
}

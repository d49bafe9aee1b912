import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  beijingTime,
  parseAlipayForm,
  signAlipayParams,
  signAlipayResponse,
  verifyAlipayRequest,
  type AlipayParams,
} from '../../src/adapters/payments/alipay.js';
import { fenToYuan, yuanToFen } from '../../src/adapters/payments/money.js';
import { buildWechatEventNotification, parseWechatAuthorization, signWechatBody, verifyWechatRequest } from '../../src/adapters/payments/wechat.js';
import { generateProviderKeys, type MerchantRegistration, type ProviderKeys } from './keys.js';
import { Notifier, type Delivery } from './notifier.js';

/**
 * A sandbox of Alipay's open API gateway and WeChat Pay API v3 on one HTTP
 * server: it stands in for the network, not for our code. It speaks the
 * documented protocols — it verifies the merchant's RSA2 / WECHATPAY2-SHA256-
 * RSA2048 signatures with the merchant's public keys, answers signed with its
 * own keys, keeps trades and refunds, and POSTs signed (WeChat: AES-256-GCM
 * encrypted) notifications to the merchant's notify URLs, retrying on the
 * providers' schedules until acknowledged.
 *
 * Alipay (`POST|GET /gateway.do`, parameters in the query or a form body):
 * - alipay.trade.page.pay / alipay.trade.wap.pay: the buyer's browser opens
 *   the signed URL; the sandbox opens the trade (WAIT_BUYER_PAY) and shows a
 *   cashier page whose button pays (`POST /sandbox/alipay/pay`);
 * - alipay.trade.query, alipay.trade.refund, alipay.trade.close.
 * WeChat Pay:
 * - POST /v3/pay/transactions/native → code_url (`weixin://wxpay/bizpayurl?pr=…`);
 *   the buyer "scans" it at GET /sandbox/wechat/scan/{pr} (or POST /sandbox/wechat/pay);
 * - GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=,
 *   POST …/{out_trade_no}/close, POST /v3/refund/domestic/refunds,
 *   GET /v3/refund/domestic/refunds/{out_refund_no}; a refund is PROCESSING,
 *   then SUCCESS after `refundSettleMs` with a REFUND.SUCCESS notification.
 *
 * `faults` switches on what tests need from a misbehaving network:
 * notifications lost or tampered with, answers tampered with, the provider down.
 */

export interface PaymentSandboxOptions {
  host?: string;
  port?: number;
  merchant: MerchantRegistration;
  /** the provider side's keys; generated when absent */
  keys?: ProviderKeys;
  /** multiplies the notification retry schedules (tests: 0.001) */
  timeScale?: number;
  /** host (or host:port) → origin the notify URLs' hosts resolve to (a DNS stand-in) */
  resolve?: Record<string, string>;
  /** how long a WeChat Pay refund stays PROCESSING */
  refundSettleMs?: number;
  log?: (line: string) => void;
}

export interface SandboxFaults {
  /** notifications are never sent (lost on the way) */
  dropNotifications: boolean;
  /** notifications are altered after signing (the merchant must refuse them) */
  tamperNotifications: boolean;
  /** API answers are altered after signing (the merchant must not believe them) */
  tamperResponses: boolean;
  /** every API call answers 5xx */
  unavailable: boolean;
}

interface AlipayTrade {
  outTradeNo: string;
  tradeNo: string | null;
  status: 'WAIT_BUYER_PAY' | 'TRADE_SUCCESS' | 'TRADE_CLOSED' | 'TRADE_FINISHED';
  totalFen: number;
  subject: string;
  notifyUrl: string | null;
  returnUrl: string | null;
  createdAt: Date;
  paidAt: Date | null;
  refundedFen: number;
  refunds: Map<string, { amountFen: number; at: Date }>;
}

interface WechatRefund {
  refundId: string;
  outRefundNo: string;
  amountFen: number;
  status: 'PROCESSING' | 'SUCCESS' | 'CLOSED' | 'ABNORMAL';
  createdAt: Date;
  successAt: Date | null;
  notifyUrl: string | null;
  reason: string;
}

interface WechatTrade {
  outTradeNo: string;
  transactionId: string | null;
  state: 'NOTPAY' | 'SUCCESS' | 'CLOSED' | 'REFUND';
  totalFen: number;
  description: string;
  notifyUrl: string;
  codeToken: string;
  createdAt: Date;
  paidAt: Date | null;
  openid: string;
  refundedFen: number;
  refunds: Map<string, WechatRefund>;
}

export interface PaymentSandbox {
  url: string;
  alipayGatewayUrl: string;
  wechatApiUrl: string;
  keys: ProviderKeys;
  faults: SandboxFaults;
  /** host → origin for notify URLs (add entries while running) */
  resolve: Map<string, string>;
  deliveries: Delivery[];
  /** the buyer pays (what the cashier button / the QR scan does) */
  pay(provider: 'alipay' | 'wechat', outTradeNo: string): Promise<{ tradeNo: string }>;
  /** sends the trade's notification again (as the provider does for a trade whose notification was never acknowledged) */
  renotify(provider: 'alipay' | 'wechat', outTradeNo: string): void;
  trade(provider: 'alipay' | 'wechat', outTradeNo: string): { status: string; tradeNo: string | null; totalFen: number; refundedFen: number } | undefined;
  /** resolves once `predicate` holds for a delivery (or rejects after `timeoutMs`) */
  waitForDelivery(predicate: (d: Delivery) => boolean, timeoutMs?: number): Promise<Delivery>;
  stop(): Promise<void>;
}

const ALIPAY_METHODS = new Set(['alipay.trade.page.pay', 'alipay.trade.wap.pay', 'alipay.trade.query', 'alipay.trade.refund', 'alipay.trade.close']);
const OUT_TRADE_NO_ALIPAY = /^[A-Za-z0-9_-]{1,64}$/;
const OUT_TRADE_NO_WECHAT = /^[A-Za-z0-9_\-|*]{6,32}$/;
const OUT_REFUND_NO_WECHAT = /^[A-Za-z0-9_\-|*@]{1,64}$/;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 1024 * 1024) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(res: ServerResponse, status: number, title: string, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}button{font-size:1.1rem;padding:.5rem 1.5rem}.amount{font-size:2rem}</style>
</head><body><p><strong>Payment sandbox</strong> — not a real payment</p>${body}</body></html>`);
}

/** RFC 3339 in Beijing time, as WeChat Pay writes times. */
function rfc3339(at: Date): string {
  return `${new Date(at.getTime() + 8 * 3600_000).toISOString().slice(0, 19)}+08:00`;
}

function digits(n: number): string {
  let out = '';
  while (out.length < n) out += randomBytes(8).readBigUInt64BE().toString();
  return out.slice(0, n);
}

export async function startPaymentSandbox(options: PaymentSandboxOptions): Promise<PaymentSandbox> {
  const keys = options.keys ?? generateProviderKeys();
  const timeScale = options.timeScale ?? 1;
  const log = options.log ?? (() => undefined);
  const faults: SandboxFaults = { dropNotifications: false, tamperNotifications: false, tamperResponses: false, unavailable: false };
  const resolve = new Map(Object.entries(options.resolve ?? {}));
  const notifier = new Notifier({ timeScale, resolve, log });
  const alipayTrades = new Map<string, AlipayTrade>();
  const wechatTrades = new Map<string, WechatTrade>();
  const wechatByToken = new Map<string, WechatTrade>();
  const timers = new Set<NodeJS.Timeout>();
  const merchant = options.merchant;
  let baseUrl = '';

  // ------------------------------------------------------------ Alipay

  function alipayAnswer(res: ServerResponse, method: string, response: Record<string, unknown>): void {
    let text = signAlipayResponse(method, response, keys.alipay.privateKeyPem);
    if (faults.tamperResponses) text = text.replace(/"msg":"/, '"msg":"x');
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
    res.end(text);
  }

  function alipayBusinessFailure(subCode: string, subMsg: string): Record<string, unknown> {
    return { code: '40004', msg: 'Business Failed', sub_code: subCode, sub_msg: subMsg };
  }

  function alipayNotification(trade: AlipayTrade): void {
    if (!trade.notifyUrl || !merchant.alipay) return;
    if (faults.dropNotifications) return log(`alipay notification for ${trade.outTradeNo} dropped`);
    const alipay = merchant.alipay;
    const notifyId = randomUUID().replaceAll('-', '');
    notifier.notify({
      provider: 'alipay',
      kind: 'trade_status_sync',
      url: trade.notifyUrl,
      build: () => {
        const params = signAlipayParams(
          {
            notify_time: beijingTime(new Date()),
            notify_type: 'trade_status_sync',
            notify_id: notifyId,
            app_id: alipay.appId,
            charset: 'utf-8',
            version: '1.0',
            trade_no: trade.tradeNo ?? '',
            out_trade_no: trade.outTradeNo,
            trade_status: trade.status,
            total_amount: fenToYuan(trade.totalFen),
            receipt_amount: fenToYuan(trade.totalFen),
            buyer_pay_amount: fenToYuan(trade.totalFen),
            subject: trade.subject,
            gmt_create: beijingTime(trade.createdAt),
            gmt_payment: trade.paidAt ? beijingTime(trade.paidAt) : '',
            seller_id: alipay.sellerId,
            buyer_id: '2088102177846880',
            buyer_logon_id: 'sbx***@sandbox.test',
          },
          keys.alipay.privateKeyPem,
        );
        // a man in the middle: the amount changed after Alipay signed it
        if (faults.tamperNotifications) params['total_amount'] = '0.01';
        return { headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' }, body: new URLSearchParams(params).toString() };
      },
    });
  }

  function alipayPay(outTradeNo: string): AlipayTrade {
    const trade = alipayTrades.get(outTradeNo);
    if (!trade) throw new Error(`no alipay trade ${outTradeNo}`);
    if (trade.status === 'TRADE_SUCCESS') return trade;
    if (trade.status !== 'WAIT_BUYER_PAY') throw new Error(`alipay trade ${outTradeNo} is ${trade.status}`);
    trade.status = 'TRADE_SUCCESS';
    trade.tradeNo = `${beijingTime(new Date()).replace(/\D/g, '').slice(0, 8)}22001${digits(15)}`;
    trade.paidAt = new Date();
    log(`alipay trade ${outTradeNo} paid (${trade.tradeNo})`);
    alipayNotification(trade);
    return trade;
  }

  async function gateway(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const params: AlipayParams = Object.fromEntries(url.searchParams);
    if (req.method === 'POST') Object.assign(params, parseAlipayForm(await readBody(req)));
    const method = params['method'] ?? '';
    const browser = method === 'alipay.trade.page.pay' || method === 'alipay.trade.wap.pay';
    const fail = (subCode: string, subMsg: string) => {
      if (browser) return page(res, 400, '支付宝 - 错误', `<h1>错误代码 ${escapeHtml(subCode)}</h1><p>${escapeHtml(subMsg)}</p>`);
      return alipayAnswer(res, method, { code: '40002', msg: 'Invalid Arguments', sub_code: subCode, sub_msg: subMsg });
    };
    if (faults.unavailable) {
      res.writeHead(503, { 'Content-Type': 'text/plain' });
      return void res.end('service unavailable');
    }
    if (!ALIPAY_METHODS.has(method)) return fail('isv.invalid-method', `不存在的方法名 ${method}`);
    if (!merchant.alipay || params['app_id'] !== merchant.alipay.appId) {
      // the app is unknown: Alipay has no key to sign for it
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' });
      return void res.end(
        JSON.stringify({ error_response: { code: '40002', msg: 'Invalid Arguments', sub_code: 'isv.invalid-app-id', sub_msg: '无效的AppID参数' } }),
      );
    }
    if (!verifyAlipayRequest(params, merchant.alipay.appPublicKeyPem)) return fail('isv.invalid-signature', '验签出错');
    const sent = Date.parse(`${(params['timestamp'] ?? '').replace(' ', 'T')}+08:00`);
    if (Number.isNaN(sent) || Math.abs(Date.now() - sent) > 30 * 60_000) return fail('isv.invalid-timestamp', '非法的时间戳参数');
    let biz: Record<string, unknown>;
    try {
      biz = JSON.parse(params['biz_content'] ?? '') as Record<string, unknown>;
    } catch {
      return fail('isv.missing-biz-content', '缺少业务参数');
    }
    const outTradeNo = typeof biz['out_trade_no'] === 'string' ? biz['out_trade_no'] : '';
    if (!OUT_TRADE_NO_ALIPAY.test(outTradeNo)) return fail('isv.invalid-parameter', 'out_trade_no 不合法');
    const trade = alipayTrades.get(outTradeNo);

    switch (method) {
      case 'alipay.trade.page.pay':
      case 'alipay.trade.wap.pay': {
        const totalFen = yuanToFen(String(biz['total_amount'] ?? ''));
        const productCode = method === 'alipay.trade.page.pay' ? 'FAST_INSTANT_TRADE_PAY' : 'QUICK_WAP_WAY';
        if (totalFen === undefined || totalFen <= 0) return fail('isv.invalid-parameter', 'total_amount 不合法');
        if (typeof biz['subject'] !== 'string' || biz['subject'] === '') return fail('isv.missing-parameter', '缺少 subject');
        if (biz['product_code'] !== productCode) return fail('isv.invalid-parameter', `product_code 应为 ${productCode}`);
        if (trade && trade.totalFen !== totalFen) return fail('ACQ.CONTEXT_INCONSISTENT', '交易信息被篡改');
        if (trade && trade.status !== 'WAIT_BUYER_PAY') return page(res, 200, '支付宝', `<h1>交易已${trade.status === 'TRADE_CLOSED' ? '关闭' : '支付'}</h1>`);
        const open: AlipayTrade = trade ?? {
          outTradeNo,
          tradeNo: null,
          status: 'WAIT_BUYER_PAY',
          totalFen,
          subject: String(biz['subject']),
          notifyUrl: params['notify_url'] ?? null,
          returnUrl: params['return_url'] ?? null,
          createdAt: new Date(),
          paidAt: null,
          refundedFen: 0,
          refunds: new Map(),
        };
        alipayTrades.set(outTradeNo, open);
        return page(
          res,
          200,
          '支付宝 - 收银台',
          `<h1>${escapeHtml(open.subject)}</h1><p class="amount">¥${fenToYuan(open.totalFen)}</p><p>订单号 ${escapeHtml(outTradeNo)}</p>
<form method="post" action="/sandbox/alipay/pay"><input type="hidden" name="out_trade_no" value="${escapeHtml(outTradeNo)}"><button type="submit">确认付款</button></form>`,
        );
      }
      case 'alipay.trade.query': {
        if (!trade) return alipayAnswer(res, method, alipayBusinessFailure('ACQ.TRADE_NOT_EXIST', '交易不存在'));
        return alipayAnswer(res, method, {
          code: '10000',
          msg: 'Success',
          ...(trade.tradeNo ? { trade_no: trade.tradeNo } : {}),
          out_trade_no: trade.outTradeNo,
          buyer_logon_id: 'sbx***@sandbox.test',
          trade_status: trade.status,
          total_amount: fenToYuan(trade.totalFen),
          ...(trade.paidAt
            ? { buyer_pay_amount: fenToYuan(trade.totalFen), receipt_amount: fenToYuan(trade.totalFen), send_pay_date: beijingTime(trade.paidAt) }
            : {}),
        });
      }
      case 'alipay.trade.refund': {
        if (!trade) return alipayAnswer(res, method, alipayBusinessFailure('ACQ.TRADE_NOT_EXIST', '交易不存在'));
        const amountFen = yuanToFen(String(biz['refund_amount'] ?? ''));
        if (amountFen === undefined || amountFen <= 0) return fail('isv.invalid-parameter', 'refund_amount 不合法');
        const requestNo = typeof biz['out_request_no'] === 'string' && biz['out_request_no'] !== '' ? biz['out_request_no'] : trade.outTradeNo;
        const earlier = trade.refunds.get(requestNo);
        const answer = (fundChange: 'Y' | 'N', at: Date) =>
          alipayAnswer(res, method, {
            code: '10000',
            msg: 'Success',
            trade_no: trade.tradeNo,
            out_trade_no: trade.outTradeNo,
            buyer_logon_id: 'sbx***@sandbox.test',
            fund_change: fundChange,
            refund_fee: fenToYuan(trade.refundedFen),
            gmt_refund_pay: beijingTime(at),
          });
        if (earlier) {
          if (earlier.amountFen !== amountFen)
            return alipayAnswer(res, method, alipayBusinessFailure('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额与该退款请求号的退款金额不一致'));
          return answer('N', earlier.at);
        }
        if (trade.status !== 'TRADE_SUCCESS') return alipayAnswer(res, method, alipayBusinessFailure('ACQ.TRADE_STATUS_ERROR', '交易状态不合法'));
        if (amountFen > trade.totalFen - trade.refundedFen)
          return alipayAnswer(res, method, alipayBusinessFailure('ACQ.REFUND_AMT_NOT_EQUAL_TOTAL', '退款金额超限'));
        const at = new Date();
        trade.refunds.set(requestNo, { amountFen, at });
        trade.refundedFen += amountFen;
        // a trade refunded in full is closed
        if (trade.refundedFen === trade.totalFen) trade.status = 'TRADE_CLOSED';
        log(`alipay trade ${trade.outTradeNo} refunded ${amountFen} fen (${requestNo})`);
        return answer('Y', at);
      }
      case 'alipay.trade.close': {
        if (!trade) return alipayAnswer(res, method, alipayBusinessFailure('ACQ.TRADE_NOT_EXIST', '交易不存在'));
        if (trade.status !== 'WAIT_BUYER_PAY') return alipayAnswer(res, method, alipayBusinessFailure('ACQ.TRADE_STATUS_ERROR', '交易状态不合法'));
        trade.status = 'TRADE_CLOSED';
        return alipayAnswer(res, method, { code: '10000', msg: 'Success', out_trade_no: trade.outTradeNo });
      }
    }
  }

  // ------------------------------------------------------------ WeChat Pay

  function wechatAnswer(res: ServerResponse, status: number, body: unknown): void {
    const text = body === undefined ? '' : JSON.stringify(body);
    const headers = signWechatBody(text, keys.wechatPlatform.privateKeyPem, { serial: keys.wechatPlatformSerial });
    const sent = faults.tamperResponses && text !== '' ? text.replace(/"$|}$/, ' }') : text;
    res.writeHead(status, { ...headers, 'Request-ID': randomUUID(), ...(text !== '' ? { 'Content-Type': 'application/json; charset=utf-8' } : {}) });
    res.end(sent);
  }

  function wechatError(res: ServerResponse, status: number, code: string, message: string): void {
    wechatAnswer(res, status, { code, message });
  }

  function wechatTransaction(trade: WechatTrade): Record<string, unknown> {
    const paid = trade.state === 'SUCCESS' || trade.state === 'REFUND';
    return {
      appid: merchant.wechat!.appId,
      mchid: merchant.wechat!.mchId,
      out_trade_no: trade.outTradeNo,
      ...(trade.transactionId ? { transaction_id: trade.transactionId } : {}),
      trade_type: 'NATIVE',
      trade_state: trade.state,
      trade_state_desc: { NOTPAY: '未支付', SUCCESS: '支付成功', CLOSED: '已关闭', REFUND: '转入退款' }[trade.state],
      ...(paid ? { bank_type: 'OTHERS', success_time: rfc3339(trade.paidAt!), payer: { openid: trade.openid } } : {}),
      attach: '',
      amount: paid
        ? { total: trade.totalFen, payer_total: trade.totalFen, currency: 'CNY', payer_currency: 'CNY' }
        : { total: trade.totalFen, currency: 'CNY' },
    };
  }

  function wechatNotify(kind: 'transaction' | 'refund', url: string, eventType: string, summary: string, plaintext: () => string): void {
    if (faults.dropNotifications) return log(`wechat ${eventType} notification dropped`);
    const wechat = merchant.wechat!;
    notifier.notify({
      provider: 'wechat',
      kind: eventType,
      url,
      build: () => {
        const { body, headers } = buildWechatEventNotification({
          eventType,
          summary,
          originalType: kind,
          plaintext: plaintext(),
          apiV3Key: wechat.apiV3Key,
          platformPrivateKeyPem: keys.wechatPlatform.privateKeyPem,
          serial: keys.wechatPlatformSerial,
        });
        // a man in the middle: the body changed after WeChat Pay signed it
        const sent = faults.tamperNotifications ? body.replace('"summary":"', '"summary":"!') : body;
        return { headers: { 'Content-Type': 'application/json', ...headers }, body: sent };
      },
    });
  }

  function wechatPay(outTradeNo: string): WechatTrade {
    const trade = wechatTrades.get(outTradeNo);
    if (!trade) throw new Error(`no wechat trade ${outTradeNo}`);
    if (trade.state === 'SUCCESS') return trade;
    if (trade.state !== 'NOTPAY') throw new Error(`wechat trade ${outTradeNo} is ${trade.state}`);
    trade.state = 'SUCCESS';
    trade.transactionId = `4200${digits(24)}`;
    trade.paidAt = new Date();
    log(`wechat trade ${outTradeNo} paid (${trade.transactionId})`);
    wechatNotify('transaction', trade.notifyUrl, 'TRANSACTION.SUCCESS', '支付成功', () => JSON.stringify(wechatTransaction(trade)));
    return trade;
  }

  function refundObject(trade: WechatTrade, refund: WechatRefund): Record<string, unknown> {
    return {
      refund_id: refund.refundId,
      out_refund_no: refund.outRefundNo,
      transaction_id: trade.transactionId,
      out_trade_no: trade.outTradeNo,
      channel: 'ORIGINAL',
      user_received_account: '支付用户零钱',
      ...(refund.successAt ? { success_time: rfc3339(refund.successAt) } : {}),
      create_time: rfc3339(refund.createdAt),
      status: refund.status,
      funds_account: 'AVAILABLE',
      amount: {
        total: trade.totalFen,
        refund: refund.amountFen,
        payer_total: trade.totalFen,
        payer_refund: refund.amountFen,
        settlement_refund: refund.amountFen,
        settlement_total: trade.totalFen,
        discount_refund: 0,
        currency: 'CNY',
        refund_fee: 0,
      },
    };
  }

  function settleRefund(trade: WechatTrade, refund: WechatRefund): void {
    if (refund.status !== 'PROCESSING') return;
    refund.status = 'SUCCESS';
    refund.successAt = new Date();
    trade.state = 'REFUND';
    log(`wechat refund ${refund.outRefundNo} of ${trade.outTradeNo} succeeded (${refund.amountFen} fen)`);
    if (!refund.notifyUrl) return;
    const wechat = merchant.wechat!;
    wechatNotify('refund', refund.notifyUrl, 'REFUND.SUCCESS', '退款成功', () =>
      JSON.stringify({
        mchid: wechat.mchId,
        out_trade_no: trade.outTradeNo,
        transaction_id: trade.transactionId,
        out_refund_no: refund.outRefundNo,
        refund_id: refund.refundId,
        refund_status: 'SUCCESS',
        success_time: rfc3339(refund.successAt!),
        user_received_account: '支付用户零钱',
        amount: { total: trade.totalFen, refund: refund.amountFen, payer_total: trade.totalFen, payer_refund: refund.amountFen },
      }),
    );
  }

  async function wechatApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const body = req.method === 'POST' ? await readBody(req) : '';
    if (faults.unavailable) return wechatError(res, 500, 'SYSTEM_ERROR', '系统错误');
    const wechat = merchant.wechat;
    if (!wechat) return wechatError(res, 401, 'SIGN_ERROR', '商户未开通');
    const auth = parseWechatAuthorization(req.headers.authorization);
    if (!auth || auth.mchid !== wechat.mchId) return wechatError(res, 401, 'SIGN_ERROR', 'Authorization 不合法或商户号不匹配');
    if (auth.serial_no !== wechat.merchantSerial) return wechatError(res, 401, 'SIGN_ERROR', '商户证书序列号不匹配');
    const verified = verifyWechatRequest({
      method: req.method ?? 'GET',
      pathWithQuery: `${url.pathname}${url.search}`,
      body,
      authorization: req.headers.authorization,
      merchantPublicKeyPem: wechat.merchantPublicKeyPem,
    });
    if (!verified.ok) return wechatError(res, 401, 'SIGN_ERROR', `签名错误: ${verified.reason}`);
    let json: Record<string, any> = {};
    if (body !== '') {
      try {
        json = JSON.parse(body) as Record<string, any>;
      } catch {
        return wechatError(res, 400, 'PARAM_ERROR', '请求体不是 JSON');
      }
    }
    const path = url.pathname;

    if (req.method === 'POST' && path === '/v3/pay/transactions/native') {
      if (json.appid !== wechat.appId || json.mchid !== wechat.mchId) return wechatError(res, 400, 'APPID_MCHID_NOT_MATCH', 'appid 和 mch_id 不匹配');
      if (typeof json.out_trade_no !== 'string' || !OUT_TRADE_NO_WECHAT.test(json.out_trade_no))
        return wechatError(res, 400, 'PARAM_ERROR', 'out_trade_no 应为 6-32 位字母、数字、_-|*');
      if (typeof json.description !== 'string' || json.description === '' || json.description.length > 127)
        return wechatError(res, 400, 'PARAM_ERROR', 'description 不合法');
      if (typeof json.notify_url !== 'string' || !URL.canParse(json.notify_url)) return wechatError(res, 400, 'PARAM_ERROR', 'notify_url 不合法');
      const total = json.amount?.total;
      if (!Number.isSafeInteger(total) || total <= 0 || (json.amount?.currency !== undefined && json.amount.currency !== 'CNY'))
        return wechatError(res, 400, 'PARAM_ERROR', 'amount 不合法');
      const existing = wechatTrades.get(json.out_trade_no);
      if (existing) {
        if (existing.state === 'SUCCESS' || existing.state === 'REFUND') return wechatError(res, 403, 'ORDERPAID', '该订单已支付');
        if (existing.state === 'CLOSED') return wechatError(res, 400, 'ORDER_CLOSED', '订单已关闭');
        if (existing.totalFen !== total) return wechatError(res, 400, 'INVALID_REQUEST', '商户订单号重复，且参数不一致');
        return wechatAnswer(res, 200, { code_url: `weixin://wxpay/bizpayurl?pr=${existing.codeToken}` });
      }
      const trade: WechatTrade = {
        outTradeNo: json.out_trade_no,
        transactionId: null,
        state: 'NOTPAY',
        totalFen: total,
        description: json.description,
        notifyUrl: json.notify_url,
        codeToken: randomBytes(6).toString('base64url'),
        createdAt: new Date(),
        paidAt: null,
        openid: `oSbx${randomBytes(12).toString('base64url')}`,
        refundedFen: 0,
        refunds: new Map(),
      };
      wechatTrades.set(trade.outTradeNo, trade);
      wechatByToken.set(trade.codeToken, trade);
      return wechatAnswer(res, 200, { code_url: `weixin://wxpay/bizpayurl?pr=${trade.codeToken}` });
    }

    const byOutTradeNo = /^\/v3\/pay\/transactions\/out-trade-no\/([^/]+)(\/close)?$/.exec(path);
    if (byOutTradeNo) {
      const trade = wechatTrades.get(decodeURIComponent(byOutTradeNo[1]!));
      if (req.method === 'GET' && !byOutTradeNo[2]) {
        if (url.searchParams.get('mchid') !== wechat.mchId) return wechatError(res, 400, 'PARAM_ERROR', 'mchid 不合法');
        if (!trade) return wechatError(res, 404, 'ORDER_NOT_EXIST', '订单不存在');
        return wechatAnswer(res, 200, wechatTransaction(trade));
      }
      if (req.method === 'POST' && byOutTradeNo[2]) {
        if (json.mchid !== wechat.mchId) return wechatError(res, 400, 'PARAM_ERROR', 'mchid 不合法');
        if (!trade) return wechatError(res, 404, 'ORDER_NOT_EXIST', '订单不存在');
        if (trade.state === 'SUCCESS' || trade.state === 'REFUND') return wechatError(res, 400, 'ORDERPAID', '订单已支付');
        trade.state = 'CLOSED';
        return wechatAnswer(res, 204, undefined);
      }
    }

    if (req.method === 'POST' && path === '/v3/refund/domestic/refunds') {
      const trade =
        typeof json.out_trade_no === 'string'
          ? wechatTrades.get(json.out_trade_no)
          : [...wechatTrades.values()].find((t) => t.transactionId === json.transaction_id);
      if (!trade) return wechatError(res, 404, 'RESOURCE_NOT_EXISTS', '订单不存在');
      if (typeof json.out_refund_no !== 'string' || !OUT_REFUND_NO_WECHAT.test(json.out_refund_no))
        return wechatError(res, 400, 'PARAM_ERROR', 'out_refund_no 不合法');
      const refundFen = json.amount?.refund;
      if (!Number.isSafeInteger(refundFen) || refundFen <= 0 || json.amount?.currency !== 'CNY') return wechatError(res, 400, 'PARAM_ERROR', 'amount 不合法');
      if (json.amount?.total !== trade.totalFen) return wechatError(res, 400, 'PARAM_ERROR', 'amount.total 与订单金额不一致');
      const earlier = trade.refunds.get(json.out_refund_no);
      if (earlier) {
        if (earlier.amountFen !== refundFen) return wechatError(res, 400, 'INVALID_REQUEST', '退款单号重复，且参数不一致');
        return wechatAnswer(res, 200, refundObject(trade, earlier));
      }
      if (trade.state !== 'SUCCESS' && trade.state !== 'REFUND') return wechatError(res, 400, 'INVALID_REQUEST', '订单未支付，不能退款');
      if (refundFen > trade.totalFen - trade.refundedFen) return wechatError(res, 400, 'INVALID_REQUEST', '申请退款金额超过订单可退金额');
      const refund: WechatRefund = {
        refundId: `5030${digits(25)}`,
        outRefundNo: json.out_refund_no,
        amountFen: refundFen,
        status: 'PROCESSING',
        createdAt: new Date(),
        successAt: null,
        notifyUrl: typeof json.notify_url === 'string' ? json.notify_url : null,
        reason: typeof json.reason === 'string' ? json.reason : '',
      };
      trade.refunds.set(refund.outRefundNo, refund);
      trade.refundedFen += refundFen;
      const timer = setTimeout(() => {
        timers.delete(timer);
        settleRefund(trade, refund);
      }, options.refundSettleMs ?? 3_000);
      timer.unref();
      timers.add(timer);
      return wechatAnswer(res, 200, refundObject(trade, refund));
    }

    const refundQuery = /^\/v3\/refund\/domestic\/refunds\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && refundQuery) {
      const outRefundNo = decodeURIComponent(refundQuery[1]!);
      for (const trade of wechatTrades.values()) {
        const refund = trade.refunds.get(outRefundNo);
        if (refund) return wechatAnswer(res, 200, refundObject(trade, refund));
      }
      return wechatError(res, 404, 'RESOURCE_NOT_EXISTS', '退款单不存在');
    }
    return wechatError(res, 404, 'NOT_FOUND', `no such API: ${req.method} ${path}`);
  }

  // ------------------------------------------------------------ the buyer (sandbox pages)

  async function buyer(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const form = req.method === 'POST' ? parseAlipayForm(await readBody(req)) : Object.fromEntries(url.searchParams);
    try {
      if (req.method === 'POST' && url.pathname === '/sandbox/alipay/pay') {
        const trade = alipayPay(form['out_trade_no'] ?? '');
        if (trade.returnUrl) {
          // the synchronous return: signed like the notification (the merchant must not rely on it)
          const ret = signAlipayParams(
            {
              app_id: merchant.alipay!.appId,
              method: 'alipay.trade.page.pay.return',
              charset: 'utf-8',
              version: '1.0',
              timestamp: beijingTime(new Date()),
              out_trade_no: trade.outTradeNo,
              trade_no: trade.tradeNo!,
              total_amount: fenToYuan(trade.totalFen),
              seller_id: merchant.alipay!.sellerId,
            },
            keys.alipay.privateKeyPem,
          );
          res.writeHead(302, { Location: `${trade.returnUrl}${trade.returnUrl.includes('?') ? '&' : '?'}${new URLSearchParams(ret).toString()}` });
          return void res.end();
        }
        return page(res, 200, '支付宝 - 支付成功', `<h1>支付成功</h1><p>交易号 ${escapeHtml(trade.tradeNo ?? '')}</p>`);
      }
      const scan = /^\/sandbox\/wechat\/scan\/([A-Za-z0-9_-]+)$/.exec(url.pathname);
      if (req.method === 'GET' && scan) {
        const trade = wechatByToken.get(scan[1]!);
        if (!trade) return page(res, 404, '微信支付', '<h1>二维码已失效</h1>');
        return page(
          res,
          200,
          '微信支付',
          `<h1>${escapeHtml(trade.description)}</h1><p class="amount">¥${fenToYuan(trade.totalFen)}</p>
<form method="post" action="/sandbox/wechat/pay"><input type="hidden" name="out_trade_no" value="${escapeHtml(trade.outTradeNo)}"><button type="submit">确认支付</button></form>`,
        );
      }
      if (req.method === 'POST' && url.pathname === '/sandbox/wechat/pay') {
        const trade = wechatPay(form['out_trade_no'] ?? '');
        return page(res, 200, '微信支付 - 支付成功', `<h1>支付成功</h1><p>${escapeHtml(trade.transactionId ?? '')}</p>`);
      }
      if (req.method === 'GET' && url.pathname === '/sandbox/deliveries') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return void res.end(JSON.stringify(notifier.deliveries));
      }
    } catch (error) {
      return page(res, 409, 'Payment sandbox', `<h1>${escapeHtml((error as Error).message)}</h1>`);
    }
    page(res, 404, 'Payment sandbox', '<h1>not found</h1>');
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
    const route = url.pathname === '/gateway.do' ? gateway(req, res, url) : url.pathname.startsWith('/v3/') ? wechatApi(req, res, url) : buyer(req, res, url);
    route.catch((error: unknown) => {
      log(`sandbox error: ${(error as Error).message}`);
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end('sandbox error');
    });
  });
  await new Promise<void>((ok) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', ok));
  const address = server.address() as AddressInfo;
  baseUrl = `http://${options.host ?? '127.0.0.1'}:${address.port}`;

  return {
    url: baseUrl,
    alipayGatewayUrl: `${baseUrl}/gateway.do`,
    wechatApiUrl: baseUrl,
    keys,
    faults,
    resolve,
    deliveries: notifier.deliveries,
    async pay(provider, outTradeNo) {
      if (provider === 'alipay') return { tradeNo: alipayPay(outTradeNo).tradeNo! };
      return { tradeNo: wechatPay(outTradeNo).transactionId! };
    },
    renotify(provider, outTradeNo) {
      if (provider === 'alipay') {
        const trade = alipayTrades.get(outTradeNo);
        if (!trade) throw new Error(`no alipay trade ${outTradeNo}`);
        return alipayNotification(trade);
      }
      const trade = wechatTrades.get(outTradeNo);
      if (!trade) throw new Error(`no wechat trade ${outTradeNo}`);
      wechatNotify(
        'transaction',
        trade.notifyUrl,
        trade.state === 'SUCCESS' || trade.state === 'REFUND' ? 'TRANSACTION.SUCCESS' : 'TRANSACTION.FAIL',
        '支付通知',
        () => JSON.stringify(wechatTransaction(trade)),
      );
    },
    trade(provider, outTradeNo) {
      if (provider === 'alipay') {
        const t = alipayTrades.get(outTradeNo);
        return t && { status: t.status, tradeNo: t.tradeNo, totalFen: t.totalFen, refundedFen: t.refundedFen };
      }
      const t = wechatTrades.get(outTradeNo);
      return t && { status: t.state, tradeNo: t.transactionId, totalFen: t.totalFen, refundedFen: t.refundedFen };
    },
    waitForDelivery(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      return new Promise((ok, fail) => {
        const check = () => {
          const found = notifier.deliveries.find(predicate);
          if (found) return ok(found);
          if (Date.now() > deadline) return fail(new Error('no such delivery in time'));
          setTimeout(check, 20);
        };
        check();
      });
    },
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      await notifier.stop();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

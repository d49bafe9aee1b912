import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { yuanToFen } from './money.js';

/**
 * Alipay asynchronous notifications (异步通知): a form-encoded POST whose
 * `sign` is RSA2 = RSA-SHA256 over the other parameters, sorted by key,
 * `key=value` joined with `&`, leaving out `sign`, `sign_type` and empty
 * values; the signature is base64. Verified against Alipay's public key.
 *
 * Alipay reads the response body: the text `success` stops its retries,
 * anything else (we answer `failure`) makes it notify again later.
 */

export type AlipayParams = Record<string, string>;

export const ALIPAY_SUCCESS = 'success';
export const ALIPAY_FAILURE = 'failure';

/** The exact text Alipay signs. */
export function alipaySigningContent(params: AlipayParams): string {
  return Object.keys(params)
    .filter((key) => key !== 'sign' && key !== 'sign_type' && params[key] !== undefined && params[key] !== '')
    .sort()
    .map((key) => `${key}=${params[key]}`)
    .join('&');
}

/** Signs like Alipay does (for tests and sandboxes): the params plus `sign` and `sign_type: 'RSA2'`. */
export function signAlipayParams(params: AlipayParams, privateKeyPem: string): AlipayParams {
  const unsigned = { ...params, sign_type: 'RSA2' };
  delete (unsigned as Partial<AlipayParams>).sign;
  const signature = sign('RSA-SHA256', Buffer.from(alipaySigningContent(unsigned), 'utf8'), createPrivateKey(privateKeyPem));
  return { ...unsigned, sign: signature.toString('base64') };
}

/** True only for an RSA2 signature that verifies with the given public key; never throws. */
export function verifyAlipayParams(params: AlipayParams, publicKeyPem: string): boolean {
  const signature = params['sign'];
  if (!signature) return false;
  // only RSA2 is accepted (the legacy RSA-SHA1 "RSA" is not)
  if (params['sign_type'] !== undefined && params['sign_type'] !== 'RSA2') return false;
  try {
    return verify('RSA-SHA256', Buffer.from(alipaySigningContent(params), 'utf8'), createPublicKey(publicKeyPem), Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** Form-encoded body → params (the last value wins for a repeated key). */
export function parseAlipayForm(body: string): AlipayParams {
  const params: AlipayParams = {};
  for (const [key, value] of new URLSearchParams(body)) params[key] = value;
  return params;
}

export interface AlipayPayment {
  /** our order id (`out_trade_no`) */
  orderId: string;
  /** Alipay's trade number (`trade_no`) */
  providerTradeNo: string;
  tradeStatus: string;
  /** `total_amount` (yuan, 2 decimals) in fen; undefined when it is not a valid amount */
  amountFen: number | undefined;
  /** `gmt_payment` (Beijing time) as ISO-8601 with +08:00; undefined when absent or malformed */
  paidAt: string | undefined;
}

/** Trade statuses that mean the money was taken. */
export const ALIPAY_PAID_STATUSES = ['TRADE_SUCCESS', 'TRADE_FINISHED'];

/** The fields of a (verified) notification this platform uses. */
export function alipayPayment(params: AlipayParams): AlipayPayment {
  return {
    orderId: params['out_trade_no'] ?? '',
    providerTradeNo: params['trade_no'] ?? '',
    tradeStatus: params['trade_status'] ?? '',
    amountFen: yuanToFen(params['total_amount'] ?? ''),
    paidAt: beijingTimeToIso(params['gmt_payment'] ?? ''),
  };
}

const ALIPAY_TIME = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$/;

/** `2024-05-01 12:30:00` (Alipay's times are Beijing time) → `2024-05-01T12:30:00+08:00`. */
export function beijingTimeToIso(value: string): string | undefined {
  const match = ALIPAY_TIME.exec(value.trim());
  if (!match) return undefined;
  const iso = `${match[1]}T${match[2]}+08:00`;
  return Number.isNaN(Date.parse(iso)) ? undefined : iso;
}

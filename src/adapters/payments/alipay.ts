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

// ---------------------------------------------------------------- open API requests and responses

/**
 * The text a merchant's open-API request is signed over: every parameter but
 * `sign` (here `sign_type` IS included, unlike in notifications), empty values
 * left out, sorted by key, `key=value` joined with `&`, values not URL-encoded.
 */
export function alipayRequestSigningContent(params: AlipayParams): string {
  return Object.keys(params)
    .filter((key) => key !== 'sign' && params[key] !== undefined && params[key] !== '')
    .sort()
    .map((key) => `${key}=${params[key]}`)
    .join('&');
}

/** Signs a request to the open API gateway (RSA2 with the app's private key): the params plus `sign`. */
export function signAlipayRequest(params: AlipayParams, appPrivateKeyPem: string): AlipayParams {
  const unsigned: AlipayParams = { ...params, sign_type: 'RSA2' };
  delete (unsigned as Partial<AlipayParams>).sign;
  const signature = sign('RSA-SHA256', Buffer.from(alipayRequestSigningContent(unsigned), 'utf8'), createPrivateKey(appPrivateKeyPem));
  return { ...unsigned, sign: signature.toString('base64') };
}

/** True only for a request whose RSA2 signature verifies with the app's public key (the gateway's check); never throws. */
export function verifyAlipayRequest(params: AlipayParams, appPublicKeyPem: string): boolean {
  const signature = params['sign'];
  if (!signature || params['sign_type'] !== 'RSA2') return false;
  try {
    return verify('RSA-SHA256', Buffer.from(alipayRequestSigningContent(params), 'utf8'), createPublicKey(appPublicKeyPem), Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** `alipay.trade.query` → `alipay_trade_query_response`: the key of a method's answer. */
export function alipayResponseKey(method: string): string {
  return `${method.replaceAll('.', '_')}_response`;
}

/**
 * The gateway's answer as Alipay writes it: `{"<method>_response": {...}, "sign": "..."}`,
 * `sign` being RSA2 over the exact JSON text of the response object (for the sandbox).
 */
export function signAlipayResponse(method: string, response: Record<string, unknown>, alipayPrivateKeyPem: string, options: { error?: boolean } = {}): string {
  const text = JSON.stringify(response);
  const signature = sign('RSA-SHA256', Buffer.from(text, 'utf8'), createPrivateKey(alipayPrivateKeyPem)).toString('base64');
  const key = options.error ? 'error_response' : alipayResponseKey(method);
  return `{${JSON.stringify(key)}:${text},"sign":${JSON.stringify(signature)}}`;
}

/**
 * The exact text of the JSON value that follows `"key":` at the top level of
 * `body` (a balanced object, strings and escapes respected), or undefined.
 * The signature covers these bytes: re-serialising the parsed object would
 * not reproduce them (spacing, escapes, key order).
 */
export function jsonValueText(body: string, key: string): string | undefined {
  const marker = `${JSON.stringify(key)}:`;
  let at = body.indexOf(marker);
  if (at < 0) return undefined;
  at += marker.length;
  while (body[at] === ' ' || body[at] === '\n' || body[at] === '\r' || body[at] === '\t') at++;
  if (body[at] !== '{') return undefined;
  let depth = 0;
  let inString = false;
  for (let i = at; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return body.slice(at, i + 1);
  }
  return undefined;
}

export type AlipayResponse = { ok: true; response: Record<string, unknown> } | { ok: false; reason: string; response?: Record<string, unknown> };

/**
 * Reads and verifies an open API answer: the response object of `method` (or
 * `error_response`), its `sign` over the object's exact text with Alipay's
 * public key. An unsigned `error_response` (Alipay signs none when it could not
 * identify the app, e.g. a bad request signature) is returned as not ok.
 */
export function verifyAlipayResponse(body: string, method: string, alipayPublicKeyPem: string): AlipayResponse {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(body) as Record<string, unknown>;
  } catch {
    return { ok: false, reason: 'the answer is not JSON' };
  }
  if (!parsed || typeof parsed !== 'object') return { ok: false, reason: 'the answer is not a JSON object' };
  const key = alipayResponseKey(method);
  const which = key in parsed ? key : 'error_response' in parsed ? 'error_response' : undefined;
  if (!which) return { ok: false, reason: `the answer has no ${key}` };
  const response = parsed[which] as Record<string, unknown>;
  const signature = parsed['sign'];
  const text = jsonValueText(body, which);
  if (typeof signature !== 'string' || !text)
    return { ok: false, reason: `unsigned ${which}: ${String(response?.['sub_code'] ?? response?.['code'] ?? '')}`.trim(), response };
  try {
    if (!verify('RSA-SHA256', Buffer.from(text, 'utf8'), createPublicKey(alipayPublicKeyPem), Buffer.from(signature, 'base64'))) {
      return { ok: false, reason: "the answer's signature does not verify" };
    }
  } catch {
    return { ok: false, reason: "the answer's signature could not be checked" };
  }
  return { ok: true, response };
}

/** Alipay's time format, Beijing time: `2024-05-01 12:30:00`. */
export function beijingTime(at: Date): string {
  const shifted = new Date(at.getTime() + 8 * 3600_000).toISOString();
  return `${shifted.slice(0, 10)} ${shifted.slice(11, 19)}`;
}

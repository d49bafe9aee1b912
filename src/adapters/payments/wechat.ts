import { createCipheriv, createDecipheriv, createPrivateKey, createPublicKey, randomBytes, randomUUID, sign, verify } from 'node:crypto';

/**
 * WeChat Pay API v3 payment notifications (支付通知):
 * 1. the headers `Wechatpay-Timestamp`, `-Nonce`, `-Signature`, `-Serial`
 *    sign the RAW body: message `${timestamp}\n${nonce}\n${body}\n`,
 *    RSA-SHA256 (base64) with the platform key; a timestamp more than five
 *    minutes away from now is refused (replay);
 * 2. the body's `resource` is AEAD_AES_256_GCM-encrypted with the APIv3 key
 *    (32 characters, used as the 32 key bytes): ciphertext base64 with the
 *    16-byte tag at its end, `nonce` (12 characters) the IV, `associated_data`
 *    the AAD → the transaction JSON.
 *
 * WeChat reads the status: 200/204 = handled; a 4xx/5xx with
 * `{code: 'FAIL', message}` makes it notify again later.
 */

export const WECHAT_MAX_CLOCK_SKEW_SECONDS = 5 * 60;
export const WECHAT_AES_ALGORITHM = 'AEAD_AES_256_GCM';
const TAG_BYTES = 16;

export type WechatHeaders = Record<string, string | string[] | undefined>;

// a type, not an interface: assignable to Record<string, string> (fetch headers)
export type WechatSignatureHeaders = {
  'Wechatpay-Timestamp': string;
  'Wechatpay-Nonce': string;
  'Wechatpay-Signature': string;
  'Wechatpay-Serial': string;
};

export type Verification = { ok: true } | { ok: false; reason: string };

export function wechatSigningMessage(timestamp: string, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`;
}

function header(headers: WechatHeaders, name: string): string | undefined {
  // Node lower-cases incoming header names; accept either spelling
  const value = headers[name] ?? headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Checks the signature headers over the exact body text received. Never
 * throws: `{ok: false, reason}` says why (for the log, not for the caller).
 */
export function verifyWechatSignature(input: {
  headers: WechatHeaders;
  body: string;
  platformPublicKeyPem: string;
  now?: Date;
  maxSkewSeconds?: number;
}): Verification {
  const timestamp = header(input.headers, 'Wechatpay-Timestamp');
  const nonce = header(input.headers, 'Wechatpay-Nonce');
  const signature = header(input.headers, 'Wechatpay-Signature');
  const serial = header(input.headers, 'Wechatpay-Serial');
  if (!timestamp || !nonce || !signature || !serial) return { ok: false, reason: 'missing Wechatpay-* signature headers' };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'Wechatpay-Timestamp is not a unix time' };
  const skew = Math.abs((input.now ?? new Date()).getTime() / 1000 - Number(timestamp));
  if (skew > (input.maxSkewSeconds ?? WECHAT_MAX_CLOCK_SKEW_SECONDS)) return { ok: false, reason: 'Wechatpay-Timestamp too far from now (replay?)' };
  try {
    const message = Buffer.from(wechatSigningMessage(timestamp, nonce, input.body), 'utf8');
    const valid = verify('RSA-SHA256', message, createPublicKey(input.platformPublicKeyPem), Buffer.from(signature, 'base64'));
    return valid ? { ok: true } : { ok: false, reason: 'signature does not verify' };
  } catch {
    return { ok: false, reason: 'signature could not be checked' };
  }
}

export interface WechatResource {
  algorithm: string;
  ciphertext: string;
  nonce: string;
  associated_data?: string;
  original_type?: string;
}

export class WechatDecryptError extends Error {
  override readonly name = 'WechatDecryptError';
}

function aesKey(apiV3Key: string): Buffer {
  const key = Buffer.from(apiV3Key, 'utf8');
  if (key.length !== 32) throw new WechatDecryptError('the APIv3 key must be 32 bytes');
  return key;
}

/** Decrypts a notification's `resource` → its plaintext (the transaction JSON). Throws WechatDecryptError. */
export function decryptWechatResource(resource: WechatResource, apiV3Key: string): string {
  if (resource.algorithm !== WECHAT_AES_ALGORITHM) throw new WechatDecryptError(`unsupported algorithm ${String(resource.algorithm)}`);
  const data = Buffer.from(resource.ciphertext ?? '', 'base64');
  if (data.length <= TAG_BYTES) throw new WechatDecryptError('ciphertext too short');
  try {
    const decipher = createDecipheriv('aes-256-gcm', aesKey(apiV3Key), Buffer.from(resource.nonce ?? '', 'utf8'), { authTagLength: TAG_BYTES });
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    decipher.setAAD(Buffer.from(resource.associated_data ?? '', 'utf8'));
    return Buffer.concat([decipher.update(data.subarray(0, data.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch (error) {
    if (error instanceof WechatDecryptError) throw error;
    throw new WechatDecryptError('resource does not decrypt (wrong key or tampered)');
  }
}

/** Encrypts like WeChat Pay does (for tests and sandboxes). */
export function encryptWechatResource(
  plaintext: string,
  apiV3Key: string,
  options: { nonce?: string; associatedData?: string; originalType?: string } = {},
): WechatResource {
  const nonce = options.nonce ?? randomBytes(6).toString('hex'); // 12 characters, as WeChat sends
  const associatedData = options.associatedData ?? options.originalType ?? 'transaction';
  const cipher = createCipheriv('aes-256-gcm', aesKey(apiV3Key), Buffer.from(nonce, 'utf8'), { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const encrypted = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return {
    original_type: options.originalType ?? 'transaction',
    algorithm: WECHAT_AES_ALGORITHM,
    ciphertext: encrypted.toString('base64'),
    associated_data: associatedData,
    nonce,
  };
}

/** Signs a body like the WeChat Pay platform does (for tests and sandboxes). */
export function signWechatBody(
  body: string,
  privateKeyPem: string,
  options: { timestamp?: number; nonce?: string; serial?: string } = {},
): WechatSignatureHeaders {
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = options.nonce ?? randomBytes(16).toString('hex');
  const signature = sign('RSA-SHA256', Buffer.from(wechatSigningMessage(timestamp, nonce, body), 'utf8'), createPrivateKey(privateKeyPem));
  return {
    'Wechatpay-Timestamp': timestamp,
    'Wechatpay-Nonce': nonce,
    'Wechatpay-Signature': signature.toString('base64'),
    'Wechatpay-Serial': options.serial ?? 'TEST-PLATFORM-SERIAL',
  };
}

/** The transaction fields a payment notification decrypts to (the ones used here). */
export interface WechatTransaction {
  out_trade_no: string;
  transaction_id: string;
  trade_state: string;
  success_time?: string;
  amount: { total: number; payer_total?: number; currency?: string };
  [other: string]: unknown;
}

/** A complete signed, encrypted notification: the body text and its headers (for tests and sandboxes). */
export function buildWechatNotification(input: {
  transaction: WechatTransaction;
  apiV3Key: string;
  platformPrivateKeyPem: string;
  timestamp?: number;
  serial?: string;
}): { body: string; headers: WechatSignatureHeaders } {
  const body = JSON.stringify({
    id: randomUUID(),
    create_time: new Date().toISOString(),
    resource_type: 'encrypt-resource',
    event_type: input.transaction.trade_state === 'SUCCESS' ? 'TRANSACTION.SUCCESS' : 'TRANSACTION.FAIL',
    summary: '支付成功',
    resource: encryptWechatResource(JSON.stringify(input.transaction), input.apiV3Key),
  });
  const headers = signWechatBody(body, input.platformPrivateKeyPem, {
    ...(input.timestamp !== undefined ? { timestamp: input.timestamp } : {}),
    ...(input.serial !== undefined ? { serial: input.serial } : {}),
  });
  return { body, headers };
}

/**
 * Any signed, encrypted notification (a refund's: `REFUND.SUCCESS`, original
 * type `refund`): the body text and its headers (for the sandbox).
 */
export function buildWechatEventNotification(input: {
  eventType: string;
  summary: string;
  originalType: string;
  plaintext: string;
  apiV3Key: string;
  platformPrivateKeyPem: string;
  serial?: string;
}): { body: string; headers: WechatSignatureHeaders } {
  const body = JSON.stringify({
    id: randomUUID(),
    create_time: new Date().toISOString(),
    resource_type: 'encrypt-resource',
    event_type: input.eventType,
    summary: input.summary,
    resource: encryptWechatResource(input.plaintext, input.apiV3Key, { originalType: input.originalType }),
  });
  return { body, headers: signWechatBody(body, input.platformPrivateKeyPem, input.serial !== undefined ? { serial: input.serial } : {}) };
}

/** Parses a verified body and decrypts its resource → the transaction. Throws WechatDecryptError on any malformation. */
export function wechatTransaction(body: string, apiV3Key: string): WechatTransaction {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new WechatDecryptError('body is not JSON');
  }
  const resource = (parsed as { resource?: unknown } | null)?.resource;
  if (!resource || typeof resource !== 'object') throw new WechatDecryptError('body has no resource');
  let transaction: unknown;
  try {
    transaction = JSON.parse(decryptWechatResource(resource as WechatResource, apiV3Key));
  } catch (error) {
    if (error instanceof WechatDecryptError) throw error;
    throw new WechatDecryptError('resource is not JSON');
  }
  const t = transaction as Partial<WechatTransaction> | null;
  if (
    !t ||
    typeof t.out_trade_no !== 'string' ||
    typeof t.transaction_id !== 'string' ||
    typeof t.trade_state !== 'string' ||
    typeof t.amount?.total !== 'number'
  ) {
    throw new WechatDecryptError('transaction lacks out_trade_no, transaction_id, trade_state or amount.total');
  }
  return t as WechatTransaction;
}

// ---------------------------------------------------------------- API v3 requests (merchant → WeChat Pay)

export const WECHAT_AUTH_SCHEMA = 'WECHATPAY2-SHA256-RSA2048';

/** What a merchant's request is signed over: `${METHOD}\n${path?query}\n${timestamp}\n${nonce}\n${body}\n` (body empty for a GET). */
export function wechatRequestMessage(method: string, pathWithQuery: string, timestamp: string, nonce: string, body: string): string {
  return `${method.toUpperCase()}\n${pathWithQuery}\n${timestamp}\n${nonce}\n${body}\n`;
}

export interface WechatAuthorization {
  mchid: string;
  nonce_str: string;
  signature: string;
  timestamp: string;
  serial_no: string;
}

/**
 * The `Authorization` header of a request to API v3, signed RSA-SHA256 with
 * the merchant's private key (apiclient_key.pem); `serial` names the
 * merchant certificate whose public key verifies it.
 */
export function wechatAuthorization(input: {
  method: string;
  pathWithQuery: string;
  body: string;
  mchid: string;
  serial: string;
  merchantPrivateKeyPem: string;
  timestamp?: number;
  nonce?: string;
}): string {
  const timestamp = String(input.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = input.nonce ?? randomBytes(16).toString('hex').toUpperCase();
  const message = wechatRequestMessage(input.method, input.pathWithQuery, timestamp, nonce, input.body);
  const signature = sign('RSA-SHA256', Buffer.from(message, 'utf8'), createPrivateKey(input.merchantPrivateKeyPem)).toString('base64');
  return `${WECHAT_AUTH_SCHEMA} mchid="${input.mchid}",nonce_str="${nonce}",signature="${signature}",timestamp="${timestamp}",serial_no="${input.serial}"`;
}

/** The header's fields, or undefined when it is not a WECHATPAY2-SHA256-RSA2048 header with all five. */
export function parseWechatAuthorization(header: string | undefined): WechatAuthorization | undefined {
  if (!header?.startsWith(`${WECHAT_AUTH_SCHEMA} `)) return undefined;
  const fields: Record<string, string> = {};
  for (const match of header.slice(WECHAT_AUTH_SCHEMA.length + 1).matchAll(/(\w+)="([^"]*)"/g)) fields[match[1]!] = match[2]!;
  const { mchid, nonce_str, signature, timestamp, serial_no } = fields;
  if (!mchid || !nonce_str || !signature || !timestamp || !serial_no) return undefined;
  return { mchid, nonce_str, signature, timestamp, serial_no };
}

/** The platform's check of a merchant request (for the sandbox): signature with the merchant's public key, timestamp within 5 minutes. */
export function verifyWechatRequest(input: {
  method: string;
  pathWithQuery: string;
  body: string;
  authorization: string | undefined;
  merchantPublicKeyPem: string;
  now?: Date;
}): Verification & { auth?: WechatAuthorization } {
  const auth = parseWechatAuthorization(input.authorization);
  if (!auth) return { ok: false, reason: 'Authorization is not a WECHATPAY2-SHA256-RSA2048 header' };
  if (!/^\d{1,12}$/.test(auth.timestamp)) return { ok: false, reason: 'timestamp is not a unix time' };
  if (Math.abs((input.now ?? new Date()).getTime() / 1000 - Number(auth.timestamp)) > WECHAT_MAX_CLOCK_SKEW_SECONDS)
    return { ok: false, reason: 'timestamp too far from now' };
  try {
    const message = Buffer.from(wechatRequestMessage(input.method, input.pathWithQuery, auth.timestamp, auth.nonce_str, input.body), 'utf8');
    return verify('RSA-SHA256', message, createPublicKey(input.merchantPublicKeyPem), Buffer.from(auth.signature, 'base64'))
      ? { ok: true, auth }
      : { ok: false, reason: 'signature does not verify' };
  } catch {
    return { ok: false, reason: 'signature could not be checked' };
  }
}

/** A refund as a refund notification's resource decrypts to (the fields used here). */
export interface WechatRefund {
  out_trade_no: string;
  out_refund_no: string;
  refund_id: string;
  refund_status: string;
  success_time?: string;
  amount: { total: number; refund: number; payer_total?: number; payer_refund?: number };
  [other: string]: unknown;
}

/** Parses a verified refund notification body and decrypts its resource → the refund. Throws WechatDecryptError. */
export function wechatRefund(body: string, apiV3Key: string): WechatRefund {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new WechatDecryptError('body is not JSON');
  }
  const resource = (parsed as { resource?: unknown } | null)?.resource;
  if (!resource || typeof resource !== 'object') throw new WechatDecryptError('body has no resource');
  let refund: unknown;
  try {
    refund = JSON.parse(decryptWechatResource(resource as WechatResource, apiV3Key));
  } catch (error) {
    if (error instanceof WechatDecryptError) throw error;
    throw new WechatDecryptError('resource is not JSON');
  }
  const r = refund as Partial<WechatRefund> | null;
  if (
    !r ||
    typeof r.out_trade_no !== 'string' ||
    typeof r.out_refund_no !== 'string' ||
    typeof r.refund_status !== 'string' ||
    typeof r.amount?.refund !== 'number'
  ) {
    throw new WechatDecryptError('refund lacks out_trade_no, out_refund_no, refund_status or amount.refund');
  }
  return r as WechatRefund;
}

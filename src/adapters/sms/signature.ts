import { createHash, createHmac, createPrivateKey, createPublicKey, randomBytes, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';

/**
 * The SMS provider's signatures, both ways (docs/sms.md, "Protocol"):
 *
 * - our requests: `X-Api-Key`, `X-Timestamp` (unix seconds), `X-Nonce`
 *   (16-64 of A-Z a-z 0-9 _ -) and `X-Signature`, the base64
 *   HMAC-SHA256 with our API secret over
 *   `${METHOD}\n${path with query}\n${timestamp}\n${nonce}\n${sha256 hex of the body}`;
 * - the provider's callbacks (receipts, inbound messages) and answers:
 *   `X-Sms-Timestamp`, `X-Sms-Nonce`, `X-Sms-Signature`, the base64 Ed25519
 *   signature with the provider's private key over the same shape. A
 *   callback signs `POST` and the path of the URL it is posted to; an
 *   answer signs `ANSWER` and, in place of the path, the nonce of the
 *   request it answers (an old answer cannot be passed off as a new one).
 *
 * A timestamp more than SMS_MAX_CLOCK_SKEW_SECONDS from now is refused
 * (stale); a nonce seen before within that window is refused too (replayed):
 * that part is the receiver's (it needs shared storage), see nonce-cache.ts.
 */

export const SMS_MAX_CLOCK_SKEW_SECONDS = 5 * 60;
export const NONCE = /^[A-Za-z0-9_-]{16,64}$/;

export type Headers = Record<string, string | string[] | undefined>;
export type Verification = { ok: true; nonce: string; timestamp: number } | { ok: false; reason: string };

// parsing a PEM costs more than the signature itself: each key is parsed once
const parsedKeys = new Map<string, KeyObject>();
function keyOf(pem: string, kind: 'public' | 'private'): KeyObject {
  let key = parsedKeys.get(pem);
  if (!key) {
    key = kind === 'public' ? createPublicKey(pem) : createPrivateKey(pem);
    if (parsedKeys.size >= 64) parsedKeys.clear();
    parsedKeys.set(pem, key);
  }
  return key;
}

export function sha256Hex(body: string): string {
  return createHash('sha256').update(body, 'utf8').digest('hex');
}

export function signingMessage(method: string, path: string, timestamp: string, nonce: string, body: string): string {
  return `${method.toUpperCase()}\n${path}\n${timestamp}\n${nonce}\n${sha256Hex(body)}`;
}

export function newNonce(): string {
  return randomBytes(16).toString('base64url');
}

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name] ?? headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

function freshness(timestamp: string | undefined, nonce: string | undefined, now: Date, maxSkewSeconds: number): string | null {
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) return 'timestamp missing or not a unix time';
  if (!nonce || !NONCE.test(nonce)) return 'nonce missing or malformed';
  if (Math.abs(now.getTime() / 1000 - Number(timestamp)) > maxSkewSeconds) return 'timestamp too far from now (stale)';
  return null;
}

// a type, not an interface: assignable to Record<string, string> (fetch headers)
export type SmsRequestHeaders = { 'X-Api-Key': string; 'X-Timestamp': string; 'X-Nonce': string; 'X-Signature': string };

/** Our request's signature headers (HMAC-SHA256 with the API secret). */
export function signSmsRequest(input: {
  method: string;
  pathWithQuery: string;
  body: string;
  apiKey: string;
  apiSecret: string;
  now?: Date;
  nonce?: string;
}): SmsRequestHeaders {
  const timestamp = String(Math.floor((input.now ?? new Date()).getTime() / 1000));
  const nonce = input.nonce ?? newNonce();
  const signature = createHmac('sha256', input.apiSecret)
    .update(signingMessage(input.method, input.pathWithQuery, timestamp, nonce, input.body))
    .digest('base64');
  return { 'X-Api-Key': input.apiKey, 'X-Timestamp': timestamp, 'X-Nonce': nonce, 'X-Signature': signature };
}

/** The provider's check of our request (the sandbox's): the key's secret, the HMAC, the clock. The nonce's novelty is the caller's. */
export function verifySmsRequest(input: {
  method: string;
  pathWithQuery: string;
  headers: Headers;
  body: string;
  secretOf: (apiKey: string) => string | undefined;
  now?: Date;
  maxSkewSeconds?: number;
}): Verification & { apiKey?: string } {
  const apiKey = header(input.headers, 'X-Api-Key');
  const timestamp = header(input.headers, 'X-Timestamp');
  const nonce = header(input.headers, 'X-Nonce');
  const signature = header(input.headers, 'X-Signature');
  if (!apiKey || !signature) return { ok: false, reason: 'X-Api-Key / X-Signature missing' };
  const stale = freshness(timestamp, nonce, input.now ?? new Date(), input.maxSkewSeconds ?? SMS_MAX_CLOCK_SKEW_SECONDS);
  if (stale) return { ok: false, reason: stale };
  const secret = input.secretOf(apiKey);
  if (secret === undefined) return { ok: false, reason: 'unknown API key' };
  const expected = createHmac('sha256', secret)
    .update(signingMessage(input.method, input.pathWithQuery, timestamp!, nonce!, input.body))
    .digest();
  const given = Buffer.from(signature, 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'signature does not verify' };
  return { ok: true, nonce: nonce!, timestamp: Number(timestamp), apiKey };
}

// a type, not an interface: assignable to Record<string, string>
export type SmsProviderHeaders = { 'X-Sms-Timestamp': string; 'X-Sms-Nonce': string; 'X-Sms-Signature': string };

/** The provider's signature (Ed25519) over a callback (`POST`, its path) or an answer (`ANSWER`, the request's nonce). */
export function signSmsProviderMessage(input: {
  method: string;
  path: string;
  body: string;
  privateKeyPem: string;
  now?: Date;
  nonce?: string;
}): SmsProviderHeaders {
  const timestamp = String(Math.floor((input.now ?? new Date()).getTime() / 1000));
  const nonce = input.nonce ?? newNonce();
  const message = Buffer.from(signingMessage(input.method, input.path, timestamp, nonce, input.body), 'utf8');
  const signature = sign(null, message, keyOf(input.privateKeyPem, 'private')).toString('base64');
  return { 'X-Sms-Timestamp': timestamp, 'X-Sms-Nonce': nonce, 'X-Sms-Signature': signature };
}

/** Checks the provider's signature over the exact body received. Never throws: `{ok: false, reason}` is for the log. */
export function verifySmsProviderSignature(input: {
  method: string;
  path: string;
  headers: Headers;
  body: string;
  publicKeyPem: string;
  now?: Date;
  maxSkewSeconds?: number;
}): Verification {
  const timestamp = header(input.headers, 'X-Sms-Timestamp');
  const nonce = header(input.headers, 'X-Sms-Nonce');
  const signature = header(input.headers, 'X-Sms-Signature');
  if (!signature) return { ok: false, reason: 'unsigned: X-Sms-Signature missing' };
  const stale = freshness(timestamp, nonce, input.now ?? new Date(), input.maxSkewSeconds ?? SMS_MAX_CLOCK_SKEW_SECONDS);
  if (stale) return { ok: false, reason: stale };
  try {
    const message = Buffer.from(signingMessage(input.method, input.path, timestamp!, nonce!, input.body), 'utf8');
    const valid = verify(null, message, keyOf(input.publicKeyPem, 'public'), Buffer.from(signature, 'base64'));
    return valid ? { ok: true, nonce: nonce!, timestamp: Number(timestamp) } : { ok: false, reason: 'signature does not verify (forged or altered)' };
  } catch {
    return { ok: false, reason: 'signature could not be checked' };
  }
}

import { createHash, createHmac, randomBytes, sign, timingSafeEqual, verify, type KeyObject } from 'node:crypto';

/**
 * The open platforms' signature protocol, both directions (the sandbox in
 * sandbox/open-platform/ speaks it too).
 *
 * Requests are signed by the client with its app secret:
 *   X-OP-Client-Id, X-OP-Timestamp (unix seconds), X-OP-Nonce (16–64 of [A-Za-z0-9_-]),
 *   X-OP-Signature = base64 HMAC-SHA256(secret, METHOD \n path?query \n timestamp \n nonce \n hex SHA-256(body)).
 * The platform refuses a bad signature, a timestamp more than
 * MAX_CLOCK_SKEW_SECONDS away from its clock, and a nonce it has seen.
 *
 * Answers are signed by the platform with its Ed25519 key:
 *   X-OP-Timestamp, X-OP-Nonce,
 *   X-OP-Signature = base64 Ed25519(status \n timestamp \n nonce \n the request's nonce \n hex SHA-256(body)).
 * Naming the request's nonce binds an answer to its request: one taken from
 * another exchange does not verify.
 */

export const OP_HEADERS = {
  clientId: 'x-op-client-id',
  timestamp: 'x-op-timestamp',
  nonce: 'x-op-nonce',
  signature: 'x-op-signature',
} as const;

export const MAX_CLOCK_SKEW_SECONDS = 300;

export const NONCE = /^[A-Za-z0-9_-]{16,64}$/;

export function newNonce(): string {
  return randomBytes(16).toString('base64url');
}

export function sha256Hex(body: string | Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

export interface RequestParts {
  method: string;
  /** the path with its query string, as sent */
  path: string;
  timestamp: string;
  nonce: string;
  body: string | Buffer;
}

function requestText(p: RequestParts): string {
  return [p.method.toUpperCase(), p.path, p.timestamp, p.nonce, sha256Hex(p.body)].join('\n');
}

export function signRequest(secret: string, parts: RequestParts): string {
  return createHmac('sha256', secret).update(requestText(parts)).digest('base64');
}

export function verifyRequest(secret: string, parts: RequestParts, signature: string): boolean {
  const expected = Buffer.from(signRequest(secret, parts), 'base64');
  const given = Buffer.from(signature, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The four headers of a signed request. */
export function signedRequestHeaders(
  clientId: string,
  secret: string,
  method: string,
  path: string,
  body: string | Buffer,
  now = new Date(),
): Record<string, string> {
  const timestamp = String(Math.floor(now.getTime() / 1000));
  const nonce = newNonce();
  return {
    [OP_HEADERS.clientId]: clientId,
    [OP_HEADERS.timestamp]: timestamp,
    [OP_HEADERS.nonce]: nonce,
    [OP_HEADERS.signature]: signRequest(secret, { method, path, timestamp, nonce, body }),
  };
}

export interface ResponseParts {
  status: number;
  timestamp: string;
  nonce: string;
  requestNonce: string;
  body: string | Buffer;
}

function responseText(p: ResponseParts): string {
  return [String(p.status), p.timestamp, p.nonce, p.requestNonce, sha256Hex(p.body)].join('\n');
}

export function signResponse(privateKey: KeyObject | string, parts: ResponseParts): string {
  return sign(null, Buffer.from(responseText(parts)), privateKey).toString('base64');
}

export function verifyResponse(publicKey: KeyObject | string, parts: ResponseParts, signature: string): boolean {
  try {
    return verify(null, Buffer.from(responseText(parts)), publicKey, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

/** RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier))). */
export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** RFC 7636 §4.1: 43–128 characters of [A-Za-z0-9-._~]. */
export const PKCE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

export function newPkceVerifier(): string {
  return randomBytes(32).toString('base64url');
}

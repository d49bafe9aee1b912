import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * AWS Signature Version 4 as S3 checks it, written from the published
 * algorithm (canonical request → string to sign → HMAC key chain), on its
 * own: the platform's adapter signs with the `aws4` library, so a mistake on
 * either side shows as a refused request instead of agreeing with itself.
 */

export interface SigV4Refusal {
  status: number;
  code: string;
  message: string;
}

export interface SigV4Request {
  method: string;
  /** the request target as received: path and query, still percent-encoded */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface SigV4Options {
  /** access key id → secret */
  credentials: ReadonlyMap<string, string>;
  region: string;
  service?: string;
  now?: () => Date;
  /** how far x-amz-date may be from now (S3: 15 minutes) */
  maxSkewMs?: number;
}

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/** RFC 3986 unreserved characters stay, everything else is %XX (upper case), as SigV4 wants. */
export function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function canonicalQuery(query: string): string {
  if (query === '') return '';
  return query
    .split('&')
    .filter((p) => p !== '')
    .map((pair) => {
      const at = pair.indexOf('=');
      const [k, v] = at < 0 ? [pair, ''] : [pair.slice(0, at), pair.slice(at + 1)];
      return [uriEncode(decodeURIComponent(k.replace(/\+/g, ' '))), uriEncode(decodeURIComponent(v.replace(/\+/g, ' ')))] as const;
    })
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/** S3's canonical URI: each segment decoded once and encoded again (S3 does not normalise `.` or `//`). */
function canonicalUri(path: string): string {
  return path
    .split('/')
    .map((segment) => uriEncode(decodeURIComponent(segment)))
    .join('/');
}

/** Null when the request is signed by a known key over what was received; otherwise how S3 refuses it. */
export function verifySigV4(req: SigV4Request, options: SigV4Options): SigV4Refusal | null {
  const service = options.service ?? 's3';
  const authorization = header(req.headers, 'authorization');
  if (!authorization) return { status: 403, code: 'AccessDenied', message: 'Access Denied' };
  const m = AUTHORIZATION.exec(authorization);
  if (!m) return { status: 400, code: 'AuthorizationHeaderMalformed', message: 'The authorization header is malformed.' };
  const [, accessKeyId, scopeDate, region, scopeService, signedHeaderList, signature] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const secret = options.credentials.get(accessKeyId);
  if (secret === undefined) return { status: 403, code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.' };
  if (region !== options.region || scopeService !== service) {
    return {
      status: 400,
      code: 'AuthorizationHeaderMalformed',
      message: `The authorization header is malformed; the region '${region}' is wrong; expecting '${options.region}'`,
    };
  }
  const amzDate = header(req.headers, 'x-amz-date') ?? '';
  const d = AMZ_DATE.exec(amzDate);
  if (!d || amzDate.slice(0, 8) !== scopeDate)
    return { status: 403, code: 'AccessDenied', message: 'AWS authentication requires a valid Date or x-amz-date header' };
  const signedAt = Date.UTC(Number(d[1]), Number(d[2]) - 1, Number(d[3]), Number(d[4]), Number(d[5]), Number(d[6]));
  const now = (options.now?.() ?? new Date()).getTime();
  if (Math.abs(now - signedAt) > (options.maxSkewMs ?? 15 * 60_000)) {
    return { status: 403, code: 'RequestTimeTooSkewed', message: 'The difference between the request time and the current time is too large.' };
  }
  const signedHeaders = signedHeaderList.split(';');
  for (const required of ['host', 'x-amz-date', 'x-amz-content-sha256']) {
    if (!signedHeaders.includes(required)) return { status: 403, code: 'AccessDenied', message: `${required} must be a signed header` };
  }
  const payloadHash = header(req.headers, 'x-amz-content-sha256') ?? '';
  if (payloadHash !== 'UNSIGNED-PAYLOAD') {
    if (!SHA256_HEX.test(payloadHash))
      return { status: 400, code: 'InvalidArgument', message: 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a SHA256 value.' };
    if (sha256Hex(req.body) !== payloadHash) {
      return { status: 400, code: 'XAmzContentSHA256Mismatch', message: "The provided 'x-amz-content-sha256' header does not match what was computed." };
    }
  }
  const at = req.url.indexOf('?');
  const path = at < 0 ? req.url : req.url.slice(0, at);
  const query = at < 0 ? '' : req.url.slice(at + 1);
  let canonicalHeaders = '';
  for (const name of signedHeaders) {
    const value = header(req.headers, name);
    if (value === undefined) return { status: 403, code: 'AccessDenied', message: `signed header ${name} is missing` };
    canonicalHeaders += `${name}:${value.trim().replace(/\s+/g, ' ')}\n`;
  }
  let canonicalRequest: string;
  try {
    canonicalRequest = [req.method, canonicalUri(path), canonicalQuery(query), canonicalHeaders, signedHeaderList, payloadHash].join('\n');
  } catch {
    return { status: 400, code: 'InvalidURI', message: "Couldn't parse the specified URI." };
  }
  const scope = `${scopeDate}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, scopeDate), region), service), 'aws4_request');
  const expected = hmac(key, stringToSign);
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) {
    return {
      status: 403,
      code: 'SignatureDoesNotMatch',
      message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    };
  }
  return null;
}

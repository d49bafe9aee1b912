import { bodyParser } from '@koa/bodyparser';
import type { Middleware } from 'koa';
import { HttpError } from './http-error.js';
import type { AppState } from './state.js';

/**
 * Default most bytes of a request body (1 MiB): the largest documented texts
 * fit in any script (an article's 100,000 characters of Chinese or emoji,
 * 3-4 bytes each in UTF-8); `HTTP_BODY_LIMIT_BYTES` overrides it.
 */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

// DELETE too: turning TOTP off proves the password and a code in its body
const BODY_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE'];

/**
 * Payment and SMS providers' callbacks: they verify signatures over the exact
 * bytes received (and Alipay posts a form), so their routes read the raw body
 * themselves; they are never rate limited either (api-rate-limit.ts).
 */
export const CALLBACK_PATH_PREFIXES: readonly string[] = ['/api/v1/payments/callback/', '/api/v1/sms/callbacks/'];

/**
 * Paths whose bodies are left unread, whatever their type: the callbacks, and
 * media uploads (POST /api/v1/media reads the image's bytes itself, up to
 * MEDIA_MAX_BYTES rather than HTTP_BODY_LIMIT_BYTES).
 */
export const RAW_BODY_PATH_PREFIXES: readonly string[] = [...CALLBACK_PATH_PREFIXES, '/api/v1/media'];

/**
 * JSON request bodies, and nothing else: commands are JSON.
 * - a body with another content type → 415 UNSUPPORTED_MEDIA_TYPE
 * - more than `limitBytes` → 413 PAYLOAD_TOO_LARGE
 * - a Content-Encoding other than gzip, deflate, br (or identity) → 415; a body
 *   that does not decompress as its encoding says → 400 MALFORMED_JSON
 * - JSON that does not parse, or is not an object/array → 400 MALFORMED_JSON
 *   (422 VALIDATION_ERROR is kept for a well-formed body with wrong fields)
 * A POST/PUT/PATCH/DELETE without a body gets `{}` and meets the route's schema.
 * The raw-body routes are left to read their bodies, but one with a
 * Content-Encoding other than identity is 415: they do not decompress.
 */
export function jsonBody(options: { limitBytes?: number; rawPathPrefixes?: readonly string[] } = {}): Middleware<AppState> {
  const limitBytes = options.limitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const rawPathPrefixes = options.rawPathPrefixes ?? RAW_BODY_PATH_PREFIXES;
  const parse = bodyParser({ enableTypes: ['json'], jsonLimit: limitBytes, jsonStrict: true, parsedMethods: BODY_METHODS });
  return async (ctx, next) => {
    if (!BODY_METHODS.includes(ctx.method)) return next();
    if (rawPathPrefixes.some((prefix) => ctx.path.startsWith(prefix))) {
      // these routes take the bytes as sent (signatures are over them, an image is stored as it came)
      const encoding = ctx.get('Content-Encoding').trim().toLowerCase();
      if (encoding !== '' && encoding !== 'identity') {
        // the body is not read: not worth draining to keep the connection
        ctx.set('Connection', 'close');
        throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `this route takes its body as sent, without a Content-Encoding (got ${encoding.slice(0, 40)})`);
      }
      return next();
    }
    if (hasBody(ctx.get('Content-Length'), ctx.get('Transfer-Encoding')) && !ctx.is('application/json', '+json')) {
      throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'request bodies must be application/json');
    }
    const declared = Number(ctx.get('Content-Length'));
    if (Number.isFinite(declared) && declared > limitBytes) throw tooLarge(limitBytes);
    try {
      await parse(ctx as never, async () => {});
    } catch (error) {
      throw translate(error, limitBytes);
    }
    return next();
  };
}

function hasBody(contentLength: string, transferEncoding: string): boolean {
  return transferEncoding !== '' || (contentLength !== '' && contentLength !== '0');
}

function tooLarge(limitBytes: number): HttpError {
  return new HttpError(413, 'PAYLOAD_TOO_LARGE', `request body larger than ${limitBytes} bytes`, { limit_bytes: limitBytes });
}

function translate(error: unknown, limitBytes: number): unknown {
  const { status, type, message } = (error ?? {}) as { status?: unknown; type?: unknown; message?: unknown };
  if (status === 413 || type === 'entity.too.large') return tooLarge(limitBytes);
  // a Content-Encoding the parser cannot undo (gzip, deflate and br it can), or a body that does not decompress as its encoding says
  if (status === 415) return new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', String(message));
  if (isDecompressionError(error)) {
    return new HttpError(400, 'MALFORMED_JSON', `request body does not decompress as its Content-Encoding says: ${String(message)}`);
  }
  if (error instanceof SyntaxError) {
    return new HttpError(400, 'MALFORMED_JSON', `request body is not valid JSON: ${String(message)}`);
  }
  return error; // aborted requests, bad charsets…: http-errors the envelope answers by status
}

/** zlib's errors (Z_DATA_ERROR, Z_BUF_ERROR, …) and brotli's (ERR__ERROR_…, ERR_BROTLI_…), raised while reading the body. */
function isDecompressionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && typeof code === 'string' && /^(Z_|ERR__ERROR|ERR_BROTLI)/.test(code);
}

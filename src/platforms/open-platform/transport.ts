import { OP_HEADERS, newNonce, signedRequestHeaders, verifyResponse } from './signature.js';

/**
 * One open platform as we are registered with it: our client (app) id and
 * secret, where it is, and the key its answers are signed with. Built from
 * config by openPlatformClients (clients.ts).
 */
export interface OpenPlatformClient {
  platform: string;
  clientId: string;
  /** the app secret: HTTP Basic at the token endpoint, HMAC key of API requests; never logged */
  clientSecret: string;
  /** the platform's root, `{OPEN_PLATFORM_URL}/{platform}` */
  baseUrl: string;
  /** the platform's Ed25519 answer-signing key, SPKI PEM */
  publicKey: string;
  /** the authorization server requires PKCE S256 */
  pkce: boolean;
  scopes: readonly string[];
  /** our callback, registered with the platform: `{OAUTH_REDIRECT_BASE_URL}/api/v1/platform-accounts/oauth/{platform}/callback` */
  redirectUri: string;
  /** per call (default 15 s) */
  timeoutMs?: number;
}

export type TransportProblem = 'network' | 'timeout' | 'bad_response' | 'bad_signature';

/** No usable answer: the platform could not be reached, or what came back is not a verified answer. Worth another attempt. */
export class OpenPlatformUnavailableError extends Error {
  override readonly name = 'OpenPlatformUnavailableError';
  constructor(
    readonly platform: string,
    readonly problem: TransportProblem,
    message: string,
  ) {
    super(message);
  }
}

export interface VerifiedAnswer {
  status: number;
  headers: Headers;
  /** the parsed JSON body */
  body: Record<string, unknown>;
}

export interface CallOptions {
  method: 'GET' | 'POST' | 'DELETE';
  /** below the platform root, with its query: `/api/posts?client_token=…` */
  path: string;
  /** a JSON body (signed API calls) */
  json?: unknown;
  /** a form body (the token endpoint) */
  form?: Record<string, string>;
  /** adds `Authorization: Bearer …` */
  accessToken?: string;
  /** adds our client's HTTP Basic credentials (the token endpoint, RFC 6749 §2.3.1) */
  basicAuth?: boolean;
  /** signs the request with the app secret (API calls) */
  sign?: boolean;
}

/** RFC 6749 §2.3.1: id and secret form-urlencoded, then joined by ':' and base64. */
function basic(clientId: string, clientSecret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(clientSecret)}`).toString('base64')}`;
}

/**
 * One call to the platform; the answer is believed only when its signature
 * verifies with the platform's key and names this request's nonce. Errors
 * never quote tokens or secrets.
 */
export async function callOpenPlatform(client: OpenPlatformClient, options: CallOptions): Promise<VerifiedAnswer> {
  const url = new URL(`${client.baseUrl}${options.path}`);
  const body = options.json !== undefined ? JSON.stringify(options.json) : options.form ? new URLSearchParams(options.form).toString() : '';
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (options.json !== undefined) headers['Content-Type'] = 'application/json';
  if (options.form) headers['Content-Type'] = 'application/x-www-form-urlencoded';
  if (options.accessToken) headers.Authorization = `Bearer ${options.accessToken}`;
  if (options.basicAuth) headers.Authorization = basic(client.clientId, client.clientSecret);
  if (options.sign) Object.assign(headers, signedRequestHeaders(client.clientId, client.clientSecret, options.method, `${url.pathname}${url.search}`, body));
  else headers[OP_HEADERS.nonce] = newNonce();
  const requestNonce = headers[OP_HEADERS.nonce]!;

  let res: Response;
  let text: string;
  try {
    res = await fetch(url, {
      method: options.method,
      headers,
      ...(options.method === 'GET' ? {} : { body }),
      redirect: 'manual',
      signal: AbortSignal.timeout(client.timeoutMs ?? 15_000),
    });
    text = await res.text();
  } catch (error) {
    const timeout = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
    throw new OpenPlatformUnavailableError(
      client.platform,
      timeout ? 'timeout' : 'network',
      `${client.platform}: ${options.method} ${url.pathname} ${timeout ? 'timed out' : 'failed'}`,
    );
  }
  const timestamp = res.headers.get(OP_HEADERS.timestamp);
  const nonce = res.headers.get(OP_HEADERS.nonce);
  const signature = res.headers.get(OP_HEADERS.signature);
  if (!timestamp || !nonce || !signature) {
    throw new OpenPlatformUnavailableError(
      client.platform,
      'bad_signature',
      `${client.platform}: an unsigned answer (HTTP ${res.status}) to ${options.method} ${url.pathname}`,
    );
  }
  if (!verifyResponse(client.publicKey, { status: res.status, timestamp, nonce, requestNonce, body: text }, signature)) {
    throw new OpenPlatformUnavailableError(
      client.platform,
      'bad_signature',
      `${client.platform}: an answer whose signature does not verify (HTTP ${res.status})`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new OpenPlatformUnavailableError(client.platform, 'bad_response', `${client.platform}: a signed answer that is not JSON (HTTP ${res.status})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new OpenPlatformUnavailableError(
      client.platform,
      'bad_response',
      `${client.platform}: a signed answer that is not a JSON object (HTTP ${res.status})`,
    );
  }
  return { status: res.status, headers: res.headers, body: parsed as Record<string, unknown> };
}

/** `error` / `error_description` of an error answer (RFC 6749 §5.2, RFC 6750 §3). */
export function errorOf(answer: VerifiedAnswer): { error: string; description: string } {
  const error = typeof answer.body.error === 'string' ? answer.body.error : `http_${answer.status}`;
  const description = typeof answer.body.error_description === 'string' ? answer.body.error_description.slice(0, 300) : '';
  return { error, description };
}

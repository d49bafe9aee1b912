import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { OPEN_PLATFORMS, type OpenPlatformId } from '../../src/platforms/open-platform/platforms.js';
import {
  MAX_CLOCK_SKEW_SECONDS,
  NONCE,
  OP_HEADERS,
  PKCE_VERIFIER,
  newNonce,
  pkceChallenge,
  signResponse,
  verifyRequest,
} from '../../src/platforms/open-platform/signature.js';

/**
 * A sandbox of the open platforms (baidu, sohu, netease) on one HTTP server,
 * each under `/{platform}`: an OAuth 2.0 authorization server (RFC 6749,
 * authorization code grant; PKCE S256 per RFC 7636 required on baidu and
 * netease, not offered by sohu) and a publishing API. It stands in for the
 * network, not for our code: it verifies our request signatures with our
 * app secret and signs every JSON answer with its own Ed25519 key (see
 * src/platforms/open-platform/signature.ts for the protocol).
 *
 * Per platform:
 * - `GET /{p}/oauth/authorize` — response_type=code, client_id, redirect_uri
 *   (exact match with a registered one), scope (`basic publish`), state,
 *   code_challenge + code_challenge_method=S256 (baidu, netease). Answers the
 *   consent page: a form that POSTs back with `user` (a sandbox login) and
 *   `approve=1` or `deny=1`. An unknown client or redirect URI is an error
 *   page (never a redirect); other errors redirect with `error` and `state`.
 * - `POST /{p}/oauth/authorize` — the consent: 302 to redirect_uri with
 *   `code` and `state`, or `error=access_denied`.
 * - `POST /{p}/oauth/token` (form body, client authentication by HTTP Basic
 *   only) — grant_type=authorization_code (code, redirect_uri, code_verifier;
 *   codes are single use and live 10 minutes; a code used twice revokes what
 *   it gave) or refresh_token (rotated on every use; a rotated token used
 *   again revokes its whole grant). Errors as RFC 6749 §5.2.
 * - `GET /{p}/api/userinfo` — the token's user: `{ user_id, nickname, avatar }`.
 * - `POST /{p}/api/posts` — JSON `{ client_token, title, body, format: markdown|html, summary?, tags?, images?: [{ media_id, content_type, data (base64) }] }`
 *   → 201 `{ post }`; the same client_token again (same user) → 200 with the same post.
 *   Refusals: 422 `content_rejected` (a banned word), `invalid_image`; 400 `invalid_request`.
 * - `GET /{p}/api/posts?client_token=` — the user's live posts with that token.
 * - `GET /{p}/api/posts/{id}`, `DELETE /{p}/api/posts/{id}` (unpublish), `GET /{p}/api/posts/{id}/metrics`.
 * - `GET /{p}/p/{id}` — the post's public page.
 * API calls carry `Authorization: Bearer <access token>` and the signature
 * headers; a bad, stale (±300 s) or replayed signature is 400
 * invalid_signature / stale_request / replayed_request; a bad token 401
 * invalid_token (RFC 6750); no `publish` scope 403 insufficient_scope.
 */

export interface OpenPlatformClientRegistration {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
}

export interface SandboxUser {
  id: string;
  login: string;
  nickname: string;
}

export interface OpenPlatformSandboxOptions {
  host?: string;
  port?: number;
  /** per platform; what is missing is generated */
  clients?: Partial<Record<OpenPlatformId, Partial<OpenPlatformClientRegistration>>>;
  /** registers `${redirectBaseUrl}/api/v1/platform-accounts/oauth/{platform}/callback` for every client not given its own */
  redirectBaseUrl?: string;
  /** access-token lifetime (default 7200 s); changeable later with setAccessTokenTtl */
  accessTokenTtlSeconds?: number;
  /** refresh-token lifetime (default 30 days) */
  refreshTokenTtlSeconds?: number;
  /** authorization-code lifetime (default 600 s, RFC 6749 §4.1.2's recommended maximum) */
  codeTtlSeconds?: number;
  /** words a post may not hold (422 content_rejected); default ['违禁'] */
  bannedWords?: string[];
  log?: (line: string) => void;
}

export interface SandboxFaults {
  /** every JSON answer altered after signing (our client must refuse it) */
  tamperResponses: boolean;
  /** JSON answers carry no signature */
  unsignedResponses: boolean;
  /** the token endpoint answers 503 temporarily_unavailable before looking at the request */
  tokenEndpointDown: boolean;
}

export interface SandboxPost {
  id: string;
  platform: OpenPlatformId;
  userId: string;
  clientId: string;
  clientToken: string;
  title: string;
  body: string;
  format: 'markdown' | 'html';
  summary: string | null;
  tags: string[];
  images: { mediaId: string; contentType: string; bytes: number; url: string }[];
  url: string;
  status: 'published' | 'deleted';
  publishedAt: Date;
  deletedAt: Date | null;
  metrics: { views: number; likes: number; comments: number; shares: number } | null;
}

export interface SandboxMetrics {
  views: number;
  likes: number;
  comments: number;
  shares: number;
}

export interface OpenPlatformSandbox {
  url: string;
  clients: Record<OpenPlatformId, OpenPlatformClientRegistration>;
  /** each platform's answer-signing public key (SPKI PEM) */
  publicKeys: Record<OpenPlatformId, string>;
  faults: SandboxFaults;
  /** the platform's environment for this sandbox (src/config.ts names); `platforms` limits which are configured */
  env(options?: { redirectBaseUrl?: string; platforms?: readonly OpenPlatformId[] }): Record<string, string>;
  users(platform: OpenPlatformId): SandboxUser[];
  /** access tokens issued from now on live this long */
  setAccessTokenTtl(seconds: number): void;
  /** the next `count` publish calls answer `status` (503): `before` storing the post, or `after` storing it (a lost answer) */
  failNextPublish(platform: OpenPlatformId, count: number, when: 'before' | 'after', status?: number): void;
  /** the next `count` publish calls answer 429 with Retry-After */
  rateLimitNextPublish(platform: OpenPlatformId, count: number): void;
  /** every refresh token of the user on the platform stops working; answers how many */
  revokeRefreshTokens(platform: OpenPlatformId, userId: string): number;
  /** every access token of the user on the platform stops working; answers how many */
  revokeAccessTokens(platform: OpenPlatformId, userId: string): number;
  setMetrics(platform: OpenPlatformId, postId: string, metrics: SandboxMetrics): void;
  /** the platform's posts (deleted ones too), oldest first */
  posts(platform: OpenPlatformId, filter?: { userId?: string; clientToken?: string }): SandboxPost[];
  /** token endpoint calls per grant type, for tests that count refreshes */
  tokenCalls: { platform: OpenPlatformId; grantType: string; ok: boolean; error?: string }[];
  close(): Promise<void>;
}

interface AuthorizationCode {
  code: string;
  clientId: string;
  redirectUri: string;
  scope: string[];
  challenge: string | null;
  userId: string;
  expiresAt: number;
  used: boolean;
  grantId: string | null;
}

interface Grant {
  id: string;
  platform: OpenPlatformId;
  clientId: string;
  userId: string;
  scope: string[];
  revoked: boolean;
}

interface AccessToken {
  token: string;
  grantId: string;
  expiresAt: number;
  revoked: boolean;
}

interface RefreshToken {
  token: string;
  grantId: string;
  expiresAt: number;
  /** replaced by a newer one (rotation) */
  rotated: boolean;
  revoked: boolean;
}

interface PlatformState {
  id: OpenPlatformId;
  pkce: boolean;
  client: OpenPlatformClientRegistration;
  users: SandboxUser[];
  privateKey: KeyObject;
  publicKeyPem: string;
  codes: Map<string, AuthorizationCode>;
  grants: Map<string, Grant>;
  accessTokens: Map<string, AccessToken>;
  refreshTokens: Map<string, RefreshToken>;
  posts: Map<string, SandboxPost>;
  /** nonces seen within the clock-skew window (replay protection), with when they may be forgotten */
  nonces: Map<string, number>;
  publishFaults: { when: 'before' | 'after' | 'rate'; status: number }[];
}

const SCOPES = ['basic', 'publish'];
const IMAGE_TYPES: Record<string, (b: Buffer) => boolean> = {
  'image/png': (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  'image/jpeg': (b) => b[0] === 0xff && b[1] === 0xd8,
  'image/gif': (b) => b.subarray(0, 4).toString('latin1') === 'GIF8',
  'image/webp': (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP',
};
const MAX_BODY_BYTES = 20 * 1024 * 1024;
const CLIENT_TOKEN = /^[A-Za-z0-9_.:-]{1,128}$/;

const DEFAULT_USERS: Record<OpenPlatformId, SandboxUser[]> = {
  baidu: [
    { id: 'bd_4f1a9c20', login: 'alice', nickname: '百度·小安' },
    { id: 'bd_77e0b213', login: 'bob', nickname: '百度·阿博' },
  ],
  sohu: [
    { id: 'sh_10293847', login: 'alice', nickname: '搜狐号·小安' },
    { id: 'sh_56473829', login: 'bob', nickname: '搜狐号·阿博' },
  ],
  netease: [
    { id: 'ne_a81c33f0', login: 'alice', nickname: '网易号·小安' },
    { id: 'ne_b92d44e1', login: 'bob', nickname: '网易号·阿博' },
  ],
};

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(res: ServerResponse, status: number, title: string, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem}button{font-size:1.05rem;padding:.4rem 1.2rem;margin-right:.5rem}</style>
</head><body><p><strong>Open platform sandbox</strong> — not a real platform</p>${body}</body></html>`);
}

function token(prefix: string): string {
  return `${prefix}${randomBytes(24).toString('base64url')}`;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function withQuery(uri: string, params: Record<string, string | undefined>): string {
  const url = new URL(uri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  return url.toString();
}

export async function startOpenPlatformSandbox(options: OpenPlatformSandboxOptions = {}): Promise<OpenPlatformSandbox> {
  const log = options.log ?? (() => undefined);
  const faults: SandboxFaults = { tamperResponses: false, unsignedResponses: false, tokenEndpointDown: false };
  const codeTtlMs = (options.codeTtlSeconds ?? 600) * 1000;
  const refreshTtlMs = (options.refreshTokenTtlSeconds ?? 30 * 86_400) * 1000;
  let accessTtlMs = (options.accessTokenTtlSeconds ?? 7200) * 1000;
  const bannedWords = options.bannedWords ?? ['违禁'];
  const tokenCalls: OpenPlatformSandbox['tokenCalls'] = [];
  let baseUrl = '';

  const platforms = new Map<OpenPlatformId, PlatformState>();
  for (const spec of OPEN_PLATFORMS) {
    const given = options.clients?.[spec.id] ?? {};
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    platforms.set(spec.id, {
      id: spec.id,
      pkce: spec.pkce,
      client: {
        clientId: given.clientId ?? `${spec.id}-app-${randomBytes(6).toString('hex')}`,
        clientSecret: given.clientSecret ?? randomBytes(24).toString('base64url'),
        redirectUris:
          given.redirectUris ??
          (options.redirectBaseUrl ? [`${options.redirectBaseUrl.replace(/\/$/, '')}/api/v1/platform-accounts/oauth/${spec.id}/callback`] : []),
      },
      users: DEFAULT_USERS[spec.id].map((u) => ({ ...u })),
      privateKey,
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      codes: new Map(),
      grants: new Map(),
      accessTokens: new Map(),
      refreshTokens: new Map(),
      posts: new Map(),
      nonces: new Map(),
      publishFaults: [],
    });
  }
  const platformOf = (id: OpenPlatformId): PlatformState => {
    const p = platforms.get(id);
    if (!p) throw new Error(`no platform ${id}`);
    return p;
  };

  // ------------------------------------------------------------ answers

  /** A JSON answer signed with the platform's key, bound to the request's nonce. */
  function json(p: PlatformState, req: IncomingMessage, res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
    let body = JSON.stringify(value);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = newNonce();
    const requestNonce = String(req.headers[OP_HEADERS.nonce] ?? '');
    const signature = signResponse(p.privateKey, { status, timestamp, nonce, requestNonce, body });
    if (faults.tamperResponses) body = body.replace(/"(\w+)":/, '"$1" :');
    res.writeHead(status, {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
      Pragma: 'no-cache',
      ...(faults.unsignedResponses ? {} : { [OP_HEADERS.timestamp]: timestamp, [OP_HEADERS.nonce]: nonce, [OP_HEADERS.signature]: signature }),
      ...headers,
    });
    res.end(body);
  }

  /** RFC 6749 §5.2. */
  function oauthError(
    p: PlatformState,
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    error: string,
    description: string,
    headers: Record<string, string> = {},
  ) {
    return json(p, req, res, status, { error, error_description: description }, headers);
  }

  // ------------------------------------------------------------ OAuth: authorize

  interface AuthorizeRequest {
    responseType: string;
    clientId: string;
    redirectUri: string;
    scope: string;
    state: string | undefined;
    challenge: string | undefined;
    challengeMethod: string | undefined;
  }

  function authorizeRequest(params: URLSearchParams): AuthorizeRequest {
    return {
      responseType: params.get('response_type') ?? '',
      clientId: params.get('client_id') ?? '',
      redirectUri: params.get('redirect_uri') ?? '',
      scope: params.get('scope') ?? 'basic',
      state: params.get('state') ?? undefined,
      challenge: params.get('code_challenge') ?? undefined,
      challengeMethod: params.get('code_challenge_method') ?? undefined,
    };
  }

  /**
   * The checks of §4.1.1 / §4.1.2.1: `page` for what must not redirect (an
   * unknown client or redirect URI), `redirect` for the rest, null when good.
   */
  function checkAuthorize(p: PlatformState, a: AuthorizeRequest): { page: string } | { redirect: { error: string; description: string } } | null {
    if (!safeEqual(a.clientId, p.client.clientId)) return { page: 'unknown client_id' };
    if (!p.client.redirectUris.includes(a.redirectUri)) return { page: 'redirect_uri does not match a registered one' };
    if (a.responseType !== 'code') return { redirect: { error: 'unsupported_response_type', description: 'only response_type=code' } };
    const scopes = a.scope.split(' ').filter(Boolean);
    if (scopes.length === 0 || scopes.some((s) => !SCOPES.includes(s)))
      return { redirect: { error: 'invalid_scope', description: `scopes are ${SCOPES.join(', ')}` } };
    if (p.pkce) {
      if (!a.challenge) return { redirect: { error: 'invalid_request', description: 'code_challenge required (PKCE)' } };
      if (a.challengeMethod !== 'S256') return { redirect: { error: 'invalid_request', description: 'code_challenge_method must be S256' } };
      if (!/^[A-Za-z0-9_-]{43}$/.test(a.challenge)) return { redirect: { error: 'invalid_request', description: 'code_challenge is not a S256 challenge' } };
    }
    return null;
  }

  function consentPage(p: PlatformState, res: ServerResponse, a: AuthorizeRequest, problem?: string): void {
    const hidden = Object.entries({
      response_type: a.responseType,
      client_id: a.clientId,
      redirect_uri: a.redirectUri,
      scope: a.scope,
      state: a.state,
      ...(p.pkce ? { code_challenge: a.challenge, code_challenge_method: a.challengeMethod } : {}),
    })
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `<input type="hidden" name="${k}" value="${escapeHtml(String(v))}">`)
      .join('');
    page(
      res,
      problem ? 400 : 200,
      `${p.id} — 授权`,
      `<h1>授权 ${escapeHtml(a.clientId)}</h1><p>申请的权限：${escapeHtml(a.scope)}</p>${problem ? `<p class="error">${escapeHtml(problem)}</p>` : ''}
<form method="post" action="/${p.id}/oauth/authorize">${hidden}
<label>账号 <select name="user">${p.users.map((u) => `<option value="${escapeHtml(u.login)}">${escapeHtml(u.nickname)}</option>`).join('')}</select></label>
<p><button type="submit" name="approve" value="1">同意授权</button><button type="submit" name="deny" value="1">拒绝</button></p></form>`,
    );
  }

  async function authorize(p: PlatformState, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const params = req.method === 'POST' ? new URLSearchParams((await readBody(req)).toString('utf8')) : url.searchParams;
    const a = authorizeRequest(params);
    const problem = checkAuthorize(p, a);
    if (problem && 'page' in problem) return page(res, 400, `${p.id} — 授权错误`, `<h1>invalid_request</h1><p>${escapeHtml(problem.page)}</p>`);
    const redirect = (query: Record<string, string | undefined>) => {
      res.writeHead(302, { Location: withQuery(a.redirectUri, { ...query, state: a.state }), 'Cache-Control': 'no-store' });
      res.end();
    };
    if (problem) return redirect({ error: problem.redirect.error, error_description: problem.redirect.description });
    if (req.method !== 'POST') return consentPage(p, res, a);

    if (params.get('approve') !== '1') {
      log(`${p.id}: consent denied`);
      return redirect({ error: 'access_denied', error_description: 'the user refused' });
    }
    const user = p.users.find((u) => u.login === params.get('user'));
    if (!user) return consentPage(p, res, a, 'unknown user');
    const code = token('ac_');
    p.codes.set(code, {
      code,
      clientId: a.clientId,
      redirectUri: a.redirectUri,
      scope: a.scope.split(' ').filter(Boolean),
      challenge: p.pkce ? (a.challenge ?? null) : null,
      userId: user.id,
      expiresAt: Date.now() + codeTtlMs,
      used: false,
      grantId: null,
    });
    log(`${p.id}: ${user.login} approved ${a.clientId}`);
    return redirect({ code });
  }

  // ------------------------------------------------------------ OAuth: token

  function issue(p: PlatformState, grant: Grant): Record<string, unknown> {
    const access: AccessToken = { token: token('at_'), grantId: grant.id, expiresAt: Date.now() + accessTtlMs, revoked: false };
    const refresh: RefreshToken = { token: token('rt_'), grantId: grant.id, expiresAt: Date.now() + refreshTtlMs, rotated: false, revoked: false };
    p.accessTokens.set(access.token, access);
    p.refreshTokens.set(refresh.token, refresh);
    return {
      access_token: access.token,
      token_type: 'Bearer',
      expires_in: Math.round(accessTtlMs / 1000),
      refresh_token: refresh.token,
      scope: grant.scope.join(' '),
    };
  }

  function revokeGrant(p: PlatformState, grantId: string): void {
    const grant = p.grants.get(grantId);
    if (grant) grant.revoked = true;
    for (const t of p.accessTokens.values()) if (t.grantId === grantId) t.revoked = true;
    for (const t of p.refreshTokens.values()) if (t.grantId === grantId) t.revoked = true;
  }

  /** §2.3.1: client_id and client_secret form-urlencoded, then Basic. */
  function basicClient(req: IncomingMessage): { id: string; secret: string } | null {
    const header = req.headers.authorization ?? '';
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
    if (!m) return null;
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) return null;
    try {
      const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
      return { id: decode(decoded.slice(0, i)), secret: decode(decoded.slice(i + 1)) };
    } catch {
      return null;
    }
  }

  async function tokenEndpoint(p: PlatformState, req: IncomingMessage, res: ServerResponse): Promise<void> {
    let grantType = '';
    const fail = (status: number, error: string, description: string, headers: Record<string, string> = {}) => {
      tokenCalls.push({ platform: p.id, grantType, ok: false, error });
      oauthError(p, req, res, status, error, description, headers);
    };
    if (faults.tokenEndpointDown) return fail(503, 'temporarily_unavailable', 'the authorization server is down for a moment');
    if (req.method !== 'POST') return fail(405, 'invalid_request', 'POST only');
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return fail(400, 'invalid_request', 'the body must be application/x-www-form-urlencoded');
    }
    const form = new URLSearchParams((await readBody(req)).toString('utf8'));
    grantType = form.get('grant_type') ?? '';
    const client = basicClient(req);
    if (!client || !safeEqual(client.id, p.client.clientId) || !safeEqual(client.secret, p.client.clientSecret)) {
      return fail(401, 'invalid_client', 'client authentication failed (HTTP Basic)', { 'WWW-Authenticate': `Basic realm="${p.id}"` });
    }
    if (grantType === 'authorization_code') {
      const code = p.codes.get(form.get('code') ?? '');
      if (!code || code.clientId !== client.id) return fail(400, 'invalid_grant', 'unknown authorization code');
      if (code.used) {
        // §4.1.2: a code used twice revokes what it gave
        if (code.grantId) revokeGrant(p, code.grantId);
        return fail(400, 'invalid_grant', 'authorization code already used');
      }
      if (Date.now() > code.expiresAt) return fail(400, 'invalid_grant', 'authorization code expired');
      if (form.get('redirect_uri') !== code.redirectUri) return fail(400, 'invalid_grant', 'redirect_uri differs from the authorization request');
      if (code.challenge !== null) {
        const verifier = form.get('code_verifier');
        if (!verifier) return fail(400, 'invalid_request', 'code_verifier required');
        if (!PKCE_VERIFIER.test(verifier) || !safeEqual(pkceChallenge(verifier), code.challenge)) {
          code.used = true;
          return fail(400, 'invalid_grant', 'code_verifier does not match the code_challenge');
        }
      }
      code.used = true;
      const grant: Grant = { id: token('g_'), platform: p.id, clientId: client.id, userId: code.userId, scope: code.scope, revoked: false };
      p.grants.set(grant.id, grant);
      code.grantId = grant.id;
      tokenCalls.push({ platform: p.id, grantType, ok: true });
      return json(p, req, res, 200, issue(p, grant));
    }
    if (grantType === 'refresh_token') {
      const refresh = p.refreshTokens.get(form.get('refresh_token') ?? '');
      const grant = refresh ? p.grants.get(refresh.grantId) : undefined;
      if (!refresh || !grant || grant.clientId !== client.id) return fail(400, 'invalid_grant', 'unknown refresh token');
      if (refresh.rotated && !refresh.revoked) {
        // a rotated token used again: someone holds a copy; the whole grant goes
        revokeGrant(p, grant.id);
        return fail(400, 'invalid_grant', 'refresh token already used');
      }
      if (refresh.revoked || grant.revoked) return fail(400, 'invalid_grant', 'refresh token revoked');
      if (Date.now() > refresh.expiresAt) return fail(400, 'invalid_grant', 'refresh token expired');
      const asked = form.get('scope');
      if (asked !== null) {
        const scopes = asked.split(' ').filter(Boolean);
        if (scopes.some((s) => !grant.scope.includes(s))) return fail(400, 'invalid_scope', 'more scope than granted');
      }
      refresh.rotated = true;
      tokenCalls.push({ platform: p.id, grantType, ok: true });
      return json(p, req, res, 200, issue(p, grant));
    }
    if (grantType === '') return fail(400, 'invalid_request', 'grant_type required');
    return fail(400, 'unsupported_grant_type', `grant_type ${grantType} is not supported`);
  }

  // ------------------------------------------------------------ the API

  /** Checks the signature and the bearer token; answers the refusal itself and returns null. */
  function authenticateApi(p: PlatformState, req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer, needScope: string): Grant | null {
    const h = (name: string) => String(req.headers[name] ?? '');
    const clientId = h(OP_HEADERS.clientId);
    const timestamp = h(OP_HEADERS.timestamp);
    const nonce = h(OP_HEADERS.nonce);
    const signature = h(OP_HEADERS.signature);
    if (!safeEqual(clientId, p.client.clientId)) {
      oauthError(p, req, res, 400, 'invalid_signature', 'unknown or missing X-OP-Client-Id');
      return null;
    }
    if (!/^\d{1,12}$/.test(timestamp) || !NONCE.test(nonce) || signature === '') {
      oauthError(p, req, res, 400, 'invalid_signature', 'missing or malformed signature headers');
      return null;
    }
    const path = `${url.pathname}${url.search}`;
    if (!verifyRequest(p.client.clientSecret, { method: req.method ?? 'GET', path, timestamp, nonce, body }, signature)) {
      oauthError(p, req, res, 400, 'invalid_signature', 'the signature does not verify');
      return null;
    }
    const now = Date.now();
    if (Math.abs(now / 1000 - Number(timestamp)) > MAX_CLOCK_SKEW_SECONDS) {
      oauthError(p, req, res, 400, 'stale_request', `the timestamp is more than ${MAX_CLOCK_SKEW_SECONDS} s away`);
      return null;
    }
    for (const [n, until] of p.nonces) if (until < now) p.nonces.delete(n);
    if (p.nonces.has(nonce)) {
      oauthError(p, req, res, 400, 'replayed_request', 'this nonce was used already');
      return null;
    }
    p.nonces.set(nonce, now + 2 * MAX_CLOCK_SKEW_SECONDS * 1000);

    const bearer = /^Bearer\s+(\S+)$/i.exec(h('authorization'))?.[1];
    const access = bearer ? p.accessTokens.get(bearer) : undefined;
    const grant = access ? p.grants.get(access.grantId) : undefined;
    if (!access || !grant || access.revoked || grant.revoked || access.expiresAt < now || grant.clientId !== clientId) {
      const description = access && access.expiresAt < now ? 'the access token expired' : 'the access token is not valid';
      oauthError(p, req, res, 401, 'invalid_token', description, { 'WWW-Authenticate': `Bearer realm="${p.id}", error="invalid_token"` });
      return null;
    }
    if (!grant.scope.includes(needScope)) {
      oauthError(p, req, res, 403, 'insufficient_scope', `needs scope ${needScope}`, {
        'WWW-Authenticate': `Bearer realm="${p.id}", error="insufficient_scope", scope="${needScope}"`,
      });
      return null;
    }
    return grant;
  }

  function metricsOf(post: SandboxPost): SandboxMetrics {
    if (post.metrics) return post.metrics;
    // grows by itself: two views a second since publication
    const views = Math.floor(((Date.now() - post.publishedAt.getTime()) / 1000) * 2);
    return { views, likes: Math.floor(views / 5), comments: Math.floor(views / 20), shares: Math.floor(views / 50) };
  }

  function postJson(post: SandboxPost): Record<string, unknown> {
    return {
      id: post.id,
      url: post.url,
      client_token: post.clientToken,
      title: post.title,
      format: post.format,
      tags: post.tags,
      images: post.images.map((i) => ({ media_id: i.mediaId, url: i.url })),
      status: post.status,
      published_at: post.publishedAt.toISOString(),
      deleted_at: post.deletedAt?.toISOString() ?? null,
    };
  }

  type PostInput =
    | { ok: true; value: Omit<SandboxPost, 'id' | 'url' | 'status' | 'publishedAt' | 'deletedAt' | 'metrics' | 'userId' | 'clientId' | 'platform'> }
    | { ok: false; status: number; error: string; description: string };

  function parsePost(p: PlatformState, body: Buffer): PostInput {
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new Error('not an object');
    } catch {
      return { ok: false, status: 400, error: 'invalid_request', description: 'the body must be a JSON object' };
    }
    const bad = (description: string): PostInput => ({ ok: false, status: 400, error: 'invalid_request', description });
    const { client_token, title, body: text, format, summary, tags, images } = input;
    if (typeof client_token !== 'string' || !CLIENT_TOKEN.test(client_token)) return bad('client_token must be 1-128 of [A-Za-z0-9_.:-]');
    if (typeof title !== 'string' || title.trim() === '' || [...title].length > 100) return bad('title must be 1-100 characters');
    if (typeof text !== 'string' || text.trim() === '' || text.length > 200_000) return bad('body must be 1-200000 characters');
    if (format !== 'markdown' && format !== 'html') return bad('format must be markdown or html');
    if (summary !== undefined && summary !== null && (typeof summary !== 'string' || summary.length > 500))
      return bad('summary must be at most 500 characters');
    const tagList = tags ?? [];
    if (!Array.isArray(tagList) || tagList.length > 10 || tagList.some((t) => typeof t !== 'string' || t.trim() === '' || [...t].length > 20)) {
      return bad('tags: at most 10, each 1-20 characters');
    }
    const imageList = images ?? [];
    if (!Array.isArray(imageList) || imageList.length > 20) return bad('images: at most 20');
    const parsedImages: SandboxPost['images'] = [];
    for (const [i, image] of imageList.entries()) {
      const { media_id, content_type, data } = (image ?? {}) as Record<string, unknown>;
      if (typeof media_id !== 'string' || media_id === '' || typeof content_type !== 'string' || typeof data !== 'string') {
        return bad(`images[${i}] needs media_id, content_type and data (base64)`);
      }
      const check = IMAGE_TYPES[content_type];
      const bytes = Buffer.from(data, 'base64');
      if (!check) return { ok: false, status: 422, error: 'invalid_image', description: `images[${i}]: ${content_type} is not taken (png, jpeg, gif, webp)` };
      if (bytes.length === 0 || !check(bytes))
        return { ok: false, status: 422, error: 'invalid_image', description: `images[${i}] is not a ${content_type} image` };
      parsedImages.push({ mediaId: media_id, contentType: content_type, bytes: bytes.length, url: `${baseUrl}/${p.id}/img/${randomBytes(8).toString('hex')}` });
    }
    const banned = bannedWords.find((w) => title.includes(w) || text.includes(w));
    if (banned) return { ok: false, status: 422, error: 'content_rejected', description: `the post holds a word the platform does not allow (${banned})` };
    return {
      ok: true,
      value: {
        clientToken: client_token,
        title,
        body: text,
        format,
        summary: typeof summary === 'string' ? summary : null,
        tags: tagList as string[],
        images: parsedImages,
      },
    };
  }

  async function api(p: PlatformState, req: IncomingMessage, res: ServerResponse, url: URL, rest: string): Promise<void> {
    const body = await readBody(req);
    const method = req.method ?? 'GET';
    const isPublish = method === 'POST' && rest === '/posts';
    const grant = authenticateApi(p, req, res, url, body, rest === '/userinfo' ? 'basic' : 'publish');
    if (!grant) return;

    if (method === 'GET' && rest === '/userinfo') {
      const user = p.users.find((u) => u.id === grant.userId)!;
      return json(p, req, res, 200, { user_id: user.id, nickname: user.nickname, avatar: `${baseUrl}/${p.id}/avatar/${user.id}.png` });
    }

    if (isPublish) {
      const fault = p.publishFaults.shift();
      if (fault?.when === 'rate') return oauthError(p, req, res, 429, 'rate_limited', 'too many posts; try again later', { 'Retry-After': '1' });
      if (fault?.when === 'before') return oauthError(p, req, res, fault.status, 'temporarily_unavailable', 'the platform is busy');
      const parsed = parsePost(p, body);
      if (!parsed.ok) return oauthError(p, req, res, parsed.status, parsed.error, parsed.description);
      const existing = [...p.posts.values()].find((x) => x.userId === grant.userId && x.clientToken === parsed.value.clientToken);
      if (existing) {
        log(`${p.id}: repeat of ${existing.clientToken} → ${existing.id}`);
        return json(p, req, res, 200, { post: postJson(existing), duplicate: true });
      }
      const id = `${p.id.slice(0, 2)}${Date.now().toString(36)}${randomBytes(5).toString('hex')}`;
      const post: SandboxPost = {
        ...parsed.value,
        id,
        platform: p.id,
        userId: grant.userId,
        clientId: grant.clientId,
        url: `${baseUrl}/${p.id}/p/${id}`,
        status: 'published',
        publishedAt: new Date(),
        deletedAt: null,
        metrics: null,
      };
      p.posts.set(id, post);
      log(`${p.id}: post ${id} (${post.clientToken}) by ${grant.userId}`);
      // stored, but the answer is lost on the way
      if (fault?.when === 'after') return oauthError(p, req, res, fault.status, 'temporarily_unavailable', 'the platform is busy');
      return json(p, req, res, 201, { post: postJson(post), duplicate: false });
    }

    if (method === 'GET' && rest === '/posts') {
      const clientToken = url.searchParams.get('client_token');
      if (!clientToken) return oauthError(p, req, res, 400, 'invalid_request', 'client_token required');
      const found = [...p.posts.values()].filter((x) => x.userId === grant.userId && x.clientToken === clientToken && x.status === 'published');
      return json(p, req, res, 200, { posts: found.map(postJson) });
    }

    const one = /^\/posts\/([A-Za-z0-9]+)(\/metrics)?$/.exec(rest);
    const post = one ? p.posts.get(one[1]!) : undefined;
    if (one && (!post || post.userId !== grant.userId)) return oauthError(p, req, res, 404, 'not_found', 'no such post');
    if (one && post && method === 'GET' && one[2]) {
      if (post.status === 'deleted') return oauthError(p, req, res, 404, 'not_found', 'the post was deleted');
      return json(p, req, res, 200, { post_id: post.id, ...metricsOf(post) });
    }
    if (one && post && method === 'GET') return json(p, req, res, 200, { post: postJson(post) });
    if (one && post && method === 'DELETE' && !one[2]) {
      if (post.status !== 'deleted') {
        post.status = 'deleted';
        post.deletedAt = new Date();
        log(`${p.id}: post ${post.id} deleted`);
      }
      return json(p, req, res, 200, { post: postJson(post) });
    }
    return oauthError(p, req, res, 404, 'not_found', `no such API: ${method} ${rest}`);
  }

  function publicPost(p: PlatformState, res: ServerResponse, id: string): void {
    const post = p.posts.get(id);
    if (!post || post.status === 'deleted') return page(res, 404, p.id, '<h1>内容不存在或已删除</h1>');
    page(
      res,
      200,
      post.title,
      `<h1>${escapeHtml(post.title)}</h1><pre>${escapeHtml(post.body)}</pre><p>${post.tags.map((t) => `#${escapeHtml(t)}`).join(' ')}</p>`,
    );
  }

  // ------------------------------------------------------------ routing

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
    const m = /^\/([a-z]+)(\/.*)$/.exec(url.pathname);
    const p = m ? platforms.get(m[1] as OpenPlatformId) : undefined;
    const route = async () => {
      if (!p || !m) return page(res, 404, 'Open platform sandbox', '<h1>not found</h1>');
      const rest = m[2]!;
      if (rest === '/oauth/authorize' && (req.method === 'GET' || req.method === 'POST')) return authorize(p, req, res, url);
      if (rest === '/oauth/token') return tokenEndpoint(p, req, res);
      if (rest.startsWith('/api/')) return api(p, req, res, url, rest.slice('/api'.length));
      const post = /^\/p\/([A-Za-z0-9]+)$/.exec(rest);
      if (req.method === 'GET' && post) return publicPost(p, res, post[1]!);
      return page(res, 404, 'Open platform sandbox', '<h1>not found</h1>');
    };
    route().catch((error: unknown) => {
      log(`sandbox error: ${(error as Error).message}`);
      if (res.headersSent) return void res.end();
      if (error instanceof BodyTooLarge && p) return oauthError(p, req, res, 413, 'invalid_request', 'the body is too large');
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end('sandbox error');
    });
  });
  await new Promise<void>((ok) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', ok));
  const address = server.address() as AddressInfo;
  baseUrl = `http://${options.host ?? '127.0.0.1'}:${address.port}`;

  const clients = Object.fromEntries([...platforms].map(([id, p]) => [id, p.client])) as Record<OpenPlatformId, OpenPlatformClientRegistration>;
  const publicKeys = Object.fromEntries([...platforms].map(([id, p]) => [id, p.publicKeyPem])) as Record<OpenPlatformId, string>;

  return {
    url: baseUrl,
    clients,
    publicKeys,
    faults,
    env(envOptions = {}) {
      const oneLine = (pem: string) => pem.trim().replace(/\n/g, '\\n');
      const env: Record<string, string> = { OPEN_PLATFORM_URL: baseUrl };
      for (const id of envOptions.platforms ?? [...platforms.keys()]) {
        const p = platformOf(id);
        const name = id.toUpperCase();
        env[`OAUTH_CLIENT_${name}_ID`] = p.client.clientId;
        env[`OAUTH_CLIENT_${name}_SECRET`] = p.client.clientSecret;
        env[`OAUTH_CLIENT_${name}_PUBLIC_KEY`] = oneLine(p.publicKeyPem);
      }
      const redirectBase = envOptions.redirectBaseUrl ?? options.redirectBaseUrl;
      if (redirectBase) env['OAUTH_REDIRECT_BASE_URL'] = redirectBase;
      return env;
    },
    users: (platform) => platformOf(platform).users.map((u) => ({ ...u })),
    setAccessTokenTtl(seconds) {
      accessTtlMs = seconds * 1000;
    },
    failNextPublish(platform, count, when, status = 503) {
      for (let i = 0; i < count; i++) platformOf(platform).publishFaults.push({ when, status });
    },
    rateLimitNextPublish(platform, count) {
      for (let i = 0; i < count; i++) platformOf(platform).publishFaults.push({ when: 'rate', status: 429 });
    },
    revokeRefreshTokens(platform, userId) {
      const p = platformOf(platform);
      let n = 0;
      for (const t of p.refreshTokens.values()) {
        if (!t.revoked && p.grants.get(t.grantId)?.userId === userId) {
          t.revoked = true;
          n++;
        }
      }
      return n;
    },
    revokeAccessTokens(platform, userId) {
      const p = platformOf(platform);
      let n = 0;
      for (const t of p.accessTokens.values()) {
        if (!t.revoked && p.grants.get(t.grantId)?.userId === userId) {
          t.revoked = true;
          n++;
        }
      }
      return n;
    },
    setMetrics(platform, postId, metrics) {
      const post = platformOf(platform).posts.get(postId);
      if (!post) throw new Error(`no post ${postId} on ${platform}`);
      post.metrics = { ...metrics };
    },
    posts(platform, filter = {}) {
      return [...platformOf(platform).posts.values()]
        .filter(
          (x) => (filter.userId === undefined || x.userId === filter.userId) && (filter.clientToken === undefined || x.clientToken === filter.clientToken),
        )
        .map((x) => ({ ...x, tags: [...x.tags], images: x.images.map((i) => ({ ...i })), metrics: x.metrics && { ...x.metrics } }));
    },
    tokenCalls,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

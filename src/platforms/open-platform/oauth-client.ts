import { pkceChallenge } from './signature.js';
import { callOpenPlatform, errorOf, OpenPlatformUnavailableError, type OpenPlatformClient, type VerifiedAnswer } from './transport.js';

/**
 * The client side of OAuth 2.0 (RFC 6749, authorization code grant, with
 * PKCE S256 per RFC 7636 where the platform takes it) against one open
 * platform: the authorization URL, the code exchange, the refresh, and the
 * user the tokens belong to.
 *
 * Errors: the platform's refusal is OAuthError with the RFC 6749 §5.2 code
 * (`invalid_grant`: the code or refresh token is no good — for a refresh it
 * means the user must authorize again; `invalid_client`: our registration is
 * wrong); no usable answer (network, timeout, 5xx, 429, an unsigned or
 * forged answer) is OpenPlatformUnavailableError — try again later.
 */

export const OAUTH_ERROR_CODES = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'access_denied',
  'unsupported_response_type',
  'server_error',
  'temporarily_unavailable',
] as const;

export class OAuthError extends Error {
  override readonly name = 'OAuthError';
  constructor(
    readonly platform: string,
    /** the RFC 6749 error code as the platform sent it */
    readonly code: string,
    readonly description: string,
    readonly status: number,
  ) {
    super(`${platform}: ${code}${description ? ` (${description})` : ''}`);
  }
}

export interface TokenSet {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  /** seconds, as the platform said */
  expiresIn: number;
  expiresAt: Date;
  /** what was granted, space-separated */
  scope: string;
}

/** The URL the user's browser is sent to; `codeChallenge` only where the platform takes PKCE. */
export function authorizeUrl(client: OpenPlatformClient, input: { state: string; codeVerifier: string | null }): string {
  const url = new URL(`${client.baseUrl}/oauth/authorize`);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', client.clientId);
  url.searchParams.set('redirect_uri', client.redirectUri);
  url.searchParams.set('scope', client.scopes.join(' '));
  url.searchParams.set('state', input.state);
  if (client.pkce) {
    if (!input.codeVerifier) throw new Error(`${client.platform} needs a PKCE code verifier`);
    url.searchParams.set('code_challenge', pkceChallenge(input.codeVerifier));
    url.searchParams.set('code_challenge_method', 'S256');
  }
  return url.toString();
}

function tokenSet(client: OpenPlatformClient, answer: VerifiedAnswer, now: Date, previousRefreshToken?: string): TokenSet {
  const b = answer.body;
  const bad = (what: string) => new OpenPlatformUnavailableError(client.platform, 'bad_response', `${client.platform}: token answer without ${what}`);
  if (typeof b.access_token !== 'string' || b.access_token === '') throw bad('access_token');
  if (typeof b.token_type !== 'string' || b.token_type.toLowerCase() !== 'bearer') throw bad('token_type Bearer');
  if (typeof b.expires_in !== 'number' || !Number.isFinite(b.expires_in) || b.expires_in <= 0) throw bad('expires_in');
  // §6: the platform may keep the refresh token it had (no rotation)
  const refreshToken = typeof b.refresh_token === 'string' && b.refresh_token !== '' ? b.refresh_token : previousRefreshToken;
  if (!refreshToken) throw bad('refresh_token');
  return {
    accessToken: b.access_token,
    refreshToken,
    tokenType: 'Bearer',
    expiresIn: Math.floor(b.expires_in),
    expiresAt: new Date(now.getTime() + Math.floor(b.expires_in) * 1000),
    scope: typeof b.scope === 'string' ? b.scope : client.scopes.join(' '),
  };
}

async function tokenRequest(client: OpenPlatformClient, form: Record<string, string>): Promise<VerifiedAnswer> {
  const answer = await callOpenPlatform(client, { method: 'POST', path: '/oauth/token', form, basicAuth: true });
  if (answer.status === 200) return answer;
  if (answer.status === 429 || answer.status >= 500) {
    throw new OpenPlatformUnavailableError(client.platform, 'bad_response', `${client.platform}: the token endpoint answered ${answer.status}`);
  }
  const { error, description } = errorOf(answer);
  throw new OAuthError(client.platform, error, description, answer.status);
}

/** §4.1.3: the code the callback got, for tokens. */
export async function exchangeCode(client: OpenPlatformClient, input: { code: string; codeVerifier: string | null }, now = new Date()): Promise<TokenSet> {
  const form: Record<string, string> = { grant_type: 'authorization_code', code: input.code, redirect_uri: client.redirectUri };
  if (client.pkce && input.codeVerifier) form.code_verifier = input.codeVerifier;
  return tokenSet(client, await tokenRequest(client, form), now);
}

/** §6: new tokens for the refresh token; the platform rotates it, so the one given must not be used again. */
export async function refreshTokens(client: OpenPlatformClient, refreshToken: string, now = new Date()): Promise<TokenSet> {
  return tokenSet(client, await tokenRequest(client, { grant_type: 'refresh_token', refresh_token: refreshToken }), now, refreshToken);
}

export interface PlatformUser {
  platformUserId: string;
  nickname: string;
}

/** The user the access token belongs to. A refused token is OAuthError `invalid_token`. */
export async function fetchPlatformUser(client: OpenPlatformClient, accessToken: string): Promise<PlatformUser> {
  const answer = await callOpenPlatform(client, { method: 'GET', path: '/api/userinfo', accessToken, sign: true });
  if (answer.status === 200 && typeof answer.body.user_id === 'string' && answer.body.user_id !== '') {
    const nickname = typeof answer.body.nickname === 'string' && answer.body.nickname.trim() !== '' ? answer.body.nickname.trim() : answer.body.user_id;
    return { platformUserId: answer.body.user_id, nickname: nickname.slice(0, 200) };
  }
  if (answer.status === 200 || answer.status === 429 || answer.status >= 500) {
    throw new OpenPlatformUnavailableError(client.platform, 'bad_response', `${client.platform}: user info answered ${answer.status}`);
  }
  const { error, description } = errorOf(answer);
  throw new OAuthError(client.platform, error, description, answer.status);
}

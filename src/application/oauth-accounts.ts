import { randomBytes } from 'node:crypto';
import type { EventStore } from '../event-store/port.js';
import { authorizeUrl, exchangeCode, fetchPlatformUser, OAuthError, type TokenSet } from '../platforms/open-platform/oauth-client.js';
import { newPkceVerifier, PKCE_VERIFIER } from '../platforms/open-platform/signature.js';
import { OpenPlatformUnavailableError, type OpenPlatformClient } from '../platforms/open-platform/transport.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load, type HandleResult } from '../write-model/core/command-handler.js';
import { uuidFromName } from '../write-model/core/event-ids.js';
import { platformAccountAggregate } from '../write-model/platform-account/decider.js';
import { userAggregate } from '../write-model/user/decider.js';
import type { PlatformAccountEvent } from '../write-model/platform-account/events.js';
import type { PlatformAccountState } from '../write-model/platform-account/state.js';
import type { SealedSecret, SecretBox } from './ports/secret-box.js';

/**
 * Binding platform accounts through OAuth 2.0 (authorization code grant,
 * PKCE S256 where the platform takes it): the authorization URL for the
 * signed-in user, and the callback that exchanges the code, asks the
 * platform who the user is and binds the account.
 *
 * The `state` parameter carries the binding across the browser's trip to the
 * platform: the user, the platform, the PKCE verifier, a nonce and the
 * expiry (10 minutes), sealed with the SecretBox (the verifier must stay
 * secret, and nobody can forge a state for another user). The callback
 * needs no bearer token — the state says whose account it is — and takes a
 * state once (`claimOnce`: Redis SET NX), so a replayed callback is refused.
 *
 * Account ids are named after the owner, the platform and the platform user
 * (`oauth-account:{owner}:{platform}:{platformUserId}#{n}`): binding the same
 * platform user again re-authorizes the same account; after a disconnect
 * (final) the next binding takes the next n.
 */

export const OAUTH_STATE_TTL_MS = 10 * 60_000;
const STATE_CONTEXT = 'oauth-state';
/** how many disconnected bindings of one platform user are skipped before giving up */
const MAX_GENERATIONS = 100;

export interface OAuthAccountsDeps {
  store: EventStore;
  secretBox: SecretBox;
  /** the configured client of a platform; undefined: not offered */
  client(platform: string): OpenPlatformClient | undefined;
  /** true the first time a key is claimed within `ttlMs` (Redis SET NX PX) */
  claimOnce(key: string, ttlMs: number): Promise<boolean>;
  now?: () => Date;
}

export type OAuthBindingProblem =
  | 'platform_not_offered'
  | 'state_invalid'
  | 'state_expired'
  | 'state_used'
  | 'access_denied'
  | 'platform_error'
  | 'grant_refused'
  | 'upstream_unavailable'
  | 'user_suspended';

/** Why a binding did not happen; `details` names codes, never tokens. */
export class OAuthBindingError extends Error {
  override readonly name = 'OAuthBindingError';
  constructor(
    readonly problem: OAuthBindingProblem,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

interface StatePayload {
  /** the user */
  u: string;
  /** the platform */
  p: string;
  /** the PKCE verifier; null where the platform takes none */
  v: string | null;
  /** a nonce: the single-use key */
  n: string;
  /** expiry, ms since the epoch */
  e: number;
}

function sealState(secretBox: SecretBox, payload: StatePayload): string {
  const box = secretBox.encrypt(JSON.stringify(payload), STATE_CONTEXT);
  return Buffer.from(JSON.stringify([box.keyId, box.iv, box.tag, box.ciphertext])).toString('base64url');
}

function openState(secretBox: SecretBox, state: string): StatePayload {
  const invalid = () => new OAuthBindingError('state_invalid', 'the state parameter is not one this API issued');
  let payload: unknown;
  try {
    const [keyId, iv, tag, ciphertext] = JSON.parse(Buffer.from(state, 'base64url').toString('utf8')) as string[];
    const box: SealedSecret = { keyId: String(keyId), iv: String(iv), tag: String(tag), ciphertext: String(ciphertext) };
    payload = JSON.parse(secretBox.decrypt(box, STATE_CONTEXT));
  } catch {
    throw invalid();
  }
  const p = payload as Partial<StatePayload>;
  const verifierOk = p.v === null || (typeof p.v === 'string' && PKCE_VERIFIER.test(p.v));
  if (typeof p.u !== 'string' || typeof p.p !== 'string' || typeof p.n !== 'string' || typeof p.e !== 'number' || !verifierOk) throw invalid();
  return p as StatePayload;
}

export interface AuthorizationStart {
  authorizeUrl: string;
  expiresAt: Date;
}

/** The URL to send the user's browser to, with a fresh sealed state (and PKCE verifier where the platform takes one). */
export function startAuthorization(deps: OAuthAccountsDeps, userId: string, platform: string): AuthorizationStart {
  const client = deps.client(platform);
  if (!client) throw new OAuthBindingError('platform_not_offered', `OAuth platform ${platform} is not offered here`, { platform });
  const now = deps.now?.() ?? new Date();
  const expiresAt = new Date(now.getTime() + OAUTH_STATE_TTL_MS);
  const verifier = client.pkce ? newPkceVerifier() : null;
  const state = sealState(deps.secretBox, { u: userId, p: platform, v: verifier, n: randomBytes(16).toString('base64url'), e: expiresAt.getTime() });
  return { authorizeUrl: authorizeUrl(client, { state, codeVerifier: verifier }), expiresAt };
}

export interface CallbackInput {
  platform: string;
  state: string;
  code?: string | undefined;
  /** the platform's error (RFC 6749 §4.1.2.1), e.g. access_denied */
  error?: string | undefined;
  errorDescription?: string | undefined;
}

export interface BoundAccount {
  accountId: string;
  userId: string;
  /** the account existed: this re-authorized it */
  rebound: boolean;
  result: HandleResult<PlatformAccountState, PlatformAccountEvent>;
}

/** The id of the account for this platform user: the first not disconnected (a disconnected one is final). */
async function accountIdFor(store: EventStore, userId: string, platform: string, platformUserId: string): Promise<string> {
  for (let n = 0; n < MAX_GENERATIONS; n++) {
    const accountId = uuidFromName(`oauth-account:${userId}:${platform}:${platformUserId}#${n}`);
    const { state } = await load(store, platformAccountAggregate, accountId);
    if (state.status !== 'disconnected') return accountId;
  }
  throw new OAuthBindingError('grant_refused', 'this platform user was bound and disconnected too often', { platform });
}

/**
 * The callback: checks and spends the state, then (unless the user denied)
 * exchanges the code, asks who the user is, seals the tokens and binds.
 * `context` builds the command context for the user the state names.
 */
export async function completeAuthorization(deps: OAuthAccountsDeps, input: CallbackInput, context: (userId: string) => CommandContext): Promise<BoundAccount> {
  const client = deps.client(input.platform);
  if (!client) throw new OAuthBindingError('platform_not_offered', `OAuth platform ${input.platform} is not offered here`, { platform: input.platform });
  const state = openState(deps.secretBox, input.state);
  if (state.p !== input.platform) throw new OAuthBindingError('state_invalid', 'the state was issued for another platform');
  const now = deps.now?.() ?? new Date();
  if (state.e <= now.getTime()) throw new OAuthBindingError('state_expired', 'the authorization took longer than 10 minutes: start again');
  if (!(await deps.claimOnce(`oauth-state:${state.n}`, state.e - now.getTime() + 60_000))) {
    throw new OAuthBindingError('state_used', 'this authorization was completed already: start again');
  }
  if (input.error !== undefined) {
    if (input.error === 'access_denied')
      throw new OAuthBindingError('access_denied', 'the user did not authorize the account on the platform', { platform: input.platform });
    throw new OAuthBindingError('platform_error', `the platform refused the authorization: ${input.error}`, {
      platform: input.platform,
      error: input.error.slice(0, 100),
    });
  }
  if (!input.code) throw new OAuthBindingError('platform_error', 'the platform sent neither a code nor an error', { platform: input.platform });
  // the state names the user without a session: one suspended since it was issued binds nothing
  const { state: holder } = await load(deps.store, userAggregate, state.u);
  if (holder.status === 'suspended')
    throw new OAuthBindingError('user_suspended', 'the account that started this authorization is suspended', { reason: 'suspended' });

  let tokens: TokenSet;
  let user: Awaited<ReturnType<typeof fetchPlatformUser>>;
  try {
    tokens = await exchangeCode(client, { code: input.code, codeVerifier: state.v }, now);
    user = await fetchPlatformUser(client, tokens.accessToken);
  } catch (error) {
    if (error instanceof OAuthError) {
      throw new OAuthBindingError('grant_refused', `the platform refused the code: ${error.code}`, { platform: input.platform, error: error.code });
    }
    if (error instanceof OpenPlatformUnavailableError) {
      throw new OAuthBindingError('upstream_unavailable', error.message, { platform: input.platform, problem: error.problem });
    }
    throw error;
  }

  const accountId = await accountIdFor(deps.store, state.u, input.platform, user.platformUserId);
  const sealed = deps.secretBox.encrypt(JSON.stringify({ accessToken: tokens.accessToken, refreshToken: tokens.refreshToken }), accountId);
  const result = await handle(
    deps.store,
    platformAccountAggregate,
    accountId,
    {
      type: 'BindOAuthAccount',
      accountId,
      ownerId: state.u,
      platform: input.platform,
      platformUserId: user.platformUserId,
      displayName: user.nickname,
      tokens: sealed,
      expiresAt: tokens.expiresAt.toISOString(),
      scope: tokens.scope,
      now: now.toISOString(),
    },
    { context: context(state.u) },
  );
  const bound = result.events.find((e) => e.type === 'OAuthAccountBound');
  return { accountId, userId: state.u, rebound: bound?.type === 'OAuthAccountBound' && bound.data.previousStatus !== null, result };
}

/** The clear tokens of an OAuth account (`credentials` sealed with its id). Never logged. */
export function openOAuthTokens(secretBox: SecretBox, accountId: string, sealed: SealedSecret): { accessToken: string; refreshToken: string } {
  const clear = secretBox.decrypt(sealed, accountId);
  try {
    const value = JSON.parse(clear) as { accessToken?: unknown; refreshToken?: unknown };
    if (typeof value.accessToken === 'string' && typeof value.refreshToken === 'string')
      return { accessToken: value.accessToken, refreshToken: value.refreshToken };
  } catch {
    // a parse error would quote the secret
  }
  throw new Error(`the sealed tokens of platform account ${accountId} are not OAuth tokens`);
}

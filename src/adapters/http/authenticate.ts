import type { Middleware } from 'koa';
import { InvalidAccessTokenError, type AccessTokens } from '../auth/access-tokens.js';
import type { ApiKeyCheck } from '../auth/api-key-standing.js';
import { looksLikeApiKey } from '../auth/api-key-tokens.js';
import type { SessionStanding } from '../auth/session-standing.js';
import type { ApiKeyScope } from '../../write-model/api-key/events.js';
import type { UserRole } from '../../write-model/user/events.js';
import { HttpError } from './http-error.js';
import type { AppContext, AppState } from './state.js';

/** How a request authenticated: a session's access token (every scope), or a personal API key (its scopes). */
export type Credential = { kind: 'session' } | { kind: 'api_key'; keyId: string; scopes: readonly ApiKeyScope[] };

/** Who made the request, from the verified access token or API key. */
export interface AuthenticatedUser {
  id: string;
  /** an API key always acts as `user`: admin work needs a session */
  role: UserRole;
  /** the session the access token was issued for; null for an API key */
  sessionId: string | null;
  credential: Credential;
  /** the user has a second factor, when the credential's standing says (undefined: not known here; the policy asks when it matters) */
  mfaEnabled?: boolean;
}

declare module './state.js' {
  interface AppState {
    /** set by `authenticate` on `auth: true` routes */
    user?: AuthenticatedUser;
  }
}

/** What authenticate needs to accept personal API keys (src/api-app.ts wires ApiKeyStanding and DailyApiKeyUse). */
export interface ApiKeyAuthentication {
  check(token: string): Promise<ApiKeyCheck>;
  /** the key was used: recorded at most once a day (a failure is logged, never answered) */
  used?(keyId: string, userId: string, ctx: AppContext): Promise<void>;
}

// an authentication scheme is named case-insensitively in HTTP: `bearer …` is as good as `Bearer …`
const BEARER = /^Bearer ([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+)$/i;
const BEARER_API_KEY = /^Bearer (ck_\S+)$/i;

function unauthenticated(message = 'a valid access token is required'): HttpError {
  return new HttpError(401, 'UNAUTHENTICATED', message);
}

/**
 * `Authorization: Bearer <JWT>` → `ctx.state.user = {id, role, sessionId}`.
 * Missing, malformed, expired or forged → 401 UNAUTHENTICATED (the reason is
 * logged, not told). With `standing` (the API always passes it), the token's
 * session must also still stand — not ended, not revoked, its user not
 * suspended — and the role is the user's role now, not the token's claim;
 * answers are cached a second per session (session-standing.ts).
 *
 * With `apiKeys`, a personal API key is accepted too, as `X-API-Key: ck_…`
 * or `Authorization: Bearer ck_…` (both headers at once: 401). An unknown,
 * revoked or expired key, or one whose user is suspended, is 401; a key whose
 * user no longer has a plan with API access is 403 PERMISSION_DENIED
 * (details.feature api_access). The key acts as role `user` with its scopes
 * (defineRoute checks them). The key is never logged.
 */
export function authenticate(accessTokens: AccessTokens, standing?: Pick<SessionStanding, 'check'>, apiKeys?: ApiKeyAuthentication): Middleware<AppState> {
  return async (ctx, next) => {
    const header = ctx.get('Authorization').trim();
    const keyHeader = ctx.get('X-API-Key').trim();
    if (keyHeader !== '' || BEARER_API_KEY.test(header)) {
      if (keyHeader !== '' && header !== '') {
        ctx.set('WWW-Authenticate', 'Bearer');
        throw unauthenticated('send one credential: Authorization or X-API-Key, not both');
      }
      await authenticateApiKey(ctx, keyHeader !== '' ? keyHeader : BEARER_API_KEY.exec(header)![1]!, apiKeys);
      await next();
      return;
    }
    const match = BEARER.exec(header);
    if (!match) {
      ctx.set('WWW-Authenticate', 'Bearer');
      throw unauthenticated();
    }
    try {
      const verified = await accessTokens.verify(match[1]!);
      let role = verified.role;
      let mfaEnabled: boolean | undefined;
      if (standing) {
        const now = await standing.check(verified.userId, verified.sessionId);
        if (!now.ok) throw new InvalidAccessTokenError(now.reason);
        role = now.role;
        mfaEnabled = now.mfaEnabled;
      }
      ctx.state.user = {
        id: verified.userId,
        role,
        sessionId: verified.sessionId,
        credential: { kind: 'session' },
        ...(mfaEnabled !== undefined ? { mfaEnabled } : {}),
      };
    } catch (error) {
      if (!(error instanceof InvalidAccessTokenError)) throw error;
      ctx.state.logger.info({ reason: error.reason }, 'access token refused');
      ctx.set('WWW-Authenticate', 'Bearer error="invalid_token"');
      throw unauthenticated();
    }
    await next();
  };
}

async function authenticateApiKey(ctx: AppContext, token: string, apiKeys: ApiKeyAuthentication | undefined): Promise<void> {
  const checked: ApiKeyCheck = apiKeys && looksLikeApiKey(token) ? await apiKeys.check(token) : { ok: false, reason: 'malformed' };
  if (!checked.ok) {
    // the reason, never the key
    ctx.state.logger.info({ reason: checked.reason }, 'API key refused');
    if (checked.reason === 'no_api_access') {
      throw new HttpError(403, 'PERMISSION_DENIED', 'none of your plans includes API access (api_access)', {
        feature: 'api_access',
        plans: checked.plans ?? {},
      });
    }
    ctx.set('WWW-Authenticate', 'Bearer error="invalid_token"');
    throw unauthenticated('a valid access token or API key is required');
  }
  ctx.state.user = { id: checked.userId, role: 'user', sessionId: null, credential: { kind: 'api_key', keyId: checked.keyId, scopes: checked.scopes } };
  if (apiKeys?.used) {
    await apiKeys
      .used(checked.keyId, checked.userId, ctx)
      .catch((err: unknown) => ctx.state.logger.warn({ err, keyId: checked.keyId }, 'API key use not recorded'));
  }
}

/** Whether the credential may use a route that needs `scope` ('session': no API key at all). */
export function allowsScope(credential: Credential, scope: ApiKeyScope | 'session'): boolean {
  if (credential.kind === 'session') return true;
  return scope !== 'session' && credential.scopes.includes(scope);
}

/** After `authenticate`: 403 PERMISSION_DENIED unless the credential has the scope (details.required_scope, details.scopes). */
export function requireScope(scope: ApiKeyScope | 'session'): Middleware<AppState> {
  return async (ctx, next) => {
    const user = currentUser(ctx);
    if (!allowsScope(user.credential, scope)) {
      const granted = user.credential.kind === 'api_key' ? user.credential.scopes : [];
      throw scope === 'session'
        ? new HttpError(403, 'PERMISSION_DENIED', 'this needs a session access token, not an API key', { required_scope: 'session', scopes: granted })
        : new HttpError(403, 'PERMISSION_DENIED', `this API key lacks the ${scope} scope`, { required_scope: scope, scopes: granted });
    }
    await next();
  };
}

/** The authenticated user of an `auth: true` route (a 401 if authentication did not run). */
export function currentUser(ctx: AppContext): AuthenticatedUser {
  const user = ctx.state.user;
  if (!user) throw unauthenticated();
  return user;
}

/** The authenticated user of a route that needs a session (its scope is 'session'): 403 for an API key. */
export function currentSessionUser(ctx: AppContext): AuthenticatedUser & { sessionId: string } {
  const user = currentUser(ctx);
  if (user.sessionId === null)
    throw new HttpError(403, 'PERMISSION_DENIED', 'this needs a session access token, not an API key', { required_scope: 'session' });
  return user as AuthenticatedUser & { sessionId: string };
}

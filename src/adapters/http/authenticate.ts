import type { Middleware } from 'koa';
import { InvalidAccessTokenError, type AccessTokens } from '../auth/access-tokens.js';
import type { SessionStanding } from '../auth/session-standing.js';
import type { UserRole } from '../../write-model/user/events.js';
import { HttpError } from './http-error.js';
import type { AppContext, AppState } from './state.js';

/** Who made the request, from the verified access token. */
export interface AuthenticatedUser {
  id: string;
  role: UserRole;
  /** the session the access token was issued for */
  sessionId: string;
}

declare module './state.js' {
  interface AppState {
    /** set by `authenticate` on `auth: true` routes */
    user?: AuthenticatedUser;
  }
}

const BEARER = /^Bearer ([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+)$/;

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
 */
export function authenticate(accessTokens: AccessTokens, standing?: Pick<SessionStanding, 'check'>): Middleware<AppState> {
  return async (ctx, next) => {
    const header = ctx.get('Authorization').trim();
    const match = BEARER.exec(header);
    if (!match) {
      ctx.set('WWW-Authenticate', 'Bearer');
      throw unauthenticated();
    }
    try {
      const verified = await accessTokens.verify(match[1]!);
      let role = verified.role;
      if (standing) {
        const now = await standing.check(verified.userId, verified.sessionId);
        if (!now.ok) throw new InvalidAccessTokenError(now.reason);
        role = now.role;
      }
      ctx.state.user = { id: verified.userId, role, sessionId: verified.sessionId };
    } catch (error) {
      if (!(error instanceof InvalidAccessTokenError)) throw error;
      ctx.state.logger.info({ reason: error.reason }, 'access token refused');
      ctx.set('WWW-Authenticate', 'Bearer error="invalid_token"');
      throw unauthenticated();
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

/** After `authenticate`: only these roles pass; others get 403 PERMISSION_DENIED. */
export function requireRole(...roles: UserRole[]): Middleware<AppState> {
  return async (ctx, next) => {
    const user = currentUser(ctx);
    if (!roles.includes(user.role)) throw new HttpError(403, 'PERMISSION_DENIED', 'this needs another role', { required: roles });
    await next();
  };
}

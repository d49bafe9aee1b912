import type { Middleware } from 'koa';
import { InvalidAccessTokenError, type AccessTokens } from '../auth/access-tokens.js';
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
 * logged, not told). Stateless: the JWT is not looked up, so an access token
 * outlives its session's logout by at most ACCESS_TOKEN_TTL_SECONDS.
 */
export function authenticate(accessTokens: AccessTokens): Middleware<AppState> {
  return async (ctx, next) => {
    const header = ctx.get('Authorization').trim();
    const match = BEARER.exec(header);
    if (!match) {
      ctx.set('WWW-Authenticate', 'Bearer');
      throw unauthenticated();
    }
    try {
      const verified = await accessTokens.verify(match[1]!);
      ctx.state.user = { id: verified.userId, role: verified.role, sessionId: verified.sessionId };
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

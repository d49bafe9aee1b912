import type { Config } from '../../config.js';
import { HttpError } from '../http/http-error.js';
import type { AppContext } from '../http/state.js';
import type { Redis } from '../redis/redis.js';
import { FixedWindowRateLimiter } from './fixed-window.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** Redis key prefix of every auth limit: `ratelimit:auth:<route>:<ip|email|subject>:<key>`. */
export const AUTH_RATE_PREFIX = 'ratelimit:auth';

export type AuthRoute = 'register' | 'forgot-password' | 'reset-password' | 'refresh' | 'verify-email' | 'resend-verification' | 'login-mfa';

/** What one request is counted under: its client IP, and the account it names (an email's hash, a user or a session) when it names one. */
export interface AuthRateKeys {
  ip: string;
  /** sha256 of the normalised email (register, forgot-password) */
  email?: string;
  /** the user (reset-password) or session (refresh) the token names */
  subject?: string;
}

type Limits = Pick<Config, 'AUTH_RATE_LIMIT_PER_IP' | 'AUTH_RATE_LIMIT_PER_ACCOUNT_HOURLY' | 'REFRESH_RATE_LIMIT_PER_IP' | 'REFRESH_RATE_LIMIT_PER_SESSION'>;

/**
 * The limits of the unauthenticated auth routes, each route counted apart,
 * in fixed windows in Redis shared by every API instance (every request
 * counts, allowed or not):
 * - per client IP and minute: AUTH_RATE_LIMIT_PER_IP (refresh:
 *   REFRESH_RATE_LIMIT_PER_IP, as every signed-in client refreshes);
 * - per account and hour: AUTH_RATE_LIMIT_PER_ACCOUNT_HOURLY registrations
 *   or reset mails for one email, resets, verifications and verification
 *   mails for one user, wrong second-factor codes of one user (counted only
 *   when wrong, see countWrong); refresh:
 *   REFRESH_RATE_LIMIT_PER_SESSION per session and minute.
 * An email is counted by its hash whether or not it has an account, so a 429
 * tells nothing about who is registered.
 */
export class AuthRateLimits {
  private readonly limiters = new Map<string, FixedWindowRateLimiter>();

  constructor(
    private readonly redis: Redis,
    private readonly limits: Limits,
  ) {}

  /** Counts the request; over any of its limits → 429 RATE_LIMITED with Retry-After (set on ctx before throwing). */
  async check(ctx: AppContext, route: AuthRoute, keys: AuthRateKeys): Promise<void> {
    const refresh = route === 'refresh';
    const hits = [this.limiter(route, 'ip', refresh ? this.limits.REFRESH_RATE_LIMIT_PER_IP : this.limits.AUTH_RATE_LIMIT_PER_IP, MINUTE_MS).hit(keys.ip)];
    if (keys.email !== undefined) hits.push(this.limiter(route, 'email', this.limits.AUTH_RATE_LIMIT_PER_ACCOUNT_HOURLY, HOUR_MS).hit(keys.email));
    if (keys.subject !== undefined) {
      hits.push(
        refresh
          ? this.limiter(route, 'subject', this.limits.REFRESH_RATE_LIMIT_PER_SESSION, MINUTE_MS).hit(keys.subject)
          : this.limiter(route, 'subject', this.limits.AUTH_RATE_LIMIT_PER_ACCOUNT_HOURLY, HOUR_MS).hit(keys.subject),
      );
    }
    const refused = (await Promise.all(hits)).filter((d) => !d.allowed);
    if (refused.length === 0) return;
    const retryAfter = Math.max(...refused.map((d) => d.retryAfterSeconds));
    ctx.set('Retry-After', String(retryAfter));
    throw new HttpError(429, 'RATE_LIMITED', 'too many requests; try again later', { retry_after_seconds: retryAfter });
  }

  /**
   * Wrong second-factor codes (TOTP or recovery) per user and hour:
   * AUTH_RATE_LIMIT_PER_ACCOUNT_HOURLY, counted only when wrong, wherever a
   * code is asked for (login, confirmation, recovery codes, turning TOTP
   * off), and wrong current passwords of a password change. `refuseWhenOver` before a code is checked, `countWrong` after a
   * wrong one: both answer 429 with Retry-After once the limit is reached.
   */
  async refuseWhenOver(ctx: AppContext, userId: string): Promise<void> {
    const decision = await this.wrongCodes().peek(userId);
    if (!decision.allowed) this.refuse(ctx, decision.retryAfterSeconds);
  }

  async countWrong(ctx: AppContext, userId: string): Promise<void> {
    const decision = await this.wrongCodes().hit(userId);
    if (!decision.allowed) this.refuse(ctx, decision.retryAfterSeconds);
  }

  private wrongCodes(): FixedWindowRateLimiter {
    return this.limiter('login-mfa', 'wrong-code', this.limits.AUTH_RATE_LIMIT_PER_ACCOUNT_HOURLY, HOUR_MS);
  }

  private refuse(ctx: AppContext, retryAfter: number): never {
    ctx.set('Retry-After', String(retryAfter));
    throw new HttpError(429, 'RATE_LIMITED', 'too many wrong codes; try again later', { retry_after_seconds: retryAfter });
  }

  private limiter(route: AuthRoute, kind: 'ip' | 'email' | 'subject' | 'wrong-code', limit: number, windowMs: number): FixedWindowRateLimiter {
    const prefix = `${AUTH_RATE_PREFIX}:${route}:${kind}`;
    let limiter = this.limiters.get(prefix);
    if (!limiter) {
      limiter = new FixedWindowRateLimiter(this.redis, { prefix, limit, windowMs });
      this.limiters.set(prefix, limiter);
    }
    return limiter;
  }
}

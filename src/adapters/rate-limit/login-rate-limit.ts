import type { Config } from '../../config.js';
import { HttpError } from '../http/http-error.js';
import type { AppContext } from '../http/state.js';
import type { Redis } from '../redis/redis.js';
import { FixedWindowRateLimiter } from './fixed-window.js';

export const LOGIN_RATE_WINDOW_MS = 60_000;
/** Redis key prefixes: `ratelimit:login:account:<email sha256>:<ip>`, `ratelimit:login:ip:<ip>`. */
export const LOGIN_ACCOUNT_PREFIX = 'ratelimit:login:account';
export const LOGIN_IP_PREFIX = 'ratelimit:login:ip';

/**
 * Login attempts per minute, per account (the email's hash) from one client
 * IP, and per client IP. The account's count is kept per IP: a stranger
 * hammering someone's email exhausts only their own allowance, never the
 * owner's (counted per account alone, it was a one-minute lock-out of anyone
 * whose email is known). Guessing from many addresses is what the per-IP
 * limit and argon2's cost are for.
 */
export class LoginRateLimit {
  private readonly perAccount: FixedWindowRateLimiter;
  private readonly perIp: FixedWindowRateLimiter;

  constructor(redis: Redis, config: Pick<Config, 'LOGIN_RATE_LIMIT_PER_ACCOUNT' | 'LOGIN_RATE_LIMIT_PER_IP'>) {
    this.perAccount = new FixedWindowRateLimiter(redis, {
      prefix: LOGIN_ACCOUNT_PREFIX,
      limit: config.LOGIN_RATE_LIMIT_PER_ACCOUNT,
      windowMs: LOGIN_RATE_WINDOW_MS,
    });
    this.perIp = new FixedWindowRateLimiter(redis, { prefix: LOGIN_IP_PREFIX, limit: config.LOGIN_RATE_LIMIT_PER_IP, windowMs: LOGIN_RATE_WINDOW_MS });
  }

  /** Counts the attempt; over either limit → 429 RATE_LIMITED with Retry-After (set on ctx before throwing). */
  async check(ctx: AppContext, emailHash: string, ip: string): Promise<void> {
    const [ipDecision, accountDecision] = await Promise.all([this.perIp.hit(ip), this.perAccount.hit(`${emailHash}:${ip}`)]);
    const refused = [ipDecision, accountDecision].filter((d) => !d.allowed);
    if (refused.length === 0) return;
    const retryAfter = Math.max(...refused.map((d) => d.retryAfterSeconds));
    ctx.set('Retry-After', String(retryAfter));
    throw new HttpError(429, 'RATE_LIMITED', 'too many login attempts; try again later', { retry_after_seconds: retryAfter });
  }
}

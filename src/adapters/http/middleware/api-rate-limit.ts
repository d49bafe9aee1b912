import type { Middleware } from 'koa';
import type { Redis } from '../../redis/redis.js';
import { TokenBuckets, type Bucket, type BucketDecision } from '../../rate-limit/token-bucket.js';
import { isTransientError } from '../../../consumers/transient-errors.js';
import { CALLBACK_PATH_PREFIXES } from '../body.js';
import { HttpError } from '../http-error.js';
import type { AppContext, AppState } from '../state.js';

/** Redis key prefixes: `ratelimit:api:ip:<ip>`, `ratelimit:api:user:<user id>`. */
export const API_RATE_PREFIX = 'ratelimit:api';

export interface ApiRateLimits {
  /** requests per second per client IP, sustained (0: no limit) */
  perIpPerSecond: number;
  /** requests per second per signed-in user, sustained (0: no limit) */
  perUserPerSecond: number;
  /** how many seconds of the rate a client may spend at once (bucket size = rate × burst) */
  burstSeconds: number;
}

export interface ApiRateLimit {
  /** routes without a token: the client IP's bucket */
  anonymous: Middleware<AppState>;
  /** after authentication: the client IP's and the user's buckets, in one round trip */
  signedIn: Middleware<AppState>;
}

/**
 * The general API rate limit: token buckets in Redis per client IP and per
 * signed-in user, taken from together in one round trip (defineRoute runs
 * `signedIn` right after authentication, `anonymous` first on routes without
 * one). Every answer carries `RateLimit-Limit`, `RateLimit-Remaining` and
 * `RateLimit-Reset` of the tighter bucket; a refusal is 429 RATE_LIMITED with
 * `Retry-After`. Payment providers' notifications are never limited: losing
 * one loses a payment. Without Redis the limit is not applied (it protects
 * capacity, not secrets: the login and auth limits refuse instead), said in
 * the log at most once a minute.
 */
export function apiRateLimit(redis: Redis, limits: ApiRateLimits): ApiRateLimit {
  const buckets = new TokenBuckets(redis);
  const capacity = (rate: number) => Math.max(1, Math.round(rate * limits.burstSeconds));
  const ipBucket = (ip: string): Bucket[] =>
    limits.perIpPerSecond > 0 ? [{ key: `${API_RATE_PREFIX}:ip:${ip}`, ratePerSecond: limits.perIpPerSecond, capacity: capacity(limits.perIpPerSecond) }] : [];
  const userBucket = (id: string): Bucket[] =>
    limits.perUserPerSecond > 0
      ? [{ key: `${API_RATE_PREFIX}:user:${id}`, ratePerSecond: limits.perUserPerSecond, capacity: capacity(limits.perUserPerSecond) }]
      : [];

  let warnedAt = 0;
  const apply = async (ctx: AppContext, wanted: Bucket[]): Promise<void> => {
    if (wanted.length === 0 || CALLBACK_PATH_PREFIXES.some((p) => ctx.path.startsWith(p))) return;
    let decisions: BucketDecision[];
    try {
      decisions = await buckets.take(wanted);
    } catch (error) {
      if (!isTransientError(error)) throw error;
      if (Date.now() - warnedAt > 60_000) {
        warnedAt = Date.now();
        ctx.state.logger.warn({ err: error }, 'API rate limit not applied: Redis is unavailable');
      }
      return;
    }
    const tightest = decisions.reduce((a, b) => (b.remaining < a.remaining ? b : a));
    ctx.set('RateLimit-Limit', String(tightest.limit));
    ctx.set('RateLimit-Remaining', String(tightest.remaining));
    ctx.set('RateLimit-Reset', String(tightest.resetSeconds));
    if (tightest.allowed) return;
    const retryAfter = Math.max(1, ...decisions.map((d) => d.retryAfterSeconds));
    ctx.set('Retry-After', String(retryAfter));
    throw new HttpError(429, 'RATE_LIMITED', 'too many requests; slow down', { retry_after_seconds: retryAfter });
  };

  return {
    anonymous: async (ctx, next) => {
      await apply(ctx, ipBucket(ctx.ip));
      await next();
    },
    signedIn: async (ctx, next) => {
      const user = ctx.state.user;
      await apply(ctx, [...ipBucket(ctx.ip), ...(user ? userBucket(user.id) : [])]);
      await next();
    },
  };
}

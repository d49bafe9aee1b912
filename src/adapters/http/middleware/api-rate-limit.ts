import type { Middleware } from 'koa';
import type { Redis } from '../../redis/redis.js';
import { TokenBucketLimiter, type BucketDecision } from '../../rate-limit/token-bucket.js';
import { HttpError } from '../http-error.js';
import { RAW_BODY_PATH_PREFIXES } from '../body.js';
import type { AppContext, AppState } from '../state.js';
import { isTransientError } from '../../../subscriptions/transient-errors.js';

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

/**
 * The general API rate limit: a token bucket per client IP on every
 * `/api/` request, and one per user on routes that authenticate (checked right
 * after the token is). Every answer carries `RateLimit-Limit`,
 * `RateLimit-Remaining` and `RateLimit-Reset` (the tighter of the two
 * buckets); a refusal is 429 RATE_LIMITED with `Retry-After`. Payment
 * providers' notifications are never limited: losing one loses a payment.
 */
export function apiRateLimit(redis: Redis, limits: ApiRateLimits): { byIp: Middleware<AppState>; byUser: Middleware<AppState> } {
  const bucket = (kind: 'ip' | 'user', rate: number) =>
    rate > 0 ? new TokenBucketLimiter(redis, { prefix: `${API_RATE_PREFIX}:${kind}`, ratePerSecond: rate, capacity: Math.max(1, Math.round(rate * limits.burstSeconds)) }) : undefined;
  const perIp = bucket('ip', limits.perIpPerSecond);
  const perUser = bucket('user', limits.perUserPerSecond);

  const decide = (ctx: AppContext, decision: BucketDecision) => {
    const shown = ctx.state.rateLimit;
    // the headers show whichever bucket has less left
    if (!shown || decision.remaining < shown.remaining) {
      ctx.state.rateLimit = decision;
      ctx.set('RateLimit-Limit', String(decision.limit));
      ctx.set('RateLimit-Remaining', String(decision.remaining));
      ctx.set('RateLimit-Reset', String(decision.resetSeconds));
    }
    if (decision.allowed) return;
    ctx.set('Retry-After', String(decision.retryAfterSeconds));
    throw new HttpError(429, 'RATE_LIMITED', 'too many requests; slow down', { retry_after_seconds: decision.retryAfterSeconds });
  };

  // Redis away: the buckets cannot count, and the API serves on without them (it protects capacity, not
  // secrets: the login and auth limits refuse instead). Said in the log at most once a minute.
  let warnedAt = 0;
  const take = async (ctx: AppContext, bucket: TokenBucketLimiter, key: string): Promise<BucketDecision | undefined> => {
    try {
      return await bucket.take(key);
    } catch (error) {
      if (!isTransientError(error)) throw error;
      if (Date.now() - warnedAt > 60_000) {
        warnedAt = Date.now();
        ctx.state.logger.warn({ err: error }, 'API rate limit not applied: Redis is unavailable');
      }
      return undefined;
    }
  };

  return {
    byIp: async (ctx, next) => {
      if (perIp && ctx.path.startsWith('/api/') && !RAW_BODY_PATH_PREFIXES.some((p) => ctx.path.startsWith(p))) {
        const decision = await take(ctx, perIp, ctx.ip);
        if (decision) decide(ctx, decision);
      }
      await next();
    },
    byUser: async (ctx, next) => {
      const user = ctx.state.user;
      if (perUser && user) {
        const decision = await take(ctx, perUser, user.id);
        if (decision) decide(ctx, decision);
      }
      await next();
    },
  };
}

declare module '../state.js' {
  interface AppState {
    /** the bucket decision the RateLimit-* headers show */
    rateLimit?: BucketDecision;
  }
}

import type { Redis } from '../redis/redis.js';

export interface RateLimitDecision {
  allowed: boolean;
  /** attempts counted in the current window, this one included */
  count: number;
  limit: number;
  /** seconds until the window resets (at least 1) */
  retryAfterSeconds: number;
}

// INCR, and start the window's expiry with the first hit (or if a key somehow lost it)
const HIT = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`;

/**
 * A fixed-window counter in Redis: `limit` hits per `windowMs` for one key.
 * One atomic script per hit, so concurrent API instances share the count.
 * Every hit counts, allowed or not: hammering past the limit does not help.
 */
export class FixedWindowRateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly options: { prefix: string; limit: number; windowMs: number },
  ) {}

  async hit(key: string): Promise<RateLimitDecision> {
    const { prefix, limit, windowMs } = this.options;
    const [count, ttl] = (await this.redis.eval(HIT, 1, `${prefix}:${key}`, String(windowMs))) as [number, number];
    return { allowed: count <= limit, count, limit, retryAfterSeconds: Math.max(1, Math.ceil(ttl / 1000)) };
  }

  /** The current window's count without counting (a limit that counts only failures asks first). */
  async peek(key: string): Promise<RateLimitDecision> {
    const { prefix, limit } = this.options;
    const [count, ttl] = await Promise.all([this.redis.get(`${prefix}:${key}`), this.redis.pttl(`${prefix}:${key}`)]);
    const n = Number(count ?? 0);
    return { allowed: n < limit, count: n, limit, retryAfterSeconds: Math.max(1, Math.ceil(ttl / 1000)) };
  }

  /** Forgets a key's count (tests, or an admin unlocking an account). */
  async reset(key: string): Promise<void> {
    await this.redis.del(`${this.options.prefix}:${key}`);
  }
}

import type { Redis } from '../redis/redis.js';

export interface BucketDecision {
  allowed: boolean;
  /** the bucket's size */
  limit: number;
  /** whole requests left in the bucket after this one */
  remaining: number;
  /** seconds until the bucket is full again (RateLimit-Reset) */
  resetSeconds: number;
  /** when refused: seconds until one request is allowed (Retry-After) */
  retryAfterSeconds: number;
}

// A bucket of `capacity` tokens refilled at `rate` per second, as a hash
// {tokens, at}; one atomic step per request, the clock being Redis's own
// (every API instance agrees). Idle buckets expire once they would be full.
const TAKE = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
tokens = math.min(capacity, tokens + (now - at) * rate / 1000)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) * 1000 / rate) + 1000)
return {allowed, tostring(tokens)}
`;

/**
 * A token bucket per key in Redis: bursts up to `capacity` requests, then
 * `ratePerSecond` sustained. Unlike a fixed window it never lets twice the
 * limit through around a window's edge, and a client that keeps to the rate
 * is never refused.
 */
export class TokenBucketLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly options: { prefix: string; ratePerSecond: number; capacity: number },
  ) {}

  async take(key: string): Promise<BucketDecision> {
    const { prefix, ratePerSecond, capacity } = this.options;
    const [allowed, left] = (await this.redis.eval(TAKE, 1, `${prefix}:${key}`, String(capacity), String(ratePerSecond))) as [number, string];
    const tokens = Number(left);
    return {
      allowed: allowed === 1,
      limit: capacity,
      remaining: Math.floor(tokens),
      resetSeconds: Math.ceil((capacity - tokens) / ratePerSecond),
      retryAfterSeconds: allowed === 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / ratePerSecond)),
    };
  }
}

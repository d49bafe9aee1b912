import type { Redis } from '../redis/redis.js';

export interface BucketDecision {
  allowed: boolean;
  /** the bucket's size */
  limit: number;
  /** whole requests left in the bucket after this one */
  remaining: number;
  /** seconds until the bucket is full again (RateLimit-Reset) */
  resetSeconds: number;
  /** when refused and this bucket is the empty one: seconds until it allows one request (Retry-After); else 0 */
  retryAfterSeconds: number;
}

export interface Bucket {
  /** the Redis key */
  key: string;
  ratePerSecond: number;
  capacity: number;
}

// Buckets of `capacity` tokens refilled at `rate` per second, each a hash
// {tokens, at}. A request takes one token from every bucket it names, or
// from none when one of them is empty: one atomic step, the clock being
// Redis's own (every API instance agrees). Idle buckets expire once full.
// KEYS: the buckets; ARGV: capacity and rate of each, in turn.
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local levels = {}
local allowed = 1
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[2 * i - 1])
  local rate = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(state[1])
  local at = tonumber(state[2])
  if tokens == nil or at == nil then
    tokens = capacity
    at = now
  end
  tokens = math.min(capacity, tokens + (now - at) * rate / 1000)
  if tokens < 1 then allowed = 0 end
  levels[i] = tokens
end
local out = {allowed}
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[2 * i - 1])
  local rate = tonumber(ARGV[2 * i])
  local tokens = levels[i]
  if allowed == 1 then tokens = tokens - 1 end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', key, math.ceil((capacity - tokens) * 1000 / rate) + 1000)
  out[i + 1] = tostring(tokens)
end
return out
`;

const COMMAND = 'collectorTakeTokens';
type Take = (...args: (string | number)[]) => Promise<[number, ...string[]]>;

/**
 * Token buckets in Redis: each bursts up to `capacity` requests, then
 * `ratePerSecond` sustained. Unlike a fixed window a bucket never lets twice
 * the limit through around a window's edge, and a client that keeps to the
 * rate is never refused. Several buckets (a client IP's and a user's) are
 * taken from in one round trip.
 */
export class TokenBuckets {
  constructor(private readonly redis: Redis) {
    // EVALSHA: the script is sent once per connection, not with every request (ioredis falls back to EVAL after a restart)
    if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { lua: TAKE });
  }

  /** One token from every bucket, or none; a decision per bucket, in order. */
  async take(buckets: readonly Bucket[]): Promise<BucketDecision[]> {
    const take = (this.redis as unknown as Record<typeof COMMAND, Take>)[COMMAND];
    const args = buckets.flatMap((b) => [String(b.capacity), String(b.ratePerSecond)]);
    const [allowed, ...levels] = await take.call(this.redis, buckets.length, ...buckets.map((b) => b.key), ...args);
    return buckets.map((b, i) => {
      const tokens = Number(levels[i]);
      return {
        allowed: allowed === 1,
        limit: b.capacity,
        remaining: Math.max(0, Math.floor(tokens)),
        resetSeconds: Math.ceil((b.capacity - tokens) / b.ratePerSecond),
        retryAfterSeconds: allowed === 1 || tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / b.ratePerSecond)),
      };
    });
  }
}

import type { SmsSendDecision } from '../../application/sms.js';
import type { SmsSendWindows } from '../../application/sms/send-windows.js';
import type { Redis } from '../redis/redis.js';

const WINDOW_MS = 60_000;

// Takes up to ARGV[3] places in minute windows from ARGV[1] on, ARGV[2] each,
// looking at most ARGV[5] windows ahead; returns {window, taken} pairs. One
// atomic step, so concurrent takers never overfill a window. The windows'
// keys are derived from KEYS[1] (a single Redis, not a cluster).
const TAKE = `
local first = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local ahead = tonumber(ARGV[5])
local out = {}
local i = 0
while wanted > 0 and i < ahead do
  local key = KEYS[1] .. ':' .. (first + i)
  local used = tonumber(redis.call('GET', key) or '0')
  if used < limit then
    local take = math.min(limit - used, wanted)
    redis.call('INCRBY', key, take)
    redis.call('PEXPIRE', key, ttl + (i + 1) * 60000)
    out[#out + 1] = first + i
    out[#out + 1] = take
    wanted = wanted - take
  end
  i = i + 1
end
return out
`;

// Gives one place of the window KEYS[1] back; a window gone (expired) or
// empty stays as it is, so a late release never makes room that was not taken.
const GIVE_BACK = `
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used > 0 then redis.call('DECR', KEYS[1]) end
return used
`;

const COMMAND = 'collectorTakeSmsWindows';
const RELEASE = 'collectorGiveBackSmsWindow';
type Take = (...args: (string | number)[]) => Promise<number[]>;
type GiveBack = (key: string) => Promise<number>;

/**
 * SmsSendWindows in Redis: one counter per key and minute
 * (`{prefix}:{key}:{minute since the epoch}`), expiring after its minute.
 * A batch's places reach as far ahead as they need (10,000 at 600 a minute:
 * 17 minutes), so single sends in those minutes find them taken: the limit
 * holds for both together.
 */
export class RedisSmsSendWindows implements SmsSendWindows {
  constructor(
    private readonly redis: Redis,
    private readonly options: { prefix: string; limit: number; now?: () => number },
  ) {
    if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: TAKE });
    if (!(RELEASE in redis)) redis.defineCommand(RELEASE, { numberOfKeys: 1, lua: GIVE_BACK });
  }

  private async take(key: string, count: number, ahead: number): Promise<{ window: number; taken: number }[]> {
    const now = this.options.now?.() ?? Date.now();
    const first = Math.floor(now / WINDOW_MS);
    const take = (this.redis as unknown as Record<typeof COMMAND, Take>)[COMMAND];
    const flat = await take.call(this.redis, `${this.options.prefix}:${key}`, first, this.options.limit, count, WINDOW_MS, ahead);
    const out: { window: number; taken: number }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ window: Number(flat[i]), taken: Number(flat[i + 1]) });
    return out;
  }

  /** A place in the current minute; `release` gives it back (a send refused after taking it must not count). */
  async hit(key: string): Promise<SmsSendDecision> {
    const now = this.options.now?.() ?? Date.now();
    const [taken] = await this.take(key, 1, 1);
    const retryAfterSeconds = Math.max(1, Math.ceil((WINDOW_MS - (now % WINDOW_MS)) / 1000));
    if (taken === undefined) return { allowed: false, limit: this.options.limit, retryAfterSeconds };
    // the window taken, not the current one: the minute may have turned since
    const windowKey = `${this.options.prefix}:${key}:${taken.window}`;
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await (this.redis as unknown as Record<typeof RELEASE, GiveBack>)[RELEASE].call(this.redis, windowKey);
    };
    return { allowed: true, limit: this.options.limit, retryAfterSeconds, release };
  }

  async schedule(key: string, count: number): Promise<number[]> {
    if (count <= 0) return [];
    const now = this.options.now?.() ?? Date.now();
    const windows = await this.take(key, count, Math.ceil(count / this.options.limit) + 60 * 24);
    const delays: number[] = [];
    for (const { window, taken } of windows) {
      const delay = Math.max(0, window * WINDOW_MS - now);
      for (let i = 0; i < taken; i++) delays.push(delay);
    }
    // more than a day of windows already taken (never in practice): the rest after the last one found
    const last = delays.at(-1) ?? 0;
    while (delays.length < count) delays.push(last + WINDOW_MS);
    return delays;
  }
}

/** The per-organization send windows of SMS_SENDS_PER_ORGANIZATION_PER_MINUTE, under QUEUE_PREFIX (the API and the projector share them). */
export function smsSendWindows(redis: Redis, config: { QUEUE_PREFIX: string; SMS_SENDS_PER_ORGANIZATION_PER_MINUTE: number }): RedisSmsSendWindows {
  return new RedisSmsSendWindows(redis, { prefix: `${config.QUEUE_PREFIX}:ratelimit:sms-send-org`, limit: config.SMS_SENDS_PER_ORGANIZATION_PER_MINUTE });
}

import type { Redis } from '../redis/redis.js';
import { SMS_MAX_CLOCK_SKEW_SECONDS } from './signature.js';

/**
 * The nonces of the provider's callbacks seen within the clock window, in
 * Redis (shared by every API process): a callback whose nonce is already
 * there is a replay of a request we took (its timestamp is still fresh, so
 * the clock check alone would let it in). Kept a little longer than the
 * window, after which the timestamp refuses it anyway.
 */
export interface NonceCache {
  /** true the first time a nonce is seen; false for a replay */
  claim(nonce: string): Promise<boolean>;
}

export class RedisNonceCache implements NonceCache {
  constructor(
    private readonly redis: Redis,
    private readonly options: { prefix: string; ttlMs?: number },
  ) {}

  async claim(nonce: string): Promise<boolean> {
    const ttl = this.options.ttlMs ?? (SMS_MAX_CLOCK_SKEW_SECONDS * 2 + 60) * 1000;
    return (await this.redis.set(`${this.options.prefix}sms:nonce:${nonce}`, '1', 'PX', ttl, 'NX')) === 'OK';
  }
}

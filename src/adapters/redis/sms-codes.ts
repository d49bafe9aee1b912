import { smsCodeKey, type CodeAttempts, type CodeSendLimits } from '../../application/sms-codes.js';
import type { LoginCodeStore, StoredLoginCode } from '../../application/sms-login-codes.js';
import type { Config } from '../../config.js';
import { FixedWindowRateLimiter } from '../rate-limit/fixed-window.js';
import type { Redis } from './redis.js';

export type SmsCodeConfig = Pick<
  Config,
  | 'JWT_SECRET'
  | 'QUEUE_PREFIX'
  | 'SMS_CODE_TTL_MINUTES'
  | 'SMS_CODE_RESEND_SECONDS'
  | 'SMS_CODES_PER_USER_HOURLY'
  | 'SMS_CODE_MAX_ATTEMPTS'
  | 'SMS_DEFAULT_REGION'
>;

/** What sending and checking SMS codes keeps in Redis, under the deployment's prefix. */
export interface SmsCodeStores {
  codeKey: Buffer;
  limits: CodeSendLimits;
  attempts: CodeAttempts;
  codes: LoginCodeStore;
  ttlMinutes: number;
  defaultRegion: string;
}

/** Pending login codes: one JSON value per challenge nonce (GETDEL takes it once). */
class RedisLoginCodeStore implements LoginCodeStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async put(nonce: string, code: StoredLoginCode, ttlMs: number): Promise<void> {
    await this.redis.set(`${this.prefix}:${nonce}`, JSON.stringify(code), 'PX', Math.max(1, Math.ceil(ttlMs)));
  }

  async get(nonce: string): Promise<StoredLoginCode | null> {
    const text = await this.redis.get(`${this.prefix}:${nonce}`);
    if (text === null) return null;
    const value = JSON.parse(text) as Partial<StoredLoginCode>;
    return typeof value.codeHash === 'string' && typeof value.expiresAtMs === 'number' ? { codeHash: value.codeHash, expiresAtMs: value.expiresAtMs } : null;
  }

  async take(nonce: string): Promise<boolean> {
    return (await this.redis.del(`${this.prefix}:${nonce}`)) === 1;
  }
}

export function smsCodeStores(redis: Redis, config: SmsCodeConfig): SmsCodeStores {
  const prefix = `${config.QUEUE_PREFIX}:sms-codes`;
  const ttlMs = Math.ceil(config.SMS_CODE_TTL_MINUTES * 60_000);
  return {
    codeKey: smsCodeKey(config.JWT_SECRET),
    limits: {
      resend:
        config.SMS_CODE_RESEND_SECONDS > 0
          ? new FixedWindowRateLimiter(redis, { prefix: `${prefix}:resend`, limit: 1, windowMs: config.SMS_CODE_RESEND_SECONDS * 1000 })
          : null,
      hourly: new FixedWindowRateLimiter(redis, { prefix: `${prefix}:hourly`, limit: config.SMS_CODES_PER_USER_HOURLY, windowMs: 3_600_000 }),
    },
    // a code's wrong tries, counted as long as the code can live
    attempts: new FixedWindowRateLimiter(redis, { prefix: `${prefix}:attempts`, limit: config.SMS_CODE_MAX_ATTEMPTS, windowMs: ttlMs + 60_000 }),
    codes: new RedisLoginCodeStore(redis, `${prefix}:login`),
    ttlMinutes: config.SMS_CODE_TTL_MINUTES,
    defaultRegion: config.SMS_DEFAULT_REGION,
  };
}

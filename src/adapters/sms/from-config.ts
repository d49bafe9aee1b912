import type { Config } from '../../config.js';
import type { Redis } from '../redis/redis.js';
import { SMS_CALLBACK_PATHS } from './callbacks.js';
import { HttpSmsProvider } from './client.js';
import { RedisNonceCache, type NonceCache } from './nonce-cache.js';
import type { SmsProvider } from '../../application/ports/sms-provider.js';

export type SmsConfig = Pick<
  Config,
  | 'SMS_PROVIDER_URL'
  | 'SMS_API_KEY'
  | 'SMS_API_SECRET'
  | 'SMS_PROVIDER_PUBLIC_KEY'
  | 'SMS_CALLBACK_BASE_URL'
  | 'SMS_PROVIDER_TIMEOUT_MS'
  | 'SMS_SENDS_PER_USER_PER_MINUTE'
  | 'SMS_DEFAULT_REGION'
>;

/** The provider's side of SMS, for the API (callbacks) and the worker (sends). */
export interface SmsChannel {
  provider: SmsProvider;
  /** verifies the provider's signatures */
  providerPublicKeyPem: string;
  /** the path prefix of SMS_CALLBACK_BASE_URL (a reverse proxy's), part of what the provider signs */
  callbackPathPrefix: string;
  receiptUrl: string;
  inboundUrl: string;
}

/** Why SMS is not offered here, or null when it is. */
export function smsUnavailableReason(config: SmsConfig): string | null {
  const missing = (['SMS_PROVIDER_URL', 'SMS_API_KEY', 'SMS_API_SECRET', 'SMS_PROVIDER_PUBLIC_KEY', 'SMS_CALLBACK_BASE_URL'] as const).filter(
    (name) => config[name] === undefined,
  );
  return missing.length === 0 ? null : `SMS is not configured on this platform (${missing.join(', ')} unset)`;
}

/** The SMS channel this deployment offers, or null when the provider is not configured. */
export function smsChannelFromConfig(config: SmsConfig, options: { fetch?: typeof fetch } = {}): SmsChannel | null {
  if (smsUnavailableReason(config) !== null) return null;
  const base = new URL(config.SMS_CALLBACK_BASE_URL!);
  const prefix = base.pathname.replace(/\/+$/, '');
  const origin = `${base.origin}${prefix}`;
  const receiptUrl = `${origin}${SMS_CALLBACK_PATHS.receipts}`;
  return {
    provider: new HttpSmsProvider({
      baseUrl: config.SMS_PROVIDER_URL!,
      apiKey: config.SMS_API_KEY!,
      apiSecret: config.SMS_API_SECRET!,
      providerPublicKeyPem: config.SMS_PROVIDER_PUBLIC_KEY!,
      receiptUrl,
      timeoutMs: config.SMS_PROVIDER_TIMEOUT_MS,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    }),
    providerPublicKeyPem: config.SMS_PROVIDER_PUBLIC_KEY!,
    callbackPathPrefix: prefix,
    receiptUrl,
    inboundUrl: `${origin}${SMS_CALLBACK_PATHS.inbound}`,
  };
}

/** The callbacks' replay guard in the app's Redis. */
export function smsNonceCache(redis: Redis, queuePrefix: string): NonceCache {
  return new RedisNonceCache(redis, { prefix: `${queuePrefix}:` });
}

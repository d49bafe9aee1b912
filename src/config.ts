import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import proxyaddr from 'proxy-addr';
import { z } from 'zod';
import { productionProblems, type ProductionInput } from './config-production.js';
import { secureConnectionString, securityProblems } from './adapters/event-store/eventstoredb/connection-string.js';
import { mediaStorageUrlProblem } from './adapters/media/storage-url.js';

/**
 * Configuration comes from the environment only, is validated once at start
 * and is immutable afterwards. To add a variable, add one line to `schema`
 * (and a row to the README's configuration table).
 */

/** `message` holds one line per bad or missing variable, naming it. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function integer(min: number, max: number) {
  return z
    .string()
    .refine((s) => /^\d+$/.test(s) && Number(s) >= min && Number(s) <= max, `must be an integer between ${min} and ${max}`)
    .transform(Number);
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, `must be one of ${values.join(', ')}`);
}

function url(protocols: readonly string[]) {
  return z.string().refine((s) => URL.canParse(s) && protocols.includes(new URL(s).protocol), `must be a ${protocols.map((p) => `${p}//`).join(' or ')} URL`);
}

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

const DURATION_UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `1h,6h,24h` → milliseconds each, ascending as given; null when any part is not a duration, or more than 12, or over 30 days. */
export function parseDurations(text: string): number[] | null {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.length > 12) return null;
  const ms: number[] = [];
  for (const part of parts) {
    const match = /^(\d{1,6})(s|m|h|d)$/.exec(part);
    if (!match) return null;
    const value = Number(match[1]) * DURATION_UNITS_MS[match[2]!]!;
    if (value <= 0 || value > 30 * 86_400_000) return null;
    ms.push(value);
  }
  return ms;
}

/** PEM as given (literal `\n`s from a one-line env value accepted), or a bare base64 body wrapped in the given PEM label. */
function pemOf(s: string, label: 'PUBLIC KEY' | 'PRIVATE KEY'): string {
  const text = s.trim().replace(/\\n/g, '\n');
  if (text.includes('-----BEGIN')) return text;
  return `-----BEGIN ${label}-----\n${(text.replace(/\s+/g, '').match(/.{1,64}/g) ?? []).join('\n')}\n-----END ${label}-----\n`;
}

/** A public key of one type, normalised to SPKI PEM; `message` when it is anything else. */
const publicKeyOf = (type: 'rsa' | 'ed25519', message: string) =>
  z.string().transform((s, ctx) => {
    try {
      const key = createPublicKey(pemOf(s, 'PUBLIC KEY'));
      if (key.asymmetricKeyType !== type) throw new Error(`not ${type}`);
      return key.export({ type: 'spki', format: 'pem' }).toString();
    } catch {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    }
  });

/**
 * An RSA public key: PEM (`-----BEGIN PUBLIC KEY-----…`, literal `\n`s from a
 * one-line env value are accepted) or the bare base64 SPKI body the provider
 * consoles show. Normalised to PEM.
 */
const rsaPublicKey = publicKeyOf('rsa', 'must be an RSA public key (PEM or base64 SPKI)');

/**
 * An RSA private key (a merchant's signing key): PEM (PKCS#8 or PKCS#1,
 * literal `\n`s accepted) or the bare base64 PKCS#8 body the provider tools
 * print. Normalised to PKCS#8 PEM. A secret: never shown in a config error.
 */
const rsaPrivateKey = z.string().transform((s, ctx) => {
  try {
    const key = createPrivateKey(pemOf(s, 'PRIVATE KEY'));
    if (key.asymmetricKeyType !== 'rsa' || (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new Error('not RSA-2048');
    return key.export({ type: 'pkcs8', format: 'pem' }).toString();
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be an RSA private key of at least 2048 bits (PEM or base64 PKCS#8)' });
    return z.NEVER;
  }
});

/** An Ed25519 public key (an open platform's answer-signing key), as rsaPublicKey. */
const ed25519PublicKey = publicKeyOf('ed25519', 'must be an Ed25519 public key (PEM or base64 SPKI)');

/** `id:base64,id:base64…` → the keyring, each key exactly 32 bytes (AES-256). */
const encryptionKeys = z.string().transform((s, ctx) => {
  const keys: { id: string; key: Buffer }[] = [];
  for (const entry of s.split(',')) {
    const [id = '', b64 = '', ...rest] = entry.trim().split(':');
    const key = Buffer.from(b64, 'base64');
    // Buffer.from is lenient with garbage; a re-encode must give the input back
    const exact = key.length === 32 && key.toString('base64').replace(/=+$/, '') === b64.replace(/=+$/, '');
    if (!KEY_ID.test(id) || !exact || rest.length > 0 || keys.some((k) => k.id === id)) {
      ctx.addIssue({ code: 'custom', message: 'must be comma-separated keyId:base64 pairs, unique ids, each key 32 bytes' });
      return z.NEVER;
    }
    keys.push({ id, key });
  }
  return keys;
});

/**
 * Fixed, public values so `npm run up` and the tests need no set-up. They are
 * used outside production only; production must set its own (and may not use these).
 */
export const DEV_ONLY_SECRETS = {
  JWT_SECRET: 'dev-only-jwt-secret-never-use-in-production',
  ENCRYPTION_KEYS: `dev:${Buffer.alloc(32, 'dev-only-encryption-key').toString('base64')}`,
} as const;

/** `key=cents,key=cents` (empty: none) → a table of whole cents per key. */
function centsTable(what: string, key: RegExp = /^[A-Za-z0-9_.:-]{1,100}$/) {
  return z.string().transform((s, ctx) => {
    const table: Record<string, number> = {};
    const parts = s.split(',').map((p) => p.trim());
    for (const part of parts.filter((p) => p !== '')) {
      const m = /^([^=]+)=(\d{1,7})$/.exec(part);
      if (!m || !key.test(m[1]!.trim())) {
        ctx.addIssue({ code: 'custom', message: `must be comma-separated key=cents pairs, each key ${what}; ${JSON.stringify(part)} is not one` });
        return z.NEVER;
      }
      table[m[1]!.trim()] = Number(m[2]);
    }
    return table;
  });
}

const variables = z.object({
  NODE_ENV: oneOf(['development', 'test', 'production']).default('development'),
  // the API's (and the projector's METRICS_PORT) listening address; default 0.0.0.0 in production, 127.0.0.1
  // otherwise (the development defaults' secrets are public: a development API is not for the network)
  HOST: z.string().regex(/^[^\s/]+$/, 'must be a host name or an address (no spaces, no scheme or path)'),
  // when set, /readyz and /metrics answer only `Authorization: Bearer <OPS_TOKEN>`; required in production
  OPS_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
  // reverse proxies (load balancers) in front of the API whose X-Forwarded-For / X-Forwarded-Proto are
  // believed: comma-separated addresses, CIDR ranges or loopback / linklocal / uniquelocal. Unset: none.
  TRUST_PROXY: z
    .string()
    .transform((s, ctx) => {
      const entries = s
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean);
      try {
        proxyaddr.compile(entries);
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          message: `must be comma-separated addresses, CIDR ranges or loopback/linklocal/uniquelocal (${(error as Error).message})`,
        });
        return z.NEVER;
      }
      return entries;
    })
    .default([]),
  // 0 asks the OS for a free port (tests); the bound port is printed at start
  PORT: integer(0, 65535).default(3000),
  // the projector serves GET /metrics (its own registry, behind OPS_TOKEN) on HOST at this port; unset: no listener.
  // Processes on one machine need different ports (the API's PORT, a second projector's); 0 picks a free one (tests)
  METRICS_PORT: integer(0, 65535).optional(),
  DATABASE_URL: url(['postgres:', 'postgresql:']).default('postgres://postgres@127.0.0.1:5432/collector'),
  REDIS_URL: url(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
  // When set, events go to EventStoreDB instead of Postgres. Not parsed as a URL:
  // cluster strings (`esdb://a:2113,b:2113`) are not valid URLs.
  EVENTSTORE_CONNECTION_STRING: z
    .string()
    .regex(/^esdb(\+discover)?:\/\/\S+$/, 'must look like esdb://host:2113?tls=false')
    .optional(),
  // a secured EventStoreDB cluster (TLS on: leave tls=false out of the connection string): its user,
  // and the PEM file of the CA that signed the nodes' certificates when it is not a public one
  EVENTSTORE_USERNAME: z.string().min(1).optional(),
  EVENTSTORE_PASSWORD: z.string().min(1).optional(),
  EVENTSTORE_TLS_CA_FILE: z
    .string()
    .min(1)
    .refine((path) => existsSync(path), 'must name a readable file')
    .optional(),
  LOG_LEVEL: oneOf(LOG_LEVELS).default('info'),
  // at least 2: migrations hold an advisory lock on one connection while migrating on another
  DB_POOL_SIZE: integer(2, 100).default(10),
  // every database session of the platform: a statement running longer is cancelled, and a
  // session left idle inside a transaction is closed (one holding a transaction id holds back
  // every subscriber of $all); 0 turns either off. Migrations run without the statement limit.
  DB_STATEMENT_TIMEOUT_MS: integer(0, 86_400_000).default(300_000),
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: integer(0, 86_400_000).default(60_000),
  SHUTDOWN_TIMEOUT_MS: integer(100, 600_000).default(10_000),
  // largest request body the API reads; larger ones get 413
  HTTP_BODY_LIMIT_BYTES: integer(1_024, 50 * 1024 * 1024).default(1024 * 1024),
  // HS256 key for access tokens; required in production (dev default: DEV_ONLY_SECRETS)
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters'),
  ACCESS_TOKEN_TTL_SECONDS: integer(60, 86_400).default(900),
  REFRESH_TOKEN_TTL_DAYS: integer(1, 365).default(30),
  PASSWORD_RESET_TTL_MINUTES: integer(5, 1440).default(30),
  // AES-256-GCM keyring for credentials in events; required in production (dev default: DEV_ONLY_SECRETS)
  ENCRYPTION_KEYS: encryptionKeys,
  // the key new encryptions use; the others only decrypt (rotation). Default: the first.
  ENCRYPTION_KEY_ID: z.string().optional(),
  // outgoing mail; the default is a local catcher (MailHog / Mailpit) for development
  SMTP_URL: url(['smtp:', 'smtps:']).default('smtp://127.0.0.1:1025'),
  // daily quotas reset at midnight in this IANA zone
  QUOTA_TIME_ZONE: z
    .string()
    .refine((tz) => {
      try {
        new Intl.DateTimeFormat('en-US', { timeZone: tz });
        return true;
      } catch {
        return false;
      }
    }, 'must be an IANA time zone such as Asia/Shanghai')
    .default('Asia/Shanghai'),
  MAIL_FROM: z.string().min(3, 'must be a sender address').default('"Collector" <no-reply@localhost>'),
  // email verification: `required` (an unverified account cannot pay or connect platform accounts; the
  // default in production) or `off` (the default otherwise); how long a verification link stays valid
  EMAIL_VERIFICATION: oneOf(['required', 'off']),
  EMAIL_VERIFICATION_TTL_HOURS: integer(1, 720).default(48),
  // organizations: how long an invitation's link stays valid (docs/organizations.md)
  INVITATION_TTL_HOURS: integer(1, 720).default(168),
  // the mail outbox (a BullMQ queue the worker sends from): tries per mail, and the first retry's delay (doubles)
  MAIL_MAX_ATTEMPTS: integer(1, 100).default(15),
  MAIL_BACKOFF_MS: integer(10, 3_600_000).default(30_000),
  // login attempts per minute (fixed window, Redis) per account (email) from one client IP, and per
  // client IP; over it: 429. Keyed by account and IP so a stranger cannot lock an owner out.
  LOGIN_RATE_LIMIT_PER_ACCOUNT: integer(1, 10_000).default(5),
  LOGIN_RATE_LIMIT_PER_IP: integer(1, 100_000).default(20),
  // register, forgot-password and reset-password: requests per minute per client IP (each route
  // apart), and per account (email, or the user a reset token names) per hour; over it: 429
  AUTH_RATE_LIMIT_PER_IP: integer(1, 100_000).default(60),
  AUTH_RATE_LIMIT_PER_ACCOUNT_HOURLY: integer(1, 10_000).default(5),
  // two-factor authentication: the issuer authenticator apps list a TOTP secret under (the otpauth:// URI's issuer)
  TOTP_ISSUER: z
    .string()
    .trim()
    .min(1, 'must not be blank')
    .max(64, 'must be at most 64 characters')
    .refine((v) => !v.includes(':'), 'must not contain ":"')
    .default('Collector'),
  // every /api/ request: a token bucket per client IP and per signed-in user (requests per second,
  // sustained; a client may spend BURST_SECONDS of it at once); 0 turns one off; over it: 429
  API_RATE_LIMIT_PER_IP: integer(0, 1_000_000).default(1000),
  API_RATE_LIMIT_PER_USER: integer(0, 1_000_000).default(300),
  API_RATE_LIMIT_BURST_SECONDS: integer(1, 3600).default(2),
  // refresh: per minute per client IP, and per session
  REFRESH_RATE_LIMIT_PER_IP: integer(1, 100_000).default(300),
  REFRESH_RATE_LIMIT_PER_SESSION: integer(1, 10_000).default(10),
  // the web front end: password-reset links point at `${PUBLIC_WEB_URL}/reset-password?token=…`
  PUBLIC_WEB_URL: url(['http:', 'https:']).default('http://localhost:3000'),
  // payments: Alipay's public key (RSA2) for async notifications; unset → the Alipay callback answers `failure`
  ALIPAY_PUBLIC_KEY: rsaPublicKey.optional(),
  // payments: when set, an Alipay notification must name this app_id / seller_id (another merchant's notifications are refused)
  ALIPAY_APP_ID: z.string().min(1).optional(),
  ALIPAY_SELLER_ID: z.string().min(1).optional(),
  // payments: the WeChat Pay platform public key (v3 notifications' signatures); unset → the WeChat callback answers FAIL
  WECHAT_PLATFORM_PUBLIC_KEY: rsaPublicKey.optional(),
  // payments: when set, the Wechatpay-Serial header must name this platform certificate / public key id
  WECHAT_PLATFORM_SERIAL: z.string().min(1).optional(),
  // payments: when set, a WeChat transaction must be for this merchant (mchid) / app (appid)
  WECHAT_MCH_ID: z.string().min(1).optional(),
  WECHAT_APP_ID: z.string().min(1).optional(),
  // payments: the WeChat Pay APIv3 key (32 characters), decrypts notification resources; secret
  WECHAT_API_V3_KEY: z.string().length(32, 'must be exactly 32 characters').optional(),
  // content review: a reviewer's claim on a review holds this long; after it another reviewer may take the review over
  REVIEW_CLAIM_TTL_MINUTES: integer(1, 1440).default(30),
  // how long a payment order may be paid after it is created
  PAYMENT_ORDER_TTL_MINUTES: integer(1, 1440).default(30),
  // an unpaid order is closed this long after it expires (a notification of a payment made in time may come late)
  PAYMENT_EXPIRY_GRACE_MINUTES: integer(0, 1440).default(10),
  // how many days before a paid period ends its renewal order is placed (automatic renewal on) or its expiry reminded (off)
  SUBSCRIPTION_RENEWAL_LEAD_DAYS: integer(1, 27).default(3),
  // payments, placing orders: Alipay's open API gateway, and the app's RSA2 private key that signs our requests
  // (secret); with the key set, ALIPAY_APP_ID and ALIPAY_PUBLIC_KEY are required. Unset key: Alipay is not offered.
  ALIPAY_GATEWAY_URL: url(['http:', 'https:']).default('https://openapi.alipay.com/gateway.do'),
  ALIPAY_APP_PRIVATE_KEY: rsaPrivateKey.optional(),
  // payments, placing orders: WeChat Pay API v3, the merchant's private key (apiclient_key.pem, secret) and its
  // certificate's serial number; with the key set, WECHAT_MCH_SERIAL, WECHAT_MCH_ID, WECHAT_APP_ID,
  // WECHAT_PLATFORM_PUBLIC_KEY and WECHAT_API_V3_KEY are required. Unset key: WeChat Pay is not offered.
  WECHAT_API_URL: url(['http:', 'https:']).default('https://api.mch.weixin.qq.com'),
  WECHAT_MCH_PRIVATE_KEY: rsaPrivateKey.optional(),
  WECHAT_MCH_SERIAL: z
    .string()
    .regex(/^[A-Za-z0-9]{1,64}$/, 'must be the certificate serial number (letters and digits)')
    .optional(),
  // payments: the API's public base URL the providers call back (notify_url = this + /api/v1/payments/callback/…)
  PAYMENT_NOTIFY_BASE_URL: url(['http:', 'https:']).default('http://localhost:3000'),
  // payments: how long a call to a provider may take before it counts as unavailable
  PAYMENT_PROVIDER_TIMEOUT_MS: integer(100, 120_000).default(10_000),
  // payments, reconcile job (worker, maintenance queue): how often it runs, how old a pending order (or refund) must
  // be before the provider is asked about it, and how many it asks about per run
  PAYMENT_RECONCILE_INTERVAL_MS: integer(1_000, 86_400_000).default(60_000),
  PAYMENT_RECONCILE_MIN_AGE_SECONDS: integer(0, 86_400).default(300),
  PAYMENT_RECONCILE_BATCH: integer(1, 1_000).default(100),
  // platforms: where their web APIs / pages are (tests and sandboxes point these at fixture servers on 127.0.0.1)
  XIAOHONGSHU_WEB_URL: url(['http:', 'https:']).default('https://www.xiaohongshu.com'),
  XIAOHONGSHU_API_URL: url(['http:', 'https:']).default('https://edith.xiaohongshu.com'),
  // the creator center notes are published through (in a browser: no publishing API for ordinary accounts)
  XIAOHONGSHU_CREATOR_URL: url(['http:', 'https:']).default('https://creator.xiaohongshu.com'),
  QIDIAN_WEB_URL: url(['http:', 'https:']).default('https://www.qidian.com'),
  QIDIAN_BOOK_URL: url(['http:', 'https:']).default('https://book.qidian.com'),
  // open platforms (publishing through OAuth-bound accounts, docs/publishing.md): where they are — platform `p` at
  // `${OPEN_PLATFORM_URL}/p` — and our app registered with each: its client id, client secret (secret) and the
  // platform's Ed25519 key its answers are signed with. A platform without its three is not offered.
  OPEN_PLATFORM_URL: url(['http:', 'https:']).optional(),
  OAUTH_CLIENT_BAIDU_ID: z.string().min(1).optional(),
  OAUTH_CLIENT_BAIDU_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  OAUTH_CLIENT_BAIDU_PUBLIC_KEY: ed25519PublicKey.optional(),
  OAUTH_CLIENT_SOHU_ID: z.string().min(1).optional(),
  OAUTH_CLIENT_SOHU_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  OAUTH_CLIENT_SOHU_PUBLIC_KEY: ed25519PublicKey.optional(),
  OAUTH_CLIENT_NETEASE_ID: z.string().min(1).optional(),
  OAUTH_CLIENT_NETEASE_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  OAUTH_CLIENT_NETEASE_PUBLIC_KEY: ed25519PublicKey.optional(),
  // the API's public base URL the platforms send the browser back to (redirect_uri =
  // this + /api/v1/platform-accounts/oauth/{platform}/callback, registered with each platform)
  OAUTH_REDIRECT_BASE_URL: url(['http:', 'https:']).default('http://localhost:3000'),
  // where the callback sends the browser once an account is bound (?platform=&account_id= or ?platform=&error=);
  // unset: the callback answers JSON
  OAUTH_RETURN_URL: url(['http:', 'https:']).optional(),
  // tokens are refreshed this long before they expire (at the latest halfway through their life)
  OAUTH_REFRESH_LEAD_SECONDS: integer(1, 86_400).default(600),
  // proxies: consecutive failed checks that fail a healthy proxy, and successful probes that recover a failed one
  PROXY_FAILURE_THRESHOLD: integer(1, 100).default(3),
  PROXY_RECOVERY_THRESHOLD: integer(1, 100).default(2),
  // workers (npm run worker): scrape jobs run at once per process, attempts per job, first retry delay (doubles)
  WORKER_CONCURRENCY: integer(1, 64).default(2),
  SCRAPE_MAX_ATTEMPTS: integer(1, 20).default(4),
  SCRAPE_BACKOFF_MS: integer(10, 3_600_000).default(30_000),
  // at most this many scrape jobs per platform account per minute (the platforms ban eager accounts)
  ACCOUNT_JOBS_PER_MINUTE: integer(1, 10_000).default(6),
  // private messages sent per platform account (POST /xiaohongshu/messages): at most this many per minute and per
  // hour (sliding windows in Redis, the tighter one applies; a burst waits in the queue), attempts per message and the
  // first retry delay (doubles)
  MESSAGES_PER_ACCOUNT_PER_MINUTE: integer(1, 1_000).default(2),
  MESSAGES_PER_ACCOUNT_PER_HOUR: integer(1, 100_000).default(20),
  MESSAGE_SEND_MAX_ATTEMPTS: integer(1, 20).default(5),
  MESSAGE_SEND_BACKOFF_MS: integer(10, 3_600_000).default(30_000),
  // SMS (docs/sms.md): the provider's API base URL, our API key and secret (secret; signs our requests, HMAC-SHA256),
  // the provider's Ed25519 public key (verifies its answers, receipts and inbound messages) and the API's public base URL
  // the provider posts those to. With SMS_PROVIDER_URL set the rest are required; unset: SMS is not offered (503).
  SMS_PROVIDER_URL: url(['http:', 'https:']).optional(),
  SMS_API_KEY: z.string().max(200, 'must be at most 200 characters').optional(),
  SMS_API_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  SMS_PROVIDER_PUBLIC_KEY: ed25519PublicKey.optional(),
  SMS_CALLBACK_BASE_URL: url(['http:', 'https:']).optional(),
  // SMS: sends each user may ask for per minute (POST /sms/messages; more: 429 with Retry-After), the region of numbers
  // written without +country code, the provider's answer deadline, attempts per message and the first retry delay (doubles),
  // and the sms-send jobs one worker process runs at once (HTTP calls: many)
  SMS_SENDS_PER_USER_PER_MINUTE: integer(1, 100_000).default(30),
  SMS_DEFAULT_REGION: z
    .string()
    .regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code')
    .default('CN'),
  SMS_PROVIDER_TIMEOUT_MS: integer(100, 120_000).default(10_000),
  SMS_SEND_MAX_ATTEMPTS: integer(1, 20).default(5),
  SMS_SEND_BACKOFF_MS: integer(10, 3_600_000).default(2_000),
  SMS_WORKER_CONCURRENCY: integer(1, 512).default(32),
  // SMS for organizations (docs/sms.md): sends per minute per organization (a user outside one: their own) — single
  // sends past it 429, a batch's messages delayed into the next minutes with room — and whether each SMS is charged to
  // the prepaid balance (where the ledger is wired)
  SMS_SENDS_PER_ORGANIZATION_PER_MINUTE: integer(1, 1_000_000).default(600),
  SMS_CHARGE_LEDGER: z
    .enum(['true', 'false'], { message: 'must be true or false' })
    .default('true')
    .transform((v) => v === 'true'),
  // one-time codes by SMS (docs/mfa.md: phone verification, login codes): how long a code is valid (minutes; a
  // decimal is allowed, e.g. 0.5), the least time between two codes to one user (0: none), codes per user and hour,
  // and wrong tries one code takes before it is void
  SMS_CODE_TTL_MINUTES: z
    .string()
    .refine((s) => /^\d+(\.\d+)?$/.test(s) && Number(s) >= 0.05 && Number(s) <= 60, 'must be a number of minutes between 0.05 and 60')
    .transform(Number)
    .default(10),
  SMS_CODE_RESEND_SECONDS: integer(0, 3600).default(60),
  SMS_CODES_PER_USER_HOURLY: integer(1, 1000).default(10),
  SMS_CODE_MAX_ATTEMPTS: integer(1, 20).default(5),
  // publications (POST /articles/{id}/publish): a `publish` job has 3 attempts, this far apart (fixed); and when a
  // published post's metrics are read, after publishing (comma-separated durations: 90s, 30m, 1h, 2d; at most 12)
  PUBLISH_RETRY_DELAY_MS: integer(10, 3_600_000).default(60_000),
  PUBLICATION_METRICS_SCHEDULE: z
    .string()
    .default('1h,6h,24h,72h,168h')
    .refine((s) => parseDurations(s) !== null, 'must be 1-12 comma-separated durations like 90s, 30m, 6h, 7d (each at most 30d)')
    .transform((s) => parseDurations(s)!),
  // what uses cost the platform, in cents (fen), for GET /admin/finance/profit (docs/ledger.md): a proxy use (a run
  // assigned a proxy) and one SMS segment sent; per proxy id / per country overrides as `key=cents,key=cents`
  PROXY_COST_PER_USE_CENTS: integer(0, 1_000_000).default(2),
  PROXY_COSTS_CENTS: centsTable('a proxy id').default({}),
  SMS_COST_CENTS_DEFAULT: integer(0, 1_000_000).default(4),
  SMS_COSTS_CENTS: centsTable('an ISO 3166-1 alpha-2 country code', /^[A-Z]{2}$/).default({}),
  // a leased proxy is held this long unless the worker renews it (a crashed worker frees it)
  PROXY_LEASE_TTL_MS: integer(1_000, 3_600_000).default(120_000),
  // proxies: how often every proxy is probed, and the URL the probe fetches through it
  PROXY_HEALTH_INTERVAL_MS: integer(1_000, 86_400_000).default(300_000),
  PROXY_HEALTH_TARGET_URL: url(['http:', 'https:']).default('https://www.xiaohongshu.com/robots.txt'),
  // browser pool: the Chromium binary (Debian's) and the most browser contexts open at once per worker
  CHROMIUM_PATH: z.string().min(1).default('/usr/bin/chromium'),
  BROWSER_MAX_CONTEXTS: integer(1, 64).default(2),
  // a BullMQ key prefix, so several deployments (or test runs) can share one Redis
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_:-]{1,64}$/, 'must be 1-64 letters, digits, _ : -')
    .default('collector'),
  // how often the projector looks for due deadlines (period ends, order expiries)
  DEADLINE_SWEEP_INTERVAL_MS: integer(100, 3_600_000).default(15_000),
  // the queue monitor's blockage detector (in the projector): a queue whose waiting jobs neither shrink nor finish for this
  // long is blocked (QueueBlockageDetected, a queue_blocked notification to every admin)
  QUEUE_BLOCKAGE_SECONDS: integer(1, 86_400).default(300),
  // a projection or process manager tries an event that fails on its own this often (with back-off), then parks it
  // in consumer_dead_letters and goes on (transient errors never count)
  CONSUMER_MAX_ATTEMPTS: integer(1, 100).default(5),
  // streams whose last state a process keeps for its next command on them (0: every command reads its stream)
  STATE_CACHE_ENTRIES: integer(0, 1_000_000).default(5_000),
  // uploaded media (article images): where the bytes are kept, `file:<folder>` on the local disk (relative to the working
  // folder) or `s3://ACCESS:SECRET@host[:port]/bucket[/prefix]?region=&path_style=&tls=` for S3-compatible storage
  MEDIA_STORAGE_URL: z
    .string()
    .superRefine((s, ctx) => {
      const problem = mediaStorageUrlProblem(s);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .default('file:./data/media'),
  // the largest upload POST /api/v1/media takes (bytes); larger: 413
  MEDIA_MAX_BYTES: integer(1_024, 100 * 1024 * 1024).default(5 * 1024 * 1024),
});

const schema = variables
  .superRefine((c, ctx) => {
    const security = { username: c.EVENTSTORE_USERNAME, password: c.EVENTSTORE_PASSWORD, tlsCAFile: c.EVENTSTORE_TLS_CA_FILE };
    const given = (['EVENTSTORE_USERNAME', 'EVENTSTORE_PASSWORD', 'EVENTSTORE_TLS_CA_FILE'] as const).find((name) => c[name] !== undefined);
    if (given && !c.EVENTSTORE_CONNECTION_STRING) {
      ctx.addIssue({ code: 'custom', path: [given], message: 'needs EVENTSTORE_CONNECTION_STRING (it is for EventStoreDB)' });
    } else if (c.EVENTSTORE_CONNECTION_STRING) {
      for (const message of securityProblems(c.EVENTSTORE_CONNECTION_STRING, security)) {
        ctx.addIssue({ code: 'custom', path: ['EVENTSTORE_CONNECTION_STRING'], message });
      }
    }
    if (c.ENCRYPTION_KEY_ID !== undefined && !c.ENCRYPTION_KEYS.some((k) => k.id === c.ENCRYPTION_KEY_ID)) {
      const ids = c.ENCRYPTION_KEYS.map((k) => k.id).join(', ');
      ctx.addIssue({ code: 'custom', path: ['ENCRYPTION_KEY_ID'], message: `must be one of the ENCRYPTION_KEYS ids (${ids})` });
    }
  })
  .transform((c) => ({
    ...c,
    ENCRYPTION_KEY_ID: c.ENCRYPTION_KEY_ID ?? c.ENCRYPTION_KEYS[0]!.id,
    // what the client is given: the user and the CA folded into the connection string
    EVENTSTORE_CONNECTION_STRING:
      c.EVENTSTORE_CONNECTION_STRING &&
      secureConnectionString(c.EVENTSTORE_CONNECTION_STRING, {
        username: c.EVENTSTORE_USERNAME,
        password: c.EVENTSTORE_PASSWORD,
        tlsCAFile: c.EVENTSTORE_TLS_CA_FILE,
      }),
  }));

export type Config = Readonly<z.output<typeof schema>>;
export type ConfigVariable = keyof typeof variables.shape;

/** Variables that only work together: set the first, and the others are required. */
const REQUIRED_WITH: Readonly<Partial<Record<ConfigVariable, readonly ConfigVariable[]>>> = {
  ALIPAY_APP_PRIVATE_KEY: ['ALIPAY_APP_ID', 'ALIPAY_PUBLIC_KEY'],
  WECHAT_MCH_PRIVATE_KEY: ['WECHAT_MCH_SERIAL', 'WECHAT_MCH_ID', 'WECHAT_APP_ID', 'WECHAT_PLATFORM_PUBLIC_KEY', 'WECHAT_API_V3_KEY'],
  SMS_PROVIDER_URL: ['SMS_API_KEY', 'SMS_API_SECRET', 'SMS_PROVIDER_PUBLIC_KEY', 'SMS_CALLBACK_BASE_URL'],
  // an open platform's client: all three, and where the platforms are
  OAUTH_CLIENT_BAIDU_ID: ['OAUTH_CLIENT_BAIDU_SECRET', 'OAUTH_CLIENT_BAIDU_PUBLIC_KEY', 'OPEN_PLATFORM_URL'],
  OAUTH_CLIENT_SOHU_ID: ['OAUTH_CLIENT_SOHU_SECRET', 'OAUTH_CLIENT_SOHU_PUBLIC_KEY', 'OPEN_PLATFORM_URL'],
  OAUTH_CLIENT_NETEASE_ID: ['OAUTH_CLIENT_NETEASE_SECRET', 'OAUTH_CLIENT_NETEASE_PUBLIC_KEY', 'OPEN_PLATFORM_URL'],
};

/** What productionProblems reads (PUBLIC_WEB_URL apart: its default does not count as set). */
const PRODUCTION_CHECKED = [
  'JWT_SECRET',
  'ENCRYPTION_KEYS',
  'SMTP_URL',
  'OPS_TOKEN',
  'ALIPAY_PUBLIC_KEY',
  'ALIPAY_APP_ID',
  'ALIPAY_SELLER_ID',
  'WECHAT_PLATFORM_PUBLIC_KEY',
  'WECHAT_MCH_ID',
  'WECHAT_APP_ID',
  'ALIPAY_APP_PRIVATE_KEY',
  'ALIPAY_GATEWAY_URL',
  'WECHAT_MCH_PRIVATE_KEY',
  'WECHAT_API_URL',
  'PAYMENT_NOTIFY_BASE_URL',
] as const satisfies readonly (keyof ProductionInput & ConfigVariable)[];

/** Reads and validates the configuration; throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Only our variables, and an empty value counts as unset (`FOO=` in a compose file).
  const input = Object.fromEntries(Object.keys(variables.shape).map((name) => [name, env[name] === '' ? undefined : env[name]]));
  const production = input['NODE_ENV'] === 'production';
  const problems = new Map<string, string>();
  for (const [name, devValue] of Object.entries(DEV_ONLY_SECRETS)) {
    if (!production) input[name] ??= devValue;
    else if (input[name] === undefined) problems.set(name, `${name}: is required in production`);
    else if (input[name] === devValue) problems.set(name, `${name}: must not be the development default in production`);
  }
  input['HOST'] ??= production ? '0.0.0.0' : '127.0.0.1';
  input['EMAIL_VERIFICATION'] ??= production ? 'required' : 'off';
  // a provider we place orders with must also be one whose answers and notifications we can verify
  for (const [given, names] of Object.entries(REQUIRED_WITH)) {
    if (input[given] === undefined) continue;
    for (const name of names) if (input[name] === undefined) problems.set(name, `${name}: is required when ${given} is set`);
  }
  const result = schema.safeParse(input);
  const refused = new Map<string, string>();
  for (const issue of result.error?.issues ?? []) {
    const name = String(issue.path[0]);
    if (refused.has(name)) continue;
    const value = input[name];
    refused.set(name, value === undefined ? `${name}: is required` : `${name}: ${issue.message} (got ${shown(name, value)})`);
  }
  if (production) {
    // judged beside whatever else is wrong, so one start lists every problem: each variable as it parses on its own
    // (one the schema refused is left out here, and its own line stands)
    const parsed = (name: ConfigVariable): unknown => {
      const field = variables.shape[name].safeParse(input[name]);
      return field.success && !refused.has(name) ? field.data : undefined;
    };
    const devKey = Buffer.from(DEV_ONLY_SECRETS.ENCRYPTION_KEYS.split(':')[1]!, 'base64');
    const more = productionProblems(
      {
        ...(Object.fromEntries(PRODUCTION_CHECKED.map((name) => [name, parsed(name)])) as Omit<ProductionInput, 'PUBLIC_WEB_URL'>),
        PUBLIC_WEB_URL: input['PUBLIC_WEB_URL'] === undefined ? undefined : (parsed('PUBLIC_WEB_URL') as string | undefined),
      },
      { JWT_SECRET: DEV_ONLY_SECRETS.JWT_SECRET, encryptionKey: devKey },
    );
    for (const [name, line] of more) if (!problems.has(name) && !refused.has(name)) problems.set(name, line);
  }
  if (result.success && problems.size === 0) return Object.freeze(result.data);

  for (const [name, line] of refused) if (!problems.has(name)) problems.set(name, line);
  // in the order of `variables`, whichever check found them
  const order = Object.keys(variables.shape);
  throw new ConfigError([...problems].sort(([a], [b]) => order.indexOf(a) - order.indexOf(b)).map(([, line]) => line));
}

/** The offending value as it may appear in a terminal or a log: no secrets. */
function shown(name: string, value: string): string {
  // (durations and key ids are not secret, and showing them helps)
  if (/SECRET|PASSWORD|TOKEN|KEY/i.test(name) && !/_(SECONDS|MINUTES|DAYS|ID)$/.test(name)) return `a value of ${value.length} characters`;
  // a URL's password (`scheme://user:password@host`), even in a URL that does not parse
  return JSON.stringify(value.replace(/(\/\/[^/@\s]*?:)[^/@\s]*@/, '$1***@'));
}

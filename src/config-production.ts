/**
 * What production refuses on top of the schema, one line per variable. The
 * development defaults are public (they are in this repository), so a value
 * that is one of them — by value, whatever its key id or surrounding spaces —
 * or that is too weak to be a real secret, must never run a deployment.
 */

/** The parsed values these checks read (names as in config.ts); undefined: missing or refused already, not judged here. */
export interface ProductionInput {
  JWT_SECRET?: string | undefined;
  ENCRYPTION_KEYS?: readonly { id: string; key: Buffer }[] | undefined;
  SMTP_URL?: string | undefined;
  OPS_TOKEN?: string | undefined;
  /** undefined: not set by the environment (the development default would apply) */
  PUBLIC_WEB_URL: string | undefined;
  ALIPAY_PUBLIC_KEY?: string | undefined;
  ALIPAY_APP_ID?: string | undefined;
  ALIPAY_SELLER_ID?: string | undefined;
  WECHAT_PLATFORM_PUBLIC_KEY?: string | undefined;
  WECHAT_MCH_ID?: string | undefined;
  WECHAT_APP_ID?: string | undefined;
  ALIPAY_APP_PRIVATE_KEY?: string | undefined;
  ALIPAY_GATEWAY_URL?: string | undefined;
  WECHAT_MCH_PRIVATE_KEY?: string | undefined;
  WECHAT_API_URL?: string | undefined;
  PAYMENT_NOTIFY_BASE_URL?: string | undefined;
}

/** Fewest distinct characters of a JWT secret: 'a'×32 or '0123'×8 is no secret. */
const MIN_DISTINCT_SECRET_CHARS = 12;
/** Fewest distinct byte values of a 32-byte key: random keys have about 28. */
const MIN_DISTINCT_KEY_BYTES = 16;

export function productionProblems(c: ProductionInput, dev: { JWT_SECRET: string; encryptionKey: Buffer }): Map<string, string> {
  const problems = new Map<string, string>();
  const secret = c.JWT_SECRET?.trim();
  if (secret === undefined) {
    // the schema's line (or "is required in production") says what is wrong
  } else if (secret === dev.JWT_SECRET || secret.includes('dev-only') || secret.includes('never-use-in-production')) {
    problems.set('JWT_SECRET', 'JWT_SECRET: must not be the development default (or a variant of it) in production');
  } else if (new Set(secret).size < MIN_DISTINCT_SECRET_CHARS) {
    problems.set(
      'JWT_SECRET',
      `JWT_SECRET: too little variety to be a secret (fewer than ${MIN_DISTINCT_SECRET_CHARS} distinct characters); use e.g. \`openssl rand -base64 48\``,
    );
  }

  for (const { id, key } of c.ENCRYPTION_KEYS ?? []) {
    const problem = key.equals(dev.encryptionKey)
      ? 'is the development default'
      : key.every((b) => b === 0)
        ? 'is all zeros'
        : new Set(key).size < MIN_DISTINCT_KEY_BYTES
          ? 'has too little variety to be random'
          : undefined;
    if (problem) {
      problems.set('ENCRYPTION_KEYS', `ENCRYPTION_KEYS: key "${id}" ${problem}; every key in production must be random (\`openssl rand -base64 32\`)`);
      break;
    }
  }

  if (c.OPS_TOKEN === undefined) problems.set('OPS_TOKEN', 'OPS_TOKEN: is required in production (/readyz and /metrics answer only with it)');

  const smtp = c.SMTP_URL === undefined ? undefined : new URL(c.SMTP_URL);
  if (smtp && smtp.protocol !== 'smtps:' && smtp.searchParams.get('requireTLS') !== 'true') {
    problems.set('SMTP_URL', 'SMTP_URL: must use TLS in production: smtps://… or smtp://…?requireTLS=true');
  }
  if (c.PUBLIC_WEB_URL === undefined) problems.set('PUBLIC_WEB_URL', 'PUBLIC_WEB_URL: is required in production (reset and verification links point there)');
  else if (new URL(c.PUBLIC_WEB_URL).protocol !== 'https:') problems.set('PUBLIC_WEB_URL', 'PUBLIC_WEB_URL: must be an https:// URL in production');

  // a provider key without the merchant ids would accept another merchant's notifications
  if (c.ALIPAY_PUBLIC_KEY !== undefined) {
    for (const name of ['ALIPAY_APP_ID', 'ALIPAY_SELLER_ID'] as const) {
      if (c[name] === undefined) problems.set(name, `${name}: is required in production when ALIPAY_PUBLIC_KEY is set`);
    }
  }
  if (c.WECHAT_PLATFORM_PUBLIC_KEY !== undefined) {
    for (const name of ['WECHAT_MCH_ID', 'WECHAT_APP_ID'] as const) {
      if (c[name] === undefined) problems.set(name, `${name}: is required in production when WECHAT_PLATFORM_PUBLIC_KEY is set`);
    }
  }
  // placing orders: the providers call us back over https, and we call them over https
  const placing = c.ALIPAY_APP_PRIVATE_KEY !== undefined || c.WECHAT_MCH_PRIVATE_KEY !== undefined;
  if (placing && c.PAYMENT_NOTIFY_BASE_URL !== undefined && new URL(c.PAYMENT_NOTIFY_BASE_URL).protocol !== 'https:') {
    problems.set(
      'PAYMENT_NOTIFY_BASE_URL',
      'PAYMENT_NOTIFY_BASE_URL: must be the https:// URL of the API in production (the providers send notifications there)',
    );
  }
  if (c.ALIPAY_APP_PRIVATE_KEY !== undefined && c.ALIPAY_GATEWAY_URL !== undefined && new URL(c.ALIPAY_GATEWAY_URL).protocol !== 'https:') {
    problems.set('ALIPAY_GATEWAY_URL', 'ALIPAY_GATEWAY_URL: must be an https:// URL in production');
  }
  if (c.WECHAT_MCH_PRIVATE_KEY !== undefined && c.WECHAT_API_URL !== undefined && new URL(c.WECHAT_API_URL).protocol !== 'https:') {
    problems.set('WECHAT_API_URL', 'WECHAT_API_URL: must be an https:// URL in production');
  }
  return problems;
}

import { expect } from 'chai';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { ConfigError, DEV_ONLY_SECRETS, loadConfig } from '../../src/config.js';

const key = (): string => randomBytes(32).toString('base64');
/** What production needs on top of the defaults. */
const productionSecrets = {
  JWT_SECRET: randomBytes(36).toString('base64'),
  ENCRYPTION_KEYS: `k1:${key()}`,
  SMTP_URL: 'smtps://mail.example.test',
  PUBLIC_WEB_URL: 'https://app.example.test',
  OPS_TOKEN: randomBytes(24).toString('hex'),
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return (error as ConfigError).message.split('\n');
  }
  expect.fail('expected a ConfigError');
}

describe('loadConfig', () => {
  it('gives every variable its default when the environment is empty', () => {
    expect(loadConfig({})).to.deep.equal({
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      OPS_TOKEN: undefined,
      TRUST_PROXY: [],
      PORT: 3000,
      METRICS_PORT: undefined,
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/collector',
      REDIS_URL: 'redis://127.0.0.1:6379',
      EVENTSTORE_CONNECTION_STRING: undefined,
      EVENTSTORE_USERNAME: undefined,
      EVENTSTORE_PASSWORD: undefined,
      EVENTSTORE_TLS_CA_FILE: undefined,
      LOG_LEVEL: 'info',
      DB_POOL_SIZE: 10,
      CONSUMER_MAX_ATTEMPTS: 5,
      STATE_CACHE_ENTRIES: 5_000,
      DB_STATEMENT_TIMEOUT_MS: 300_000,
      DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: 60_000,
      SHUTDOWN_TIMEOUT_MS: 10000,
      HTTP_BODY_LIMIT_BYTES: 1048576,
      JWT_SECRET: DEV_ONLY_SECRETS.JWT_SECRET,
      ACCESS_TOKEN_TTL_SECONDS: 900,
      REFRESH_TOKEN_TTL_DAYS: 30,
      PASSWORD_RESET_TTL_MINUTES: 30,
      ENCRYPTION_KEYS: [{ id: 'dev', key: Buffer.from(DEV_ONLY_SECRETS.ENCRYPTION_KEYS.slice(4), 'base64') }],
      ENCRYPTION_KEY_ID: 'dev',
      SMTP_URL: 'smtp://127.0.0.1:1025',
      QUOTA_TIME_ZONE: 'Asia/Shanghai',
      MAIL_FROM: '"Collector" <no-reply@localhost>',
      LOGIN_RATE_LIMIT_PER_ACCOUNT: 5,
      LOGIN_RATE_LIMIT_PER_IP: 20,
      EMAIL_VERIFICATION: 'off',
      EMAIL_VERIFICATION_TTL_HOURS: 48,
      INVITATION_TTL_HOURS: 168,
      MAIL_MAX_ATTEMPTS: 15,
      MAIL_BACKOFF_MS: 30_000,
      API_RATE_LIMIT_PER_IP: 1000,
      API_RATE_LIMIT_PER_USER: 300,
      API_RATE_LIMIT_BURST_SECONDS: 2,
      AUTH_RATE_LIMIT_PER_IP: 60,
      AUTH_RATE_LIMIT_PER_ACCOUNT_HOURLY: 5,
      TOTP_ISSUER: 'Collector',
      REFRESH_RATE_LIMIT_PER_IP: 300,
      REFRESH_RATE_LIMIT_PER_SESSION: 10,
      PUBLIC_WEB_URL: 'http://localhost:3000',
      ALIPAY_PUBLIC_KEY: undefined,
      ALIPAY_APP_ID: undefined,
      ALIPAY_SELLER_ID: undefined,
      WECHAT_PLATFORM_PUBLIC_KEY: undefined,
      WECHAT_PLATFORM_SERIAL: undefined,
      WECHAT_MCH_ID: undefined,
      WECHAT_APP_ID: undefined,
      WECHAT_API_V3_KEY: undefined,
      PAYMENT_ORDER_TTL_MINUTES: 30,
      PAYMENT_EXPIRY_GRACE_MINUTES: 10,
      SUBSCRIPTION_RENEWAL_LEAD_DAYS: 3,
      ALIPAY_GATEWAY_URL: 'https://openapi.alipay.com/gateway.do',
      ALIPAY_APP_PRIVATE_KEY: undefined,
      WECHAT_API_URL: 'https://api.mch.weixin.qq.com',
      WECHAT_MCH_PRIVATE_KEY: undefined,
      WECHAT_MCH_SERIAL: undefined,
      PAYMENT_NOTIFY_BASE_URL: 'http://localhost:3000',
      PAYMENT_PROVIDER_TIMEOUT_MS: 10_000,
      PAYMENT_RECONCILE_INTERVAL_MS: 60_000,
      PAYMENT_RECONCILE_MIN_AGE_SECONDS: 300,
      PAYMENT_RECONCILE_BATCH: 100,
      XIAOHONGSHU_WEB_URL: 'https://www.xiaohongshu.com',
      XIAOHONGSHU_API_URL: 'https://edith.xiaohongshu.com',
      XIAOHONGSHU_CREATOR_URL: 'https://creator.xiaohongshu.com',
      QIDIAN_WEB_URL: 'https://www.qidian.com',
      QIDIAN_BOOK_URL: 'https://book.qidian.com',
      OPEN_PLATFORM_URL: undefined,
      OAUTH_CLIENT_BAIDU_ID: undefined,
      OAUTH_CLIENT_BAIDU_SECRET: undefined,
      OAUTH_CLIENT_BAIDU_PUBLIC_KEY: undefined,
      OAUTH_CLIENT_SOHU_ID: undefined,
      OAUTH_CLIENT_SOHU_SECRET: undefined,
      OAUTH_CLIENT_SOHU_PUBLIC_KEY: undefined,
      OAUTH_CLIENT_NETEASE_ID: undefined,
      OAUTH_CLIENT_NETEASE_SECRET: undefined,
      OAUTH_CLIENT_NETEASE_PUBLIC_KEY: undefined,
      OAUTH_REDIRECT_BASE_URL: 'http://localhost:3000',
      OAUTH_RETURN_URL: undefined,
      OAUTH_REFRESH_LEAD_SECONDS: 600,
      PROXY_FAILURE_THRESHOLD: 3,
      PROXY_RECOVERY_THRESHOLD: 2,
      PUBLISH_RETRY_DELAY_MS: 60000,
      PUBLICATION_METRICS_SCHEDULE: [3_600_000, 21_600_000, 86_400_000, 259_200_000, 604_800_000],
      WORKER_CONCURRENCY: 2,
      SCRAPE_MAX_ATTEMPTS: 4,
      REVIEW_CLAIM_TTL_MINUTES: 30,
      SCRAPE_BACKOFF_MS: 30000,
      ACCOUNT_JOBS_PER_MINUTE: 6,
      MESSAGES_PER_ACCOUNT_PER_MINUTE: 2,
      MESSAGES_PER_ACCOUNT_PER_HOUR: 20,
      MESSAGE_SEND_MAX_ATTEMPTS: 5,
      MESSAGE_SEND_BACKOFF_MS: 30_000,
      SMS_PROVIDER_URL: undefined,
      SMS_API_KEY: undefined,
      SMS_API_SECRET: undefined,
      SMS_PROVIDER_PUBLIC_KEY: undefined,
      SMS_CALLBACK_BASE_URL: undefined,
      SMS_SENDS_PER_USER_PER_MINUTE: 30,
      SMS_DEFAULT_REGION: 'CN',
      SMS_PROVIDER_TIMEOUT_MS: 10_000,
      SMS_SEND_MAX_ATTEMPTS: 5,
      SMS_SEND_BACKOFF_MS: 2_000,
      SMS_WORKER_CONCURRENCY: 32,
      SMS_CODE_TTL_MINUTES: 10,
      PROXY_COSTS_CENTS: {},
      PROXY_COST_PER_USE_CENTS: 2,
      SMS_CHARGE_LEDGER: true,
      SMS_COSTS_CENTS: {},
      SMS_COST_CENTS_DEFAULT: 4,
      SMS_SENDS_PER_ORGANIZATION_PER_MINUTE: 600,
      SMS_CODE_RESEND_SECONDS: 60,
      SMS_CODES_PER_USER_HOURLY: 10,
      SMS_CODE_MAX_ATTEMPTS: 5,
      MEDIA_STORAGE_URL: 'file:./data/media',
      MEDIA_MAX_BYTES: 5 * 1024 * 1024,
      PROXY_LEASE_TTL_MS: 120000,
      PROXY_HEALTH_INTERVAL_MS: 300000,
      PROXY_HEALTH_TARGET_URL: 'https://www.xiaohongshu.com/robots.txt',
      CHROMIUM_PATH: '/usr/bin/chromium',
      BROWSER_MAX_CONTEXTS: 2,
      QUEUE_PREFIX: 'collector',
      DEADLINE_SWEEP_INTERVAL_MS: 15000,
      QUEUE_BLOCKAGE_SECONDS: 300,
    });
  });

  it('takes a mail server URL and refuses one of another scheme, without echoing its password', () => {
    expect(loadConfig({ SMTP_URL: 'smtps://mailer:s3cret@mail.example:465' }).SMTP_URL).to.equal('smtps://mailer:s3cret@mail.example:465');
    let message = '';
    try {
      loadConfig({ SMTP_URL: 'http://mailer:s3cret@mail.example' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).to.match(/^SMTP_URL: must be a smtp:\/\/ or smtps:\/\/ URL/);
    expect(message).to.not.include('s3cret');
  });

  it('refuses a HOST with spaces or a scheme at start, not when the server listens', () => {
    for (const host of [' ', 'api host', 'http://0.0.0.0']) {
      expect(() => loadConfig({ HOST: host }), host).to.throw(/HOST: must be a host name or an address/);
    }
    expect(loadConfig({ HOST: '::1' }).HOST).to.equal('::1');
    expect(loadConfig({ HOST: 'localhost' }).HOST).to.equal('localhost');
  });

  it('names the one bad pair of a cost table, and the value given once', () => {
    let problems: readonly string[] = [];
    try {
      loadConfig({ PROXY_COSTS_CENTS: 'p1=5,p2=x' });
    } catch (error) {
      problems = (error as { problems: readonly string[] }).problems;
    }
    expect(problems).to.deep.equal(['PROXY_COSTS_CENTS: must be comma-separated key=cents pairs, each key a proxy id; "p2=x" is not one (got "p1=5,p2=x")']);
  });

  it('takes values from the environment, converting numbers', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: 'postgresql://app:pw@db:5432/collector',
      REDIS_URL: 'rediss://cache:6380/2',
      EVENTSTORE_CONNECTION_STRING: 'esdb://eventstore:2113?tls=false',
      LOG_LEVEL: 'debug',
      DB_POOL_SIZE: '25',
      SHUTDOWN_TIMEOUT_MS: '500',
      ...productionSecrets,
      ACCESS_TOKEN_TTL_SECONDS: '300',
      REFRESH_TOKEN_TTL_DAYS: '7',
      PASSWORD_RESET_TTL_MINUTES: '15',
    });
    expect(config).to.include({
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: 0,
      DATABASE_URL: 'postgresql://app:pw@db:5432/collector',
      REDIS_URL: 'rediss://cache:6380/2',
      EVENTSTORE_CONNECTION_STRING: 'esdb://eventstore:2113?tls=false',
      LOG_LEVEL: 'debug',
      DB_POOL_SIZE: 25,
      SHUTDOWN_TIMEOUT_MS: 500,
      JWT_SECRET: productionSecrets.JWT_SECRET,
      ACCESS_TOKEN_TTL_SECONDS: 300,
      REFRESH_TOKEN_TTL_DAYS: 7,
      PASSWORD_RESET_TTL_MINUTES: 15,
      ENCRYPTION_KEY_ID: 'k1',
    });
    expect(config.ENCRYPTION_KEYS).to.deep.equal([{ id: 'k1', key: Buffer.from(productionSecrets.ENCRYPTION_KEYS.slice(3), 'base64') }]);
  });

  it('reads process.env by default and ignores unrelated variables', () => {
    expect(loadConfig()).to.not.have.property('PATH');
  });

  it('treats an empty value as unset', () => {
    const config = loadConfig({ PORT: '', EVENTSTORE_CONNECTION_STRING: '' });
    expect(config.PORT).to.equal(3000);
    expect(config.EVENTSTORE_CONNECTION_STRING).to.equal(undefined);
  });

  it('is frozen', () => {
    expect(Object.isFrozen(loadConfig({}))).to.equal(true);
  });

  it('reports one line per bad variable, naming it and what it got', () => {
    expect(
      problemsOf({
        PORT: 'abc',
        NODE_ENV: 'prod',
        LOG_LEVEL: 'loud',
        DB_POOL_SIZE: '1',
        SHUTDOWN_TIMEOUT_MS: '1.5',
        REDIS_URL: 'http://cache',
        EVENTSTORE_CONNECTION_STRING: 'localhost:2113',
      }),
    ).to.deep.equal([
      'NODE_ENV: must be one of development, test, production (got "prod")',
      'PORT: must be an integer between 0 and 65535 (got "abc")',
      'REDIS_URL: must be a redis:// or rediss:// URL (got "http://cache")',
      'EVENTSTORE_CONNECTION_STRING: must look like esdb://host:2113?tls=false (got "localhost:2113")',
      'LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
      'DB_POOL_SIZE: must be an integer between 2 and 100 (got "1")',
      'SHUTDOWN_TIMEOUT_MS: must be an integer between 100 and 600000 (got "1.5")',
    ]);
  });

  it('rejects out-of-range ports', () => {
    expect(problemsOf({ PORT: '65536' })).to.deep.equal(['PORT: must be an integer between 0 and 65535 (got "65536")']);
  });

  it('METRICS_PORT: unset is no listener; a port, 0 included, or one clear line', () => {
    expect(loadConfig({}).METRICS_PORT).to.equal(undefined);
    expect(loadConfig({ METRICS_PORT: '9464' }).METRICS_PORT).to.equal(9464);
    expect(loadConfig({ METRICS_PORT: '0' }).METRICS_PORT).to.equal(0);
    expect(problemsOf({ METRICS_PORT: '70000' })).to.deep.equal(['METRICS_PORT: must be an integer between 0 and 65535 (got "70000")']);
    expect(problemsOf({ METRICS_PORT: ':9464' })).to.deep.equal(['METRICS_PORT: must be an integer between 0 and 65535 (got ":9464")']);
  });

  it('never echoes the password of a bad URL', () => {
    const [line] = problemsOf({ DATABASE_URL: 'mysql://app:hunter2@db/collector' });
    expect(line).to.equal('DATABASE_URL: must be a postgres:// or postgresql:// URL (got "mysql://app:***@db/collector")');
  });

  describe('secrets', () => {
    it('production fails fast, one line each, when JWT_SECRET or ENCRYPTION_KEYS is missing', () => {
      const { JWT_SECRET: _jwt, ENCRYPTION_KEYS: _keys, ...rest } = productionSecrets;
      expect(problemsOf({ NODE_ENV: 'production', ...rest })).to.deep.equal([
        'JWT_SECRET: is required in production',
        'ENCRYPTION_KEYS: is required in production',
      ]);
      expect(problemsOf({ NODE_ENV: 'production', ...rest, JWT_SECRET: productionSecrets.JWT_SECRET })).to.deep.equal([
        'ENCRYPTION_KEYS: is required in production',
      ]);
    });

    it('production refuses the development defaults', () => {
      const { SMTP_URL, PUBLIC_WEB_URL, OPS_TOKEN } = productionSecrets;
      expect(problemsOf({ NODE_ENV: 'production', ...DEV_ONLY_SECRETS, SMTP_URL, PUBLIC_WEB_URL, OPS_TOKEN })).to.deep.equal([
        'JWT_SECRET: must not be the development default in production',
        'ENCRYPTION_KEYS: must not be the development default in production',
      ]);
    });

    it('production refuses the development defaults by value (another key id, spaces around), and weak secrets and keys', () => {
      const devKey = DEV_ONLY_SECRETS.ENCRYPTION_KEYS.split(':')[1]!;
      const refused = (env: Record<string, string>) => problemsOf({ NODE_ENV: 'production', ...productionSecrets, ...env });
      expect(refused({ JWT_SECRET: `${DEV_ONLY_SECRETS.JWT_SECRET} ` })).to.deep.equal([
        'JWT_SECRET: must not be the development default (or a variant of it) in production',
      ]);
      expect(refused({ JWT_SECRET: 'a'.repeat(32) })[0]).to.match(/^JWT_SECRET: too little variety to be a secret/);
      expect(refused({ JWT_SECRET: '0123'.repeat(10) })[0]).to.match(/^JWT_SECRET: too little variety/);
      expect(refused({ ENCRYPTION_KEYS: `k1:${key()},prod:${devKey}` })).to.deep.equal([
        'ENCRYPTION_KEYS: key "prod" is the development default; every key in production must be random (`openssl rand -base64 32`)',
      ]);
      expect(refused({ ENCRYPTION_KEYS: `k1:${Buffer.alloc(32).toString('base64')}` })[0]).to.include('key "k1" is all zeros');
      expect(refused({ ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 'ab').toString('base64')}` })[0]).to.include('key "k1" has too little variety');
    });

    it('production wants an ops token', () => {
      const { OPS_TOKEN: _left, ...withoutToken } = productionSecrets;
      expect(problemsOf({ NODE_ENV: 'production', ...withoutToken })).to.deep.equal([
        'OPS_TOKEN: is required in production (/readyz and /metrics answer only with it)',
      ]);
    });

    it('production wants mail over TLS, an https PUBLIC_WEB_URL, and the merchant ids of every payment provider it verifies', () => {
      const base = { NODE_ENV: 'production', ...productionSecrets };
      expect(problemsOf({ ...base, SMTP_URL: 'smtp://mail.example.test:587' })).to.deep.equal([
        'SMTP_URL: must use TLS in production: smtps://… or smtp://…?requireTLS=true',
      ]);
      expect(loadConfig({ ...base, SMTP_URL: 'smtp://mail.example.test:587?requireTLS=true' }).SMTP_URL).to.include('requireTLS');
      const { PUBLIC_WEB_URL: _left, ...withoutUrl } = base;
      expect(problemsOf(withoutUrl)).to.deep.equal(['PUBLIC_WEB_URL: is required in production (reset and verification links point there)']);
      expect(problemsOf({ ...base, PUBLIC_WEB_URL: 'http://app.example.test' })).to.deep.equal(['PUBLIC_WEB_URL: must be an https:// URL in production']);
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
      expect(problemsOf({ ...base, ALIPAY_PUBLIC_KEY: pem, ALIPAY_APP_ID: '2021000000000000' })).to.deep.equal([
        'ALIPAY_SELLER_ID: is required in production when ALIPAY_PUBLIC_KEY is set',
      ]);
      expect(problemsOf({ ...base, WECHAT_PLATFORM_PUBLIC_KEY: pem })).to.deep.equal([
        'WECHAT_MCH_ID: is required in production when WECHAT_PLATFORM_PUBLIC_KEY is set',
        'WECHAT_APP_ID: is required in production when WECHAT_PLATFORM_PUBLIC_KEY is set',
      ]);
    });

    it('requires email verification in production by default, not elsewhere; either may be chosen', () => {
      expect(loadConfig({ NODE_ENV: 'production', ...productionSecrets }).EMAIL_VERIFICATION).to.equal('required');
      expect(loadConfig({ NODE_ENV: 'production', ...productionSecrets, EMAIL_VERIFICATION: 'off' }).EMAIL_VERIFICATION).to.equal('off');
      expect(loadConfig({ NODE_ENV: 'development' }).EMAIL_VERIFICATION).to.equal('off');
      expect(loadConfig({ NODE_ENV: 'test', EMAIL_VERIFICATION: 'required' }).EMAIL_VERIFICATION).to.equal('required');
    });

    it('listens on 127.0.0.1 outside production (the development secrets are public), on 0.0.0.0 in production', () => {
      expect(loadConfig({ NODE_ENV: 'development' }).HOST).to.equal('127.0.0.1');
      expect(loadConfig({ NODE_ENV: 'production', ...productionSecrets }).HOST).to.equal('0.0.0.0');
      expect(loadConfig({ NODE_ENV: 'development', HOST: '0.0.0.0' }).HOST).to.equal('0.0.0.0');
    });

    it('TRUST_PROXY: addresses, ranges and names, or one clear line', () => {
      expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 192.168.1.5 ,loopback' }).TRUST_PROXY).to.deep.equal(['10.0.0.0/8', '192.168.1.5', 'loopback']);
      expect(problemsOf({ TRUST_PROXY: '10.0.0.0/8,not-an-address' })[0]).to.match(/^TRUST_PROXY: must be comma-separated addresses/);
    });

    it('development and test get the fixed dev-only values', () => {
      for (const NODE_ENV of ['development', 'test']) {
        const config = loadConfig({ NODE_ENV });
        expect(config.JWT_SECRET).to.equal(DEV_ONLY_SECRETS.JWT_SECRET);
        expect(config.ENCRYPTION_KEY_ID).to.equal('dev');
        expect(config.ENCRYPTION_KEYS[0]!.key).to.have.length(32);
      }
    });

    it('never echoes a secret, but shows durations and key ids', () => {
      expect(problemsOf({ JWT_SECRET: 'hunter2', ENCRYPTION_KEYS: 'k1:hunter2', ACCESS_TOKEN_TTL_SECONDS: '5' })).to.deep.equal([
        'JWT_SECRET: must be at least 32 characters (got a value of 7 characters)',
        'ACCESS_TOKEN_TTL_SECONDS: must be an integer between 60 and 86400 (got "5")',
        'ENCRYPTION_KEYS: must be comma-separated keyId:base64 pairs, unique ids, each key 32 bytes (got a value of 10 characters)',
      ]);
    });

    it('rejects TTLs out of range', () => {
      expect(problemsOf({ REFRESH_TOKEN_TTL_DAYS: '0', PASSWORD_RESET_TTL_MINUTES: '2000' })).to.deep.equal([
        'REFRESH_TOKEN_TTL_DAYS: must be an integer between 1 and 365 (got "0")',
        'PASSWORD_RESET_TTL_MINUTES: must be an integer between 5 and 1440 (got "2000")',
      ]);
    });

    it('parses a keyring of several keys; the first encrypts unless ENCRYPTION_KEY_ID says otherwise', () => {
      const [a, b] = [key(), key()];
      const config = loadConfig({ ENCRYPTION_KEYS: ` old:${a} , new-2:${b}` });
      expect(config.ENCRYPTION_KEYS.map((k) => [k.id, k.key.toString('base64')])).to.deep.equal([
        ['old', a],
        ['new-2', b],
      ]);
      expect(config.ENCRYPTION_KEY_ID).to.equal('old');
      expect(loadConfig({ ENCRYPTION_KEYS: `old:${a},new-2:${b}`, ENCRYPTION_KEY_ID: 'new-2' }).ENCRYPTION_KEY_ID).to.equal('new-2');
    });

    for (const [why, value] of [
      ['a 16-byte key', `k1:${randomBytes(16).toString('base64')}`],
      ['no id', `:${randomBytes(32).toString('base64')}`],
      ['no colon', randomBytes(32).toString('base64')],
      ['a duplicate id', `k1:${randomBytes(32).toString('base64')},k1:${randomBytes(32).toString('base64')}`],
      ['an empty entry', `k1:${randomBytes(32).toString('base64')},`],
      ['not base64', `k1:${'!'.repeat(43)}=`],
    ] as const) {
      it(`rejects ENCRYPTION_KEYS with ${why}`, () => {
        expect(problemsOf({ ENCRYPTION_KEYS: value })[0]).to.match(/^ENCRYPTION_KEYS: must be comma-separated keyId:base64 pairs/);
      });
    }

    it('rejects an ENCRYPTION_KEY_ID that is not in the keyring, naming the ids', () => {
      expect(problemsOf({ ENCRYPTION_KEYS: `a:${key()},b:${key()}`, ENCRYPTION_KEY_ID: 'c' })).to.deep.equal([
        'ENCRYPTION_KEY_ID: must be one of the ENCRYPTION_KEYS ids (a, b) (got "c")',
      ]);
    });
  });
});

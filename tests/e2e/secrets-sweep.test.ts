import { expect } from 'chai';
import type { Container } from 'inversify';
import knexFactory, { type Knex } from 'knex';
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { Secret, TOTP } from 'otpauth';
import { ensureDatabase } from '../../src/adapters/db/ensure-database.js';
import { runMigrations } from '../../src/adapters/db/migrate.js';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { createApiApp } from '../../src/api-app.js';
import { generateMerchant, platformEnv, registrationOf } from '../../sandbox/payment-provider/keys.js';
import { startPaymentSandbox, type PaymentSandbox } from '../../sandbox/payment-provider/server.js';
import { generateSmsCredentials, generateSmsProviderKeys, smsPlatformEnv } from '../../sandbox/sms-provider/keys.js';
import { startSmsSandbox, type SmsSandbox } from '../../sandbox/sms-provider/server.js';
import { createAdmin } from '../../src/cli/create-admin.js';
import type { Config } from '../../src/config.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore } from '../../src/event-store/port.js';
import { START } from '../../src/event-store/position.js';
import { buildProcessManagerWiring } from '../../src/main/automation.js';
import { allProcessors, startWorker, type RunningWorker } from '../../src/main/worker.js';
import { processManagers } from '../../src/process-managers/index.js';
import { createProjections } from '../../src/projections/index.js';
import { TOKENS } from '../../src/tokens.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { startFixtureSites, type FixtureSites } from '../support/fixture-sites.js';
import { freePort } from '../support/free-port.js';
import { LocalProxies } from '../support/local-proxies.js';
import { grantPlan } from '../support/plans.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { waitFor } from '../support/wait-for.js';

interface Reply {
  status: number;
  text: string;
  body: any;
  headers: Headers;
}

/**
 * The secrets sweep: every kind of secret handled as a user would, over the
 * real HTTP API — passwords (registration, reset, change, refusals), the
 * token pair (login, refresh, a replayed refresh), the mailed verification,
 * reset and invitation tokens (through the mail queue and an SMTP relay with
 * credentials), TOTP secret and recovery codes with second-step logins, an
 * MFA token, an API key, platform cookies (connected, verified, replaced, used
 * by a collection run), proxy credentials (probed by the health job, one
 * refused, one dead), SMS provider credentials and a phone code, payment
 * merchant keys (an order paid, one placed). The API, the projector and a
 * worker with every queue log at `trace` into a capture of the logger's own
 * output (buildContainer's log destination, the real pino logger). Then no
 * secret in clear where it must not be: not in a log line, not in any key or
 * value of Redis (queues, rate limits, MFA and SMS keys: every type) nor in
 * any command Redis ran meanwhile (MONITOR: jobs removed once done too), not in
 * a response but the one that answers it to its owner, not in an event, not
 * in a table.
 */
describe('secrets sweep (e2e): logs, Redis, responses, events and tables hold no secret in clear', function () {
  this.timeout(90_000);
  const id = randomUUID().replaceAll('-', '').slice(0, 10);
  const PASSWORD = `first pass ${randomBytes(6).toString('hex')}`;
  const RESET_PASSWORD = `reset pass ${randomBytes(6).toString('hex')}`;
  const CHANGED_PASSWORD = `changed pass ${randomBytes(6).toString('hex')}`;
  const ADMIN_PASSWORD = `admin pass ${randomBytes(6).toString('hex')}`;
  const webSession = `ws${randomBytes(16).toString('hex')}`;
  const cookie = `a1=${randomBytes(12).toString('hex')}; web_session=${webSession}`;
  const proxyUsername = `pxu-${randomBytes(6).toString('hex')}`;
  const proxyPassword = `pxp-${randomBytes(12).toString('hex')}`;
  const replacedSession = `ws${randomBytes(16).toString('hex')}`;
  const replacedCookie = `a1=${randomBytes(12).toString('hex')}; web_session=${replacedSession}`;
  const wrongProxyPassword = `pxw-${randomBytes(12).toString('hex')}`;
  const deadProxyPassword = `pxd-${randomBytes(12).toString('hex')}`;
  const smtpUser = `smtp-${randomBytes(4).toString('hex')}`;
  const smtpPass = `smtp-pass-${randomBytes(10).toString('hex')}`;

  const logs: string[] = [];
  const capture = () =>
    new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk));
        done();
      },
    });

  let databaseUrl: string;
  let config: Config;
  let api: Container;
  let workerContainer: Container;
  let store: EventStore;
  let knex: Knex;
  let server: RunningServer;
  let worker: RunningWorker | undefined;
  let automation: ReturnType<typeof buildProcessManagerWiring> | undefined;
  const runners: ConsumerRunner[] = [];
  let sink: SmtpSink;
  let sites: FixtureSites;
  const merchant = generateMerchant();
  let payments: PaymentSandbox;
  const smsCredentials = generateSmsCredentials();
  const smsKeys = generateSmsProviderKeys();
  let sms: SmsSandbox;
  let proxies: LocalProxies;
  /** every command Redis ran while the walk went on (MONITOR): what was written and removed again too */
  const redisCommands: string[] = [];
  let monitor: Redis | undefined;

  /** every answer in order, headers and body */
  const seen: { route: string; text: string }[] = [];
  /** each secret, with what it is */
  const secrets = new Map<string, string>();
  /** the responses that answer a secret to its owner */
  const issuedBy = new Map<string, Set<number>>();
  /** a secret that must appear in no response */
  const secret = (what: string, value: string) => {
    if (!secrets.has(value)) secrets.set(value, what);
    return value;
  };
  /** a secret the last response answered to its owner (it may answer it; no other may) */
  const answered = (what: string, value: string) => {
    expect(seen.at(-1)!.text, what).to.include(value);
    const issuers = issuedBy.get(value) ?? new Set<number>();
    issuers.add(seen.length - 1);
    issuedBy.set(value, issuers);
    return secret(what, value);
  };

  async function call(method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await res.text();
    seen.push({ route: `${method} ${path}`, text: `${JSON.stringify([...res.headers])}\n${text}` });
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.status, text, body, headers: res.headers };
  }

  const totp = (base32: string, steps = 0) =>
    new TOTP({ secret: Secret.fromBase32(base32), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: Date.now() + steps * 30_000 });
  async function awayFromStepEdge(): Promise<void> {
    const into = Date.now() % 30_000;
    if (into > 26_000) await new Promise((resolve) => setTimeout(resolve, 30_000 - into + 100));
  }
  const mailsTo = (email: string) => sink.messages.filter((m) => m.envelope.to.includes(email));
  async function linkToken(email: string, path: string, before: number, param = 'token'): Promise<string> {
    const link = `/${path}?${param}=`;
    await waitFor(
      `a mail to ${email} with ${link}`,
      () =>
        mailsTo(email)
          .slice(before)
          .some((m) => (m.parsed.text ?? '').includes(link)),
      20_000,
      25,
    );
    const mail = mailsTo(email)
      .slice(before)
      .find((m) => (m.parsed.text ?? '').includes(link))!;
    return decodeURIComponent(new RegExp(`/${path}\\?${param}=(\\S+)`).exec(mail.parsed.text ?? '')![1]!);
  }

  before(async () => {
    const dbUrl = new URL(testDatabaseUrl);
    dbUrl.pathname = `/collector_secrets_${id}`;
    databaseUrl = dbUrl.toString();
    await ensureDatabase(databaseUrl);
    const migrator = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 2 } });
    try {
      await runMigrations(migrator);
    } finally {
      await migrator.destroy();
    }
    sink = await new SmtpSink({ auth: { user: smtpUser, pass: smtpPass } }).start();
    sites = await startFixtureSites();
    sms = await startSmsSandbox({ accounts: [smsCredentials], keys: smsKeys, settings: { receiptDelayMs: 50 }, timeScale: 0.01 });
    payments = await startPaymentSandbox({ merchant: registrationOf(merchant), timeScale: 0.001 });
    proxies = await LocalProxies.start(2, { username: proxyUsername, password: proxyPassword });
    config = testConfig({
      LOG_LEVEL: 'trace',
      DATABASE_URL: databaseUrl,
      QUEUE_PREFIX: `secrets-${id}`,
      SMTP_URL: sink.urlWith({ user: smtpUser, pass: smtpPass }),
      EMAIL_VERIFICATION: 'required',
      XIAOHONGSHU_API_URL: sites.urls.xiaohongshuApi,
      XIAOHONGSHU_WEB_URL: sites.urls.xiaohongshuWeb,
      XIAOHONGSHU_CREATOR_URL: sites.urls.xiaohongshuCreator,
      QIDIAN_WEB_URL: sites.urls.qidianWeb,
      PROXY_HEALTH_INTERVAL_MS: '1000',
      PROXY_HEALTH_TARGET_URL: `${sites.urls.xiaohongshuWeb}/explore`,
      DEADLINE_SWEEP_INTERVAL_MS: '200',
      ...smsPlatformEnv({ credentials: smsCredentials, keys: smsKeys, sandboxUrl: sms.url, callbackBaseUrl: 'http://secrets-sms.test' }),
      SMS_CODE_RESEND_SECONDS: '0',
      SMS_SEND_BACKOFF_MS: '100',
      ...platformEnv({ merchant, keys: payments.keys, sandboxUrl: payments.url, notifyBaseUrl: 'http://secrets-api.test' }),
    });
    monitor = await new Redis(config.REDIS_URL, { lazyConnect: false }).monitor();
    monitor.on('monitor', (_time: string, args: string[]) => redisCommands.push(args.join(' ')));
    api = await buildContainer(config, { processName: 'api', logDestination: capture() });
    workerContainer = await buildContainer(config, { processName: 'worker', logDestination: capture() });
    store = api.get(TOKENS.EventStore);
    knex = api.get(TOKENS.Knex);
    const logger = api.get(TOKENS.Logger);
    automation = buildProcessManagerWiring(api, config);
    for (const consumer of [...createProjections({ timeZone: config.QUOTA_TIME_ZONE }), ...processManagers(automation.wiring)]) {
      const runner = new ConsumerRunner({ store, knex, databaseUrl, logger }, consumer, { idleCheckpointMs: 100, lockRetryMs: 100 });
      runner.start();
      runners.push(runner);
    }
    server = await listen(createApiApp(api).callback(), '127.0.0.1', 0);
    payments.resolve.set('secrets-api.test', server.url);
    sms.resolve.set('secrets-sms.test', server.url);
    worker = await startWorker(workerContainer, {
      workerName: `secrets-${id}`,
      processors: allProcessors({
        scraperTuning: { delayMs: [0, 0] },
        context: { allowHosts: ['127.0.0.1'] },
        lockDurationMs: 5_000,
        stalledIntervalMs: 2_000,
      }),
    });
  });

  after(async () => {
    monitor?.disconnect();
    await worker?.stop({ timeoutMs: 2_000 });
    if (server) await closeServer(server.server);
    await Promise.all(runners.map((r) => r.stop()));
    await automation?.close();
    if (api) {
      const redis = api.get(TOKENS.Redis);
      // this run's keys only: its queue prefix, and the rate-limit and session keys naming its users and addresses
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${config.QUEUE_PREFIX}:*`, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
      await disposeContainer(api);
    }
    if (workerContainer) await disposeContainer(workerContainer);
    await proxies?.stopAll();
    await sites?.close();
    await payments?.stop();
    await sms?.stop();
    await sink?.stop();
    const admin = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 1 } });
    try {
      await admin.raw(`DROP DATABASE IF EXISTS "collector_secrets_${id}" WITH (FORCE)`);
    } finally {
      await admin.destroy();
    }
  });

  it('auth, MFA, API key, cookies, proxies, SMS, payments, invitations, password change: no secret in clear in logs, Redis, later responses, events or tables', async () => {
    const startedAt = new Date().toISOString();
    secret('SMTP password', smtpPass);
    // ---- register: the verification link comes by mail, through the queue
    const email = `sweeper-${randomUUID()}@example.test`;
    secret('password (registration)', PASSWORD);
    // refusals carry the password too: a bad email beside it, a wrong type
    const refusedRegistration = await call('POST', '/api/v1/auth/register', { body: { email: 'not an email', password: PASSWORD, display_name: 'sweeper' } });
    expect(refusedRegistration.status, refusedRegistration.text).to.equal(422);
    const registered = await call('POST', '/api/v1/auth/register', { body: { email, password: PASSWORD, display_name: 'sweeper' } });
    expect(registered.status, registered.text).to.equal(201);
    const userId = registered.body.data.user_id as string;
    const verifyToken = secret('email verification token', await linkToken(email, 'verify-email', 0));
    const verified = await call('POST', '/api/v1/auth/verify-email', { body: { token: verifyToken } });
    expect(verified.status, verified.text).to.be.oneOf([200, 204]);

    // ---- login and refresh: the token pair, rotated
    const login = await call('POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
    expect(login.status, login.text).to.equal(200);
    let access = answered('access token (login)', login.body.data.access_token);
    const firstRefresh = answered('refresh token (login)', login.body.data.refresh_token);
    const refreshed = await call('POST', '/api/v1/auth/refresh', { body: { refresh_token: firstRefresh } });
    expect(refreshed.status, refreshed.text).to.equal(200);
    access = answered('access token (refresh)', refreshed.body.data.access_token);
    answered('refresh token (refresh)', refreshed.body.data.refresh_token);
    const replayed = await call('POST', '/api/v1/auth/refresh', { body: { refresh_token: firstRefresh } });
    expect(replayed.status, replayed.text).to.equal(401);
    // a replayed refresh token ends its session: log in again
    const relogin = await call('POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
    expect(relogin.status, relogin.text).to.equal(200);
    access = answered('access token (second login)', relogin.body.data.access_token);
    answered('refresh token (second login)', relogin.body.data.refresh_token);
    await waitFor('the free plans', async () => (await call('GET', '/api/v1/subscriptions', { token: access })).body?.data?.items?.length === 2, 20_000, 50);

    // ---- forgot + reset: the reset token from the mail
    const mailsBefore = mailsTo(email).length;
    expect((await call('POST', '/api/v1/auth/forgot-password', { body: { email } })).status).to.equal(202);
    const resetToken = secret('password reset token', await linkToken(email, 'reset-password', mailsBefore));
    secret('password (reset)', RESET_PASSWORD);
    const reset = await call('POST', '/api/v1/auth/reset-password', { body: { token: resetToken, new_password: RESET_PASSWORD } });
    expect(reset.status, reset.text).to.be.oneOf([200, 204]);
    const again = await call('POST', '/api/v1/auth/login', { body: { email, password: RESET_PASSWORD } });
    expect(again.status, again.text).to.equal(200);
    access = answered('access token (after reset)', again.body.data.access_token);
    answered('refresh token (after reset)', again.body.data.refresh_token);

    // ---- TOTP: enrol, confirm (recovery codes), a second-step login by code and by recovery code
    const started = await call('POST', '/api/v1/users/mfa/totp', { token: access });
    expect(started.status, started.text).to.equal(200);
    const totpSecret = answered('TOTP secret', started.body.data.secret);
    await awayFromStepEdge();
    const confirmed = await call('POST', '/api/v1/users/mfa/totp/confirm', { token: access, body: { code: totp(totpSecret, -1) } });
    expect(confirmed.status, confirmed.text).to.equal(200);
    const recoveryCodes = confirmed.body.data.recovery_codes as string[];
    expect(recoveryCodes.length).to.be.greaterThan(1);
    for (const code of recoveryCodes) answered('recovery code', code);
    const stepOne = await call('POST', '/api/v1/auth/login', { body: { email, password: RESET_PASSWORD } });
    expect(stepOne.body.data?.mfa_required, stepOne.text).to.equal(true);
    answered('mfa token', stepOne.body.data.mfa_token);
    await awayFromStepEdge();
    const stepTwo = await call('POST', '/api/v1/auth/login/mfa', { body: { mfa_token: stepOne.body.data.mfa_token, code: totp(totpSecret) } });
    expect(stepTwo.status, stepTwo.text).to.equal(200);
    access = answered('access token (TOTP login)', stepTwo.body.data.access_token);
    answered('refresh token (TOTP login)', stepTwo.body.data.refresh_token);
    await awayFromStepEdge();
    const regenerated = await call('POST', '/api/v1/users/mfa/recovery-codes', { token: access, body: { code: totp(totpSecret, 1) } });
    expect(regenerated.status, regenerated.text).to.equal(200);
    const newCodes = regenerated.body.data.recovery_codes as string[];
    for (const code of newCodes) answered('recovery code (regenerated)', code);
    recoveryCodes.splice(0, recoveryCodes.length, ...newCodes);
    const stepOneAgain = await call('POST', '/api/v1/auth/login', { body: { email, password: RESET_PASSWORD } });
    answered('mfa token', stepOneAgain.body.data.mfa_token);
    const byRecovery = await call('POST', '/api/v1/auth/login/mfa', {
      body: { mfa_token: stepOneAgain.body.data.mfa_token, recovery_code: recoveryCodes[0] },
    });
    expect(byRecovery.status, byRecovery.text).to.equal(200);
    answered('access token (recovery login)', byRecovery.body.data.access_token);
    answered('refresh token (recovery login)', byRecovery.body.data.refresh_token);

    // ---- an API key, created and used with both headers
    await grantPlan(store, userId, 'qidian', 'enterprise');
    const created = await call('POST', '/api/v1/users/api-keys', { token: access, body: { name: 'sweep', scopes: ['read'] } });
    expect(created.status, created.text).to.equal(201);
    const apiKey = answered('API key', created.body.data.key);
    const keyHeaders: Record<string, string>[] = [{ 'X-API-Key': apiKey }, { Authorization: `Bearer ${apiKey}` }];
    for (const headers of keyHeaders) {
      const used = await call('GET', '/api/v1/qidian/trackings', { headers });
      expect(used.status, used.text).to.equal(200);
    }
    const wrongKey = await call('GET', '/api/v1/qidian/trackings', { headers: { 'X-API-Key': `${apiKey.slice(0, -4)}AAAA` } });
    expect(wrongKey.status).to.equal(401);

    // ---- a platform account with cookies, verified against the platform
    secret('platform cookie', cookie);
    secret('platform web_session', webSession);
    const connected = await call('POST', '/api/v1/platform-accounts', {
      token: access,
      body: { platform: 'xiaohongshu', credentials: { cookies: cookie }, display_name: '主号' },
    });
    expect(connected.status, connected.text).to.equal(201);
    const accountVerified = await call('POST', `/api/v1/platform-accounts/${connected.body.data.id}/verify`, { token: access });
    expect(accountVerified.body.data, accountVerified.text).to.include({ verified: true });
    // ---- a proxy with credentials (admin), probed by the worker's health job through them
    secret('proxy password', proxyPassword);
    secret('proxy credentials', `${proxyUsername}:${proxyPassword}`);
    const adminEmail = `admin-${id}@example.test`;
    secret('password (admin)', ADMIN_PASSWORD);
    await createAdmin({ store, passwordHasher: api.get(TOKENS.PasswordHasher) }, { email: adminEmail, password: ADMIN_PASSWORD });
    const adminLogin = await call('POST', '/api/v1/auth/login', { body: { email: adminEmail, password: ADMIN_PASSWORD } });
    expect(adminLogin.status, adminLogin.text).to.equal(200);
    const adminToken = answered('access token (admin)', adminLogin.body.data.access_token);
    answered('refresh token (admin)', adminLogin.body.data.refresh_token);
    const proxy = proxies.at(0);
    const registeredProxy = await call('POST', '/api/v1/proxies', {
      token: adminToken,
      body: {
        host: '127.0.0.1',
        port: proxy.port,
        protocol: 'http',
        username: proxyUsername,
        password: proxyPassword,
        country: 'CN',
        region: 'shanghai',
        provider: 'sweep',
      },
    });
    expect(registeredProxy.status, registeredProxy.text).to.equal(201);
    // one more with a password the proxy refuses
    secret('proxy password (refused)', wrongProxyPassword);
    const wrongProxy = await call('POST', '/api/v1/proxies', {
      token: adminToken,
      body: { host: '127.0.0.1', port: proxies.at(1).port, protocol: 'http', username: proxyUsername, password: wrongProxyPassword, provider: 'sweep' },
    });
    expect(wrongProxy.status, wrongProxy.text).to.equal(201);
    // and one where nothing listens
    secret('proxy password (dead proxy)', deadProxyPassword);
    const deadProxy = await call('POST', '/api/v1/proxies', {
      token: adminToken,
      body: { host: '127.0.0.1', port: await freePort(), protocol: 'http', username: proxyUsername, password: deadProxyPassword, provider: 'sweep' },
    });
    expect(deadProxy.status, deadProxy.text).to.equal(201);
    // the worker's health job probes them through their credentials
    await waitFor('a probe through each proxy', () => proxy.requests.length > 0 && proxies.at(1).refused > 0, 15_000, 50);

    // ---- a collection run on the account, through the proxy: the worker leases it and sends the cookies
    const probesBefore = proxy.requests.length;
    const workflow = await call('POST', '/api/v1/workflows', {
      token: access,
      body: {
        name: 'sweep',
        type: 'xiaohongshu.notes',
        config: { mode: 'keyword', keyword: sites.manifest.xiaohongshu.keyword, maxItems: 5 },
        platform_account_id: connected.body.data.id,
      },
    });
    expect(workflow.status, workflow.text).to.equal(201);
    const execution = await call('POST', `/api/v1/workflows/${workflow.body.data.id}/execute`, { token: access });
    expect(execution.status, execution.text).to.equal(202);
    let executionStatus = '';
    await waitFor(
      'the execution to end',
      async () => {
        executionStatus = (await call('GET', `/api/v1/workflows/executions/${execution.body.data.execution_id}`, { token: access })).body?.data?.status;
        return ['completed', 'failed', 'cancelled'].includes(executionStatus);
      },
      20_000,
      100,
    );
    expect(executionStatus).to.equal('completed');
    expect(proxy.requests.length, 'the run went through the proxy').to.be.greaterThan(probesBefore);

    // new cookies: replaced, then verified (singly and in a batch)
    secret('platform cookie (replaced)', replacedCookie);
    secret('platform web_session (replaced)', replacedSession);
    const accountNow = await call('GET', `/api/v1/platform-accounts/${connected.body.data.id}?after_position=${accountVerified.body.data.position}`, {
      token: access,
    });
    const replaced = await call('PUT', `/api/v1/platform-accounts/${connected.body.data.id}`, {
      token: access,
      headers: { 'If-Match': accountNow.headers.get('etag') ?? '*' },
      body: { credentials: { cookies: replacedCookie } },
    });
    expect(replaced.status, replaced.text).to.equal(200);
    const reverified = await call('POST', `/api/v1/platform-accounts/${connected.body.data.id}/verify`, { token: access });
    expect(reverified.status, reverified.text).to.equal(200);
    const batch = await call('POST', '/api/v1/platform-accounts/batch', { token: access, body: { action: 'verify', ids: [connected.body.data.id] } });
    expect(batch.status, batch.text).to.equal(200);
    const malformed = await call('POST', '/api/v1/platform-accounts', {
      token: access,
      body: { platform: 'xiaohongshu', credentials: { cookies: `no-session-here=${replacedSession}` }, display_name: '坏号' },
    });
    expect(malformed.status, malformed.text).to.be.within(400, 499);

    // ---- payments: the merchant keys sign and decrypt; an order paid with Alipay (its signed notification), one placed with WeChat
    const pemLine = (pem: string) => pem.split('\n').filter((l) => l && !l.startsWith('-----'))[3]!;
    secret('Alipay app private key', pemLine(merchant.alipay.app.privateKeyPem));
    secret('WeChat merchant private key', pemLine(merchant.wechat.merchant.privateKeyPem));
    secret('WeChat API v3 key', merchant.wechat.apiV3Key);
    const order = await call('POST', '/api/v1/payments/orders', {
      token: access,
      body: { service: 'xiaohongshu', plan: 'pro', billing_cycle: 'monthly', provider: 'alipay' },
    });
    expect(order.status, order.text).to.equal(201);
    await fetch(order.body.data.pay_url);
    await payments.pay('alipay', order.body.data.order_id);
    const paid = await payments.waitForDelivery((d) => d.provider === 'alipay' && d.request.body.includes(order.body.data.order_id));
    expect(paid.answer).to.equal('success');
    const wechatOrder = await call('POST', '/api/v1/payments/orders', {
      token: access,
      body: { service: 'qidian', plan: 'pro', billing_cycle: 'monthly', provider: 'wechat' },
    });
    expect(wechatOrder.status, wechatOrder.text).to.be.oneOf([201, 409]);

    // ---- SMS: the provider's credentials; a phone verified by its code
    secret('SMS provider API secret', smsCredentials.apiSecret);
    const phone = `+861380013${String(Math.floor(Math.random() * 10_000)).padStart(4, '0')}`;
    const smsTo = () => [...sms.messages.values()].filter((m) => m.to === phone);
    const putPhone = await call('PUT', '/api/v1/users/me/phone', { token: access, body: { phone } });
    expect(putPhone.status, putPhone.text).to.equal(202);
    await waitFor(`an SMS to ${phone}`, () => smsTo().length > 0, 20_000, 20);
    const smsCode = /\b(\d{6})\b/.exec(smsTo().at(-1)!.text)![1]!;
    // a six-digit code is searched quoted, as a JSON value holds it (bare, it would match a position or a pid)
    secret('SMS code', `"${smsCode}"`);
    secret('SMS text with its code', smsTo().at(-1)!.text);
    const wrongCode = await call('POST', '/api/v1/users/me/phone/verify', { token: access, body: { code: smsCode === '000000' ? '111111' : '000000' } });
    expect(wrongCode.status, wrongCode.text).to.be.within(400, 499);
    const phoneVerified = await call('POST', '/api/v1/users/me/phone/verify', { token: access, body: { code: smsCode } });
    expect(phoneVerified.status, phoneVerified.text).to.equal(200);

    // ---- an organization invitation: the link's token from the mail, accepted by the invitee
    const inviteeEmail = `invitee-${randomUUID()}@example.test`;
    const invitee = await call('POST', '/api/v1/auth/register', { body: { email: inviteeEmail, password: PASSWORD, display_name: 'invitee' } });
    expect(invitee.status, invitee.text).to.equal(201);
    secret('email verification token (invitee)', await linkToken(inviteeEmail, 'verify-email', 0));
    const inviteeLogin = await call('POST', '/api/v1/auth/login', { body: { email: inviteeEmail, password: PASSWORD } });
    const inviteeAccess = answered('access token (invitee)', inviteeLogin.body.data.access_token);
    answered('refresh token (invitee)', inviteeLogin.body.data.refresh_token);
    const org = await call('POST', '/api/v1/organizations', { token: access, body: { name: 'Sweep Co' } });
    expect(org.status, org.text).to.equal(201);
    const inviteMails = mailsTo(inviteeEmail).length;
    const invited = await call('POST', `/api/v1/organizations/${org.body.data.id}/invitations`, {
      token: access,
      body: { email: inviteeEmail, roles: ['analyst'] },
    });
    expect(invited.status, invited.text).to.equal(201);
    const invitationToken = secret('invitation token', await linkToken(inviteeEmail, 'invitations/accept', inviteMails, 'invitation'));
    const accepted = await call('POST', '/api/v1/invitations/accept', { token: inviteeAccess, body: { token: invitationToken } });
    expect(accepted.status, accepted.text).to.equal(200);

    // ---- a password change, with the wrong current password first
    secret('password (changed)', CHANGED_PASSWORD);
    const wrong = await call('PUT', '/api/v1/users/me/password', {
      token: access,
      body: { current_password: `${RESET_PASSWORD}x`, new_password: CHANGED_PASSWORD },
    });
    expect(wrong.status, wrong.text).to.equal(403);
    const shortPassword = secret('password (too short)', `s${randomBytes(2).toString('hex')}!`);
    const tooShort = await call('PUT', '/api/v1/users/me/password', { token: access, body: { current_password: RESET_PASSWORD, new_password: shortPassword } });
    expect(tooShort.status, tooShort.text).to.equal(422);
    const changed = await call('PUT', '/api/v1/users/me/password', {
      token: access,
      body: { current_password: RESET_PASSWORD, new_password: CHANGED_PASSWORD },
    });
    expect(changed.status, changed.text).to.equal(200);
    const wrongLogin = await call('POST', '/api/v1/auth/login', { body: { email, password: RESET_PASSWORD } });
    expect(wrongLogin.status).to.equal(401);
    await call('POST', '/api/v1/auth/logout', { token: access });

    // let the queues and the projector catch up, so what they write is swept too
    await waitFor('the mails sent', () => mailsTo(email).length >= 2, 10_000, 50);
    await new Promise((resolve) => setTimeout(resolve, 1_500));

    /** the clear text, and its URL-encoded and base64 forms; for `<id>.<id>.<secret>` tokens the secret part alone */
    const forms = (value: string): string[] => {
      const out = new Set([value, encodeURIComponent(value), Buffer.from(value).toString('base64')]);
      const tail = value.split('.').at(-1)!;
      if (tail !== value && tail.length >= 16) out.add(tail);
      return [...out];
    };
    const leaksIn = (where: string, text: string): string[] => {
      const found: string[] = [];
      for (const [value, what] of secrets) for (const form of forms(value)) if (text.includes(form)) found.push(`${what} in ${where}`);
      return found;
    };

    // 1. the logs: every line the API, projector and worker wrote
    expect(logs.length, 'trace logs were captured').to.be.greaterThan(50);
    const logLeaks = logs.flatMap((line) => leaksIn('a log line', line).map((leak) => `${leak}: ${line.slice(0, 400)}`));
    expect(logLeaks, 'log lines holding a secret').to.deep.equal([]);

    // 2. Redis: every key of this database, and every value of every type
    const redis = api.get(TOKENS.Redis);
    const redisLeaks: string[] = [];
    let keyCount = 0;
    const sweptKeys: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        keyCount++;
        sweptKeys.push(key);
        const type = await redis.type(key);
        let content: unknown;
        if (type === 'string') content = await redis.get(key);
        else if (type === 'hash') content = await redis.hgetall(key);
        else if (type === 'list') content = await redis.lrange(key, '0', '-1');
        else if (type === 'set') content = await redis.smembers(key);
        else if (type === 'zset') content = await redis.zrange(key, '0', '-1', 'WITHSCORES');
        else if (type === 'stream') content = await redis.xrange(key, '-', '+');
        else content = `(${type})`;
        redisLeaks.push(...leaksIn(`Redis ${type} ${key}`, `${key}\n${JSON.stringify(content)}`));
      }
    } while (cursor !== '0');
    expect(keyCount, 'Redis keys swept').to.be.greaterThan(5);
    // the jobs themselves were read: mail, SMS, scrape
    for (const queue of ['mail', 'sms-send', 'scrape']) {
      expect(
        sweptKeys.some((k) => k.startsWith(`${config.QUEUE_PREFIX}:${queue}:`) && /[0-9a-f]{8}-/.test(k)),
        `a ${queue} job swept`,
      ).to.equal(true);
    }
    expect(redisLeaks, 'Redis keys or values holding a secret').to.deep.equal([]);
    // … nor in any command it ran meanwhile (jobs removed once done, keys since expired)
    expect(redisCommands.length, 'Redis commands seen').to.be.greaterThan(100);
    const commandLeaks = redisCommands.flatMap((command) => leaksIn('a Redis command', command).map((leak) => `${leak}: ${command.slice(0, 300)}`));
    expect(commandLeaks, 'Redis commands carrying a secret').to.deep.equal([]);

    // 3. responses: a secret is answered to its owner by the call that issues it, and by no other
    // (an access token is a JWT without an id: a refresh in the login's second issues the same one)
    const responseLeaks: string[] = [];
    for (const [value, what] of secrets) {
      const issuers = issuedBy.get(value) ?? new Set<number>();
      seen.forEach((s, i) => {
        if (!issuers.has(i) && forms(value).some((form) => s.text.includes(form))) responseLeaks.push(`${what} answered by ${s.route}`);
      });
    }
    expect(responseLeaks, 'responses repeating a secret').to.deep.equal([]);

    // 4. the events since the walk began, data and metadata
    const events = (await store.readAll({ fromPosition: START, maxCount: 1_000_000 })).filter((e) => e.created.toISOString() >= startedAt);
    expect(events.length).to.be.greaterThan(20);
    const eventLeaks = events.flatMap((e) => leaksIn(`event ${e.type} (${e.streamName})`, JSON.stringify({ data: e.data, metadata: e.metadata })));
    expect(eventLeaks, 'events holding a secret').to.deep.equal([]);

    // 5. every table of this database (read models, checkpoints, idempotency keys, the event store, the outbox)
    const tables = (
      await knex.raw(`SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
    ).rows as { table_schema: string; table_name: string }[];
    expect(tables.map((t) => t.table_name)).to.include.members(['es_events', 'platform_accounts', 'proxies']);
    const tableLeaks: string[] = [];
    for (const { table_schema, table_name } of tables) {
      const rows = (await knex.raw(`SELECT t::text AS row FROM ??.?? AS t`, [table_schema, table_name])).rows as { row: string }[];
      for (const { row } of rows) tableLeaks.push(...leaksIn(`table ${table_name}`, row));
    }
    expect(tableLeaks, 'table rows holding a secret').to.deep.equal([]);
  });
});

import { expect } from 'chai';
import type { Container } from 'inversify';
import type { Knex } from 'knex';
import { createHmac, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { chromium } from 'playwright';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { LOGIN_ACCOUNT_PREFIX, LOGIN_IP_PREFIX } from '../../src/adapters/rate-limit/login-rate-limit.js';
import { AUTH_RATE_PREFIX } from '../../src/adapters/rate-limit/auth-rate-limits.js';
import { createApiApp } from '../../src/api-app.js';
import type { SecretBox } from '../../src/application/ports/secret-box.js';
import { createAdmin } from '../../src/cli/create-admin.js';
import type { Config } from '../../src/config.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import type { EventStore } from '../../src/event-store/index.js';
import { usersProjection } from '../../src/projections/users.js';
import { TOKENS } from '../../src/tokens.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';

interface Reply {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

const PASSWORD = 'correct horse battery';
/** wrong second factors a user may give per hour in this test (AUTH_RATE_LIMIT_PER_ACCOUNT_HOURLY) */
const WRONG_CODES_PER_HOUR = 6;

// ---------------------------------------------------------------- RFC 6238, written out here (the app's library is not asked)

function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const char of text.replace(/=+$/, '').toUpperCase()) {
    const value = alphabet.indexOf(char);
    if (value < 0) throw new Error(`not base32: ${char}`);
    bits += value.toString(2).padStart(5, '0');
  }
  const bytes: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(Number.parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** HOTP (RFC 4226) of `step` with HMAC-SHA1, `digits` long. */
function hotp(key: Buffer, step: number, digits = 6): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(value).padStart(digits, '0');
}

const stepNow = () => Math.floor(Date.now() / 30_000);

/**
 * A code the server has not seen from this user: of the step now or the next
 * one (both within its ±1 drift), or of the last one while it is young
 * enough; otherwise it waits for the next step.
 */
async function freshCode(secret: string, used: Set<number>): Promise<string> {
  for (;;) {
    const now = stepNow();
    const intoStepMs = Date.now() % 30_000;
    const candidates = [now + 1, now, ...(intoStepMs < 20_000 ? [now - 1] : [])];
    const step = candidates.find((s) => !used.has(s));
    if (step !== undefined) {
      used.add(step);
      return hotp(base32Decode(secret), step);
    }
    await new Promise((resolve) => setTimeout(resolve, 30_000 - intoStepMs + 50));
  }
}

/** A code that is none of the steps the server accepts now. */
function wrongCode(secret: string): string {
  const key = base32Decode(secret);
  const valid = new Set([-2, -1, 0, 1, 2].map((d) => hotp(key, stepNow() + d)));
  for (let n = 0; ; n += 1) {
    const code = String(n).padStart(6, '0');
    if (!valid.has(code)) return code;
  }
}

// ---------------------------------------------------------------- the API

interface MfaApi {
  url: string;
  config: Config;
  container: Container;
  store: EventStore;
  knex: Knex;
  secretBox: SecretBox;
  logs: string[];
  seen: string[];
  call(method: string, path: string, options?: { body?: unknown; token?: string; raw?: string }): Promise<Reply>;
  stop(): Promise<void>;
}

/** The real api app from the container on a socket, its logs (debug and up) kept, the users projection running in-process. */
async function startMfaApi(): Promise<MfaApi> {
  const logs: string[] = [];
  const logSink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const config = testConfig({
    LOG_LEVEL: 'debug',
    QUEUE_PREFIX: `test-mfa-${randomUUID().slice(0, 8)}`,
    LOGIN_RATE_LIMIT_PER_IP: '10000',
    LOGIN_RATE_LIMIT_PER_ACCOUNT: '1000',
    AUTH_RATE_LIMIT_PER_ACCOUNT_HOURLY: String(WRONG_CODES_PER_HOUR),
    TOTP_ISSUER: 'Collector Test',
  });
  const container = await buildContainer(config, { logDestination: logSink });
  const store: EventStore = container.get(TOKENS.EventStore);
  const knex = container.get(TOKENS.Knex);
  const runner = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl }, usersProjection, { idleCheckpointMs: 100, lockRetryMs: 100 });
  runner.start();
  const running: RunningServer = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
  const seen: string[] = [];
  return {
    url: running.url,
    config,
    container,
    store,
    knex,
    secretBox: container.get(TOKENS.SecretBox),
    logs,
    seen,
    async call(method, path, options = {}) {
      const headers: Record<string, string> = {};
      if (options.body !== undefined || options.raw !== undefined) headers['Content-Type'] = 'application/json';
      if (options.token) headers.Authorization = `Bearer ${options.token}`;
      const res = await fetch(`${running.url}${path}`, {
        method,
        headers,
        body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
      });
      const text = await res.text();
      seen.push(text);
      return { status: res.status, headers: res.headers, body: JSON.parse(text), text };
    },
    async stop() {
      await closeServer(running.server);
      await runner.stop();
      const redis = container.get(TOKENS.Redis);
      for (const pattern of [`${config.QUEUE_PREFIX}:*`, `${AUTH_RATE_PREFIX}:login-mfa:*`, `${LOGIN_ACCOUNT_PREFIX}:*`, `${LOGIN_IP_PREFIX}:*`]) {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
          cursor = next;
          if (keys.length > 0) await redis.del(...keys);
        } while (cursor !== '0');
      }
      await disposeContainer(container);
    },
  };
}

describe('multi-factor authentication: TOTP and recovery codes (e2e)', function () {
  this.timeout(180_000);
  let api: MfaApi;

  before(async () => {
    api = await startMfaApi();
  });
  after(async () => {
    await api?.stop();
  });

  interface Account {
    email: string;
    username: string;
    userId: string;
    token: string;
    /** steps whose codes the server has seen from this user */
    used: Set<number>;
  }

  async function signUp(name: string): Promise<Account> {
    const tag = randomUUID().replaceAll('-', '').slice(0, 10);
    const email = `${name}-${tag}@example.test`;
    const username = `${name}_${tag}`;
    const registered = await api.call('POST', '/api/v1/auth/register', { body: { email, username, password: PASSWORD, display_name: name } });
    expect(registered.status, registered.text).to.equal(201);
    const loggedIn = await api.call('POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
    expect(loggedIn.status, loggedIn.text).to.equal(200);
    return { email, username, userId: registered.body.data.user_id, token: loggedIn.body.data.access_token, used: new Set() };
  }

  async function profile(account: Account, afterPosition?: string | null): Promise<any> {
    const query = afterPosition ? `?after_position=${encodeURIComponent(afterPosition)}` : '';
    const reply = await api.call('GET', `/api/v1/users/profile${query}`, { token: account.token });
    expect(reply.status, reply.text).to.equal(200);
    return reply.body.data;
  }

  /** Enrolls and confirms TOTP: the secret, the URI and the recovery codes. */
  async function turnOn(account: Account): Promise<{ secret: string; uri: string; codes: string[]; position: string }> {
    const started = await api.call('POST', '/api/v1/users/mfa/totp', { token: account.token });
    expect(started.status, started.text).to.equal(200);
    expect(started.headers.get('cache-control')).to.equal('no-store');
    const { secret, otpauth_uri: uri } = started.body.data;
    const confirmed = await api.call('POST', '/api/v1/users/mfa/totp/confirm', { token: account.token, body: { code: await freshCode(secret, account.used) } });
    expect(confirmed.status, confirmed.text).to.equal(200);
    return { secret, uri, codes: confirmed.body.data.recovery_codes, position: confirmed.body.data.position };
  }

  const login = (body: Record<string, unknown>) => api.call('POST', '/api/v1/auth/login', { body: { password: PASSWORD, ...body } });
  const secondStep = (body: Record<string, unknown>) => api.call('POST', '/api/v1/auth/login/mfa', { body });
  const reason = (reply: Reply) => reply.body.error?.details?.reason;

  it('enrolls, needs the second step at login, takes each code once, and turns off with the password and a code', async () => {
    const ann = await signUp('ann');
    expect((await profile(ann)).mfa).to.deep.equal({ totp: 'off', recovery_codes_left: 0, sms: false });

    // enrollment: the secret and the otpauth URI once; a second start replaces the pending one
    const first = await api.call('POST', '/api/v1/users/mfa/totp', { token: ann.token });
    expect(first.status, first.text).to.equal(200);
    const started = await api.call('POST', '/api/v1/users/mfa/totp', { token: ann.token });
    expect(started.status, started.text).to.equal(200);
    const { secret, otpauth_uri: uri } = started.body.data;
    expect(secret)
      .to.match(/^[A-Z2-7]{32}$/)
      .and.not.equal(first.body.data.secret);
    const parsed = new URL(uri);
    expect(parsed.protocol).to.equal('otpauth:');
    expect(parsed.host).to.equal('totp');
    expect(decodeURIComponent(parsed.pathname)).to.equal(`/Collector Test:${ann.username}`);
    expect(Object.fromEntries(parsed.searchParams)).to.include({ secret, issuer: 'Collector Test', algorithm: 'SHA1', digits: '6', period: '30' });
    expect((await profile(ann, started.body.data.position)).mfa).to.deep.equal({ totp: 'pending', recovery_codes_left: 0, sms: false });

    // pending is not on: logins stay single-step
    expect((await login({ email: ann.email })).body.data).to.have.property('access_token');

    // a code of the replaced secret, a wrong code and a malformed one are refused
    const stale = await api.call('POST', '/api/v1/users/mfa/totp/confirm', {
      token: ann.token,
      body: { code: await freshCode(first.body.data.secret, new Set()) },
    });
    expect([stale.status, stale.body.error.code, reason(stale)]).to.deep.equal([403, 'PERMISSION_DENIED', 'totp_code_invalid']);
    const malformed = await api.call('POST', '/api/v1/users/mfa/totp/confirm', { token: ann.token, body: { code: '12ab56' } });
    expect([malformed.status, malformed.body.error.code]).to.deep.equal([422, 'VALIDATION_ERROR']);

    // confirmation with a code computed here: ten recovery codes, once
    const code = await freshCode(secret, ann.used);
    const confirmed = await api.call('POST', '/api/v1/users/mfa/totp/confirm', { token: ann.token, body: { code } });
    expect(confirmed.status, confirmed.text).to.equal(200);
    const codes: string[] = confirmed.body.data.recovery_codes;
    expect(codes).to.have.length(10);
    expect(new Set(codes).size).to.equal(10);
    for (const c of codes) expect(c).to.match(/^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/);
    expect((await profile(ann, confirmed.body.data.position)).mfa).to.deep.equal({ totp: 'on', recovery_codes_left: 10, sms: false });
    const again = await api.call('POST', '/api/v1/users/mfa/totp/confirm', { token: ann.token, body: { code: await freshCode(secret, ann.used) } });
    expect([again.status, reason(again)]).to.deep.equal([409, 'totp_enabled']);
    const restart = await api.call('POST', '/api/v1/users/mfa/totp', { token: ann.token });
    expect([restart.status, reason(restart)]).to.deep.equal([409, 'totp_enabled']);

    // login: the password answers a challenge and no tokens (by email and by username)
    const byName = await login({ username: ann.username });
    expect(byName.status, byName.text).to.equal(200);
    expect(byName.body.data).to.have.keys('mfa_required', 'mfa_token', 'methods', 'expires_at');
    const challenged = await login({ email: ann.email });
    expect(challenged.status, challenged.text).to.equal(200);
    const { mfa_required, mfa_token, methods, expires_at } = challenged.body.data;
    expect([mfa_required, methods]).to.deep.equal([true, ['totp', 'recovery_code']]);
    expect(challenged.body.data).to.not.have.any.keys('access_token', 'refresh_token');
    expect(Date.parse(expires_at) - Date.now()).to.be.within(4 * 60_000, 5 * 60_000 + 1000);
    expect((await login({ email: ann.email, password: 'wrong password' })).status).to.equal(401);

    // malformed second steps are 422; an altered token 401
    for (const body of [
      { mfa_token },
      { mfa_token, code: '123' },
      { mfa_token, code: '123456', recovery_code: codes[0] },
      { mfa_token, recovery_code: 'not a code' },
    ]) {
      const reply = await secondStep(body);
      expect([reply.status, reply.body.error.code], JSON.stringify(body)).to.deep.equal([422, 'VALIDATION_ERROR']);
    }
    const altered = await secondStep({ mfa_token: `${mfa_token.slice(0, -4)}AAAA`, code: await freshCode(secret, new Set()) });
    expect([altered.status, altered.body.error.code, reason(altered)]).to.deep.equal([401, 'UNAUTHENTICATED', 'mfa_token_invalid']);

    // the code works once: the session starts only now; the same code again is refused
    const totpCode = await freshCode(secret, ann.used);
    const signedIn = await secondStep({ mfa_token, code: totpCode });
    expect(signedIn.status, signedIn.text).to.equal(200);
    expect(signedIn.body.data).to.include.keys('access_token', 'refresh_token', 'session_id');
    expect(signedIn.body.data.user_id).to.equal(ann.userId);
    const replayed = await secondStep({ mfa_token: byName.body.data.mfa_token, code: totpCode });
    expect([replayed.status, reason(replayed)]).to.deep.equal([401, 'totp_code_replayed']);
    // the challenge finishes one login: used again (with an unused recovery code, which stays unused) it is refused
    const reused = await secondStep({ mfa_token, recovery_code: codes[1] });
    expect([reused.status, reason(reused)]).to.deep.equal([401, 'mfa_token_used']);
    const me = await api.call('GET', '/api/v1/users/profile', { token: signedIn.body.data.access_token });
    expect(me.status).to.equal(200);

    // a recovery code works once (any case, without dashes), then never again
    const viaRecovery = await secondStep({ mfa_token: byName.body.data.mfa_token, recovery_code: codes[0]!.replaceAll('-', '').toUpperCase() });
    expect(viaRecovery.status, viaRecovery.text).to.equal(200);
    expect((await profile(ann, viaRecovery.body.data.position)).mfa).to.deep.equal({ totp: 'on', recovery_codes_left: 9, sms: false });
    const next = (await login({ email: ann.email })).body.data.mfa_token;
    const usedAgain = await secondStep({ mfa_token: next, recovery_code: codes[0] });
    expect([usedAgain.status, reason(usedAgain)]).to.deep.equal([401, 'recovery_code_used']);
    const unknown = await secondStep({ mfa_token: next, recovery_code: 'aaaa-bbbb-cccc-dddd' });
    expect([unknown.status, reason(unknown)]).to.deep.equal([401, 'recovery_code_invalid']);
    const userEvents = await api.store.readStream(`user-${ann.userId}`);
    expect(userEvents.filter((e) => e.type === 'RecoveryCodeUsed')).to.have.length(1);

    // turning off needs the password and a code
    const noFactor = await api.call('DELETE', '/api/v1/users/mfa/totp', { token: ann.token, body: { password: PASSWORD } });
    expect([noFactor.status, noFactor.body.error.code]).to.deep.equal([422, 'VALIDATION_ERROR']);
    const wrongPassword = await api.call('DELETE', '/api/v1/users/mfa/totp', { token: ann.token, body: { password: 'not it', code: wrongCode(secret) } });
    expect([wrongPassword.status, reason(wrongPassword)]).to.deep.equal([403, 'password_invalid']);
    const off = await api.call('DELETE', '/api/v1/users/mfa/totp', { token: ann.token, body: { password: PASSWORD, code: await freshCode(secret, ann.used) } });
    expect(off.status, off.text).to.equal(200);
    expect((await profile(ann, off.body.data.position)).mfa).to.deep.equal({ totp: 'off', recovery_codes_left: 0, sms: false });
    const offAgain = await api.call('DELETE', '/api/v1/users/mfa/totp', { token: ann.token, body: { password: PASSWORD, recovery_code: codes[2] } });
    expect([offAgain.status, offAgain.body.data.position]).to.deep.equal([200, null]);

    // single-step again, by email and by username; the old challenge is void
    for (const body of [{ email: ann.email }, { username: ann.username }]) {
      const single = await login(body);
      expect(single.status, single.text).to.equal(200);
      expect(single.body.data).to.include.keys('access_token', 'refresh_token');
    }
    const afterOff = await secondStep({ mfa_token: next, recovery_code: codes[3] });
    expect([afterOff.status, reason(afterOff)]).to.deep.equal([401, 'mfa_token_invalid']);

    // the secret and the recovery codes: sealed in the events, nowhere in read tables, logs or later answers
    const events = await api.store.readStream(`user-${ann.userId}`);
    const enrollment = events.filter((e) => e.type === 'TotpEnrollmentStarted').at(-1)!;
    const sealed = (enrollment.data as any).secret;
    expect(Object.keys(sealed).sort()).to.deep.equal(['ciphertext', 'iv', 'keyId', 'tag']);
    expect(api.secretBox.decrypt(sealed, `totp:${ann.userId}`)).to.equal(secret);
    const secrets = [secret, first.body.data.secret, ...codes, ...codes.map((c) => c.replaceAll('-', ''))];
    const stored = JSON.stringify(events.map((e) => e.data));
    const rows = JSON.stringify([await api.knex('users').where({ id: ann.userId }), await api.knex('user_sessions').where({ user_id: ann.userId })]);
    const logs = api.logs.join('');
    // the logs were captured, the refusals among them
    expect(logs).to.include('/api/v1/users/mfa/totp/confirm').and.include('login second step refused');
    for (const s of secrets) {
      expect(stored, 'events').to.not.include(s);
      expect(rows, 'read tables').to.not.include(s);
      expect(logs, 'logs').to.not.include(s);
    }
    expect(logs, 'logs').to.not.include(mfa_token);
    expect(logs, 'logs').to.not.include(PASSWORD);
  });

  it('issues a new recovery-code set for a code; the old set stops working', async () => {
    const bo = await signUp('bo');
    const { secret, codes } = await turnOn(bo);
    const wrong = await api.call('POST', '/api/v1/users/mfa/recovery-codes', { token: bo.token, body: { code: wrongCode(secret) } });
    expect([wrong.status, reason(wrong)]).to.deep.equal([403, 'totp_code_invalid']);
    const renewed = await api.call('POST', '/api/v1/users/mfa/recovery-codes', { token: bo.token, body: { code: await freshCode(secret, bo.used) } });
    expect(renewed.status, renewed.text).to.equal(200);
    const fresh: string[] = renewed.body.data.recovery_codes;
    expect(fresh).to.have.length(10);
    expect(fresh.filter((c) => codes.includes(c))).to.deep.equal([]);

    const old = await secondStep({ mfa_token: (await login({ email: bo.email })).body.data.mfa_token, recovery_code: codes[0] });
    expect([old.status, reason(old)]).to.deep.equal([401, 'recovery_code_invalid']);
    // turning off with a recovery code of the new set
    const off = await api.call('DELETE', '/api/v1/users/mfa/totp', { token: bo.token, body: { password: PASSWORD, recovery_code: fresh[4] } });
    expect(off.status, off.text).to.equal(200);
    const regenerateOff = await api.call('POST', '/api/v1/users/mfa/recovery-codes', { token: bo.token, body: { code: await freshCode(secret, bo.used) } });
    expect([regenerateOff.status, reason(regenerateOff)]).to.deep.equal([409, 'totp_off']);
  });

  it('limits wrong codes per user (429 with Retry-After), even for a right one after', async () => {
    const cy = await signUp('cy');
    const { secret } = await turnOn(cy);
    const { mfa_token } = (await login({ email: cy.email })).body.data;
    for (let i = 0; i < WRONG_CODES_PER_HOUR; i += 1) {
      const wrong = await secondStep({ mfa_token, code: wrongCode(secret) });
      expect([wrong.status, reason(wrong)]).to.deep.equal([401, 'totp_code_invalid']);
    }
    const limited = await secondStep({ mfa_token, code: await freshCode(secret, cy.used) });
    expect([limited.status, limited.body.error.code]).to.deep.equal([429, 'RATE_LIMITED']);
    expect(Number(limited.headers.get('retry-after'))).to.be.within(1, 3600);
    // the account routes share the count
    const regenerate = await api.call('POST', '/api/v1/users/mfa/recovery-codes', { token: cy.token, body: { code: await freshCode(secret, cy.used) } });
    expect(regenerate.status).to.equal(429);
    // another user is not affected
    const dee = await signUp('dee');
    expect((await api.call('POST', '/api/v1/users/mfa/totp', { token: dee.token })).status).to.equal(200);
  });

  it('lets an admin with TOTP on sign in to the console with a code (Chromium)', async () => {
    const email = `console-${randomUUID()}@example.test`;
    const password = 'admin password 123';
    await createAdmin({ store: api.store, passwordHasher: api.container.get(TOKENS.PasswordHasher) }, { email, password });
    const token = (await api.call('POST', '/api/v1/auth/login', { body: { email, password } })).body.data.access_token;
    const admin: Account = { email, username: email, userId: '', token, used: new Set() };
    const { secret } = await turnOn(admin);
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
    try {
      const page = await browser.newPage();
      await page.goto(`${api.url}/console/`);
      await page.fill('#login-email', email);
      await page.fill('#login-password', password);
      await page.click('#login-submit');
      await page.waitForSelector('#login-code', { state: 'visible' });
      await page.fill('#login-code', wrongCode(secret));
      await page.click('#login-submit');
      await page.waitForFunction(() => document.querySelector('#login-error')?.textContent === 'Wrong code.');
      await page.fill('#login-code', await freshCode(secret, admin.used));
      await page.click('#login-submit');
      await page.waitForSelector('#nav', { state: 'visible' });
      expect(await page.isHidden('#login')).to.equal(true);
    } finally {
      await browser.close();
    }
  });

  it('shows mfa_enabled in the admin list, and documents the routes', async () => {
    const eve = await signUp('eve');
    const { position } = await turnOn(eve);
    const adminEmail = `admin-${randomUUID()}@example.test`;
    await createAdmin({ store: api.store, passwordHasher: api.container.get(TOKENS.PasswordHasher) }, { email: adminEmail, password: 'admin password 123' });
    const admin = (await api.call('POST', '/api/v1/auth/login', { body: { email: adminEmail, password: 'admin password 123' } })).body.data.access_token;
    const listed = await api.call('GET', `/api/v1/admin/users?q=${encodeURIComponent(eve.email)}&after_position=${encodeURIComponent(position)}`, {
      token: admin,
    });
    expect(listed.status, listed.text).to.equal(200);
    expect(listed.body.data.items.map((u: any) => [u.id, u.mfa_enabled, u.mfa])).to.deep.equal([
      [eve.userId, true, { totp: 'on', recovery_codes_left: 10, sms: false }],
    ]);
    const notEnabled = await api.call('GET', `/api/v1/admin/users?q=${encodeURIComponent(eve.email)}&mfa_enabled=false`, { token: admin });
    expect(notEnabled.body.data.items).to.deep.equal([]);

    const doc = (await api.call('GET', '/api/v1/openapi.json')).body;
    const paths = doc.paths ?? doc.data?.paths;
    expect(Object.keys(paths['/api/v1/users/mfa/totp'])).to.include.members(['post', 'delete']);
    expect(paths['/api/v1/users/mfa/totp/confirm']).to.have.property('post');
    expect(paths['/api/v1/users/mfa/recovery-codes']).to.have.property('post');
    expect(paths['/api/v1/auth/login/mfa'].post.responses).to.include.keys('200', '401', '422', '429');
  });
});

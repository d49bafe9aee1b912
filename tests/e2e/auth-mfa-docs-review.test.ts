import { expect } from 'chai';
import { randomInt, randomUUID } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import type { SandboxSms, SmsSandbox } from '../../sandbox/sms-provider/server.js';
import { mailProcessor } from '../../src/main/worker-processors.js';
import { startWorker, type RunningWorker } from '../../src/main/worker.js';
import { startPlatform, type CallOptions, type Platform, type Reply } from '../support/platform.js';
import { startSmsPlatform, type SmsPlatform } from '../support/sms-platform.js';
import { SmtpSink } from '../support/smtp-sink.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The README's "Auth" section and docs/mfa.md read claim by claim as a new
 * user would, with the OpenAPI document beside them, each claim tried on the
 * running platform where no other test pins it: the token pair and its
 * lifetimes, the Authorization scheme, usernames of any script, a replayed
 * or guessed refresh token, a superseded reset link, Idempotency-Key where
 * secrets are answered, TOTP drift, both factors at once, the SMS code
 * limits, the phone number, the admin's reset, and that no secret is ever
 * answered twice. The platform runs behind a trusted proxy, so each call
 * comes from an address of its own unless a test names one.
 */
describe('auth and two-factor login, as the README and docs/mfa.md say (e2e review)', function () {
  this.timeout(90_000);
  const PASSWORD = 'correct horse battery staple 7';
  const NEW_PASSWORD = 'a brand new passphrase 8';
  /** AUTH_RATE_LIMIT_PER_IP and AUTH_RATE_LIMIT_PER_ACCOUNT_HOURLY here */
  const PER_IP = 4;
  const PER_ACCOUNT_HOURLY = 4;
  /** SMS_CODES_PER_USER_HOURLY and SMS_CODE_MAX_ATTEMPTS here */
  const SMS_CODES_HOURLY = 5;
  const SMS_CODE_ATTEMPTS = 3;

  let sms: SmsPlatform;
  let sandbox: SmsSandbox;
  let platform: Platform;
  let sink: SmtpSink;
  let mailWorker: RunningWorker | undefined;
  /** every answer, with the route it came from */
  const seen: { route: string; text: string }[] = [];

  const freshIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
  async function call(method: string, path: string, options: CallOptions = {}): Promise<Reply> {
    const reply = await platform.call(method, path, { ...options, headers: { 'X-Forwarded-For': freshIp(), ...options.headers } });
    seen.push({ route: `${method} ${path.split('?')[0]}`, text: reply.text });
    return reply;
  }
  const reasonOf = (r: Reply) => r.body?.error?.details?.reason;

  interface Account {
    userId: string;
    email: string;
    token: string;
    refresh: string;
    sessionId: string;
    /** the login's position: a read after it sees the registration */
    position: string;
  }

  async function register(name: string, extra: Record<string, unknown> = {}): Promise<Account> {
    const email = `${name}-${randomUUID()}@example.test`;
    const registered = await call('POST', '/api/v1/auth/register', { body: { email, password: PASSWORD, display_name: name, ...extra } });
    expect(registered.status, registered.text).to.equal(201);
    const loggedIn = await call('POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
    expect(loggedIn.status, loggedIn.text).to.equal(200);
    const d = loggedIn.body.data;
    return { userId: registered.body.data.user_id, email, token: d.access_token, refresh: d.refresh_token, sessionId: d.session_id, position: d.position };
  }

  /** The app's code `steps` 30-second steps from now. */
  const totp = (secret: string, steps = 0): string =>
    new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: Date.now() + steps * 30_000 });
  /** Waits out the last 3 s of a step, so a code computed here is of the same step when the server sees it. */
  async function awayFromStepEdge(): Promise<void> {
    const into = Date.now() % 30_000;
    if (into > 27_000) await new Promise((resolve) => setTimeout(resolve, 30_000 - into + 100));
  }

  async function totpOn(user: Account): Promise<{ secret: string; codes: string[] }> {
    const started = await call('POST', '/api/v1/users/mfa/totp', { token: user.token });
    expect(started.status, started.text).to.equal(200);
    await awayFromStepEdge();
    const confirmed = await call('POST', '/api/v1/users/mfa/totp/confirm', { token: user.token, body: { code: totp(started.body.data.secret) } });
    expect(confirmed.status, confirmed.text).to.equal(200);
    return { secret: started.body.data.secret, codes: confirmed.body.data.recovery_codes };
  }

  const smsTo = (phone: string): SandboxSms[] => [...sandbox.messages.values()].filter((m) => m.to === phone);
  async function nextCode(phone: string, before: number): Promise<string> {
    await waitFor(`an SMS to ${phone}`, () => smsTo(phone).length > before, 20_000, 20);
    return /\b(\d{6})\b/.exec(smsTo(phone).at(-1)!.text)![1]!;
  }
  async function verifyPhone(user: Account, phone: string): Promise<void> {
    const before = smsTo(phone).length;
    const put = await call('PUT', '/api/v1/users/me/phone', { token: user.token, body: { phone } });
    expect(put.status, put.text).to.equal(202);
    const verified = await call('POST', '/api/v1/users/me/phone/verify', { token: user.token, body: { code: await nextCode(phone, before) } });
    expect(verified.status, verified.text).to.equal(200);
  }
  async function passwordStep(user: Account): Promise<{ mfa_token: string; methods: string[]; expires_at: string }> {
    const r = await call('POST', '/api/v1/auth/login', { body: { email: user.email, password: PASSWORD } });
    expect(r.status, r.text).to.equal(200);
    expect(r.body.data.mfa_required, r.text).to.equal(true);
    return r.body.data;
  }
  const secondStep = (body: Record<string, unknown>, headers: Record<string, string> = {}) => call('POST', '/api/v1/auth/login/mfa', { body, headers });
  /** Within a second of a change the session's standing is asked again: the token is refused by then. */
  const refusedWithinASecond = (what: string, token: string) =>
    waitFor(what, async () => (await call('GET', '/api/v1/users/sessions', { token })).status === 401, 2_000, 50);

  before(async () => {
    sink = await new SmtpSink().start();
    sms = await startSmsPlatform({
      name: 'auth-review',
      config: {
        TRUST_PROXY: 'loopback',
        SMTP_URL: sink.url,
        SMS_CODE_RESEND_SECONDS: '0',
        SMS_CODES_PER_USER_HOURLY: String(SMS_CODES_HOURLY),
        SMS_CODE_MAX_ATTEMPTS: String(SMS_CODE_ATTEMPTS),
        AUTH_RATE_LIMIT_PER_IP: String(PER_IP),
        AUTH_RATE_LIMIT_PER_ACCOUNT_HOURLY: String(PER_ACCOUNT_HOURLY),
      },
    });
    ({ sandbox, platform } = sms);
    mailWorker = await startWorker(platform.container, { workerName: `auth-review-mail-${randomUUID().slice(0, 6)}`, processors: [mailProcessor()] });
  });
  after(async () => {
    await mailWorker?.stop({ timeoutMs: 2_000 });
    await sms?.stop();
    await sink?.stop();
  });

  // ---------------------------------------------------------------- README: Auth

  it('answers the token pair as documented: an HS256 JWT for ACCESS_TOKEN_TTL_SECONDS, a session of REFRESH_TOKEN_TTL_DAYS, never cached', async () => {
    const ann = await register('ann');
    const login = await call('POST', '/api/v1/auth/login', { body: { email: ann.email, password: PASSWORD } });
    expect(login.status, login.text).to.equal(200);
    expect(login.body.data).to.have.all.keys('access_token', 'token_type', 'expires_in', 'refresh_token', 'session_id', 'user_id', 'position');
    expect(login.body.data).to.include({ token_type: 'Bearer', expires_in: 900, user_id: ann.userId });
    expect(login.headers.get('cache-control')).to.equal('no-store');
    const [header, payload] = (login.body.data.access_token as string)
      .split('.')
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
    expect(header.alg).to.equal('HS256');
    expect(payload.exp - payload.iat).to.equal(900);
    expect(login.body.data.refresh_token).to.match(new RegExp(`^${ann.userId}\\.${login.body.data.session_id}\\.[A-Za-z0-9_-]+$`));

    const sessions = await call('GET', `/api/v1/users/sessions?after_position=${login.body.data.position}`, { token: login.body.data.access_token });
    const session = sessions.body.data.items.find((s: { id: string }) => s.id === login.body.data.session_id);
    expect(Date.parse(session.expires_at) - Date.parse(session.started_at)).to.equal(30 * 86_400_000);

    // the same token with its signature dropped, or claiming no algorithm, is a forgery
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${login.body.data.access_token.split('.')[1]}.`;
    const forged = await call('GET', '/api/v1/users/profile', { headers: { Authorization: `Bearer ${none}` } });
    expect([forged.status, forged.body.error.code]).to.deep.equal([401, 'UNAUTHENTICATED']);
  });

  it('takes the Bearer scheme in any case, as HTTP names schemes', async () => {
    const bo = await register('bo');
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const reply = await call('GET', '/api/v1/users/sessions', { headers: { Authorization: `${scheme} ${bo.token}` } });
      expect(reply.status, `${scheme}: ${reply.text}`).to.equal(200);
    }
    const basic = await call('GET', '/api/v1/users/sessions', { headers: { Authorization: `Basic ${bo.token}` } });
    expect(basic.status).to.equal(401);
  });

  it('takes usernames of any script: a letter with its combining marks (Devanagari, Thai, Tamil, a Turkish İ), normalised, logging in by any spelling', async () => {
    const names = [
      ['राहुल_1', 'राहुल_1'],
      ['สมศักดิ์', 'สมศักดิ์'],
      ['தமிழ்செல்வன்', 'தமிழ்செல்வன்'],
      ['İsmail', 'i\u0307smail'],
      // lower-cased, İ leaves a dot above before a mark below: stored in canonical order
      ['İ\u0316ab', 'i\u0316\u0307ab'],
    ];
    for (const [typed, stored] of names) {
      const user = await register('script', { username: typed });
      const profile = await call('GET', `/api/v1/users/profile?after_position=${user.position}`, { token: user.token });
      expect(profile.body.data.username, typed).to.equal(stored);
      // any spelling that normalises alike: upper case, NFD
      for (const spelling of [typed!.toUpperCase(), typed!.normalize('NFD')]) {
        const byName = await call('POST', '/api/v1/auth/login', { body: { username: spelling, password: PASSWORD } });
        expect(byName.status, `${spelling}: ${byName.text}`).to.equal(200);
        expect(byName.body.data.user_id).to.equal(user.userId);
      }
    }
    // a mark belongs to a letter: on its own, or on "_", it is no name
    for (const bad of ['\u0301abc', 'ab_\u0301c', 'a\u093F']) {
      const refused = await call('POST', '/api/v1/auth/register', {
        body: { email: `bad-${randomUUID()}@example.test`, password: PASSWORD, display_name: 'x', username: bad },
      });
      expect(refused.status, JSON.stringify(bad)).to.equal(422);
      expect(refused.body.error.details.issues[0].path).to.deep.equal(['username']);
    }
    // a changed name as well
    const changer = await register('changer');
    const changed = await call('PUT', '/api/v1/users/profile', { token: changer.token, body: { username: 'नमस्ते' } });
    expect(changed.status, changed.text).to.equal(200);
    expect((await call('POST', '/api/v1/auth/login', { body: { username: 'नमस्ते', password: PASSWORD } })).body.data.user_id).to.equal(changer.userId);
  });

  it('refuses bad input with 422 naming each field, and echoes no password', async () => {
    const cases: [string, string, Record<string, unknown>, string[]][] = [
      ['POST', '/api/v1/auth/register', { email: `${'a'.repeat(250)}@x.io`, password: PASSWORD, display_name: 'x' }, ['email']],
      [
        'POST',
        '/api/v1/auth/register',
        { email: `e-${randomUUID()}@example.test`, password: `${PASSWORD}${'x'.repeat(1024)}`, display_name: 'x' },
        ['password'],
      ],
      ['POST', '/api/v1/auth/register', { email: 42, password: PASSWORD, display_name: '   ' }, ['email', 'display_name']],
      ['POST', '/api/v1/auth/login', { email: `e-${randomUUID()}@example.test`, password: `${PASSWORD}${'x'.repeat(1024)}` }, ['password']],
      ['POST', '/api/v1/auth/login', { username: 'ab', password: PASSWORD }, ['username']],
      ['POST', '/api/v1/auth/login/mfa', { mfa_token: 'x'.repeat(1025), code: '１２３４５６' }, ['mfa_token', 'code']],
      ['POST', '/api/v1/auth/login/mfa', { mfa_token: 'x', code: 123456 }, ['code']],
      ['POST', '/api/v1/auth/refresh', { refresh_token: 7 }, ['refresh_token']],
      ['POST', '/api/v1/auth/reset-password', { token: 'x', new_password: `${PASSWORD}\u0000` }, ['new_password']],
    ];
    for (const [method, path, body, fields] of cases) {
      const reply = await call(method, path, { body });
      expect([reply.status, reply.body.error.code], `${path} ${reply.text}`).to.deep.equal([422, 'VALIDATION_ERROR']);
      expect([...new Set(reply.body.error.details.issues.map((i: { path: string[] }) => i.path[0]))], path).to.deep.equal(fields);
      expect(reply.text).to.not.include(PASSWORD);
    }
  });

  it('a replayed refresh token ends the session, every token of it within a second; a guessed one is 401 and the session goes on', async () => {
    const cy = await register('cy');
    const guessed = await call('POST', '/api/v1/auth/refresh', { body: { refresh_token: `${cy.userId}.${cy.sessionId}.${'A'.repeat(43)}` } });
    expect([guessed.status, guessed.body.error.code]).to.deep.equal([401, 'UNAUTHENTICATED']);
    const someoneElses = await call('POST', '/api/v1/auth/refresh', { body: { refresh_token: `${randomUUID()}.${cy.sessionId}.${cy.refresh.split('.')[2]}` } });
    expect(someoneElses.status).to.equal(401);

    const rotated = await call('POST', '/api/v1/auth/refresh', { body: { refresh_token: cy.refresh } });
    expect(rotated.status, 'a wrong guess ended nothing').to.equal(200);
    expect(rotated.body.data.session_id).to.equal(cy.sessionId);
    const listed = await call('GET', `/api/v1/users/sessions?after_position=${rotated.body.data.position}`, { token: rotated.body.data.access_token });
    expect(listed.body.data.items[0].last_refreshed_at).to.be.a('string');

    const replayed = await call('POST', '/api/v1/auth/refresh', { body: { refresh_token: cy.refresh } });
    expect(replayed.status).to.equal(401);
    await refusedWithinASecond('the rotated access token to be refused', rotated.body.data.access_token);
    await refusedWithinASecond('the first access token to be refused', cy.token);
    expect((await call('POST', '/api/v1/auth/refresh', { body: { refresh_token: rotated.body.data.refresh_token } })).status).to.equal(401);
  });

  it('ends a session once: ending it again is 200 with position null; an unknown one is 404', async () => {
    const dee = await register('dee');
    const other = (await call('POST', '/api/v1/auth/login', { body: { email: dee.email, password: PASSWORD } })).body.data;
    const ended = await call('DELETE', `/api/v1/users/sessions/${dee.sessionId}`, { token: other.access_token });
    expect(ended.status, ended.text).to.equal(200);
    expect(ended.body.data.position).to.be.a('string');
    const again = await call('DELETE', `/api/v1/users/sessions/${dee.sessionId}`, { token: other.access_token });
    expect([again.status, again.body.data.position]).to.deep.equal([200, null]);
    const unknown = await call('DELETE', `/api/v1/users/sessions/${randomUUID()}`, { token: other.access_token });
    expect([unknown.status, unknown.body.error.code]).to.deep.equal([404, 'NOT_FOUND']);
  });

  it('a newer reset link supersedes the older; the reset stops every access token within a second and voids a pending mfa_token', async () => {
    const eve = await register('eve');
    const { secret } = await totpOn(eve);
    const { mfa_token } = await passwordStep(eve);
    const mails = () => sink.messages.filter((m) => m.envelope.to.includes(eve.email));
    const tokenOf = (i: number) => decodeURIComponent(/reset-password\?token=(\S+)/.exec(mails()[i]!.parsed.text ?? '')![1]!);

    expect((await call('POST', '/api/v1/auth/forgot-password', { body: { email: `  ${eve.email.toUpperCase()} ` } })).status).to.equal(202);
    await waitFor('the first reset mail', () => mails().length >= 1, 10_000);
    expect((await call('POST', '/api/v1/auth/forgot-password', { body: { email: eve.email } })).status).to.equal(202);
    await waitFor('the second reset mail', () => mails().length >= 2, 10_000);

    const older = await call('POST', '/api/v1/auth/reset-password', { body: { token: tokenOf(0), new_password: NEW_PASSWORD } });
    expect([older.status, older.body.error.code]).to.deep.equal([401, 'UNAUTHENTICATED']);
    const newer = await call('POST', '/api/v1/auth/reset-password', { body: { token: tokenOf(1), new_password: NEW_PASSWORD } });
    expect(newer.status, newer.text).to.equal(200);
    await refusedWithinASecond("eve's access token to be refused", eve.token);

    await awayFromStepEdge();
    const stale = await secondStep({ mfa_token, code: totp(secret, 1) });
    expect([stale.status, reasonOf(stale)]).to.deep.equal([401, 'mfa_token_invalid']);
    // TOTP stays on: the new password answers a second step
    const again = await call('POST', '/api/v1/auth/login', { body: { email: eve.email, password: NEW_PASSWORD } });
    expect(again.body.data.mfa_required, again.text).to.equal(true);
  });

  it('keeps no answer with a secret by Idempotency-Key: enrollment, login and its second step run again', async () => {
    const fay = await register('fay');
    const key = randomUUID();
    const first = await call('POST', '/api/v1/users/mfa/totp', { token: fay.token, headers: { 'Idempotency-Key': key } });
    const second = await call('POST', '/api/v1/users/mfa/totp', { token: fay.token, headers: { 'Idempotency-Key': key } });
    expect([first.status, second.status]).to.deep.equal([200, 200]);
    expect(second.headers.get('idempotent-replayed')).to.equal(null);
    expect(second.body.data.secret).to.not.equal(first.body.data.secret);

    const loginKey = randomUUID();
    const logins = [];
    for (let i = 0; i < 2; i++) {
      logins.push(await call('POST', '/api/v1/auth/login', { body: { email: fay.email, password: PASSWORD }, headers: { 'Idempotency-Key': loginKey } }));
    }
    expect(logins[1]!.headers.get('idempotent-replayed')).to.equal(null);
    expect(logins[1]!.body.data.session_id).to.not.equal(logins[0]!.body.data.session_id);

    const { secret } = await totpOn(fay);
    const { mfa_token } = await passwordStep(fay);
    const stepKey = randomUUID();
    const done = await secondStep({ mfa_token, code: totp(secret, 1) }, { 'Idempotency-Key': stepKey });
    expect(done.status, done.text).to.equal(200);
    const repeat = await secondStep({ mfa_token, code: totp(secret, 1) }, { 'Idempotency-Key': stepKey });
    expect([repeat.status, reasonOf(repeat)], 'not the tokens again').to.deep.equal([401, 'mfa_token_used']);
  });

  // ---------------------------------------------------------------- docs/mfa.md: TOTP

  it('TOTP takes one step of drift either way, not two', async () => {
    const gus = await register('gus');
    const started = await call('POST', '/api/v1/users/mfa/totp', { token: gus.token });
    const secret: string = started.body.data.secret;
    await awayFromStepEdge();
    const near = new Set([-1, 0, 1].map((d) => totp(secret, d)));
    for (const far of [totp(secret, -2), totp(secret, 2)].filter((c) => !near.has(c))) {
      const refused = await call('POST', '/api/v1/users/mfa/totp/confirm', { token: gus.token, body: { code: far } });
      expect([refused.status, reasonOf(refused)]).to.deep.equal([403, 'totp_code_invalid']);
    }
    const confirmed = await call('POST', '/api/v1/users/mfa/totp/confirm', { token: gus.token, body: { code: totp(secret, -1) } });
    expect(confirmed.status, confirmed.text).to.equal(200);
    const { mfa_token } = await passwordStep(gus);
    await awayFromStepEdge();
    const signedIn = await secondStep({ mfa_token, code: totp(secret, 1) });
    expect(signedIn.status, signedIn.text).to.equal(200);
  });

  // ---------------------------------------------------------------- docs/mfa.md: SMS codes

  it('both factors: methods [totp, sms, recovery_code]; an SMS code asked again replaces the first; a TOTP code still finishes', async () => {
    const hal = await register('hal');
    const { secret } = await totpOn(hal);
    const phone = '+8613800139101';
    await verifyPhone(hal, phone);
    const on = await call('POST', '/api/v1/users/mfa/sms', { token: hal.token, body: { password: PASSWORD } });
    expect(on.status, on.text).to.equal(200);
    const onAgain = await call('POST', '/api/v1/users/mfa/sms', { token: hal.token, body: { password: PASSWORD } });
    expect([onAgain.status, onAgain.body.data.position]).to.deep.equal([200, null]);

    const challenge = await passwordStep(hal);
    expect(challenge.methods).to.deep.equal(['totp', 'sms', 'recovery_code']);
    let before = smsTo(phone).length;
    const sent = await call('POST', '/api/v1/auth/login/mfa/sms-code', { body: { mfa_token: challenge.mfa_token } });
    expect(sent.status, sent.text).to.equal(202);
    // the code lives SMS_CODE_TTL_MINUTES (10 here), at most as long as the mfa_token
    expect(sent.body.data).to.deep.equal({ sent_to: '+86•••••••9101', expires_at: challenge.expires_at });
    const first = await nextCode(phone, before);
    before = smsTo(phone).length;
    expect((await call('POST', '/api/v1/auth/login/mfa/sms-code', { body: { mfa_token: challenge.mfa_token } })).status).to.equal(202);
    const second = await nextCode(phone, before);
    if (first !== second) {
      const replaced = await secondStep({ mfa_token: challenge.mfa_token, code: first });
      expect([replaced.status, reasonOf(replaced)]).to.deep.equal([401, 'sms_code_invalid']);
    }
    await awayFromStepEdge();
    const byApp = await secondStep({ mfa_token: challenge.mfa_token, code: totp(secret, 1) });
    expect(byApp.status, byApp.text).to.equal(200);

    // an mfa_token of an account without the SMS factor gets no code
    const ivy = await register('ivy');
    await totpOn(ivy);
    const totpOnly = await passwordStep(ivy);
    expect(totpOnly.methods).to.deep.equal(['totp', 'recovery_code']);
    const noSms = await call('POST', '/api/v1/auth/login/mfa/sms-code', { body: { mfa_token: totpOnly.mfa_token } });
    expect([noSms.status, reasonOf(noSms)]).to.deep.equal([401, 'mfa_token_invalid']);
  });

  it('an SMS login code is void after SMS_CODE_MAX_ATTEMPTS wrong tries (sms_code_attempts_exceeded); a new one works', async () => {
    const jo = await register('jo');
    const phone = '+8613800139102';
    await verifyPhone(jo, phone);
    expect((await call('POST', '/api/v1/users/mfa/sms', { token: jo.token, body: { password: PASSWORD } })).status).to.equal(200);
    const { mfa_token, methods } = await passwordStep(jo);
    expect(methods).to.deep.equal(['sms']);
    let before = smsTo(phone).length;
    expect((await call('POST', '/api/v1/auth/login/mfa/sms-code', { body: { mfa_token } })).status).to.equal(202);
    const code = await nextCode(phone, before);
    const wrong = code === '000000' ? '000001' : '000000';
    for (let i = 0; i < SMS_CODE_ATTEMPTS; i++) {
      const refused = await secondStep({ mfa_token, code: wrong });
      expect([refused.status, reasonOf(refused)]).to.deep.equal([401, 'sms_code_invalid']);
    }
    const spent = await secondStep({ mfa_token, code });
    expect([spent.status, reasonOf(spent)]).to.deep.equal([401, 'sms_code_attempts_exceeded']);
    before = smsTo(phone).length;
    expect((await call('POST', '/api/v1/auth/login/mfa/sms-code', { body: { mfa_token } })).status).to.equal(202);
    const signedIn = await secondStep({ mfa_token, code: await nextCode(phone, before) });
    expect(signedIn.status, signedIn.text).to.equal(200);
  });

  it('counts phone and login codes together per user and hour (429 with Retry-After)', async () => {
    const kim = await register('kim');
    const phone = '+8613800139103';
    await verifyPhone(kim, phone); // the first code of the hour
    expect((await call('POST', '/api/v1/users/mfa/sms', { token: kim.token, body: { password: PASSWORD } })).status).to.equal(200);
    const { mfa_token } = await passwordStep(kim);
    for (let i = 1; i < SMS_CODES_HOURLY; i++) {
      const sent = await call('POST', '/api/v1/auth/login/mfa/sms-code', { body: { mfa_token } });
      expect(sent.status, `code ${i + 1}: ${sent.text}`).to.equal(202);
    }
    const over = await call('POST', '/api/v1/auth/login/mfa/sms-code', { body: { mfa_token } });
    expect([over.status, over.body.error.code]).to.deep.equal([429, 'RATE_LIMITED']);
    expect(Number(over.headers.get('retry-after'))).to.be.within(1, 3600);
  });

  it('limits the second step and the SMS code per client IP, together (AUTH_RATE_LIMIT_PER_IP a minute)', async () => {
    const ip = freshIp();
    for (let i = 0; i < PER_IP; i++) {
      const reply = await secondStep({ mfa_token: 'not a token', code: '123456' }, { 'X-Forwarded-For': ip });
      expect([reply.status, reasonOf(reply)]).to.deep.equal([401, 'mfa_token_invalid']);
    }
    const limited = await call('POST', '/api/v1/auth/login/mfa/sms-code', { body: { mfa_token: 'not a token' }, headers: { 'X-Forwarded-For': ip } });
    expect([limited.status, limited.body.error.code]).to.deep.equal([429, 'RATE_LIMITED']);
    expect(Number(limited.headers.get('retry-after'))).to.be.within(1, 60);
    const elsewhere = await secondStep({ mfa_token: 'not a token', code: '123456' });
    expect(elsewhere.status).to.equal(401);
  });

  // ---------------------------------------------------------------- docs/mfa.md: phone number

  it('a new number waits for its code beside the verified one; wrong codes and passwords count per user and hour together', async () => {
    const lou = await register('lou');
    await verifyPhone(lou, '+8613800139104');
    const next = '+8613800139105';
    const before = smsTo(next).length;
    const put = await call('PUT', '/api/v1/users/me/phone', { token: lou.token, body: { phone: '138 0013 9105' } });
    expect(put.status, put.text).to.equal(202);
    const code = await nextCode(next, before);
    const shown = await call('GET', '/api/v1/users/me/phone', { token: lou.token });
    expect(shown.body.data).to.deep.include({ number: '+8613800139104', sms_mfa: false });
    expect(shown.body.data.pending.number).to.match(/^\+86•+9105$/);

    const wrong = code === '000000' ? '000001' : '000000';
    for (let i = 0; i < PER_ACCOUNT_HOURLY - 1; i++) {
      const refused = await call('POST', '/api/v1/users/me/phone/verify', { token: lou.token, body: { code: wrong } });
      expect([refused.status, reasonOf(refused)]).to.deep.equal([403, 'phone_code_invalid']);
    }
    const badPassword = await call('POST', '/api/v1/users/mfa/sms', { token: lou.token, body: { password: 'not the password' } });
    expect([badPassword.status, reasonOf(badPassword)]).to.deep.equal([403, 'password_invalid']);
    const limited = await call('POST', '/api/v1/users/me/phone/verify', { token: lou.token, body: { code } });
    expect([limited.status, limited.body.error.code]).to.deep.equal([429, 'RATE_LIMITED']);
    expect(Number(limited.headers.get('retry-after'))).to.be.within(1, 3600);
    expect((await call('GET', '/api/v1/users/me/phone', { token: lou.token })).body.data.number).to.equal('+8613800139104');
  });

  it('an SMS channel left out of a notification preference is off', async () => {
    const max = await register('max');
    const on = await call('PUT', '/api/v1/users/profile', {
      token: max.token,
      body: { notification_preferences: { mfa_reset: { in_app: true, mail: true, sms: true } } },
    });
    expect(on.status, on.text).to.equal(200);
    const left = await call('PUT', '/api/v1/users/profile', {
      token: max.token,
      body: { notification_preferences: { mfa_reset: { in_app: false, mail: true } } },
    });
    expect(left.status, left.text).to.equal(200);
    const profile = await call('GET', `/api/v1/users/profile?after_position=${left.body.data.position}`, { token: max.token });
    expect(profile.body.data.notification_preferences.mfa_reset).to.deep.equal({ in_app: false, mail: true, sms: false });
  });

  // ---------------------------------------------------------------- docs/mfa.md: a suspended account, the admin's reset

  it('tells a suspended account so at the second step: 403 user_suspended, as a login without a second factor', async () => {
    const admin = await platform.adminToken();
    const ned = await register('ned');
    const { secret } = await totpOn(ned);
    const suspended = await call('POST', `/api/v1/admin/users/${ned.userId}/suspend`, { token: admin, body: { reason: 'review' } });
    expect(suspended.status, suspended.text).to.equal(200);
    const { mfa_token } = await passwordStep(ned);
    await awayFromStepEdge();
    const refused = await secondStep({ mfa_token, code: totp(secret, 1) });
    expect([refused.status, refused.body.error.code, reasonOf(refused)]).to.deep.equal([403, 'PERMISSION_DENIED', 'user_suspended']);
  });

  it("the admin's reset: both factors off and the phone kept, a pending mfa_token void; a stale If-Match 412, a bad reason 422, an unknown user 404", async () => {
    const admin = await platform.adminToken();
    const oz = await register('oz');
    const { codes } = await totpOn(oz);
    await verifyPhone(oz, '+8613800139106');
    expect((await call('POST', '/api/v1/users/mfa/sms', { token: oz.token, body: { password: PASSWORD } })).status).to.equal(200);
    const { mfa_token } = await passwordStep(oz);
    const path = `/api/v1/admin/users/${oz.userId}/mfa/reset`;

    for (const reason of ['   ', 'x'.repeat(501)]) {
      const bad = await call('POST', path, { token: admin, body: { reason } });
      expect([bad.status, bad.body.error.details.issues[0].path], reason.slice(0, 5)).to.deep.equal([422, ['reason']]);
    }
    const revision = BigInt((await call('GET', '/api/v1/users/me/phone', { token: oz.token })).headers.get('etag')!.replaceAll('"', ''));
    const stale = await call('POST', path, { token: admin, body: { reason: 'lost the phone' }, ifMatch: `"${revision - 1n}"` });
    expect([stale.status, stale.body.error.code]).to.deep.equal([412, 'PRECONDITION_FAILED']);
    const unknown = await call('POST', `/api/v1/admin/users/${randomUUID()}/mfa/reset`, { token: admin, body: { reason: 'lost' } });
    expect([unknown.status, unknown.body.error.code]).to.deep.equal([404, 'NOT_FOUND']);

    const reset = await call('POST', path, { token: admin, body: { reason: 'lost the phone' }, ifMatch: `"${revision}"` });
    expect(reset.status, reset.text).to.equal(200);
    const phone = await call('GET', '/api/v1/users/me/phone', { token: oz.token });
    expect(phone.body.data).to.deep.include({ number: '+8613800139106', sms_mfa: false });
    const void_ = await secondStep({ mfa_token, recovery_code: codes[0] });
    expect([void_.status, reasonOf(void_)]).to.deep.equal([401, 'mfa_token_invalid']);
    const single = await call('POST', '/api/v1/auth/login', { body: { email: oz.email, password: PASSWORD } });
    expect(single.body.data).to.include.keys('access_token', 'refresh_token');
    const profile = await call('GET', `/api/v1/users/profile?after_position=${reset.body.data.position}`, { token: oz.token });
    expect(profile.body.data.mfa).to.deep.equal({ totp: 'off', recovery_codes_left: 0, sms: false });

    const nobody = await register('nobody');
    const nothing = await call('POST', `/api/v1/admin/users/${nobody.userId}/mfa/reset`, { token: admin, body: { reason: 'just in case' } });
    expect([nothing.status, nothing.body.data.position]).to.deep.equal([200, null]);
  });

  // ---------------------------------------------------------------- secrets

  it('answers every secret once: TOTP secrets, recovery codes, refresh tokens and mfa_tokens appear in the answer that made them only; the password never', () => {
    expect(seen.length).to.be.greaterThan(100);
    for (const { text } of seen) expect(text).to.not.include(PASSWORD).and.not.include(NEW_PASSWORD);
    const secretsOf = (text: string): string[] => {
      const data = JSON.parse(text)?.data;
      if (data === null || typeof data !== 'object') return [];
      return [data.secret, data.refresh_token, data.mfa_token, ...(data.recovery_codes ?? [])].filter((s): s is string => typeof s === 'string');
    };
    let checked = 0;
    for (const [i, { text }] of seen.entries()) {
      for (const secret of secretsOf(text)) {
        checked += 1;
        const elsewhere = seen.filter((other, j) => j !== i && other.text.includes(secret)).map((other) => other.route);
        expect(elsewhere, secret).to.deep.equal([]);
      }
    }
    expect(checked).to.be.greaterThan(50);
  });
});

describe('two-factor login without an SMS provider (e2e review)', function () {
  this.timeout(60_000);
  let platform: Platform;
  before(async () => {
    platform = await startPlatform({ proxies: 0 });
  });
  after(() => platform?.stop());

  it('answers 503 sms_not_configured where a code would be sent; the number itself still reads', async () => {
    const email = `pat-${randomUUID()}@example.test`;
    expect((await platform.call('POST', '/api/v1/auth/register', { body: { email, password: 'correct horse battery', display_name: 'pat' } })).status).to.equal(
      201,
    );
    const token = (await platform.call('POST', '/api/v1/auth/login', { body: { email, password: 'correct horse battery' } })).body.data.access_token;
    const put = await platform.call('PUT', '/api/v1/users/me/phone', { token, body: { phone: '+8613800139107' } });
    expect([put.status, put.body.error.code, put.body.error.details]).to.deep.equal([503, 'SERVICE_UNAVAILABLE', { reason: 'sms_not_configured' }]);
    const code = await platform.call('POST', '/api/v1/auth/login/mfa/sms-code', { body: { mfa_token: 'whatever' } });
    expect([code.status, code.body.error.details]).to.deep.equal([503, { reason: 'sms_not_configured' }]);
    const read = await platform.call('GET', '/api/v1/users/me/phone', { token });
    expect(read.body.data).to.deep.equal({ number: null, verified_at: null, pending: null, sms_mfa: false });
  });
});

import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { chromium } from 'playwright';
import { createAdmin } from '../../src/cli/create-admin.js';
import { TOKENS } from '../../src/tokens.js';
import { notificationSmsId } from '../../src/process-managers/notification-sms.js';
import { smsMessageStream } from '../../src/write-model/sms-message/index.js';
import { userStream } from '../../src/write-model/user/index.js';
import type { SandboxSms, SmsSandbox } from '../../sandbox/sms-provider/server.js';
import type { Platform } from '../support/platform.js';
import { startSmsPlatform, type SmsPlatform } from '../support/sms-platform.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Phone numbers, SMS login codes and the admin's MFA reset over HTTP, every
 * piece real: the API, the projector's consumers (pm-sms-messages,
 * pm-notification-sms, pm-mfa-reset-notifications, the read models), the
 * worker's sms-send queue and the sandbox SMS provider. The codes are read
 * where a user reads them — from the SMS the sandbox provider received — and
 * looked for everywhere else they must not be: answers, read models, events.
 */
describe('mfa by SMS: phone numbers, SMS login codes, admin reset (e2e)', function () {
  this.timeout(180_000);
  const PASSWORD = 'correct horse battery';
  /** SMS_CODE_TTL_MINUTES in this test: 15 s, so an expired code can be shown */
  const CODE_TTL_MS = 15_000;
  let sms: SmsPlatform;
  let sandbox: SmsSandbox;
  let platform: Platform;

  interface Account {
    userId: string;
    email: string;
    token: string;
  }

  async function register(name: string): Promise<Account> {
    const email = `${name}-${randomUUID()}@example.test`;
    const r = await platform.call('POST', '/api/v1/auth/register', { body: { email, password: PASSWORD, display_name: name } });
    expect(r.status, r.text).to.equal(201);
    const login = await platform.call('POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
    expect(login.status, login.text).to.equal(200);
    return { userId: r.body.data.user_id, email, token: login.body.data.access_token };
  }

  const call = (user: { token: string }, method: string, path: string, body?: unknown) =>
    platform.call(method, path, { token: user.token, ...(body !== undefined ? { body } : {}) });

  const smsTo = (phone: string): SandboxSms[] => [...sandbox.messages.values()].filter((m) => m.to === phone);

  /** The newest SMS to the number once there are more than `before`; its 6-digit code. */
  async function nextCode(phone: string, before: number): Promise<{ sms: SandboxSms; code: string }> {
    await waitFor(`an SMS to ${phone}`, () => smsTo(phone).length > before, 30_000, 20);
    const sms = smsTo(phone).at(-1)!;
    const code = /\b(\d{6})\b/.exec(sms.text)?.[1];
    expect(code, sms.text).to.be.a('string');
    return { sms, code: code! };
  }

  /** Every stored event of the stream as JSON text (data and metadata). */
  async function storedText(stream: string): Promise<string> {
    return JSON.stringify((await platform.events(stream)).map((e) => ({ type: e.type, data: e.data, metadata: e.metadata })));
  }

  async function verifyPhone(user: Account, phone: string): Promise<void> {
    const before = smsTo(phone).length;
    const put = await call(user, 'PUT', '/api/v1/users/me/phone', { phone });
    expect(put.status, put.text).to.equal(202);
    const { code } = await nextCode(put.body.data.phone, before);
    const verified = await call(user, 'POST', '/api/v1/users/me/phone/verify', { code });
    expect(verified.status, verified.text).to.equal(200);
  }

  async function passwordLogin(user: Account) {
    const r = await platform.call('POST', '/api/v1/auth/login', { body: { email: user.email, password: PASSWORD } });
    expect(r.status, r.text).to.equal(200);
    return r.body.data;
  }

  before(async () => {
    sms = await startSmsPlatform({
      name: 'mfa-sms',
      config: { SMS_CODE_TTL_MINUTES: String(CODE_TTL_MS / 60_000), SMS_CODE_RESEND_SECONDS: '2', SMS_CODES_PER_USER_HOURLY: '30', SMS_CODE_MAX_ATTEMPTS: '3' },
    });
    ({ sandbox, platform } = sms);
  });
  after(() => sms?.stop());

  let alice: Account;
  const ALICE_PHONE = '+8613800138001';

  it('verifies a phone number with the code of the SMS; the code is in no answer, read model or event', async () => {
    alice = await register('alice');
    const before = smsTo(ALICE_PHONE).length;
    const put = await call(alice, 'PUT', '/api/v1/users/me/phone', { phone: '138 0013 8001' });
    expect(put.status, put.text).to.equal(202);
    expect(put.body.data).to.include({ phone: ALICE_PHONE });
    const messageId = put.body.data.message_id as string;
    const { sms, code } = await nextCode(ALICE_PHONE, before);
    expect(sms.clientRef).to.equal(messageId);
    expect(put.text).not.to.include(code);

    // the message as the user lists it: masked, never the code
    let listed: any;
    await waitFor('the message in the read model', async () => {
      listed = (await call(alice, 'GET', `/api/v1/sms/messages/${messageId}`)).body?.data;
      return listed !== undefined && listed !== null;
    });
    expect(listed.text).to.include('••••••');
    expect(JSON.stringify(listed)).not.to.include(code);
    expect((await call(alice, 'GET', '/api/v1/sms/messages')).text).not.to.include(code);
    const pending = await call(alice, 'GET', '/api/v1/users/me/phone');
    expect(pending.body.data).to.deep.include({ number: null, sms_mfa: false });
    expect(pending.body.data.pending.number).to.match(/^\+86•+8001$/);

    // a wrong code, then the right one, then the right one again (used)
    const wrong = await call(alice, 'POST', '/api/v1/users/me/phone/verify', { code: code === '000000' ? '000001' : '000000' });
    expect(wrong.status, wrong.text).to.equal(403);
    expect(wrong.body.error.details.reason).to.equal('phone_code_invalid');
    const right = await call(alice, 'POST', '/api/v1/users/me/phone/verify', { code });
    expect(right.status, right.text).to.equal(200);
    expect(right.body.data.phone).to.equal(ALICE_PHONE);
    const reused = await call(alice, 'POST', '/api/v1/users/me/phone/verify', { code });
    expect(reused.status).to.equal(403);
    expect(reused.body.error.details.reason).to.equal('phone_code_invalid');

    const shown = await call(alice, 'GET', '/api/v1/users/me/phone');
    expect(shown.body.data).to.deep.include({ number: ALICE_PHONE, pending: null, sms_mfa: false });
    const profile = await call(alice, 'GET', `/api/v1/users/profile?after_position=${right.body.data.position}`);
    expect(profile.body.data.phone.number).to.equal(ALICE_PHONE);
    expect(profile.body.data.mfa).to.deep.include({ sms: false });

    // stored: the user stream keeps an HMAC, the SMS stream the masked text and a sealed body
    const userEvents = await platform.events(userStream(alice.userId));
    const started = userEvents.find((e) => e.type === 'PhoneVerificationStarted')!;
    expect((started.data as any).codeHash).to.match(/^[0-9a-f]{64}$/);
    expect(userEvents.map((e) => e.type)).to.include('PhoneNumberVerified');
    expect(await storedText(userStream(alice.userId))).not.to.include(code);
    const smsEvents = await platform.events(smsMessageStream(messageId));
    expect((smsEvents[0]!.data as any).purpose).to.equal('phone_verification');
    expect((smsEvents[0]!.data as any).sealedText).to.have.keys(['keyId', 'iv', 'tag', 'ciphertext']);
    expect(await storedText(smsMessageStream(messageId))).not.to.include(code);
    const row = await platform.knex('sms_messages').where({ id: messageId }).first();
    expect(JSON.stringify(row)).not.to.include(code);
  });

  it('refuses numbers that take no SMS (422), a code asked for too soon (429) and the number verified already (409)', async () => {
    for (const phone of ['not a number', '+86 10 6552 9988', '+5511912345678']) {
      const r = await call(alice, 'PUT', '/api/v1/users/me/phone', { phone });
      expect(r.status, `${phone} → ${r.text}`).to.equal(422);
      expect(r.body.error.details.issues[0].path).to.deep.equal(['phone']);
    }
    const again = await call(alice, 'PUT', '/api/v1/users/me/phone', { phone: ALICE_PHONE });
    expect(again.status, again.text).to.equal(409);
    expect(again.body.error.details.reason).to.equal('phone_verified');

    const bob = await register('bob');
    expect((await call(bob, 'PUT', '/api/v1/users/me/phone', { phone: '+8613800138002' })).status).to.equal(202);
    const tooSoon = await call(bob, 'PUT', '/api/v1/users/me/phone', { phone: '+8613800138002' });
    expect(tooSoon.status, tooSoon.text).to.equal(429);
    expect(tooSoon.body.error.code).to.equal('RATE_LIMITED');
  });

  it('voids a phone code after SMS_CODE_MAX_ATTEMPTS wrong tries, and refuses an expired one', async () => {
    const carol = await register('carol');
    const phone = '+8613800138003';
    let before = smsTo(phone).length;
    expect((await call(carol, 'PUT', '/api/v1/users/me/phone', { phone })).status).to.equal(202);
    const first = await nextCode(phone, before);
    const wrongCode = first.code === '111111' ? '222222' : '111111';
    for (let i = 0; i < 3; i++) {
      expect((await call(carol, 'POST', '/api/v1/users/me/phone/verify', { code: wrongCode })).body.error.details.reason).to.equal('phone_code_invalid');
    }
    const spent = await call(carol, 'POST', '/api/v1/users/me/phone/verify', { code: first.code });
    expect(spent.status).to.equal(403);
    expect(spent.body.error.details.reason).to.equal('phone_code_attempts_exceeded');

    // a new code (after the resend pause) works afresh — once it is typed in time
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    before = smsTo(phone).length;
    const put = await call(carol, 'PUT', '/api/v1/users/me/phone', { phone });
    expect(put.status, put.text).to.equal(202);
    const second = await nextCode(phone, before);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(put.body.data.expires_at) - Date.now()) + 200));
    const expired = await call(carol, 'POST', '/api/v1/users/me/phone/verify', { code: second.code });
    expect(expired.status, expired.text).to.equal(403);
    expect(expired.body.error.details.reason).to.equal('phone_code_expired');
  });

  it('SMS as a second factor: on with the password; a login takes a code sent for its mfa_token, once', async () => {
    const nobody = await register('dora');
    const noPhone = await call(nobody, 'POST', '/api/v1/users/mfa/sms', { password: PASSWORD });
    expect(noPhone.status, noPhone.text).to.equal(409);
    expect(noPhone.body.error.details.reason).to.equal('phone_not_verified');
    const badPassword = await call(alice, 'POST', '/api/v1/users/mfa/sms', { password: 'wrong password' });
    expect(badPassword.status).to.equal(403);
    expect(badPassword.body.error.details.reason).to.equal('password_invalid');
    const on = await call(alice, 'POST', '/api/v1/users/mfa/sms', { password: PASSWORD });
    expect(on.status, on.text).to.equal(200);
    expect((await call(alice, 'GET', '/api/v1/users/me/phone')).body.data.sms_mfa).to.equal(true);
    const removing = await call(alice, 'DELETE', '/api/v1/users/me/phone');
    expect(removing.status).to.equal(409);
    expect(removing.body.error.details.reason).to.equal('sms_mfa_enabled');

    // the first step answers an mfa_token offering sms
    const challenge = await passwordLogin(alice);
    expect(challenge).to.include({ mfa_required: true });
    expect(challenge.methods).to.deep.equal(['sms']);
    expect(challenge).not.to.have.property('access_token');
    const early = await platform.call('POST', '/api/v1/auth/login/mfa', { body: { mfa_token: challenge.mfa_token, code: '123456' } });
    expect(early.status).to.equal(401);
    expect(early.body.error.details.reason).to.equal('sms_code_invalid');

    const before = smsTo(ALICE_PHONE).length;
    const sent = await platform.call('POST', '/api/v1/auth/login/mfa/sms-code', { body: { mfa_token: challenge.mfa_token } });
    expect(sent.status, sent.text).to.equal(202);
    expect(sent.body.data.sent_to).to.match(/^\+86•+8001$/);
    const { sms, code } = await nextCode(ALICE_PHONE, before);
    expect(sent.text).not.to.include(code);
    const wrong = await platform.call('POST', '/api/v1/auth/login/mfa', {
      body: { mfa_token: challenge.mfa_token, code: code === '000000' ? '000001' : '000000' },
    });
    expect(wrong.status).to.equal(401);
    expect(wrong.body.error.details.reason).to.equal('sms_code_invalid');
    const signedIn = await platform.call('POST', '/api/v1/auth/login/mfa', { body: { mfa_token: challenge.mfa_token, code } });
    expect(signedIn.status, signedIn.text).to.equal(200);
    expect(signedIn.body.data.access_token).to.be.a('string');

    // used: neither the token nor the code finishes another login
    const replay = await platform.call('POST', '/api/v1/auth/login/mfa', { body: { mfa_token: challenge.mfa_token, code } });
    expect(replay.status).to.equal(401);
    expect(replay.body.error.details.reason).to.be.oneOf(['mfa_token_used', 'sms_code_invalid']);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const other = await passwordLogin(alice);
    expect((await platform.call('POST', '/api/v1/auth/login/mfa/sms-code', { body: { mfa_token: other.mfa_token } })).status).to.equal(202);
    // too soon for another code to the same user
    const tooSoon = await platform.call('POST', '/api/v1/auth/login/mfa/sms-code', { body: { mfa_token: other.mfa_token } });
    expect(tooSoon.status).to.equal(429);
    expect(Number(tooSoon.body.error.details.retry_after_seconds)).to.be.within(1, 2);
    const foreign = await platform.call('POST', '/api/v1/auth/login/mfa', { body: { mfa_token: other.mfa_token, code } });
    expect(foreign.status).to.equal(401);
    expect(foreign.body.error.details.reason).to.equal('sms_code_invalid');

    // the login code's SMS: masked in the list, sealed in the events
    const loginSms = await platform.events(smsMessageStream(sms.clientRef));
    expect((loginSms[0]!.data as any).purpose).to.equal('login_code');
    expect(await storedText(smsMessageStream(sms.clientRef))).not.to.include(code);
    await waitFor('the login SMS listed', async () => (await call(alice, 'GET', `/api/v1/sms/messages/${sms.clientRef}`)).status === 200);
    expect((await call(alice, 'GET', `/api/v1/sms/messages/${sms.clientRef}`)).body.data.text).to.include('••••••');
    expect(await storedText(userStream(alice.userId))).not.to.include(code);

    // a code typed after its expiry
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const late = await passwordLogin(alice);
    const lateBefore = smsTo(ALICE_PHONE).length;
    const lateSent = await platform.call('POST', '/api/v1/auth/login/mfa/sms-code', { body: { mfa_token: late.mfa_token } });
    expect(lateSent.status, lateSent.text).to.equal(202);
    const lateCode = await nextCode(ALICE_PHONE, lateBefore);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(lateSent.body.data.expires_at) - Date.now()) + 200));
    const expired = await platform.call('POST', '/api/v1/auth/login/mfa', { body: { mfa_token: late.mfa_token, code: lateCode.code } });
    expect(expired.status, expired.text).to.equal(401);
    expect(expired.body.error.details.reason).to.equal('sms_code_expired');

    const admin = await platform.adminToken();
    await waitFor(
      'the admin view to show the factor',
      async () => (await platform.call('GET', `/api/v1/admin/users/${alice.userId}`, { token: admin })).body?.data?.mfa_enabled === true,
    );
  });

  it("an admin's reset turns the factors off, names the admin, and the user hears of it — by SMS too when asked", async () => {
    // alice wants to hear of a reset by SMS as well
    const prefs = await call(alice, 'PUT', '/api/v1/users/profile', { notification_preferences: { mfa_reset: { in_app: true, mail: false, sms: true } } });
    expect(prefs.status, prefs.text).to.equal(200);
    const admin = await platform.adminToken();
    const adminId = (await platform.call('GET', '/api/v1/users/profile', { token: admin })).body.data.id as string;
    const notAdmin = await call(alice, 'POST', `/api/v1/admin/users/${alice.userId}/mfa/reset`, { reason: 'me' });
    expect(notAdmin.status).to.equal(403);
    expect((await platform.call('POST', `/api/v1/admin/users/${alice.userId}/mfa/reset`, { token: admin, body: {} })).status).to.equal(422);

    const before = smsTo(ALICE_PHONE).length;
    const reset = await platform.call('POST', `/api/v1/admin/users/${alice.userId}/mfa/reset`, { token: admin, body: { reason: 'lost her phone' } });
    expect(reset.status, reset.text).to.equal(200);
    const events = await platform.events(userStream(alice.userId));
    const last = events.at(-1)!;
    expect(last.type).to.equal('MfaReset');
    expect(last.data).to.deep.include({ userId: alice.userId, by: adminId, reason: 'lost her phone' });
    expect(last.metadata.userId).to.equal(adminId);
    const again = await platform.call('POST', `/api/v1/admin/users/${alice.userId}/mfa/reset`, { token: admin, body: { reason: 'twice' } });
    expect(again.status).to.equal(200);
    expect(again.body.data.position).to.equal(null);

    // one step again
    const login = await passwordLogin(alice);
    expect(login.access_token).to.be.a('string');
    // notified in-app, and by one SMS named after the notification
    let notification: any;
    await waitFor(
      'the mfa_reset notification',
      async () => {
        const list = await platform.call('GET', '/api/v1/notifications', { token: login.access_token });
        notification = list.body?.data?.items?.find((n: any) => n.kind === 'mfa_reset');
        return notification !== undefined;
      },
      30_000,
      50,
    );
    await waitFor('the notification SMS', () => smsTo(ALICE_PHONE).length > before, 30_000, 20);
    const sms = smsTo(ALICE_PHONE).at(-1)!;
    expect(sms.clientRef).to.equal(notificationSmsId(notification.id));
    expect(((await platform.events(smsMessageStream(sms.clientRef)))[0]!.data as any).purpose).to.equal('notification');
    expect(sms.text).to.include('reset');
    expect(sandbox.acceptedCount(sms.clientRef)).to.equal(1);
  });

  it('the console offers "Send code by SMS" to an admin whose login takes SMS codes (Chromium)', async () => {
    const email = `console-${randomUUID()}@example.test`;
    await createAdmin({ store: platform.store, passwordHasher: platform.container.get(TOKENS.PasswordHasher) }, { email, password: PASSWORD });
    const token = (await platform.call('POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } })).body.data.access_token;
    const admin: Account = { userId: '', email, token };
    const phone = '+8613800138006';
    await verifyPhone(admin, phone);
    expect((await call(admin, 'POST', '/api/v1/users/mfa/sms', { password: PASSWORD })).status).to.equal(200);
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
    try {
      const page = await browser.newPage();
      await page.goto(`${platform.url}/console/`);
      await page.fill('#login-email', email);
      await page.fill('#login-password', PASSWORD);
      await page.click('#login-submit');
      await page.waitForSelector('#login-sms', { state: 'visible' });
      // the resend pause since the verification code
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      const before = smsTo(phone).length;
      await page.click('#login-sms');
      const { code } = await nextCode(phone, before);
      await page.waitForFunction(() => document.querySelector('#login-error')?.textContent?.startsWith('A code was sent by SMS'));
      await page.fill('#login-code', code);
      await page.click('#login-submit');
      await page.waitForSelector('#nav', { state: 'visible' });
      expect(await page.isHidden('#login')).to.equal(true);
    } finally {
      await browser.close();
    }
  });

  it('SMS off with the password, then the number removed', async () => {
    const erin = await register('erin');
    await verifyPhone(erin, '+8613800138005');
    expect((await call(erin, 'POST', '/api/v1/users/mfa/sms', { password: PASSWORD })).status).to.equal(200);
    const wrong = await call(erin, 'DELETE', '/api/v1/users/mfa/sms', { password: 'nope nope' });
    expect(wrong.status).to.equal(403);
    const off = await call(erin, 'DELETE', '/api/v1/users/mfa/sms', { password: PASSWORD });
    expect(off.status, off.text).to.equal(200);
    expect((await passwordLogin(erin)).access_token).to.be.a('string');
    const removed = await call(erin, 'DELETE', '/api/v1/users/me/phone');
    expect(removed.status, removed.text).to.equal(200);
    expect((await call(erin, 'GET', '/api/v1/users/me/phone')).body.data).to.deep.include({ number: null, sms_mfa: false });
    const types = (await platform.events(userStream(erin.userId))).map((e) => e.type);
    expect(types).to.include.members(['PhoneVerificationStarted', 'PhoneNumberVerified', 'SmsMfaEnabled', 'SmsMfaDisabled', 'PhoneNumberRemoved']);
  });
});

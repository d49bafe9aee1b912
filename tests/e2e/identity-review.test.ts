import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import type { SandboxSms, SmsSandbox } from '../../sandbox/sms-provider/server.js';
import type { Platform, Reply } from '../support/platform.js';
import { startSmsPlatform, type SmsPlatform } from '../support/sms-platform.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The identity area as its docs describe it, over a real socket: what a
 * finished login's mfa_token is told at the second step, how a member's roles
 * are refused, and who may list "my enterprise's" sub-accounts.
 */
describe('identity review: second step, member roles, sub-accounts (e2e)', function () {
  this.timeout(120_000);
  const PASSWORD = 'correct horse battery';
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

  const call = (user: { token: string }, method: string, path: string, body?: unknown): Promise<Reply> =>
    platform.call(method, path, { token: user.token, ...(body !== undefined ? { body } : {}) });

  const smsTo = (phone: string): SandboxSms[] => [...sandbox.messages.values()].filter((m) => m.to === phone);

  async function nextCode(phone: string, before: number): Promise<string> {
    await waitFor(`an SMS to ${phone}`, () => smsTo(phone).length > before, 30_000, 20);
    const code = /\b(\d{6})\b/.exec(smsTo(phone).at(-1)!.text)?.[1];
    expect(code).to.be.a('string');
    return code!;
  }

  /** The app's code `steps` 30-second steps from now. */
  const totpCode = (secret: string, steps = 0): string =>
    new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: Date.now() + steps * 30_000 });

  /** A 6-digit code that is none of the steps the server could accept now. */
  function wrongCode(secret: string): string {
    const near = new Set([-2, -1, 0, 1, 2].map((d) => totpCode(secret, d)));
    for (let n = 0; ; n += 1) {
      const code = String(n).padStart(6, '0');
      if (!near.has(code)) return code;
    }
  }

  async function passwordStep(user: Account): Promise<{ mfa_token: string; methods: string[] }> {
    const r = await platform.call('POST', '/api/v1/auth/login', { body: { email: user.email, password: PASSWORD } });
    expect(r.status, r.text).to.equal(200);
    expect(r.body.data.mfa_required, r.text).to.equal(true);
    return r.body.data;
  }

  before(async () => {
    sms = await startSmsPlatform({ name: 'identity-review', config: { SMS_CODE_RESEND_SECONDS: '0', SMS_CODES_PER_USER_HOURLY: '100' } });
    ({ sandbox, platform } = sms);
  });
  after(() => sms?.stop());

  it('answers mfa_token_used to an mfa_token that finished its login, whatever code comes with it (TOTP)', async () => {
    const ann = await register('ann');
    const started = await call(ann, 'POST', '/api/v1/users/mfa/totp');
    expect(started.status, started.text).to.equal(200);
    const secret: string = started.body.data.secret;
    const confirmed = await call(ann, 'POST', '/api/v1/users/mfa/totp/confirm', { code: totpCode(secret) });
    expect(confirmed.status, confirmed.text).to.equal(200);
    const [unused] = confirmed.body.data.recovery_codes as string[];

    const { mfa_token } = await passwordStep(ann);
    // the next step's code: never the one the confirmation spent
    const done = await platform.call('POST', '/api/v1/auth/login/mfa', { body: { mfa_token, code: totpCode(secret, 1) } });
    expect(done.status, done.text).to.equal(200);

    for (const factor of [{ code: wrongCode(secret) }, { recovery_code: 'aaaa-bbbb-cccc-dddd' }, { recovery_code: unused }]) {
      const again = await platform.call('POST', '/api/v1/auth/login/mfa', { body: { mfa_token, ...factor } });
      expect(again.status, again.text).to.equal(401);
      expect(again.body.error.details.reason, again.text).to.equal('mfa_token_used');
    }
    // the recovery code offered with the spent token is still good for a new login
    const next = await passwordStep(ann);
    const recovered = await platform.call('POST', '/api/v1/auth/login/mfa', { body: { mfa_token: next.mfa_token, recovery_code: unused } });
    expect(recovered.status, recovered.text).to.equal(200);
  });

  it('sends no SMS code for an mfa_token that finished its login (401 mfa_token_used)', async () => {
    const bo = await register('bo');
    const phone = '+8613800138101';
    let before = smsTo(phone).length;
    expect((await call(bo, 'PUT', '/api/v1/users/me/phone', { phone })).status).to.equal(202);
    const verified = await call(bo, 'POST', '/api/v1/users/me/phone/verify', { code: await nextCode(phone, before) });
    expect(verified.status, verified.text).to.equal(200);
    const on = await call(bo, 'POST', '/api/v1/users/mfa/sms', { password: PASSWORD });
    expect(on.status, on.text).to.equal(200);

    const { mfa_token, methods } = await passwordStep(bo);
    expect(methods).to.deep.equal(['sms']);
    before = smsTo(phone).length;
    const sent = await platform.call('POST', '/api/v1/auth/login/mfa/sms-code', { body: { mfa_token } });
    expect(sent.status, sent.text).to.equal(202);
    const code = await nextCode(phone, before);
    const done = await platform.call('POST', '/api/v1/auth/login/mfa', { body: { mfa_token, code } });
    expect(done.status, done.text).to.equal(200);

    before = smsTo(phone).length;
    const resend = await platform.call('POST', '/api/v1/auth/login/mfa/sms-code', { body: { mfa_token } });
    expect(resend.status, resend.text).to.equal(401);
    expect(resend.body.error.details.reason).to.equal('mfa_token_used');
    const reused = await platform.call('POST', '/api/v1/auth/login/mfa', { body: { mfa_token, code } });
    expect(reused.status, reused.text).to.equal(401);
    expect(reused.body.error.details.reason).to.equal('mfa_token_used');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(smsTo(phone).length, 'no SMS for a finished login').to.equal(before);
  });

  it("names the body's roles entry a member's unknown role is refused under, as an invitation does", async () => {
    const cy = await register('cy');
    const founded = await call(cy, 'POST', '/api/v1/organizations', { name: 'Cy & Co' });
    expect(founded.status, founded.text).to.equal(201);
    const organizationId: string = founded.body.data.id;
    const changed = await call(cy, 'PATCH', `/api/v1/organizations/${organizationId}/members/${cy.userId}`, { roles: ['owner', 'no-such-role'] });
    expect(changed.status, changed.text).to.equal(422);
    expect(changed.body.error.code).to.equal('VALIDATION_ERROR');
    expect(changed.body.error.details.issues.map((i: { path: unknown }) => i.path)).to.deep.equal([['roles', 1]]);
    const invited = await call(cy, 'POST', `/api/v1/organizations/${organizationId}/invitations`, {
      email: `dee-${randomUUID()}@example.test`,
      roles: ['admin', 'no-such-role'],
    });
    expect(invited.status, invited.text).to.equal(422);
    expect(invited.body.error.details.issues.map((i: { path: unknown }) => i.path)).to.deep.equal([['roles', 1]]);
    const shown = await call(cy, 'GET', `/api/v1/organizations/${organizationId}/members/${cy.userId}`);
    expect(shown.body.data.roles, 'nothing changed').to.deep.equal(['owner']);
  });

  it("refuses my enterprise's sub-accounts to a user in no organization (403 role), and lists them to its owner", async () => {
    const eve = await register('eve');
    const outside = await call(eve, 'GET', '/api/v1/customers/sending');
    expect(outside.status, outside.text).to.equal(403);
    expect(outside.body.error.details).to.include({ reason: 'role', permission: 'organization.members.view' });
    const founded = await call(eve, 'POST', '/api/v1/organizations', { name: 'Eve Ltd' });
    expect(founded.status, founded.text).to.equal(201);
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // the policy's membership answer is kept a second
    const inside = await call(eve, 'GET', `/api/v1/customers/sending?after_position=${founded.body.data.position}`);
    expect(inside.status, inside.text).to.equal(200);
    expect(inside.body.data.items.map((m: { user_id: string }) => m.user_id)).to.deep.equal([eve.userId]);
  });
});

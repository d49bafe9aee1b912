import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { startPlatform, type Platform, type Reply } from '../support/platform.js';
import { waitFor } from '../support/wait-for.js';

/**
 * PUT /api/v1/users/me/password over a real socket: the current password
 * proves it is the user, the session that asks stays signed in and every
 * other one ends, wrong guesses are limited per user, and bad requests get
 * their documented answers.
 */
describe('changing my password while signed in (e2e)', function () {
  this.timeout(60_000);
  const PASSWORD = 'the first passphrase 1';
  const NEW_PASSWORD = 'a second passphrase 2';
  /** AUTH_RATE_LIMIT_PER_ACCOUNT_HOURLY here */
  const WRONG_PER_HOUR = 3;
  let platform: Platform;

  before(async () => {
    platform = await startPlatform({ config: { AUTH_RATE_LIMIT_PER_ACCOUNT_HOURLY: String(WRONG_PER_HOUR) } });
  });
  after(async () => {
    await platform?.stop();
  });

  const login = (email: string, password: string) => platform.call('POST', '/api/v1/auth/login', { body: { email, password } });
  async function register(): Promise<{ email: string; token: string; refresh: string; sessionId: string }> {
    const email = `pw-${randomUUID()}@example.test`;
    const registered = await platform.call('POST', '/api/v1/auth/register', { body: { email, password: PASSWORD, display_name: 'pw' } });
    expect(registered.status, registered.text).to.equal(201);
    const r = await login(email, PASSWORD);
    expect(r.status, r.text).to.equal(200);
    return { email, token: r.body.data.access_token, refresh: r.body.data.refresh_token, sessionId: r.body.data.session_id };
  }
  const change = (token: string, body: unknown, ifMatch?: string) =>
    platform.call('PUT', '/api/v1/users/me/password', { token, body, ...(ifMatch ? { ifMatch } : {}) });
  const reasonOf = (r: Reply) => r.body?.error?.details?.reason;

  it('changes it with the current password: this session stays, every other one ends, the old password stops working, the user is told', async () => {
    const me = await register();
    const other = await login(me.email, PASSWORD);
    expect(other.status).to.equal(200);

    const changed = await change(me.token, { current_password: PASSWORD, new_password: NEW_PASSWORD });
    expect(changed.status, changed.text).to.equal(200);
    expect(changed.body.data.revision).to.match(/^\d+$/);
    expect(changed.headers.get('etag')).to.equal(`"${changed.body.data.revision}"`);
    expect(changed.text).to.not.include(NEW_PASSWORD);

    await waitFor(
      "the other session's access token to be refused",
      async () => (await platform.call('GET', '/api/v1/users/sessions', { token: other.body.data.access_token })).status === 401,
      2_000,
      50,
    );
    const otherRefresh = await platform.call('POST', '/api/v1/auth/refresh', { body: { refresh_token: other.body.data.refresh_token } });
    expect(otherRefresh.status, otherRefresh.text).to.equal(401);

    expect((await platform.call('GET', '/api/v1/users/sessions', { token: me.token })).status, 'this session').to.equal(200);
    const mine = await platform.call('POST', '/api/v1/auth/refresh', { body: { refresh_token: me.refresh } });
    expect(mine.status, mine.text).to.equal(200);

    expect((await login(me.email, PASSWORD)).status).to.equal(401);
    expect((await login(me.email, NEW_PASSWORD)).status).to.equal(200);

    // the user is told, in the app (and by mail, as the preferences say)
    let told: { kind: string; title: string; body: string } | undefined;
    await waitFor(
      'the login_changed notification',
      async () => {
        const list = await platform.call('GET', '/api/v1/notifications', { token: me.token });
        told = list.body?.data?.items?.find((n: { kind: string }) => n.kind === 'login_changed');
        return told !== undefined;
      },
      30_000,
      50,
    );
    expect(told!.title).to.equal('您的密码已修改 / Your password was changed');
    expect(told!.body).to.include('If this was not you');
    expect(JSON.stringify(told)).to.not.include(NEW_PASSWORD);
  });

  it('a wrong current password is 403 password_invalid, counted per user: past the limit 429 with Retry-After, even for the right one', async () => {
    const me = await register();
    for (let i = 0; i < WRONG_PER_HOUR; i++) {
      const wrong = await change(me.token, { current_password: 'not my password', new_password: NEW_PASSWORD });
      expect([wrong.status, wrong.body.error.code, reasonOf(wrong)]).to.deep.equal([403, 'PERMISSION_DENIED', 'password_invalid']);
    }
    const right = await change(me.token, { current_password: PASSWORD, new_password: NEW_PASSWORD });
    expect([right.status, right.body.error.code]).to.deep.equal([429, 'RATE_LIMITED']);
    expect(Number(right.headers.get('retry-after'))).to.be.greaterThan(0);
    expect((await login(me.email, PASSWORD)).status, 'the password is unchanged').to.equal(200);
  });

  it('answers 422 for a new password equal to the current, too short or missing, or an unknown field; 412 for a stale If-Match', async () => {
    const me = await register();
    const same = await change(me.token, { current_password: PASSWORD, new_password: PASSWORD });
    expect(same.status, same.text).to.equal(422);
    expect(same.body.error.details.issues).to.deep.equal([
      { in: 'body', path: ['new_password'], message: 'must differ from the current password', code: 'password_unchanged' },
    ]);
    for (const body of [
      { current_password: PASSWORD, new_password: 'short' },
      { current_password: PASSWORD },
      { new_password: NEW_PASSWORD },
      { current_password: PASSWORD, new_password: NEW_PASSWORD, password: NEW_PASSWORD },
    ]) {
      const refused = await change(me.token, body);
      expect([refused.status, refused.body.error.code], JSON.stringify(body)).to.deep.equal([422, 'VALIDATION_ERROR']);
    }

    const profile = await platform.call('GET', '/api/v1/users/profile', { token: me.token });
    const etag = profile.headers.get('etag')!;
    expect(etag).to.match(/^"\d+"$/);
    const stale = await change(me.token, { current_password: PASSWORD, new_password: NEW_PASSWORD }, `"${BigInt(JSON.parse(etag)) + 5n}"`);
    expect([stale.status, stale.body.error.code]).to.deep.equal([412, 'PRECONDITION_FAILED']);
    const current = await change(me.token, { current_password: PASSWORD, new_password: NEW_PASSWORD }, etag);
    expect(current.status, current.text).to.equal(200);
  });

  it('needs a signed-in session: no token is 401', async () => {
    const anonymous = await platform.call('PUT', '/api/v1/users/me/password', { body: { current_password: PASSWORD, new_password: NEW_PASSWORD } });
    expect(anonymous.status).to.equal(401);
  });
});

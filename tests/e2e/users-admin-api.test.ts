import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { NOTIFICATION_KINDS } from '../../src/write-model/notification/events.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { waitFor } from '../support/wait-for.js';

const PASSWORD = 'correct horse battery';

/** Usernames, notification preferences and the admin's user management, over HTTP against the whole platform. */
describe('usernames, preferences and admin user management (e2e)', function () {
  this.timeout(120_000);
  let platform: Platform;
  let admin: string;

  before(async () => {
    platform = await startPlatform({ proxies: 0 });
    admin = await platform.adminToken();
  });
  after(async () => {
    await platform?.stop();
  });

  const unique = () => randomUUID().replaceAll('-', '').slice(0, 10);

  async function register(body: Record<string, unknown>) {
    return platform.call('POST', '/api/v1/auth/register', { body: { password: PASSWORD, display_name: 'Uma', ...body } });
  }
  async function login(body: Record<string, unknown>) {
    return platform.call('POST', '/api/v1/auth/login', { body: { password: PASSWORD, ...body } });
  }

  describe('usernames', () => {
    it('registers with a username and logs in by it (normalised) or by the email', async () => {
      const name = `uma_${unique()}`;
      const email = `${name}@example.test`;
      const registered = await register({ email, username: `  ${name.toUpperCase()} ` });
      expect(registered.status, registered.text).to.equal(201);
      const byName = await login({ username: name.toUpperCase() });
      expect(byName.status, byName.text).to.equal(200);
      expect(byName.body.data.user_id).to.equal(registered.body.data.user_id);
      const byEmail = await login({ email });
      expect(byEmail.body.data.user_id).to.equal(registered.body.data.user_id);
      const profile = await platform.call('GET', `/api/v1/users/profile?after_position=${registered.body.data.position}`, {
        token: byName.body.data.access_token,
      });
      expect(profile.body.data.username).to.equal(name);

      const wrong = await login({ username: name, password: 'not the password' });
      expect(wrong.status).to.equal(401);
      const unknown = await login({ username: `nobody_${unique()}` });
      expect(unknown.status).to.equal(401);
      expect(unknown.body.error.message, 'the same answer as a wrong password').to.equal(wrong.body.error.message);
    });

    it('wants exactly one of email and username to log in, and a well-formed username', async () => {
      for (const body of [{}, { email: 'a@example.test', username: 'someone' }]) {
        const r = await login(body);
        expect(r.status, JSON.stringify(body)).to.equal(422);
        expect(r.body.error.code).to.equal('VALIDATION_ERROR');
      }
      for (const username of ['ab', 'has space', 'a@b', 'x'.repeat(31)]) {
        const r = await register({ email: `${unique()}@example.test`, username });
        expect(r.status, username).to.equal(422);
      }
    });

    it('refuses a taken username (409, field username) and, for a taken email, reserves nothing', async () => {
      const name = `taken_${unique()}`;
      const first = await register({ email: `${unique()}@example.test`, username: name });
      expect(first.status, first.text).to.equal(201);
      const again = await register({ email: `${unique()}@example.test`, username: name });
      expect(again.status).to.equal(409);
      expect(again.body.error.details).to.include({ field: 'username' });

      // the email is taken: the new name stays free for someone else
      const email = `${unique()}@example.test`;
      expect((await register({ email })).status).to.equal(201);
      const spare = `spare_${unique()}`;
      const taken = await register({ email, username: spare });
      expect(taken.status).to.equal(409);
      expect(taken.body.error.details).to.include({ field: 'email' });
      expect((await register({ email: `${unique()}@example.test`, username: spare })).status).to.equal(201);
    });

    it('changes the username in the profile: the new one logs in, the old one is free again, a taken one is 409', async () => {
      const user = await platform.signUp('renamer');
      const first = `first_${unique()}`;
      const set = await platform.call('PUT', '/api/v1/users/profile', { token: user.token, body: { username: first } });
      expect(set.status, set.text).to.equal(200);
      expect((await login({ username: first })).status).to.equal(200);

      const second = `second_${unique()}`;
      expect((await platform.call('PUT', '/api/v1/users/profile', { token: user.token, body: { username: second } })).status).to.equal(200);
      expect((await login({ username: second })).body.data.user_id).to.equal(user.userId);
      expect((await login({ username: first })).status, 'the old name no longer names the user').to.equal(401);
      await waitFor('the old name to be free', async () => (await register({ email: `${unique()}@example.test`, username: first })).status === 201, 5_000);

      const other = `other_${unique()}`;
      expect((await register({ email: `${unique()}@example.test`, username: other })).status).to.equal(201);
      const clash = await platform.call('PUT', '/api/v1/users/profile', { token: user.token, body: { username: other } });
      expect(clash.status).to.equal(409);
      expect(clash.body.error.details).to.include({ field: 'username' });
      expect((await login({ username: second })).body.data.user_id, 'the refused change kept the name').to.equal(user.userId);
    });
  });

  it('keeps notification preferences per kind: every kind listed, changes merged', async () => {
    const user = await platform.signUp('prefs');
    const before = await platform.call('GET', '/api/v1/users/profile', { token: user.token });
    // every kind the platform sends, each in-app and by mail (not by SMS) until changed
    expect(before.body.data.notification_preferences).to.deep.equal(
      Object.fromEntries(NOTIFICATION_KINDS.map((kind) => [kind, { in_app: true, mail: true, sms: false }])),
    );
    expect(NOTIFICATION_KINDS).to.include.members(['quota_exceeded', 'account_invalidated', 'execution_failed', 'payment_received']);
    const put = (prefs: unknown) => platform.call('PUT', '/api/v1/users/profile', { token: user.token, body: { notification_preferences: prefs } });
    expect((await put({ quota_exceeded: { in_app: false, mail: true } })).status).to.equal(200);
    const changed = await put({ payment_received: { in_app: true, mail: false, sms: true } });
    expect(changed.status).to.equal(200);
    const after = await platform.call('GET', `/api/v1/users/profile?after_position=${changed.body.data.position}`, { token: user.token });
    expect(after.body.data.notification_preferences).to.deep.include({
      quota_exceeded: { in_app: false, mail: true, sms: false },
      payment_received: { in_app: true, mail: false, sms: true },
      execution_failed: { in_app: true, mail: true, sms: false },
    });
    for (const bad of [
      { birthday: { in_app: true, mail: true } },
      { quota_exceeded: { in_app: true } },
      { quota_exceeded: { in_app: 'yes', mail: true } },
      { quota_exceeded: { in_app: true, mail: true, sms: 'yes' } },
    ]) {
      const r = await put(bad);
      expect(r.status, JSON.stringify(bad)).to.equal(422);
    }
  });

  describe('admin user management', () => {
    it('is for admins only', async () => {
      const user = await platform.signUp('nosy');
      for (const [method, path, body] of [
        ['GET', '/api/v1/admin/users', undefined],
        ['GET', `/api/v1/admin/users/${user.userId}`, undefined],
        ['POST', `/api/v1/admin/users/${user.userId}/suspend`, { reason: 'x' }],
        ['POST', `/api/v1/admin/users/${user.userId}/reactivate`, undefined],
        ['PUT', `/api/v1/admin/users/${user.userId}/role`, { role: 'admin' }],
      ] as const) {
        expect((await platform.call(method, path, body ? { body } : {})).status, `${method} ${path} anonymous`).to.equal(401);
        expect((await platform.call(method, path, { token: user.token, ...(body ? { body } : {}) })).status, `${method} ${path} as a user`).to.equal(403);
      }
    });

    it('finds users by the start of their email, username or display name, and filters by role and status', async () => {
      const tag = unique();
      const named = await register({ email: `find-${tag}@example.test`, username: `finder_${tag}`, display_name: `Zed ${tag}` });
      expect(named.status).to.equal(201);
      const id = named.body.data.user_id;
      const search = (query: string) => platform.call('GET', `/api/v1/admin/users?${query}`, { token: admin });
      await waitFor('the user in the list', async () => (await search(`q=find-${tag}`)).body.data.items.length === 1);
      for (const q of [`FIND-${tag}`, `finder_${tag}`, `zed ${tag}`]) {
        const found = await search(`q=${encodeURIComponent(q)}`);
        expect(found.status, found.text).to.equal(200);
        expect(
          found.body.data.items.map((u: any) => u.id),
          q,
        ).to.deep.equal([id]);
      }
      const item = (await search(`q=find-${tag}`)).body.data.items[0];
      expect(item).to.include({ id, email: `find-${tag}@example.test`, username: `finder_${tag}`, role: 'user', status: 'active', email_verified: false });
      expect(JSON.stringify(item)).not.to.match(/argon2|password/i);
      expect((await search(`q=find-${tag}&role=admin`)).body.data.items).to.deep.equal([]);
      expect((await search('q=%25')).body.data.items, 'a LIKE wildcard is matched literally').to.deep.equal([]);
      const page = await search('per_page=1&page=1');
      expect(page.body.data.items).to.have.length(1);
      expect(page.body.data.pagination.total).to.be.at.least(2);
      expect((await search('status=gone')).status).to.equal(422);
      // the registration period, compared as instants: from after to is a 422 naming registered_from, not an empty page
      const period = (from: string, to: string) => search(`q=find-${tag}&registered_from=${encodeURIComponent(from)}&registered_to=${encodeURIComponent(to)}`);
      const backwards = await period('2026-03-02T00:00:00Z', '2026-03-01T00:00:00Z');
      expect(backwards.status, backwards.text).to.equal(422);
      expect(backwards.body.error.code).to.equal('VALIDATION_ERROR');
      expect(backwards.body.error.details.issues.map((i: any) => [i.in, i.path])).to.deep.equal([['query', ['registered_from']]]);
      const sameInstant = await period('2026-03-01T08:00:00+08:00', '2026-03-01T00:00:00Z');
      expect(sameInstant.status, sameInstant.text).to.equal(200);
      const around = await period(new Date(Date.now() - 3_600_000).toISOString(), new Date(Date.now() + 3_600_000).toISOString());
      expect(around.body.data.items.map((u: any) => u.id)).to.deep.equal([id]);
      expect((await platform.call('GET', `/api/v1/admin/users/${randomUUID()}`, { token: admin })).status).to.equal(404);
      expect((await platform.call('GET', '/api/v1/admin/users/not-a-uuid', { token: admin })).status).to.equal(422);
    });

    it('suspends a user (their token stops working, they cannot log in or refresh), then reactivates them', async () => {
      const email = `suspend-${unique()}@example.test`;
      expect((await register({ email })).status).to.equal(201);
      const signedIn = await login({ email });
      const { access_token: token, refresh_token: refreshToken, user_id: userId } = signedIn.body.data;
      await waitFor('the profile', async () => (await platform.call('GET', '/api/v1/users/profile', { token })).status === 200);

      const suspended = await platform.call('POST', `/api/v1/admin/users/${userId}/suspend`, { token: admin, body: { reason: 'spam' } });
      expect(suspended.status, suspended.text).to.equal(200);
      await waitFor('the token to stop working', async () => (await platform.call('GET', '/api/v1/users/profile', { token })).status === 401, 3_000);
      expect((await login({ email })).status).to.equal(403);
      expect((await platform.call('POST', '/api/v1/auth/refresh', { body: { refresh_token: refreshToken } })).status).to.equal(401);
      const again = await platform.call('POST', `/api/v1/admin/users/${userId}/suspend`, { token: admin, body: { reason: 'spam' } });
      expect(again.status).to.equal(200);
      expect(again.body.data.position, 'nothing new').to.equal(null);
      await waitFor(
        'the suspended user in the list',
        async () =>
          (await platform.call('GET', `/api/v1/admin/users?status=suspended&q=${encodeURIComponent(email)}`, { token: admin })).body.data.items.length === 1,
      );

      expect((await platform.call('POST', `/api/v1/admin/users/${userId}/reactivate`, { token: admin })).status).to.equal(200);
      expect((await login({ email })).status).to.equal(200);
      expect((await platform.call('POST', `/api/v1/admin/users/${userId}/suspend`, { token: admin, body: {} })).status, 'a reason is needed').to.equal(422);
    });

    it("changes a user's role, and refuses to suspend or demote oneself", async () => {
      const user = await platform.signUp('promoted');
      const promoted = await platform.call('PUT', `/api/v1/admin/users/${user.userId}/role`, { token: admin, body: { role: 'admin' } });
      expect(promoted.status, promoted.text).to.equal(200);
      // the user's existing token carries the new role on the next request
      await waitFor(
        'the new role to count',
        async () => (await platform.call('GET', '/api/v1/admin/users?per_page=1', { token: user.token })).status === 200,
        3_000,
      );

      const me = (await platform.call('GET', '/api/v1/users/profile', { token: admin })).body.data.id;
      const self = await platform.call('POST', `/api/v1/admin/users/${me}/suspend`, { token: admin, body: { reason: 'oops' } });
      expect(self.status).to.equal(409);
      expect((await platform.call('PUT', `/api/v1/admin/users/${me}/role`, { token: admin, body: { role: 'user' } })).status).to.equal(409);
      expect((await platform.call('PUT', `/api/v1/admin/users/${user.userId}/role`, { token: admin, body: { role: 'owner' } })).status).to.equal(422);
      expect((await platform.call('PUT', `/api/v1/admin/users/${randomUUID()}/role`, { token: admin, body: { role: 'user' } })).status).to.equal(404);
    });
  });
});

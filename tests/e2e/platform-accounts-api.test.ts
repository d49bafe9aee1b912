import { expect } from 'chai';
import type { Container } from 'inversify';
import type { Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { LOGIN_IP_PREFIX } from '../../src/adapters/rate-limit/login-rate-limit.js';
import { createApiApp } from '../../src/api-app.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore } from '../../src/event-store/index.js';
import { platformAccountsProjection } from '../../src/projections/platform-accounts.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import { TOKENS } from '../../src/tokens.js';
import { platformAccountStream } from '../../src/write-model/platform-account/decider.js';
import { subscriptionStream } from '../../src/write-model/subscription/decider.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { startFixturePlatformServer, xhsId, type FixturePlatformServer } from '../support/fixture-platform-server.js';

interface Reply {
  res: Response;
  text: string;
  body: any;
}

const LOCAL_IP_KEYS = ['127.0.0.1', '::ffff:127.0.0.1', '::1'].map((ip) => `${LOGIN_IP_PREFIX}:${ip}`);

/**
 * Platform accounts over HTTP, against the production app (createApiApp) on a
 * real socket, the platform-accounts-v1 projection in-process under its real
 * name, and a fixture platform server standing in for Xiaohongshu and Qidian.
 */
describe('platform accounts API (e2e)', function () {
  this.timeout(90_000);
  let container: Container;
  let store: EventStore;
  let knex: Knex;
  let running: RunningServer;
  let fixture: FixturePlatformServer;
  let runner: ConsumerRunner;
  /** every response body: checked for the cookies at the end */
  const seen: string[] = [];

  before(async () => {
    fixture = await startFixturePlatformServer();
    const config = testConfig({ LOGIN_RATE_LIMIT_PER_IP: '10000', XIAOHONGSHU_API_URL: fixture.url, QIDIAN_WEB_URL: fixture.url });
    container = await buildContainer(config);
    store = container.get(TOKENS.EventStore);
    knex = container.get(TOKENS.Knex);
    runner = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl }, platformAccountsProjection, { idleCheckpointMs: 100, lockRetryMs: 100 });
    runner.start();
    running = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
  });
  after(async () => {
    if (running) await closeServer(running.server);
    await runner?.stop();
    await fixture?.close();
    if (container) {
      await container.get(TOKENS.Redis).del(...LOCAL_IP_KEYS);
      await disposeContainer(container);
    }
  });

  async function call(method: string, path: string, options: { body?: unknown; token?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    const res = await fetch(`${running.url}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
    const text = await res.text();
    seen.push(text);
    return { res, text, body: JSON.parse(text) };
  }

  /** A new user with the free xiaohongshu plan started. */
  async function signUp(): Promise<{ userId: string; token: string }> {
    const email = `accounts-${randomUUID()}@example.test`;
    const password = `pw ${randomUUID()}`;
    const registered = await call('POST', '/api/v1/auth/register', { body: { email, password, display_name: 'Acc' } });
    expect(registered.res.status, registered.text).to.equal(201);
    const login = await call('POST', '/api/v1/auth/login', { body: { email, password } });
    expect(login.res.status, login.text).to.equal(200);
    const token = login.body.data.access_token as string;
    const started = await call('POST', '/api/v1/subscriptions', { token, body: { service: 'xiaohongshu' } });
    expect([200, 201], started.text).to.include(started.res.status);
    return { userId: registered.body.data.user_id, token };
  }

  const cookieFor = (session: string) => `a1=187d2defea8${xhsId()}; webId=${xhsId()}; gid=yYjK; web_session=${session}`;

  it('connect → limit → verify → invalid → rotate → disconnect frees the slot; others see nothing; no cookie anywhere', async () => {
    const alice = await signUp();
    const bob = await signUp();
    const session1 = `040069b${xhsId()}`;
    const session2 = `040069b${xhsId()}`;
    const cookies = [cookieFor(session1), cookieFor(session2), cookieFor(`040069b${xhsId()}`)];
    const xhsUser = { user_id: xhsId(), nickname: '爱吃火锅的小红薯' };

    // a cookie without web_session: 422 naming the field, not the value
    const bad = await call('POST', '/api/v1/platform-accounts', {
      token: alice.token,
      body: { platform: 'xiaohongshu', credentials: { cookies: 'a1=secretvalue123' }, display_name: '主号' },
    });
    expect(bad.res.status, bad.text).to.equal(422);
    expect(bad.body.error.details.issues[0]).to.include({ in: 'body' });
    expect(bad.body.error.details.issues[0].path).to.deep.equal(['credentials', 'cookies']);
    expect(bad.text).to.not.include('secretvalue123');

    // connect: free holds one xiaohongshu account
    const connected = await call('POST', '/api/v1/platform-accounts', {
      token: alice.token,
      body: { platform: 'xiaohongshu', credentials: { cookies: cookies[0], userAgent: 'Mozilla/5.0 walk' }, display_name: '主号' },
    });
    expect(connected.res.status, connected.text).to.equal(201);
    const id = connected.body.data.id as string;
    expect(connected.body.data.revision).to.equal('0');

    const second = await call('POST', '/api/v1/platform-accounts', {
      token: alice.token,
      body: { platform: 'xiaohongshu', credentials: { cookies: cookies[2] }, display_name: '小号' },
    });
    expect(second.res.status, second.text).to.equal(429);
    expect(second.body.error.code).to.equal('QUOTA_EXCEEDED');
    expect(second.body.error.details).to.include({ feature: 'account_limit', limit: 1, used: 1, resets_at: null });
    expect(second.res.headers.get('Retry-After'), 'a held account frees up when one is disconnected, not at a time').to.equal(null);

    // listed (read your write), pending, no credentials shown
    const listed = await call('GET', `/api/v1/platform-accounts?after_position=${connected.body.data.position}`, { token: alice.token });
    expect(listed.res.status, listed.text).to.equal(200);
    expect(listed.body.data.items.map((a: any) => a.id)).to.deep.equal([id]);
    const pending = listed.body.data.items[0];
    expect(pending).to.include({ platform: 'xiaohongshu', display_name: '主号', status: 'pending_verification', has_credentials: true, health_score: 100 });
    expect(pending).to.not.have.property('credentials');
    expect(listed.body.data.pagination).to.include({ total: 1, page: 1 });

    // verify against the platform: active, nickname shown
    fixture.xiaohongshu.sessions.set(session1, xhsUser);
    const verified = await call('POST', `/api/v1/platform-accounts/${id}/verify`, { token: alice.token });
    expect(verified.res.status, verified.text).to.equal(200);
    expect(verified.body.data).to.include({ verified: true, status: 'active', nickname: xhsUser.nickname, platform_user_id: xhsUser.user_id });
    const verifyCall = fixture.requests.filter((r) => r.path === '/api/sns/web/v2/user/me').at(-1);
    expect(verifyCall).to.include({ cookie: cookies[0], userAgent: 'Mozilla/5.0 walk' });
    const active = await call('GET', `/api/v1/platform-accounts/${id}?after_position=${verified.body.data.position}`, { token: alice.token });
    expect(active.body.data).to.include({ status: 'active', nickname: xhsUser.nickname, platform_user_id: xhsUser.user_id });
    expect(active.body.data.verified_at).to.be.a('string');

    // the platform rate-limits: 502 UPSTREAM_UNAVAILABLE, and the account is not invalidated
    fixture.xiaohongshu.rateLimited.add(session1);
    const limited = await call('POST', `/api/v1/platform-accounts/${id}/verify`, { token: alice.token });
    expect(limited.res.status, limited.text).to.equal(502);
    expect(limited.body.error).to.include({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(limited.body.error.details).to.deep.equal({ platform: 'xiaohongshu', problem: 'rate_limited' });
    fixture.xiaohongshu.rateLimited.delete(session1);
    const stillActive = await call('GET', `/api/v1/platform-accounts/${id}`, { token: alice.token });
    expect(stillActive.body.data).to.include({ status: 'active', revision: active.body.data.revision });

    // the session is logged out on the platform: the same cookie is now a guest → invalid
    fixture.xiaohongshu.sessions.delete(session1);
    const guest = await call('POST', `/api/v1/platform-accounts/${id}/verify`, { token: alice.token });
    expect(guest.res.status, guest.text).to.equal(200);
    expect(guest.body.data).to.include({ verified: false, status: 'invalid', reason: 'credentials_expired' });
    const invalid = await call('GET', `/api/v1/platform-accounts/${id}?after_position=${guest.body.data.position}`, { token: alice.token });
    expect(invalid.body.data).to.include({ status: 'invalid', last_invalidation_reason: 'credentials_expired' });
    const etag = invalid.res.headers.get('etag')!;
    expect(etag).to.equal(`"${invalid.body.data.revision}"`);

    // rotate: a stale If-Match is 412; the current one puts the account back to pending
    const stale = await call('PUT', `/api/v1/platform-accounts/${id}`, {
      token: alice.token,
      headers: { 'If-Match': '"0"' },
      body: { credentials: { cookies: cookies[1] } },
    });
    expect(stale.res.status, stale.text).to.equal(412);
    const rotated = await call('PUT', `/api/v1/platform-accounts/${id}`, {
      token: alice.token,
      headers: { 'If-Match': etag },
      body: { credentials: { cookies: cookies[1] } },
    });
    expect(rotated.res.status, rotated.text).to.equal(200);
    const reconnected = await call('GET', `/api/v1/platform-accounts/${id}?after_position=${rotated.body.data.position}`, { token: alice.token });
    expect(reconnected.body.data).to.include({ status: 'pending_verification', last_invalidation_reason: 'credentials_expired' });
    // the new cookie is the one verified now
    fixture.xiaohongshu.sessions.set(session2, xhsUser);
    const again = await call('POST', `/api/v1/platform-accounts/${id}/verify`, { token: alice.token });
    expect(again.body.data).to.include({ verified: true, status: 'active' });
    expect(fixture.requests.at(-1)?.cookie).to.equal(cookies[1]);

    // rename (with If-Match); the same name again writes nothing
    const current = await call('GET', `/api/v1/platform-accounts/${id}?after_position=${again.body.data.position}`, { token: alice.token });
    const renamed = await call('PUT', `/api/v1/platform-accounts/${id}`, {
      token: alice.token,
      headers: { 'If-Match': current.res.headers.get('etag')! },
      body: { display_name: '运营主号' },
    });
    expect(renamed.res.status, renamed.text).to.equal(200);
    const relabelled = await call('GET', `/api/v1/platform-accounts/${id}?after_position=${renamed.body.data.position}`, { token: alice.token });
    expect(relabelled.body.data).to.include({ display_name: '运营主号', status: 'active' });
    const same = await call('PUT', `/api/v1/platform-accounts/${id}`, { token: alice.token, body: { display_name: '运营主号' } });
    expect(same.body.data.position).to.equal(null);

    // bob sees none of it
    for (const [method, path, body] of [
      ['GET', `/api/v1/platform-accounts/${id}`, undefined],
      ['PUT', `/api/v1/platform-accounts/${id}`, { credentials: { cookies: cookies[2] } }],
      ['POST', `/api/v1/platform-accounts/${id}/verify`, undefined],
      ['DELETE', `/api/v1/platform-accounts/${id}`, undefined],
    ] as const) {
      const denied = await call(method, path, { token: bob.token, ...(body ? { body } : {}) });
      expect(denied.res.status, `${method} ${path}: ${denied.text}`).to.equal(404);
      expect(denied.body.error.code).to.equal('NOT_FOUND');
    }
    const bobs = await call('GET', '/api/v1/platform-accounts?status=active', { token: bob.token });
    expect(bobs.body.data.items).to.deep.equal([]);

    // disconnect frees the slot: a new connect succeeds
    const gone = await call('DELETE', `/api/v1/platform-accounts/${id}`, { token: alice.token });
    expect(gone.res.status, gone.text).to.equal(200);
    const goneAgain = await call('DELETE', `/api/v1/platform-accounts/${id}`, { token: alice.token });
    expect(goneAgain.res.status, goneAgain.text).to.equal(200);
    expect(goneAgain.body.data).to.include({ revision: gone.body.data.revision, position: null });
    const replacement = await call('POST', '/api/v1/platform-accounts', {
      token: alice.token,
      body: { platform: 'xiaohongshu', credentials: { cookies: cookies[2] }, display_name: '小号' },
    });
    expect(replacement.res.status, replacement.text).to.equal(201);
    const newId = replacement.body.data.id as string;
    const mine = await call('GET', `/api/v1/platform-accounts?after_position=${replacement.body.data.position}`, { token: alice.token });
    expect(mine.body.data.items.map((a: any) => a.id)).to.deep.equal([newId]);
    const disconnected = await call('GET', '/api/v1/platform-accounts?status=disconnected&platform=xiaohongshu', { token: alice.token });
    expect(disconnected.body.data.items.map((a: any) => [a.id, a.status])).to.deep.equal([[id, 'disconnected']]);
    const verifyGone = await call('POST', `/api/v1/platform-accounts/${id}/verify`, { token: alice.token });
    expect(verifyGone.res.status, verifyGone.text).to.equal(409);

    // the subscription holds exactly the replacement's slot
    const subEvents = await store.readStream(subscriptionStream(alice.userId, 'xiaohongshu'));
    const held = new Set<string>();
    for (const e of subEvents) {
      const d = e.data as any;
      if (e.type === 'ResourceReserved' && d.feature === 'account_limit') held.add(d.resourceId);
      if (e.type === 'ResourceReleased' && d.feature === 'account_limit') held.delete(d.resourceId);
    }
    expect([...held]).to.deep.equal([newId]);

    // no cookie in clear: not in a response, a row of platform_accounts, or an event
    const rows = await knex('platform_accounts').whereIn('id', [id, newId]);
    expect(rows).to.have.length(2);
    const events = [...(await store.readStream(platformAccountStream(id))), ...(await store.readStream(platformAccountStream(newId)))];
    expect(events.map((e) => e.type)).to.include.members([
      'PlatformAccountConnected',
      'AccountVerified',
      'AccountInvalidated',
      'AccountCredentialsRotated',
      'PlatformAccountDisconnected',
    ]);
    const everywhere = [JSON.stringify(seen), JSON.stringify(rows), JSON.stringify(events.map((e) => ({ data: e.data, metadata: e.metadata })))];
    for (const cookie of cookies) {
      const session = /web_session=([^;]+)/.exec(cookie)![1]!;
      for (const text of everywhere) {
        expect(text).to.not.include(cookie);
        expect(text).to.not.include(session);
      }
    }
  });

  it('qidian has no account limit: several accounts connect without a reservation; verify reads the page', async () => {
    const carol = await signUp();
    const ids: string[] = [];
    const keys = [`key-${randomUUID()}`, `key-${randomUUID()}`];
    for (const [i, name] of ['起点一号', '起点二号'].entries()) {
      const made = await call('POST', '/api/v1/platform-accounts', {
        token: carol.token,
        body: { platform: 'qidian', credentials: { cookies: `ywguid=800${i}; ywkey=${keys[i]}` }, display_name: name },
      });
      expect(made.res.status, made.text).to.equal(201);
      ids.push(made.body.data.id);
    }
    const qidianSub = await store.readStream(subscriptionStream(carol.userId, 'qidian')).catch(() => []);
    expect(qidianSub.filter((e) => e.type === 'ResourceReserved')).to.deep.equal([]);

    fixture.qidian.sessions.set(keys[0]!, { uid: '8000', nickname: '起点读者' });
    const ok = await call('POST', `/api/v1/platform-accounts/${ids[0]}/verify`, { token: carol.token });
    expect(ok.res.status, ok.text).to.equal(200);
    expect(ok.body.data).to.include({ verified: true, status: 'active', nickname: '起点读者', platform_user_id: '8000' });
    const wall = await call('POST', `/api/v1/platform-accounts/${ids[1]}/verify`, { token: carol.token });
    expect(wall.body.data).to.include({ verified: false, status: 'invalid', reason: 'login_wall' });

    const list = await call('GET', `/api/v1/platform-accounts?platform=qidian&per_page=1&after_position=${wall.body.data.position}`, { token: carol.token });
    expect(list.res.status, list.text).to.equal(200);
    expect(list.body.data.pagination).to.include({ total: 2, per_page: 1, has_next: true });
    const unauthenticated = await call('GET', '/api/v1/platform-accounts');
    expect(unauthenticated.res.status).to.equal(401);
  });

  it('documents what a disconnect may answer: 409 for a conflict retries did not get past, 412 for a stale If-Match', async () => {
    const doc = (await call('GET', '/api/v1/openapi.json')).body;
    for (const path of ['/api/v1/platform-accounts/{id}', '/api/v1/xiaohongshu/accounts/{id}']) {
      const disconnect = doc.paths[path].delete;
      expect(disconnect.responses, path).to.include.keys('200', '401', '404', '409', '412');
      expect(disconnect.description, path).to.include('409 CONFLICT');
    }
  });
});

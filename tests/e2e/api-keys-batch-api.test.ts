import { expect } from 'chai';
import type { Container } from 'inversify';
import type { Knex } from 'knex';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { LOGIN_IP_PREFIX } from '../../src/adapters/rate-limit/login-rate-limit.js';
import { createApiApp } from '../../src/api-app.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore } from '../../src/event-store/index.js';
import { apiKeysProjection } from '../../src/projections/api-keys.js';
import { xiaohongshuContentProjection } from '../../src/projections/xiaohongshu-content.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import { TOKENS } from '../../src/tokens.js';
import { handle, load } from '../../src/write-model/core/command-handler.js';
import { platformAccountAggregate } from '../../src/write-model/platform-account/decider.js';
import { subscriptionAggregate, subscriptionKey } from '../../src/write-model/subscription/decider.js';
import type { PlanCode } from '../../src/write-model/subscription/plans.js';
import { userAggregate } from '../../src/write-model/user/decider.js';
import { workflowExecutionAggregate, type WorkflowExecutionCommand } from '../../src/write-model/workflow-execution/index.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';
import { grantPlan } from '../support/plans.js';

interface Reply {
  status: number;
  text: string;
  body: any;
}

const LOCAL_IP_KEYS = ['127.0.0.1', '::ffff:127.0.0.1', '::1'].map((ip) => `${LOGIN_IP_PREFIX}:${ip}`);
const PASSWORD = 'api key owner password';
const DAY_MS = 86_400_000;
const hex24 = () => randomBytes(12).toString('hex');
const context = () => ({ correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('personal API keys and batch operations (e2e, production app)', function () {
  this.timeout(90_000);
  let container: Container;
  let store: EventStore;
  let knex: Knex;
  let running: RunningServer;
  let runner: ConsumerRunner;

  before(async () => {
    // the verifier's platform API on a port nothing listens on: a verification gets no answer (502 items)
    container = await buildContainer(testConfig({ LOGIN_RATE_LIMIT_PER_IP: '10000', XIAOHONGSHU_API_URL: 'http://127.0.0.1:9' }));
    store = container.get(TOKENS.EventStore);
    knex = container.get(TOKENS.Knex);
    runner = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl }, apiKeysProjection, { idleCheckpointMs: 100, lockRetryMs: 100 });
    runner.start();
    running = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
  });
  after(async () => {
    if (running) await closeServer(running.server);
    if (runner) await runner.stop();
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
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.status, text, body };
  }
  const withKey = (key: string, how: 'x-api-key' | 'bearer' = 'x-api-key'): Record<string, string> =>
    how === 'bearer' ? { Authorization: `Bearer ${key}` } : { 'X-API-Key': key };

  async function signUp(): Promise<{ userId: string; token: string }> {
    const email = `keys-${randomUUID()}@example.test`;
    const registered = await call('POST', '/api/v1/auth/register', { body: { email, password: PASSWORD, display_name: '开发者' } });
    expect(registered.status, registered.text).to.equal(201);
    const login = await call('POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
    expect(login.status, login.text).to.equal(200);
    const token = login.body.data.access_token as string;
    for (const service of ['xiaohongshu', 'qidian']) {
      const started = await call('POST', '/api/v1/subscriptions', { token, body: { service } });
      expect(started.status, started.text).to.be.oneOf([200, 201, 409]);
    }
    return { userId: registered.body.data.user_id, token };
  }

  /** Moves the user's subscription to a paid plan for a month (what a paid order does). */
  async function onPlan(userId: string, service: 'xiaohongshu' | 'qidian', plan: PlanCode): Promise<string> {
    return grantPlan(store, userId, service, plan);
  }

  /** Polls `probe` until it answers `status` (within `ms`). */
  async function eventually(probe: () => Promise<Reply>, status: number, ms = 2_500): Promise<Reply> {
    const deadline = Date.now() + ms;
    for (;;) {
      const r = await probe();
      if (r.status === status || Date.now() > deadline) return r;
      await sleep(100);
    }
  }

  // ---------------------------------------------------------------- API keys

  describe('API keys', () => {
    it('a user without a plan with API access cannot make one (403 naming api_access)', async () => {
      const u = await signUp();
      await onPlan(u.userId, 'qidian', 'pro');
      await onPlan(u.userId, 'xiaohongshu', 'pro');
      const r = await call('POST', '/api/v1/users/api-keys', { token: u.token, body: { name: 'CI', scopes: ['read'] } });
      expect(r.status, r.text).to.equal(403);
      expect(r.body.error.code).to.equal('PERMISSION_DENIED');
      expect(r.body.error.details).to.deep.include({ feature: 'api_access', plans: { xiaohongshu: 'pro', qidian: 'pro' } });
    });

    it('create → shown once → used with either header → scopes refuse → listed without secret, last used day → revoked: 401', async () => {
      const u = await signUp();
      await onPlan(u.userId, 'qidian', 'enterprise');
      const created = await call('POST', '/api/v1/users/api-keys', { token: u.token, body: { name: '数据同步', scopes: ['read'] } });
      expect(created.status, created.text).to.equal(201);
      const key = created.body.data.key as string;
      expect(key).to.match(/^ck_live_[0-9a-f]{24}_[A-Za-z0-9_-]{43}$/);
      expect(created.body.data).to.include({ name: '数据同步', prefix: `ck_live_${created.body.data.id}`, expires_at: null });
      expect(created.body.data.scopes).to.deep.equal(['read']);
      // the secret is in no event
      const events = await store.readStream(`api_key-${created.body.data.id}`);
      expect(JSON.stringify(events.map((e) => e.data))).to.not.include(key.slice(-43));

      // both headers work, on a read route, as the key's user
      for (const how of ['x-api-key', 'bearer'] as const) {
        const r = await call('GET', '/api/v1/qidian/trackings', { headers: withKey(key, how) });
        expect(r.status, `${how}: ${r.text}`).to.equal(200);
      }
      // a change needs manage; an export needs export: 403 naming the scope
      const change = await call('POST', '/api/v1/qidian/trackings', { headers: withKey(key), body: { novel_id: '1010868264' } });
      expect(change.status, change.text).to.equal(403);
      expect(change.body.error.details).to.deep.equal({ required_scope: 'manage', scopes: ['read'] });
      const exported = await call('GET', '/api/v1/qidian/novels/1010868264/data/export?format=json', { headers: withKey(key) });
      expect(exported.status, exported.text).to.equal(403);
      expect(exported.body.error.details.required_scope).to.equal('export');
      // the account, its keys and billing need a session
      for (const [method, path] of [
        ['GET', '/api/v1/users/api-keys'],
        ['GET', '/api/v1/users/profile'],
        ['POST', '/api/v1/auth/logout'],
        ['GET', '/api/v1/payments/orders'],
      ] as const) {
        const r = await call(method, path, { headers: withKey(key) });
        expect(r.status, `${method} ${path}: ${r.text}`).to.equal(403);
        expect(r.body.error.details.required_scope).to.equal('session');
      }
      // admin work never: the key acts as role user
      expect((await call('GET', '/api/v1/admin/users', { headers: withKey(key) })).status).to.equal(403);
      // one credential per request; a wrong secret; a key that does not exist
      expect((await call('GET', '/api/v1/qidian/trackings', { token: u.token, headers: withKey(key) })).status).to.equal(401);
      expect((await call('GET', '/api/v1/qidian/trackings', { headers: withKey(`${key.slice(0, -2)}${key.endsWith('AA') ? 'BB' : 'AA'}`) })).status).to.equal(
        401,
      );
      expect(
        (await call('GET', '/api/v1/qidian/trackings', { headers: withKey(`ck_live_${hex24()}_${randomBytes(32).toString('base64url')}`) })).status,
      ).to.equal(401);
      expect((await call('GET', '/api/v1/qidian/trackings', { headers: withKey('ck_live_nonsense') })).status).to.equal(401);

      // listed: never the secret; the day it was used
      let listed: Reply;
      const deadline = Date.now() + 5_000;
      do {
        listed = await call('GET', `/api/v1/users/api-keys?after_position=${created.body.data.position}`, { token: u.token });
        expect(listed.status, listed.text).to.equal(200);
      } while (listed.body.data.items[0]?.last_used_day == null && Date.now() < deadline && (await sleep(100), true));
      expect(listed.text).to.not.include(key.slice(-43));
      const item = listed.body.data.items[0];
      expect(item).to.include({ id: created.body.data.id, name: '数据同步', status: 'active', revoked_at: null });
      expect(item.last_used_day).to.match(/^\d{4}-\d{2}-\d{2}$/);
      expect(item).to.not.have.property('key');
      // used many times today, recorded once
      const used = await store.readStream(`api_key_usage-${created.body.data.id}_${item.last_used_day.replaceAll('-', '')}`);
      expect(used.map((e) => e.type)).to.deep.equal(['ApiKeyUsed']);

      // revoked: refused within a second; revoking again is a no-op; a stranger's revoke is 404
      const stranger = await signUp();
      expect((await call('DELETE', `/api/v1/users/api-keys/${created.body.data.id}`, { token: stranger.token })).status).to.equal(404);
      const revoked = await call('DELETE', `/api/v1/users/api-keys/${created.body.data.id}`, { token: u.token });
      expect(revoked.status, revoked.text).to.equal(200);
      const refused = await eventually(() => call('GET', '/api/v1/qidian/trackings', { headers: withKey(key) }), 401);
      expect(refused.status, refused.text).to.equal(401);
      expect(refused.body.error.code).to.equal('UNAUTHENTICATED');
      const again = await call('DELETE', `/api/v1/users/api-keys/${created.body.data.id}`, { token: u.token });
      expect(again.status).to.equal(200);
      expect(again.body.data.position).to.equal(null);
    });

    it('a key with every scope may change, collect and export; an expired key, a suspended user, a plan that lost API access are refused within a second', async () => {
      const u = await signUp();
      const periodEnd = await onPlan(u.userId, 'xiaohongshu', 'enterprise');
      const full = await call('POST', '/api/v1/users/api-keys', { token: u.token, body: { name: 'all', scopes: ['manage', 'read', 'export', 'collect'] } });
      expect(full.status, full.text).to.equal(201);
      expect(full.body.data.scopes).to.deep.equal(['read', 'collect', 'export', 'manage']);
      const key = full.body.data.key as string;
      const tracked = await call('POST', '/api/v1/qidian/trackings', { headers: withKey(key, 'bearer'), body: { novel_id: '1036370336' } });
      expect(tracked.status, tracked.text).to.equal(201);
      const exported = await call('GET', '/api/v1/xiaohongshu/contents/export?format=json', { headers: withKey(key) });
      expect(exported.status, exported.text).to.equal(200);

      // expiry: a key made to live a moment
      const brief = await call('POST', '/api/v1/users/api-keys', {
        token: u.token,
        body: { name: 'brief', scopes: ['read'], expires_at: new Date(Date.now() + 1_500).toISOString() },
      });
      expect(brief.status, brief.text).to.equal(201);
      expect((await call('GET', '/api/v1/qidian/trackings', { headers: withKey(brief.body.data.key) })).status).to.equal(200);
      expect((await eventually(() => call('GET', '/api/v1/qidian/trackings', { headers: withKey(brief.body.data.key) }), 401, 3_000)).status).to.equal(401);
      // an expiry in the past or beyond a year: 422
      for (const expires_at of [new Date(Date.now() - 1000).toISOString(), new Date(Date.now() + 400 * DAY_MS).toISOString()]) {
        expect((await call('POST', '/api/v1/users/api-keys', { token: u.token, body: { name: 'x', scopes: ['read'], expires_at } })).status).to.equal(422);
      }

      // the plan ends (the period is over): no plan with API access, 403 naming api_access
      await handle(
        store,
        subscriptionAggregate,
        subscriptionKey(u.userId, 'xiaohongshu'),
        { type: 'ExpireSubscription', now: new Date(Date.parse(periodEnd) + 1000).toISOString() },
        { context: context() },
      );
      const lost = await eventually(() => call('GET', '/api/v1/qidian/trackings', { headers: withKey(key) }), 403);
      expect(lost.status, lost.text).to.equal(403);
      expect(lost.body.error.details.feature).to.equal('api_access');
      // back on a plan with it: the key works again
      await onPlan(u.userId, 'qidian', 'enterprise');
      expect((await eventually(() => call('GET', '/api/v1/qidian/trackings', { headers: withKey(key) }), 200)).status).to.equal(200);

      // suspended: 401 within a second
      await handle(
        store,
        userAggregate,
        u.userId,
        { type: 'SuspendUser', userId: u.userId, reason: 'abuse', now: new Date().toISOString() },
        { context: context() },
      );
      expect((await eventually(() => call('GET', '/api/v1/qidian/trackings', { headers: withKey(key) }), 401)).status).to.equal(401);
    });

    it("lists itself in the OpenAPI document with the key scheme and each route's scope", async () => {
      const doc = (await call('GET', '/api/v1/openapi.json')).body;
      expect(doc.components.securitySchemes.apiKeyAuth).to.include({ type: 'apiKey', in: 'header', name: 'X-API-Key' });
      expect(doc.paths['/api/v1/users/api-keys'].post.security).to.deep.equal([{ bearerAuth: [] }]);
      expect(doc.paths['/api/v1/qidian/trackings'].get.security).to.deep.equal([{ bearerAuth: [] }, { apiKeyAuth: ['read'] }]);
      expect(doc.paths['/api/v1/xiaohongshu/contents/export'].get.security).to.deep.equal([{ bearerAuth: [] }, { apiKeyAuth: ['export'] }]);
      expect(doc.paths['/api/v1/qidian/trackings/batch'].post.security).to.deep.equal([{ bearerAuth: [] }, { apiKeyAuth: ['manage'] }]);
      // a platform operator's route takes no key: the policy grants platform permissions to sessions alone
      const operations = Object.values(doc.paths as Record<string, Record<string, { 'x-permission'?: string; security?: unknown }>>).flatMap((path) =>
        Object.values(path),
      );
      const platformRoutes = operations.filter((o) => o['x-permission']?.startsWith('platform.'));
      expect(platformRoutes.length).to.be.greaterThan(10);
      for (const o of platformRoutes) expect(o.security, o['x-permission']).to.deep.equal([{ bearerAuth: [] }]);
    });
  });

  // ---------------------------------------------------------------- batches

  describe('batch operations', () => {
    const note = (noteId: string) => ({
      platformContentId: noteId,
      kind: 'xiaohongshu.note',
      data: {
        noteId,
        type: 'normal',
        title: '批量删除的笔记',
        text: '',
        author: { id: hex24(), nickname: '小红薯' },
        publishedAt: '2026-03-01T02:00:00.000Z',
        likes: 1,
        comments: 0,
        shares: 0,
        collects: 0,
        images: [],
        tags: [],
        location: null,
        url: `https://www.xiaohongshu.com/explore/${noteId}`,
      },
    });

    async function collect(ownerId: string, noteIds: string[]): Promise<void> {
      const executionId = randomUUID();
      const now = new Date().toISOString();
      const commands: WorkflowExecutionCommand[] = [
        {
          type: 'RequestExecution',
          executionId,
          workflowId: randomUUID(),
          ownerId,
          platform: 'xiaohongshu',
          workflowType: 'xiaohongshu.notes',
          config: { mode: 'keyword', keyword: '上海', maxItems: 20 },
          platformAccountId: null,
          trigger: 'manual',
          requestedBy: ownerId,
          now,
        },
        { type: 'StartExecution', executionId, workerId: 'worker-1', now },
        { type: 'CollectItems', executionId, batchId: 'batch-1', items: noteIds.map(note), cursor: null, now },
      ];
      for (const command of commands) await handle(store, workflowExecutionAggregate, executionId, command, { context: context() });
      await runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, xiaohongshuContentProjection);
    }

    it('refuses a plan without batch_operations (403 naming it) and more than 100 ids or none (422)', async () => {
      const u = await signUp();
      const xhs = await call('POST', '/api/v1/xiaohongshu/contents/batch-delete', { token: u.token, body: { ids: [hex24()] } });
      expect(xhs.status, xhs.text).to.equal(403);
      expect(xhs.body.error.details).to.include({ feature: 'batch_operations', service: 'xiaohongshu', plan: 'free' });
      const qd = await call('POST', '/api/v1/qidian/trackings/batch', { token: u.token, body: { action: 'track', novel_ids: ['1'] } });
      expect(qd.status, qd.text).to.equal(403);
      expect(qd.body.error.details).to.include({ feature: 'batch_operations', service: 'qidian', plan: 'free' });
      await onPlan(u.userId, 'qidian', 'basic');
      expect((await call('POST', '/api/v1/qidian/trackings/batch', { token: u.token, body: { action: 'track', novel_ids: ['1'] } })).status).to.equal(403);
      const accounts = await call('POST', '/api/v1/platform-accounts/batch', { token: u.token, body: { action: 'disconnect', ids: ['a'] } });
      expect(accounts.status, accounts.text).to.equal(403);
      expect(accounts.body.error.details.feature).to.equal('batch_operations');

      await onPlan(u.userId, 'xiaohongshu', 'pro');
      const tooMany = await call('POST', '/api/v1/xiaohongshu/contents/batch-delete', { token: u.token, body: { ids: Array.from({ length: 101 }, hex24) } });
      expect(tooMany.status, tooMany.text).to.equal(422);
      expect(tooMany.body.error.details.issues[0].path).to.deep.equal(['ids']);
      expect((await call('POST', '/api/v1/xiaohongshu/contents/batch-delete', { token: u.token, body: { ids: [] } })).status).to.equal(422);
      const hundred = await call('POST', '/api/v1/xiaohongshu/contents/batch-delete', { token: u.token, body: { ids: Array.from({ length: 100 }, hex24) } });
      expect(hundred.status, hundred.text).to.equal(200);
      expect(hundred.body.data).to.include({ succeeded: 0, failed: 100 });
      expect((await call('POST', '/api/v1/qidian/trackings/batch', { token: u.token, body: { action: 'update', novel_ids: ['1'] } })).status).to.equal(422);
    });

    it('xiaohongshu batch-delete: mixed results, each as the single route would answer', async () => {
      const u = await signUp();
      const other = await signUp();
      await onPlan(u.userId, 'xiaohongshu', 'pro');
      const [mine1, mine2, theirs] = [hex24(), hex24(), hex24()];
      await collect(u.userId, [mine1, mine2]);
      await collect(other.userId, [theirs]);
      const unknown = hex24();
      const r = await call('POST', '/api/v1/xiaohongshu/contents/batch-delete', { token: u.token, body: { ids: [mine1, unknown, theirs, mine2, mine1] } });
      expect(r.status, r.text).to.equal(200);
      const results = r.body.data.results as any[];
      expect(results.map((x) => [x.id, x.ok, x.status])).to.deep.equal([
        [mine1, true, 200],
        [unknown, false, 404],
        [theirs, false, 404],
        [mine2, true, 200],
        // the same note again: deleted already, a no-op
        [mine1, true, 200],
      ]);
      expect(results[1].error.code).to.equal('NOT_FOUND');
      expect(results[4].position).to.equal(null);
      expect(r.body.data).to.include({ succeeded: 3, failed: 2 });
      expect(r.body.data.position).to.be.a('string');
      await runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, xiaohongshuContentProjection);
      const left = await call('GET', '/api/v1/xiaohongshu/contents', { token: u.token });
      expect(left.body.data.items).to.have.length(0);
      const theirsLeft = await call('GET', '/api/v1/xiaohongshu/contents', { token: other.token });
      expect(theirsLeft.body.data.items.map((i: any) => i.note_id ?? i.id)).to.have.length(1);
    });

    it('platform accounts batch: disconnect and verify, mixed results', async () => {
      const u = await signUp();
      const other = await signUp();
      await onPlan(u.userId, 'xiaohongshu', 'enterprise');
      const connect = async (token: string) => {
        const r = await call('POST', '/api/v1/platform-accounts', {
          token,
          body: {
            platform: 'xiaohongshu',
            credentials: { cookies: `a1=187d2defea8${hex24()}; webId=${hex24()}; web_session=040069b${hex24()}` },
            display_name: '主号',
          },
        });
        expect(r.status, r.text).to.equal(201);
        return r.body.data.id as string;
      };
      const [a1, a2, foreign] = [await connect(u.token), await connect(u.token), await connect(other.token)];
      // nobody answers at the platform's address: each verification is a 502 item, the account unchanged
      const verified = await call('POST', '/api/v1/platform-accounts/batch', { token: u.token, body: { action: 'verify', ids: [a1, foreign, a2] } });
      expect(verified.status, verified.text).to.equal(200);
      expect(verified.body.data.results.map((x: any) => [x.id, x.ok, x.status])).to.deep.equal([
        [a1, false, 502],
        [foreign, false, 404],
        [a2, false, 502],
      ]);
      expect(verified.body.data.results[0].error.code).to.equal('UPSTREAM_UNAVAILABLE');
      const disconnected = await call('POST', '/api/v1/platform-accounts/batch', {
        token: u.token,
        body: { action: 'disconnect', ids: [a1, 'no-such-account', foreign, a1] },
      });
      expect(disconnected.status, disconnected.text).to.equal(200);
      expect(disconnected.body.data.results.map((x: any) => [x.id, x.ok, x.status])).to.deep.equal([
        [a1, true, 200],
        [`no-such-account`, false, 404],
        [foreign, false, 404],
        [a1, true, 200],
      ]);
      // the other user's account is untouched
      const theirs = await load(store, platformAccountAggregate, foreign);
      expect(theirs.state.status).to.not.equal('disconnected');
    });

    it('qidian trackings batch: track, update, untrack with mixed results', async () => {
      const u = await signUp();
      await onPlan(u.userId, 'qidian', 'pro');
      const tracked = await call('POST', '/api/v1/qidian/trackings/batch', {
        token: u.token,
        body: { action: 'track', novel_ids: ['1010868264', '1036370336', '1010868264'], settings: { notify_on_completion: true } },
      });
      expect(tracked.status, tracked.text).to.equal(200);
      expect(tracked.body.data.results.map((x: any) => [x.id, x.ok, x.status])).to.deep.equal([
        ['1010868264', true, 201],
        ['1036370336', true, 201],
        ['1010868264', false, 409],
      ]);
      expect(tracked.body.data.results[0].data.id).to.be.a('string');
      const updated = await call('POST', '/api/v1/qidian/trackings/batch', {
        token: u.token,
        body: { action: 'update', novel_ids: ['1010868264', '1041637443'], settings: { word_count_threshold: 5000 } },
      });
      expect(updated.body.data.results.map((x: any) => [x.id, x.ok, x.status])).to.deep.equal([
        ['1010868264', true, 200],
        ['1041637443', false, 404],
      ]);
      const untracked = await call('POST', '/api/v1/qidian/trackings/batch', {
        token: u.token,
        body: { action: 'untrack', novel_ids: ['1036370336', '1041637443', '1036370336'] },
      });
      expect(untracked.body.data.results.map((x: any) => [x.id, x.ok, x.status])).to.deep.equal([
        ['1036370336', true, 200],
        ['1041637443', false, 404],
        ['1036370336', true, 200],
      ]);
      expect(untracked.body.data.results[2].position).to.equal(null);
    });
  });
});

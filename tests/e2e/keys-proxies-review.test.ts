import { expect } from 'chai';
import type { Container } from 'inversify';
import { randomUUID } from 'node:crypto';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { LOGIN_IP_PREFIX } from '../../src/adapters/rate-limit/login-rate-limit.js';
import { createApiApp } from '../../src/api-app.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import type { EventStore } from '../../src/event-store/index.js';
import { apiKeysProjection } from '../../src/projections/api-keys.js';
import { TOKENS } from '../../src/tokens.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { grantPlan } from '../support/plans.js';

interface Reply {
  status: number;
  text: string;
  body: any;
}

const LOCAL_IP_KEYS = ['127.0.0.1', '::ffff:127.0.0.1', '::1'].map((ip) => `${LOGIN_IP_PREFIX}:${ip}`);
const PASSWORD = 'review keys password';
const _context = () => ({ correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' });

describe('API keys, proxies and platform accounts: review findings (e2e)', function () {
  this.timeout(90_000);
  let container: Container;
  let store: EventStore;
  let running: RunningServer;
  let runner: ConsumerRunner;

  before(async () => {
    container = await buildContainer(testConfig());
    store = container.get(TOKENS.EventStore);
    runner = new ConsumerRunner({ store, knex: container.get(TOKENS.Knex), databaseUrl: testDatabaseUrl }, apiKeysProjection, {
      idleCheckpointMs: 100,
      lockRetryMs: 100,
    });
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

  async function call(method: string, path: string, options: { body?: unknown; token?: string } = {}): Promise<Reply> {
    const headers: Record<string, string> = {};
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

  async function signUp(): Promise<{ userId: string; token: string }> {
    const email = `review-keys-${randomUUID()}@example.test`;
    const registered = await call('POST', '/api/v1/auth/register', { body: { email, password: PASSWORD, display_name: 'reviewer' } });
    expect(registered.status, registered.text).to.equal(201);
    const login = await call('POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
    expect(login.status, login.text).to.equal(200);
    const token = login.body.data.access_token as string;
    const started = await call('POST', '/api/v1/subscriptions', { token, body: { service: 'qidian' } });
    expect(started.status, started.text).to.be.oneOf([200, 201, 409]);
    return { userId: registered.body.data.user_id, token };
  }

  /** A month of qidian enterprise (api_access), as a paid order would give. */
  async function withApiAccess(userId: string): Promise<void> {
    await grantPlan(store, userId, 'qidian', 'enterprise');
  }

  describe('POST /users/api-keys', () => {
    it('keeps the limit of 20 active keys when creations race (the rest: 409 too_many_keys)', async () => {
      const u = await signUp();
      await withApiAccess(u.userId);
      const replies = await Promise.all(
        Array.from({ length: 21 }, (_, i) => call('POST', '/api/v1/users/api-keys', { token: u.token, body: { name: `race ${i}`, scopes: ['read'] } })),
      );
      const created = replies.filter((r) => r.status === 201);
      const refused = replies.filter((r) => r.status !== 201);
      expect(created, replies.map((r) => r.status).join(',')).to.have.length(20);
      for (const r of refused) {
        expect(r.status, r.text).to.equal(409);
        expect(r.body.error.details.reason).to.equal('too_many_keys');
      }
      const listed = await call('GET', '/api/v1/users/api-keys?per_page=100', { token: u.token });
      expect(listed.status, listed.text).to.equal(200);
      expect(listed.body.data.items.filter((k: { status: string }) => k.status === 'active')).to.have.length(20);
    });
  });
});

import { expect } from 'chai';
import type { Container } from 'inversify';
import { randomUUID } from 'node:crypto';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { LOGIN_IP_PREFIX } from '../../src/adapters/rate-limit/login-rate-limit.js';
import { createApiApp } from '../../src/api-app.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore } from '../../src/event-store/index.js';
import { TOKENS } from '../../src/tokens.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { testConfig } from '../setup/test-env.js';
import { startOnPlan } from '../support/plans.js';

const LOCAL_IP_KEYS = ['127.0.0.1', '::ffff:127.0.0.1', '::1'].map((ip) => `${LOGIN_IP_PREFIX}:${ip}`);
const PASSWORD = 'stats automation review password';
const _DAY_MS = 86_400_000;

/**
 * Bad input on the statistics, competitor-analysis and workflow routes: a
 * day that is no day, a granularity that is none, a cron expression no
 * scheduler can run. Each is 422 VALIDATION_ERROR as the docs say, never a
 * 500, a 403 or a recorded request that can only fail later.
 */
describe('statistics, competitor analysis and workflows: bad input (e2e, production app)', function () {
  this.timeout(60_000);
  let container: Container;
  let store: EventStore;
  let running: RunningServer;
  const _context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(async () => {
    container = await buildContainer(testConfig({ LOGIN_RATE_LIMIT_PER_IP: '10000' }));
    store = container.get(TOKENS.EventStore);
    running = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
  });
  after(async () => {
    if (running) await closeServer(running.server);
    if (container) {
      await container.get(TOKENS.Redis).del(...LOCAL_IP_KEYS);
      await disposeContainer(container);
    }
  });

  async function call(method: string, path: string, options: { token?: string; body?: unknown } = {}) {
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

  async function user(name: string): Promise<{ userId: string; token: string }> {
    const email = `${name}-${randomUUID()}@example.test`;
    const registered = await call('POST', '/api/v1/auth/register', { body: { email, password: PASSWORD, display_name: name } });
    expect(registered.status, registered.text).to.equal(201);
    const login = await call('POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
    expect(login.status, login.text).to.equal(200);
    return { userId: registered.body.data.user_id, token: login.body.data.access_token };
  }

  async function qidianPlan(userId: string, plan: 'free' | 'pro'): Promise<void> {
    await startOnPlan(store, userId, 'qidian', plan);
  }

  it('GET /statistics: a day that is not one, or a granularity that is none, is 422 with details.allowed (never a 500)', async () => {
    const { token } = await user('stats-days');
    for (const query of ['to=2026-13-45', 'from=0000-01-01&to=0000-01-02', 'from=yesterday', 'to=2026-02-30', 'granularity=year']) {
      const res = await call('GET', `/api/v1/statistics?${query}`, { token });
      expect(res.status, `${query}: ${res.text}`).to.equal(422);
      expect(res.body.error.code).to.equal('VALIDATION_ERROR');
      expect(res.body.error.details.issues, query).to.have.length.greaterThan(0);
      expect(res.body.error.details.allowed.granularity, query).to.deep.equal(['day', 'week', 'month']);
    }
    const badTo = await call('GET', '/api/v1/statistics?from=2026-12-01&to=2026-13-45', { token });
    expect(badTo.body.error.details.issues.map((i: { path: string[] }) => i.path)).to.deep.equal([['to']]);
    const toAlone = await call('GET', '/api/v1/statistics?to=0000-01-05', { token });
    expect(toAlone.body.error.details.issues.map((i: { path: string[] }) => i.path)).to.deep.equal([['to']]);
    const week = await call('GET', '/api/v1/statistics?from=2026-12-01&to=2026-12-06&metrics=runs_requested&granularity=week', { token });
    expect(week.status, week.text).to.equal(200);
    expect(week.body.data.granularity).to.equal('week');
  });

  it('POST /statistics/exports: a year-0 period or a bad granularity is 422, not an export that can never be made', async () => {
    const { token } = await user('stats-export');
    const base = { from: '2026-12-01', to: '2026-12-06', metrics: ['runs_requested'], format: 'csv' };
    for (const body of [
      { ...base, from: '0000-01-01', to: '0000-01-02' },
      { ...base, from: '2026-1-1' },
      { ...base, granularity: 'year' },
    ]) {
      const res = await call('POST', '/api/v1/statistics/exports', { token, body });
      expect(res.status, `${JSON.stringify(body)}: ${res.text}`).to.equal(422);
      expect(res.body.error.details.allowed, res.text).to.have.property('metrics');
    }
  });

  it('GET /qidian/analytics/competitors/{id}: a day that is no calendar day is 422', async () => {
    const { userId, token } = await user('competitor-days');
    await qidianPlan(userId, 'pro');
    for (const query of ['from=2026-02-30&to=2026-03-01', 'from=0000-01-01&to=0000-01-05', 'to=2026-13-01']) {
      const res = await call('GET', `/api/v1/qidian/analytics/competitors/1010868264?${query}`, { token });
      expect(res.status, `${query}: ${res.text}`).to.equal(422);
      expect(res.body.error.code).to.equal('VALIDATION_ERROR');
    }
    // the market analytics, the admin's finance and the proxies' days share the same check
    for (const path of ['/api/v1/qidian/analytics/market?from=2026-02-30&to=2026-03-01', '/api/v1/qidian/analytics/market?from=0000-01-01&to=0000-01-05']) {
      const res = await call('GET', path, { token });
      expect(res.status, `${path}: ${res.text}`).to.equal(422);
    }
  });

  it('workflows: a cron expression the scheduler cannot run is 422 on create and change, before the plan is asked', async () => {
    const { userId, token } = await user('cron');
    await qidianPlan(userId, 'free');
    const workflow = (schedule: unknown) => ({ name: 'board', type: 'qidian.rankings', config: { rankings: ['热销榜'], maxRank: 10 }, schedule });
    for (const expression of ['99 99 * * *', '0 0 31 2 *', '0 24 * * *', 'not a cron', '0 3 * * * *']) {
      const res = await call('POST', '/api/v1/workflows', { token, body: workflow({ kind: 'cron', expression }) });
      expect(res.status, `${expression}: ${res.text}`).to.equal(422);
      expect(res.body.error.code).to.equal('VALIDATION_ERROR');
      expect(res.body.error.details.issues[0].path, expression).to.deep.equal(['schedule', 'expression']);
    }
    const created = await call('POST', '/api/v1/workflows', { token, body: workflow({ kind: 'cron', expression: '0 3 * * *' }) });
    expect(created.status, created.text).to.equal(201);
    const changed = await call('PUT', `/api/v1/workflows/${created.body.data.id}`, { token, body: { schedule: { kind: 'cron', expression: '61 3 * * *' } } });
    expect(changed.status, changed.text).to.equal(422);
    expect(changed.body.error.details.issues[0].path).to.deep.equal(['schedule', 'expression']);
  });
});

import { expect } from 'chai';
import type { Container } from 'inversify';
import { randomUUID } from 'node:crypto';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { LOGIN_IP_PREFIX } from '../../src/adapters/rate-limit/login-rate-limit.js';
import { createApiApp } from '../../src/api-app.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import type { EventStore } from '../../src/event-store/index.js';
import { formatPosition } from '../../src/event-store/position.js';
import { qidianDataProjection } from '../../src/projections/qidian-data.js';
import { TOKENS } from '../../src/tokens.js';
import type { PlanCode } from '../../src/write-model/subscription/plans.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { collectedRun, qidianEntry, qidianSnapshot } from '../support/collected.js';
import { startOnPlan } from '../support/plans.js';

interface Reply {
  res: Response;
  text: string;
  body: any;
}

const LOCAL_IP_KEYS = ['127.0.0.1', '::ffff:127.0.0.1', '::1'].map((ip) => `${LOGIN_IP_PREFIX}:${ip}`);
const PASSWORD = 'collected data review password';
const DAY_MS = 86_400_000;

/**
 * Collected-data routes read as the docs describe them: the production app
 * (createApiApp) on a real socket, the qidian-data-v1 projection in-process
 * under its real name, collected items recorded as a worker reports them.
 */
describe('collected data review (e2e)', function () {
  this.timeout(60_000);
  let container: Container;
  let store: EventStore;
  let running: RunningServer;
  let runner: ConsumerRunner;

  before(async () => {
    container = await buildContainer(testConfig({ LOGIN_RATE_LIMIT_PER_IP: '10000' }));
    store = container.get(TOKENS.EventStore);
    const knex = container.get(TOKENS.Knex);
    runner = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl }, qidianDataProjection, { idleCheckpointMs: 100, lockRetryMs: 100 });
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

  async function call(method: string, path: string, token?: string, body?: unknown): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    const res = await fetch(`${running.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let parsed: any;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { res, text, body: parsed };
  }

  /** A new user on the qidian plan `plan`. */
  async function reader(plan: PlanCode): Promise<{ userId: string; token: string }> {
    const email = `collected-review-${randomUUID()}@example.test`;
    const registered = await call('POST', '/api/v1/auth/register', undefined, { email, password: PASSWORD, display_name: '读者' });
    expect(registered.res.status, registered.text).to.equal(201);
    const login = await call('POST', '/api/v1/auth/login', undefined, { email, password: PASSWORD });
    expect(login.res.status, login.text).to.equal(200);
    const userId = registered.body.data.user_id as string;
    await startOnPlan(store, userId, 'qidian', plan);
    return { userId, token: login.body.data.access_token as string };
  }

  const ago = (days: number) => new Date(Date.now() - days * DAY_MS).toISOString();

  describe('GET /qidian/novels/{id}/data/export', () => {
    it('refuses `from` after `to` with 422, as GET /qidian/novels/{id}/data does, instead of an empty file', async () => {
      const alice = await reader('pro');
      const novelId = '1010868264';
      const position = formatPosition(
        await collectedRun(store, {
          ownerId: alice.userId,
          site: 'qidian',
          workflowType: 'qidian.novels',
          config: { novelIds: [novelId] },
          items: [qidianSnapshot(novelId, ago(1), 120_000, 110, 5_200, 330)],
        }),
      );

      const data = await call('GET', `/api/v1/qidian/novels/${novelId}/data?from=2026-03-05&to=2026-03-01&after_position=${position}`, alice.token);
      expect(data.res.status, data.text).to.equal(422);

      const exported = await call('GET', `/api/v1/qidian/novels/${novelId}/data/export?format=json&from=2026-03-05&to=2026-03-01`, alice.token);
      expect(exported.res.status, exported.text).to.equal(422);
      expect(exported.body.error.code).to.equal('VALIDATION_ERROR');
      expect(exported.body.error.details.issues[0]).to.include({ in: 'query' });
      expect(exported.body.error.details.issues[0].path).to.deep.equal(['from']);

      // a proper range still downloads
      // after the run's position: the refused calls above waited for no projection
      const whole = await call('GET', `/api/v1/qidian/novels/${novelId}/data/export?format=json&after_position=${position}`, alice.token);
      expect(whole.res.status, whole.text).to.equal(200);
      expect(whole.body).to.have.length(1);
    });
  });

  describe('GET /qidian/analytics/market', () => {
    it('takes `board` by its board on qidian.com/rank as well as by its name, as /qidian/rankings/{type} does', async () => {
      const alice = await reader('pro');
      const position = formatPosition(
        await collectedRun(store, {
          ownerId: alice.userId,
          site: 'qidian',
          workflowType: 'qidian.rankings',
          items: [qidianEntry('收藏榜', 1, '2000000001', '书一', '作者一', ago(1)), qidianEntry('收藏榜', 2, '2000000002', '书二', '作者二', ago(1))],
        }),
      );

      const byName = await call('GET', `/api/v1/qidian/analytics/market?board=${encodeURIComponent('收藏榜')}&after_position=${position}`, alice.token);
      expect(byName.res.status, byName.text).to.equal(200);
      expect(byName.body.data.boards.map((b: any) => b.ranking)).to.deep.equal(['收藏榜']);

      const byBoard = await call('GET', '/api/v1/qidian/analytics/market?board=collect', alice.token);
      expect(byBoard.res.status, byBoard.text).to.equal(200);
      expect(byBoard.body.data.boards).to.deep.equal(byName.body.data.boards);
      expect(byBoard.body.data.boards[0]).to.include({ ranking: '收藏榜', entries_end: 2 });

      // neither a name nor a board: still 422
      const unknown = await call('GET', '/api/v1/qidian/analytics/market?board=nosuchboard', alice.token);
      expect(unknown.res.status, unknown.text).to.equal(422);
      expect(unknown.body.error.details.issues[0].path).to.deep.equal(['board']);
    });
  });
});

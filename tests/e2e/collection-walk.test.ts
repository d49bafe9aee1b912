import { expect } from 'chai';
import type { Container } from 'inversify';
import type { Knex } from 'knex';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { generateMerchant, platformEnv, registrationOf } from '../../sandbox/payment-provider/keys.js';
import { startPaymentSandbox, type PaymentSandbox } from '../../sandbox/payment-provider/server.js';
import { LOGIN_IP_PREFIX } from '../../src/adapters/rate-limit/login-rate-limit.js';
import { createApiApp } from '../../src/api-app.js';
import { createAdmin } from '../../src/cli/create-admin.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore } from '../../src/event-store/index.js';
import { START } from '../../src/event-store/position.js';
import { buildProcessManagerWiring } from '../../src/main/automation.js';
import { processManagers } from '../../src/process-managers/index.js';
import { createProjections } from '../../src/projections/index.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import { TOKENS } from '../../src/tokens.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { startFixturePlatformServer, type FixturePlatformServer } from '../support/fixture-platform-server.js';
import { waitFor } from '../support/wait-for.js';

interface Reply {
  res: Response;
  text: string;
  body: any;
}

const LOCAL_IP_KEYS = ['127.0.0.1', '::ffff:127.0.0.1', '::1'].map((ip) => `${LOGIN_IP_PREFIX}:${ip}`);
const hex24 = () => randomBytes(12).toString('hex');

/**
 * The collection walk, on the production app (every router) over a real socket,
 * with every projection and process manager the projector runs, in-process:
 * connect an account (limit enforced), register proxies (admin only), create a
 * workflow, request an execution, feed it items through the results door, read
 * them back through contents, analytics and export — while another user sees
 * none of it — and the credentials appear in clear nowhere: not in a
 * response, not in an event, not in any table of the database.
 */
describe('collection walk (e2e, production app): accounts, proxies, workflows, collected data', function () {
  this.timeout(120_000);
  // Alipay: the payment sandbox (the order is placed with it; it notifies like Alipay)
  const merchant = generateMerchant();
  let sandbox: PaymentSandbox;
  // the secrets whose clear text must never surface
  const webSession = `ws${randomBytes(16).toString('hex')}`;
  const cookie = `a1=${randomBytes(12).toString('hex')}; web_session=${webSession}`;
  const proxyPassword = `pw-${randomBytes(12).toString('hex')}`;
  const proxyUsername = `user-${randomBytes(6).toString('hex')}`;

  let container: Container;
  let store: EventStore;
  let knex: Knex;
  let running: RunningServer;
  let fixture: FixturePlatformServer;
  const runners: ConsumerRunner[] = [];
  let automation: ReturnType<typeof buildProcessManagerWiring> | undefined;
  const seen: { what: string; text: string }[] = [];
  let startedAt: string;

  before(async () => {
    fixture = await startFixturePlatformServer();
    sandbox = await startPaymentSandbox({ merchant: registrationOf(merchant), timeScale: 0.001 });
    const config = testConfig({
      LOGIN_RATE_LIMIT_PER_IP: '10000',
      XIAOHONGSHU_API_URL: fixture.url,
      QIDIAN_WEB_URL: fixture.url,
      ...platformEnv({ merchant, keys: sandbox.keys, sandboxUrl: sandbox.url, notifyBaseUrl: 'http://collector-api.test' }),
    });
    container = await buildContainer(config);
    store = container.get(TOKENS.EventStore);
    knex = container.get(TOKENS.Knex);
    const logger = container.get(TOKENS.Logger);
    startedAt = new Date().toISOString();
    automation = buildProcessManagerWiring(container, config);
    for (const consumer of [...createProjections({ timeZone: config.QUOTA_TIME_ZONE }), ...processManagers({ ...automation.wiring, paymentGraceMs: 0 })]) {
      const runner = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl, logger }, consumer, { idleCheckpointMs: 100, lockRetryMs: 100 });
      runner.start();
      runners.push(runner);
    }
    running = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
    sandbox.resolve.set('collector-api.test', running.url);
  });
  after(async () => {
    await sandbox?.stop();
    if (running) await closeServer(running.server);
    await Promise.all(runners.map((r) => r.stop()));
    await automation?.close();
    await fixture?.close();
    if (container) {
      await container.get(TOKENS.Redis).del(...LOCAL_IP_KEYS);
      await disposeContainer(container);
    }
  });

  async function send(method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
    const res = await fetch(`${running.url}${path}`, { method, headers: init.headers ?? {}, body: init.body });
    const text = await res.text();
    seen.push({ what: `${method} ${path}`, text: `${JSON.stringify([...res.headers])}\n${text}` });
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { res, text, body };
  }

  function call(method: string, path: string, options: { body?: unknown; token?: string } = {}): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    return send(method, path, { headers, ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) });
  }

  async function signUp(name: string): Promise<{ userId: string; token: string }> {
    const email = `${name}-${randomUUID()}@example.test`;
    const registered = await call('POST', '/api/v1/auth/register', { body: { email, password: 'correct horse battery', display_name: name } });
    expect(registered.res.status, registered.text).to.equal(201);
    const login = await call('POST', '/api/v1/auth/login', { body: { email, password: 'correct horse battery' } });
    expect(login.res.status, login.text).to.equal(200);
    const token = login.body.data.access_token as string;
    // the free plans come from a process manager: wait for them
    await waitFor(`${name}'s free plans`, async () => (await call('GET', '/api/v1/subscriptions', { token })).body?.data?.items?.length === 2, 20_000, 100);
    return { userId: login.body.data.user_id, token };
  }

  function note(noteId: string, title: string, likes: number, tags: string[]) {
    return {
      noteId,
      type: 'normal',
      title,
      text: `${title} #${tags[0]}[话题]#`,
      author: { id: hex24(), nickname: '城市漫游者' },
      publishedAt: '2026-11-20T04:00:00.000Z',
      likes,
      comments: Math.floor(likes / 10),
      shares: Math.floor(likes / 20),
      collects: Math.floor(likes / 2),
      images: [`https://sns-webpic-qc.xhscdn.com/202611/${noteId}.jpg`],
      tags,
      url: `https://www.xiaohongshu.com/explore/${noteId}`,
    };
  }

  it('connect → proxies → workflow → execution → items → contents, analytics, export; nobody else sees it; no secret in clear anywhere', async () => {
    const alice = await signUp('alice');
    const bob = await signUp('bob');
    const adminEmail = `admin-${randomUUID()}@example.test`;
    await createAdmin({ store, passwordHasher: container.get(TOKENS.PasswordHasher) }, { email: adminEmail, password: 'admin password 123' });
    const adminToken = (await call('POST', '/api/v1/auth/login', { body: { email: adminEmail, password: 'admin password 123' } })).body.data
      .access_token as string;

    // 1. a Xiaohongshu account: the free plan holds one
    const connected = await call('POST', '/api/v1/platform-accounts', {
      token: alice.token,
      body: { platform: 'xiaohongshu', credentials: { cookies: cookie }, display_name: '主号' },
    });
    expect(connected.res.status, connected.text).to.equal(201);
    const accountId = connected.body.data.id as string;
    const second = await call('POST', '/api/v1/platform-accounts', {
      token: alice.token,
      body: { platform: 'xiaohongshu', credentials: { cookies: `a1=x; web_session=${hex24()}` }, display_name: '小号' },
    });
    expect(second.res.status, second.text).to.equal(429);
    expect(second.body.error.details).to.include({ feature: 'account_limit', limit: 1 });
    fixture.xiaohongshu.sessions.set(webSession, { user_id: hex24(), nickname: '爱丽丝的小红书' });
    const verified = await call('POST', `/api/v1/platform-accounts/${accountId}/verify`, { token: alice.token });
    expect(verified.body.data, verified.text).to.include({ verified: true, status: 'active' });

    // 2. proxies: admin only, credentials sealed
    const asUser = await call('POST', '/api/v1/proxies', { token: alice.token, body: { host: '127.0.0.1', port: 8080, protocol: 'http' } });
    expect(asUser.res.status).to.equal(403);
    const proxyIds: string[] = [];
    let proxyPosition = '';
    for (const port of [8081, 8082]) {
      const registered = await call('POST', '/api/v1/proxies', {
        token: adminToken,
        body: {
          host: '127.0.0.1',
          port,
          protocol: 'http',
          username: proxyUsername,
          password: proxyPassword,
          country: 'CN',
          region: 'shanghai',
          provider: 'walk-test',
        },
      });
      expect(registered.res.status, registered.text).to.equal(201);
      proxyIds.push(registered.body.data.id);
      proxyPosition = registered.body.data.position;
    }
    const proxies = await call('GET', `/api/v1/proxies?provider=walk-test&region=shanghai&after_position=${proxyPosition}`, { token: adminToken });
    expect(proxies.res.status, proxies.text).to.equal(200);
    const listed = (proxies.body.data.items as any[]).filter((p) => proxyIds.includes(p.id));
    expect(listed).to.have.length(2);
    for (const p of listed) expect(p).to.include({ status: 'healthy', has_credentials: true, protocol: 'http' });

    // 3. a workflow on that account
    const created = await call('POST', '/api/v1/workflows', {
      token: alice.token,
      body: { name: '上海咖啡笔记', type: 'xiaohongshu.notes', config: { mode: 'keyword', keyword: '上海咖啡', maxItems: 20 }, platform_account_id: accountId },
    });
    expect(created.res.status, created.text).to.equal(201);
    const workflowId = created.body.data.id as string;

    // 4. an execution, fed through the workers' door (admin), then done
    const executed = await call('POST', `/api/v1/workflows/${workflowId}/execute`, { token: alice.token });
    expect(executed.res.status, executed.text).to.equal(202);
    const executionId = executed.body.data.execution_id as string;
    const ids = { flatWhite: hex24(), bakery: hex24(), roastery: hex24() };
    const batch1 = await call('POST', `/api/v1/workflows/executions/${executionId}/results`, {
      token: adminToken,
      body: {
        worker_id: 'walk-worker',
        batch_id: 'b1',
        items: [note(ids.flatWhite, '武康路的澳白', 1200, ['上海咖啡']), note(ids.bakery, '面包和咖啡', 300, ['上海探店'])],
        cursor: 'page-2',
      },
    });
    expect(batch1.res.status, batch1.text).to.equal(200);
    const asAlice = await call('POST', `/api/v1/workflows/executions/${executionId}/results`, {
      token: alice.token,
      body: { worker_id: 'w', batch_id: 'x', items: [] },
    });
    expect(asAlice.res.status).to.equal(403);
    const batch2 = await call('POST', `/api/v1/workflows/executions/${executionId}/results`, {
      token: adminToken,
      body: {
        worker_id: 'walk-worker',
        batch_id: 'b2',
        items: [note(ids.bakery, '面包和咖啡', 300, ['上海探店']), note(ids.roastery, '烘焙工坊探访', 800, ['上海咖啡'])],
        cursor: null,
        done: true,
      },
    });
    expect(batch2.res.status, batch2.text).to.equal(200);
    expect(batch2.body.data).to.include({ status: 'completed', item_count: 3 });
    const position = batch2.body.data.position as string;

    // 5. read back: contents (read-your-writes on the position), detail, export
    const contents = await call('GET', `/api/v1/xiaohongshu/contents?sort=likes&order=desc&after_position=${position}`, { token: alice.token });
    expect(contents.res.status, contents.text).to.equal(200);
    expect(contents.body.data.items.map((c: any) => c.id)).to.deep.equal([ids.flatWhite, ids.roastery, ids.bakery]);
    const detail = await call('GET', `/api/v1/xiaohongshu/contents/${ids.flatWhite}`, { token: alice.token });
    expect(detail.body.data).to.include({ title: '武康路的澳白', likes: 1200 });
    const exported = await call('GET', '/api/v1/xiaohongshu/contents/export?format=json&sort=likes&order=asc', { token: alice.token });
    expect(exported.res.status, exported.text).to.equal(200);
    expect((JSON.parse(exported.text) as any[]).map((x) => x.id)).to.deep.equal([ids.bakery, ids.roastery, ids.flatWhite]);
    const execution = await call('GET', `/api/v1/workflows/executions/${executionId}?after_position=${position}`, { token: alice.token });
    expect(execution.body.data).to.include({ status: 'completed', item_count: 3 });

    // analytics are a pro feature: pay for pro (Alipay, the sandbox: its signed notification), then read them
    expect((await call('GET', '/api/v1/xiaohongshu/analytics/overview', { token: alice.token })).res.status).to.equal(403);
    const order = await call('POST', '/api/v1/payments/orders', {
      token: alice.token,
      body: { service: 'xiaohongshu', plan: 'pro', billing_cycle: 'monthly', provider: 'alipay' },
    });
    expect(order.res.status, order.text).to.equal(201);
    const orderId = order.body.data.order_id as string;
    await fetch(order.body.data.pay_url);
    await sandbox.pay('alipay', orderId);
    const paid = await sandbox.waitForDelivery((d) => d.provider === 'alipay' && d.request.body.includes(orderId));
    expect(paid.answer).to.equal('success');
    let overview: Reply | undefined;
    await waitFor(
      'analytics on pro',
      async () => {
        overview = await call('GET', '/api/v1/xiaohongshu/analytics/overview', { token: alice.token });
        return overview.res.status === 200;
      },
      20_000,
      100,
    );
    expect(overview!.body.data.totals).to.include({ notes: 3, likes: 2300 });
    expect(overview!.body.data.top_tags[0]).to.deep.include({ tag: '上海咖啡', notes: 2 });

    // 6. Bob sees none of it
    expect((await call('GET', '/api/v1/platform-accounts', { token: bob.token })).body.data.items).to.deep.equal([]);
    expect((await call('GET', `/api/v1/platform-accounts/${accountId}`, { token: bob.token })).res.status).to.equal(404);
    expect((await call('GET', '/api/v1/workflows', { token: bob.token })).body.data.items).to.deep.equal([]);
    expect((await call('GET', `/api/v1/workflows/${workflowId}`, { token: bob.token })).res.status).to.equal(404);
    expect((await call('GET', `/api/v1/workflows/executions/${executionId}`, { token: bob.token })).res.status).to.equal(404);
    expect((await call('POST', `/api/v1/workflows/${workflowId}/execute`, { token: bob.token })).res.status).to.equal(404);
    expect((await call('GET', '/api/v1/xiaohongshu/contents', { token: bob.token })).body.data.items).to.deep.equal([]);
    expect((await call('GET', `/api/v1/xiaohongshu/contents/${ids.flatWhite}`, { token: bob.token })).res.status).to.equal(404);
    const bobsExport = await call('GET', '/api/v1/xiaohongshu/contents/export?format=json', { token: bob.token });
    expect(JSON.parse(bobsExport.text)).to.deep.equal([]);
    expect((await call('GET', '/api/v1/proxies', { token: bob.token })).res.status).to.equal(403);

    // 7. the secrets, in clear: in no response …
    const secrets = [webSession, cookie, proxyPassword, `${proxyUsername}:${proxyPassword}`];
    const responses = seen.map((s) => s.text).join('\n');
    for (const secret of secrets) expect(responses, 'a response').to.not.include(secret);

    // … in no event since the walk began (data and metadata) …
    const events = await store.readAll({ fromPosition: START, maxCount: 1_000_000 });
    const recent = events.filter((e) => e.created.toISOString() >= startedAt);
    expect(recent.length).to.be.greaterThan(20);
    const sealed = recent.filter((e) => e.type === 'PlatformAccountConnected' || e.type === 'ProxyRegistered');
    expect(sealed.length, 'the events that carry credentials, sealed').to.be.greaterThanOrEqual(3);
    for (const event of recent) {
      const text = JSON.stringify({ data: event.data, metadata: event.metadata });
      for (const secret of secrets) expect(text, `${event.type} ${event.streamName}`).to.not.include(secret);
    }

    // … and in no row of any table of the database (read models, checkpoints, idempotency keys, the event store)
    const tables = (
      await knex.raw(`SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
    ).rows as { table_schema: string; table_name: string }[];
    expect(tables.map((t) => t.table_name)).to.include.members([
      'platform_accounts',
      'proxies',
      'workflows',
      'workflow_executions',
      'xiaohongshu_contents',
      'es_events',
    ]);
    for (const { table_schema, table_name } of tables) {
      for (const secret of secrets) {
        const found = await knex.raw(`SELECT count(*)::int AS n FROM ??.?? AS t WHERE t::text LIKE ?`, [table_schema, table_name, `%${secret}%`]);
        expect(found.rows[0].n, `${table_name} holds a secret in clear`).to.equal(0);
      }
    }
  });
});

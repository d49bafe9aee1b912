import { generateMerchant, platformEnv, registrationOf } from '../../sandbox/payment-provider/keys.js';
import { startPaymentSandbox, type PaymentSandbox } from '../../sandbox/payment-provider/server.js';
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import type { RecordedEvent } from '../../src/event-store/port.js';
import { DeadlineSweeper, expiryActions } from '../../src/process-managers/index.js';
import { workflowExecutionStream } from '../../src/write-model/workflow-execution/decider.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { waitFor } from '../support/wait-for.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** who: a user id, a process manager, the scheduler, a worker, a system job, the CLI, a payment provider */
const ACTOR = /^([0-9a-f-]{36}|pm:.+|scheduler|worker:.+|system:.+|cli|provider:.+)$/;

/**
 * Every event carries who (metadata.userId), why
 * ($causationId), its correlation, and — when a request started its chain —
 * which request (requestId). A realistic flow through the real code paths
 * (the HTTP API on a socket, the process managers under their runners, the
 * worker with Chromium through a proxy, the deadline sweeper, the proxy
 * health job, the CLI's create-admin), then every event of the platform's
 * own database is checked.
 */
describe('audit metadata: every event says who, why, which request and when', function () {
  this.timeout(180_000);
  let platform: Platform;
  // the provider orders are placed with: the payment sandbox (it signs like Alipay)
  let sandbox: PaymentSandbox;
  const merchant = generateMerchant();

  before(async () => {
    sandbox = await startPaymentSandbox({ merchant: registrationOf(merchant), timeScale: 0.001 });
    platform = await startPlatform({
      proxies: 1,
      config: platformEnv({ merchant, keys: sandbox.keys, sandboxUrl: sandbox.url, notifyBaseUrl: 'http://collector-api.test' }),
    });
    sandbox.resolve.set('collector-api.test', platform.url);
  });
  after(async () => {
    await platform?.stop();
    await sandbox?.stop();
  });

  it('holds for a sign-up, a payment order and its expiry, a proxy, a collected execution', async () => {
    const admin = await platform.adminToken(); // the CLI path (actor `cli`)
    const p = platform.proxies.proxies[0]!;
    const proxy = await platform.call('POST', '/api/v1/proxies', {
      token: admin,
      body: { host: p.host, port: p.port, protocol: 'http', username: p.username, password: p.password, country: 'CN', region: 'shanghai', provider: 'local' },
    });
    expect(proxy.status, proxy.text).to.equal(201);

    const user = await platform.signUp('audit'); // HTTP register + login; the free-plans PM
    const order = await platform.call('POST', '/api/v1/payments/orders', {
      token: user.token,
      body: { service: 'qidian', plan: 'pro', billing_cycle: 'monthly', provider: 'alipay' },
    });
    expect(order.status, order.text).to.equal(201);
    // the expiry-schedule PM sets the order's deadline; the sweeper (pm:deadlines) fires it
    await waitFor(
      "the order's deadline",
      async () => (await platform.knex('deadlines').where('kind', 'payment_order.expire').count<{ count: string }[]>('* as count'))[0]!.count !== '0',
      20_000,
    );
    const sweeper = new DeadlineSweeper({
      knex: platform.knex,
      actions: expiryActions(platform.store),
      logger: { info() {}, warn() {}, error() {} } as never,
      intervalMs: 60_000,
    });
    await sweeper.sweepOnce(new Date(Date.now() + 24 * 3600_000));

    const cookies = `a1=${randomBytes(8).toString('hex')}; web_session=${randomBytes(12).toString('hex')}`;
    const connected = await platform.call('POST', '/api/v1/platform-accounts', {
      token: user.token,
      body: { platform: 'xiaohongshu', credentials: { cookies }, display_name: 'audit的号' },
    });
    expect(connected.status, connected.text).to.equal(201);
    const accountId = connected.body.data.id as string;
    await platform.call('POST', `/api/v1/platform-accounts/${accountId}/verify`, { token: user.token });
    const keyword = platform.sites.manifest.xiaohongshu.keyword;
    const workflow = await platform.call('POST', '/api/v1/workflows', {
      token: user.token,
      body: { name: `${keyword}笔记`, type: 'xiaohongshu.notes', config: { mode: 'keyword', keyword, maxItems: 5 }, platform_account_id: accountId },
    });
    expect(workflow.status, workflow.text).to.equal(201);
    const worker = await platform.startWorker(); // also probes the proxies once (system:proxy-health)
    let executionId: string;
    try {
      const executed = await platform.call('POST', `/api/v1/workflows/${workflow.body.data.id}/execute`, { token: user.token });
      expect(executed.status, executed.text).to.equal(202);
      executionId = executed.body.data.execution_id;
      await waitFor(
        'the execution completed',
        async () => (await platform.events(workflowExecutionStream(executionId))).some((e) => e.type === 'ExecutionCompleted'),
        90_000,
        100,
      );
    } finally {
      await worker.stop({ timeoutMs: 2_000 });
    }

    const all: RecordedEvent[] = await platform.store.readAll({ maxCount: 100_000 });
    const types = new Set(all.map((e) => e.type));
    for (const t of [
      'EmailReserved',
      'UserRegistered',
      'SessionStarted',
      'SubscriptionStarted',
      'PaymentOrderCreated',
      'ProxyRegistered',
      'ExecutionRequested',
      'ProxyAssigned',
      'ExecutionStarted',
      'ItemsCollected',
      'ExecutionCompleted',
    ]) {
      expect(types, `the flow wrote ${t}`).to.include(t);
    }
    const actors = new Set(all.map((e) => String(e.metadata.userId).replace(/^[0-9a-f-]{36}$/, '<user>')));
    expect([...actors]).to.include.members(['<user>', 'cli', 'pm:pm-free-plans-on-registration', 'pm:deadlines']);
    expect([...actors].some((a) => a.startsWith('worker:'))).to.equal(true);

    const problems: string[] = [];
    for (const event of all) {
      const m = event.metadata;
      const where = `${event.streamName}@${event.revision} ${event.type} ${JSON.stringify(m)}`;
      if (typeof m.$correlationId !== 'string' || m.$correlationId === '') problems.push(`no $correlationId: ${where}`);
      if (typeof m.$causationId !== 'string' || m.$causationId === '') problems.push(`no $causationId: ${where}`);
      if (typeof m.userId !== 'string' || !ACTOR.test(m.userId)) problems.push(`no or odd userId: ${where}`);
      // a user's own command always came in a request; so did every reaction in the chain of a manual execution
      if (typeof m.userId === 'string' && UUID.test(m.userId) && typeof m.requestId !== 'string') problems.push(`a user's event without requestId: ${where}`);
      if (event.streamName === workflowExecutionStream(executionId!) && typeof m.requestId !== 'string')
        problems.push(`manual execution event without requestId: ${where}`);
      if (!(event.created instanceof Date) || Number.isNaN(event.created.getTime())) problems.push(`no time: ${where}`);
    }
    expect(problems, problems.slice(0, 10).join('\n')).to.deep.equal([]);
  });
});

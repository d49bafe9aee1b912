import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { createProxiesProjection, PROXIES_PROJECTION } from '../../src/projections/proxies.js';
import { createProxyUsageProjection, PROXY_USAGE_PROJECTION } from '../../src/projections/proxy-usage.js';
import { findProxy } from '../../src/read-api/proxies.js';
import { resetCheckpoint } from '../../src/consumers/checkpoints.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { recordHealthCheck, reportProxyFailure } from '../../src/application/proxies.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { proxyAggregate, type ProxyCommand } from '../../src/write-model/proxy/index.js';
import { proxyHealthDayId, proxyHealthStream } from '../../src/write-model/proxy-health/index.js';
import { workflowExecutionAggregate, type WorkflowExecutionCommand } from '../../src/write-model/workflow-execution/index.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';

const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
const item = (id: string) => ({ platformContentId: id, kind: 'xiaohongshu.note', data: { title: id } });

describe('proxy read models (proxies-v1, proxy-usage-v1)', function () {
  this.timeout(60_000);
  let knex: Knex;
  let store: PostgresEventStore;
  const names: string[] = [];

  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 5 } });
    store = createPostgresEventStore({ connectionString: testDatabaseUrl, poolSize: 5 });
  });
  after(async () => {
    await knex('consumer_checkpoints').whereIn('consumer', names).delete();
    await store.close();
    await knex.destroy();
  });

  // a checkpoint of its own: never contends with a projector running on this database
  const ownName = (base: string) => {
    const name = `${base}-test-${randomUUID().slice(0, 8)}`;
    names.push(name);
    return name;
  };
  const deps = () => ({ store, knex, databaseUrl: testDatabaseUrl });

  const execute = async (executionId: string, commands: WorkflowExecutionCommand[]) => {
    for (const command of commands) await handle(store, workflowExecutionAggregate, executionId, command, { context });
  };

  it('counts executions, items and failures per proxy, user, platform and day, and the same again after a replay', async () => {
    const owner = `user-${randomUUID()}`;
    const [p1, p2] = [randomUUID(), randomUUID()];
    const [e1, e2] = [randomUUID(), randomUUID()];
    const requested = (executionId: string, now: string): WorkflowExecutionCommand => ({
      type: 'RequestExecution',
      executionId,
      workflowId: `wf-${executionId}`,
      ownerId: owner,
      platform: 'xiaohongshu',
      workflowType: 'xiaohongshu.search_notes',
      config: { keyword: 'tea' },
      platformAccountId: null,
      trigger: 'manual',
      requestedBy: owner,
      now,
    });
    // 2026-03-01T17:00Z is already 2026-03-02 in Asia/Shanghai (the quota day)
    await execute(e1, [
      requested(e1, '2026-03-01T15:00:00.000Z'),
      { type: 'StartExecution', executionId: e1, workerId: 'w1', now: '2026-03-01T15:00:01.000Z' },
      { type: 'AssignProxy', executionId: e1, proxyId: p1, leaseId: 'l1', reason: 'initial', now: '2026-03-01T15:00:02.000Z' },
      { type: 'CollectItems', executionId: e1, batchId: 'b1', items: [item('n1'), item('n2'), item('n3')], cursor: 'c1', now: '2026-03-01T15:10:00.000Z' },
      // moved to p2 after p1 failed; its items count for p2, on the next (Shanghai) day
      { type: 'AssignProxy', executionId: e1, proxyId: p2, leaseId: 'l2', reason: 'proxy_failed', now: '2026-03-01T16:30:00.000Z' },
      { type: 'CollectItems', executionId: e1, batchId: 'b2', items: [item('n3'), item('n4')], cursor: 'c2', now: '2026-03-01T17:00:00.000Z' },
      // back to p1: not a second execution through it
      { type: 'AssignProxy', executionId: e1, proxyId: p1, leaseId: 'l3', reason: 'retry', now: '2026-03-01T17:10:00.000Z' },
      { type: 'CollectItems', executionId: e1, batchId: 'b3', items: [item('n5')], cursor: null, now: '2026-03-01T17:20:00.000Z' },
      { type: 'CompleteExecution', executionId: e1, now: '2026-03-01T17:30:00.000Z' },
    ]);
    await execute(e2, [
      requested(e2, '2026-03-01T18:00:00.000Z'),
      { type: 'StartExecution', executionId: e2, workerId: 'w1', now: '2026-03-01T18:00:01.000Z' },
      { type: 'AssignProxy', executionId: e2, proxyId: p2, leaseId: 'l4', reason: 'initial', now: '2026-03-01T18:00:02.000Z' },
      { type: 'CollectItems', executionId: e2, batchId: 'b1', items: [item('m1'), item('m2')], cursor: 'c1', now: '2026-03-01T18:05:00.000Z' },
      { type: 'FailExecution', executionId: e2, reason: 'captcha wall', now: '2026-03-01T18:06:00.000Z' },
    ]);

    const stats = async () =>
      (await knex('proxy_usage_stats')
        .select('proxy_id', 'platform', knex.raw('day::text as day'), 'executions', 'items', 'failures')
        .where({ user_id: owner })
        .orderBy(['day', 'proxy_id'])) as Record<string, unknown>[];
    const expected = [
      { proxy_id: p1, platform: 'xiaohongshu', day: '2026-03-01', executions: 1, items: 3, failures: 0 },
      ...[
        { proxy_id: p1, platform: 'xiaohongshu', day: '2026-03-02', executions: 0, items: 1, failures: 0 },
        { proxy_id: p2, platform: 'xiaohongshu', day: '2026-03-02', executions: 2, items: 3, failures: 1 },
      ].sort((a, b) => a.proxy_id.localeCompare(b.proxy_id)),
    ];

    const consumer = createProxyUsageProjection({ name: ownName(PROXY_USAGE_PROJECTION), timeZone: 'Asia/Shanghai' });
    await runConsumerToHead(deps(), consumer);
    expect(await stats()).to.deep.equal(expected);
    const mapping = await knex('proxy_usage_executions').where({ execution_id: e1 }).first();
    expect(mapping).to.include({ owner_id: owner, platform: 'xiaohongshu', proxy_id: p1 });
    expect(mapping.counted_proxies).to.have.members([p1, p2]);

    // replay everything from the start: the revision guard keeps the numbers
    await resetCheckpoint(knex, consumer.name);
    await runConsumerToHead(deps(), consumer);
    expect(await stats()).to.deep.equal(expected);
  });

  it('keeps health counters, bans and status without credentials, and the same again after a replay', async () => {
    const proxyId = randomUUID();
    const box = { keyId: 'k1', iv: 'aXZpdml2aXZpdml2', tag: 'dGFndGFndGFndGFndGFn', ciphertext: 'c2VjcmV0' };
    const proxy = (command: ProxyCommand) => handle(store, proxyAggregate, proxyId, command, { context });
    const thresholds = { failure: 2, recovery: 1 };
    const at = (iso: string) => ({ store, context, thresholds, now: () => new Date(iso) });
    const check = (ok: boolean, latencyMs: number | null, now: string) => recordHealthCheck(at(now), { proxyId, ok, latencyMs, error: ok ? null : 'timeout' });
    await proxy({
      type: 'RegisterProxy',
      proxyId,
      host: 'Gw.Example.test',
      port: 8080,
      protocol: 'http',
      credentials: box,
      country: 'cn',
      region: 'Guangdong',
      provider: 'acme',
      registeredBy: 'admin-1',
      now: '2026-03-01T23:00:00.000Z',
    });
    // the observations cross midnight: two day streams, one read model row
    await check(true, 100, '2026-03-01T23:57:00.000Z');
    await check(true, 300, '2026-03-01T23:58:00.000Z');
    await check(false, null, '2026-03-01T23:59:00.000Z');
    expect(await check(false, null, '2026-03-02T00:00:00.000Z')).to.include({ failed: true }); // fails (threshold 2, the run crossing midnight)
    await reportProxyFailure(at('2026-03-02T00:01:00.000Z'), { proxyId, reason: 'blocked', platform: 'xiaohongshu', jobId: 'j1' });
    expect(await check(true, 200, '2026-03-02T00:02:00.000Z')).to.include({ recovered: true }); // recovers (threshold 1)
    await proxy({ type: 'BanProxy', proxyId, platform: 'xiaohongshu', reason: 'captcha', until: null, now: '2026-03-02T00:03:00.000Z' });
    await proxy({ type: 'BanProxy', proxyId, platform: 'qidian', reason: 'rate', until: '2999-01-01T00:00:00.000Z', now: '2026-03-02T00:04:00.000Z' });
    await proxy({ type: 'UnbanProxy', proxyId, platform: 'qidian', unbannedBy: 'admin-1', now: '2026-03-02T00:05:00.000Z' });
    expect((await store.readStream(proxyHealthStream(proxyHealthDayId(proxyId, '20260301')))).length).to.equal(3);
    expect((await store.readStream(proxyHealthStream(proxyHealthDayId(proxyId, '20260302')))).length).to.equal(3);

    const consumer = createProxiesProjection(ownName(PROXIES_PROJECTION));
    const snapshot = async () => {
      const row = await knex('proxies').where({ id: proxyId }).first();
      const bans = await knex('proxy_bans').select('platform', 'reason', 'until').where({ proxy_id: proxyId }).orderBy('platform');
      return { row, bans, view: await findProxy(knex, proxyId) };
    };
    await runConsumerToHead(deps(), consumer);
    const first = await snapshot();
    expect(first.row).to.not.have.property('credentials');
    expect(JSON.stringify(first.row)).to.not.include(box.ciphertext);
    expect(first.view).to.include({
      host: 'gw.example.test',
      country: 'CN',
      has_credentials: true,
      status: 'healthy',
      success_rate: 3 / 5,
      avg_latency_ms: 200,
      last_latency_ms: 200,
      last_error: 'blocked',
      consecutive_failures: 0,
      consecutive_successes: 1,
      total_checks: 5,
      successful_checks: 3,
      job_failures: 1,
      failure_reason: null,
      // the proxy stream's: lifecycle only (registered, failed, recovered, two bans, an unban)
      revision: '5',
    });
    expect(first.view!.last_checked_at).to.equal('2026-03-02T00:02:00.000Z');
    expect(first.view!.failed_at).to.equal('2026-03-02T00:00:00.000Z');
    expect(first.view!.recovered_at).to.equal('2026-03-02T00:02:00.000Z');
    expect(first.view!.bans).to.deep.equal([{ platform: 'xiaohongshu', reason: 'captcha', until: null, banned_at: '2026-03-02T00:03:00.000Z' }]);

    await resetCheckpoint(knex, consumer.name);
    await runConsumerToHead(deps(), consumer);
    expect(await snapshot()).to.deep.equal(first);
  });
});

import { expect } from 'chai';
import { executionEventsOf } from '../support/execution-events.js';
import { proxyHealthAggregate, proxyHealthDayId, proxyHealthStream, utcDay } from '../../src/write-model/proxy-health/decider.js';
import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Container } from 'inversify';
import { buildContainer, disposeContainer } from '../../src/container.js';
import { startWorker, type RunningWorker, type ScrapeProcessorOptions } from '../../src/main/worker.js';
import { RedisProxyLeaseStore } from '../../src/adapters/proxies/redis-lease-store.js';
import { QUEUE_NAMES, QueueFactory, type ScrapeJobData } from '../../src/adapters/queue/queues.js';
import { ScrapeDispatcher } from '../../src/adapters/queue/scrape-dispatcher.js';
import { registerProxy } from '../../src/application/proxies.js';
import type { RecordedEvent } from '../../src/event-store/port.js';
import { createProxiesProjection } from '../../src/projections/proxies.js';
import { proxyCandidates } from '../../src/read-api/proxies.js';
import { TOKENS } from '../../src/tokens.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { platformAccountStream } from '../../src/write-model/platform-account/decider.js';
import { proxyAggregate } from '../../src/write-model/proxy/decider.js';
import { workflowExecutionAggregate, workflowExecutionStream } from '../../src/write-model/workflow-execution/decider.js';
import type { WorkflowExecutionCommand } from '../../src/write-model/workflow-execution/commands.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { startFixtureSites, type FixtureSites } from '../support/fixture-sites.js';
import { LocalProxies } from '../support/local-proxies.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';
import { waitFor } from '../support/wait-for.js';
import { connectPlatformAccount } from '../support/platform-accounts.js';

const COOKIE_VALUE = '040069b2worker-secret';
const PROXY_PASSWORD = 'px-secret-pass';

describe('scrape worker: the scrape job end to end (real Chromium, proxies, fixture sites)', function () {
  this.timeout(40_000);
  let sites: FixtureSites;
  let proxies: LocalProxies;
  let container: Container;
  let queue: Queue<ScrapeJobData>;
  let dispatcher: ScrapeDispatcher;
  let proxyIds: string[];
  let prefix: string;
  const workers: RunningWorker[] = [];
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(async () => {
    sites = await startFixtureSites();
    proxies = await LocalProxies.start(2, { username: 'px-user', password: PROXY_PASSWORD });
    prefix = `test-worker-${randomUUID().slice(0, 8)}`;
    container = await buildContainer(
      testConfig({
        QUEUE_PREFIX: prefix,
        XIAOHONGSHU_WEB_URL: sites.urls.xiaohongshuWeb,
        XIAOHONGSHU_API_URL: sites.urls.xiaohongshuApi,
        QIDIAN_WEB_URL: sites.urls.qidianWeb,
        WORKER_CONCURRENCY: '2',
        ACCOUNT_JOBS_PER_MINUTE: '1000',
        PROXY_LEASE_TTL_MS: '3000',
      }),
    );
    const store = container.get(TOKENS.EventStore);
    proxyIds = [];
    for (const p of proxies.proxies) {
      const { proxyId } = await registerProxy(
        { store, context, secretBox: container.get(TOKENS.SecretBox) },
        { host: p.host, port: p.port, protocol: 'http', username: p.username, password: p.password, registeredBy: 'test-admin', country: 'CN' },
      );
      proxyIds.push(proxyId);
    }
    // the real proxies read model, under a checkpoint of its own
    await runConsumerToHead(
      { store, knex: container.get(TOKENS.Knex), databaseUrl: testDatabaseUrl },
      createProxiesProjection(`proxies-worker-test-${prefix}`),
    );
    queue = new QueueFactory({ redisUrl: container.get(TOKENS.Config).REDIS_URL, prefix }).queue<ScrapeJobData>(QUEUE_NAMES.scrape);
    dispatcher = new ScrapeDispatcher(queue, { retry: { attempts: 3, backoffMs: 600 } });
  });

  after(async () => {
    await Promise.all(workers.map((w) => w.stop({ timeoutMs: 1000 })));
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    await container?.get(TOKENS.Knex)('consumer_checkpoints').where('consumer', `proxies-worker-test-${prefix}`).delete();
    await disposeContainer(container);
    await proxies?.stopAll();
    await sites?.close();
  });

  beforeEach(() => {
    sites.setMode('xiaohongshu', 'ok');
    sites.requests.length = 0;
    for (const p of proxies.proxies) p.requests.length = 0;
  });

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop({ timeoutMs: 1000 })));
  });

  const ours = async () => (await proxyCandidates(container.get(TOKENS.Knex))).filter((c) => proxyIds.includes(c.proxyId));
  const start = async (options: ScrapeProcessorOptions = {}) => {
    const worker = await startWorker(container, {
      workerName: `w${workers.length + 1}-${randomUUID().slice(0, 4)}`,
      scrape: { candidates: ours, scraperTuning: { delayMs: [0, 0] }, context: { allowHosts: ['127.0.0.1'] }, ...options },
    });
    workers.push(worker);
    return worker;
  };
  const store = () => container.get(TOKENS.EventStore);
  const events = async (stream: string): Promise<RecordedEvent[]> =>
    store()
      .readStream(stream)
      .catch(() => []);
  const executionEvents = (id: string) => events(workflowExecutionStream(id));
  const ofType = (list: RecordedEvent[], type: string) => list.filter((e) => e.type === type);
  const collectedIds = (list: RecordedEvent[]) =>
    executionEventsOf(list, 'ItemsCollected')
      .map((e) => e.data)
      .flatMap((d) => d.items.map((i) => i.platformContentId));
  const expectedNotes = () => sites.manifest.xiaohongshu.searchNotes.filter((n) => n.special !== 'unavailable').map((n) => n.id);
  const waitForEvent = (id: string, type: string, timeoutMs = 25_000) =>
    waitFor(`${type} of ${id}`, async () => ofType(await executionEvents(id), type).length > 0, timeoutMs);

  /** An account, a requested execution (optionally already assigned a proxy, as the dispatching PM does) and its job. */
  async function requested(options: { assign?: string } = {}) {
    const owner = `user-${randomUUID()}`;
    const accountId = randomUUID();
    const secretBox = container.get(TOKENS.SecretBox);
    await connectPlatformAccount(store(), context, {
      accountId,
      ownerId: owner,
      credentials: secretBox.encrypt(JSON.stringify({ cookies: `a1=18f0c0ffee0a1; web_session=${COOKIE_VALUE}` }), accountId),
      displayName: 'shop',
      userAgent: 'WorkerTestAgent/1.0',
    });
    const executionId = randomUUID();
    const config = { mode: 'keyword', keyword: sites.manifest.xiaohongshu.keyword, maxItems: 100 };
    const commands: WorkflowExecutionCommand[] = [
      {
        type: 'RequestExecution',
        executionId,
        workflowId: `wf-${executionId}`,
        ownerId: owner,
        platform: 'xiaohongshu',
        workflowType: 'xiaohongshu.notes',
        config,
        platformAccountId: accountId,
        trigger: 'manual',
        requestedBy: owner,
        now: new Date().toISOString(),
      },
    ];
    if (options.assign)
      commands.push({ type: 'AssignProxy', executionId, proxyId: options.assign, leaseId: null, reason: 'initial', now: new Date().toISOString() });
    for (const command of commands) await handle(store(), workflowExecutionAggregate, executionId, command, { context });
    await dispatcher.enqueue({
      executionId,
      workflowId: `wf-${executionId}`,
      ownerId: owner,
      platform: 'xiaohongshu',
      type: 'xiaohongshu.notes',
      config,
      platformAccountId: accountId,
      proxyId: options.assign ?? null,
      cursor: null,
      attempt: 1,
    });
    return { executionId, accountId };
  }

  it('collects the notes through the assigned proxy (its log shows the traffic, with its credentials) into ItemsCollected / ExecutionCompleted', async () => {
    await start();
    const { executionId, accountId } = await requested({ assign: proxyIds[1] });
    await waitForEvent(executionId, 'ExecutionCompleted');
    const list = await executionEvents(executionId);
    const ids = collectedIds(list);
    expect(ids).to.deep.equal(expectedNotes());
    expect(ofType(list, 'ExecutionStarted')).to.have.length(1);
    // the preferred (assigned) proxy was kept: no second assignment
    expect(
      executionEventsOf(list, 'ProxyAssigned')
        .map((e) => e.data)
        .map((d) => d.proxyId),
    ).to.deep.equal([proxyIds[1]]);
    expect(executionEventsOf(list, 'ExecutionCompleted').map((e) => e.data)[0]!.itemCount).to.equal(ids.length);
    // every page and API call went through proxy #2, authenticated with its decrypted credentials; none through #1
    const port = Number(new URL(sites.origin).port);
    const through = proxies.at(1).requests.filter((r) => r.hostname === '127.0.0.1' && r.port === port);
    expect(through.length).to.be.at.least(sites.requests.length);
    expect(through.every((r) => r.username === 'px-user')).to.equal(true);
    expect(proxies.usedFor('127.0.0.1', port)).to.deep.equal([proxies.at(1)]);
    // the account's cookies and user agent reached the site
    const searches = sites.hits('xiaohongshu', 'edith', '/api/sns/web/v1/search/notes');
    expect(searches.length).to.be.greaterThan(0);
    expect(searches.every((r) => r.cookies['web_session'] === COOKIE_VALUE && r.userAgent === 'WorkerTestAgent/1.0')).to.equal(true);
    // secrets stayed out of the events, and the lease was given back
    const all = JSON.stringify([...list, ...(await events(platformAccountStream(accountId)))].map((e) => [e.data, e.metadata]));
    expect(all).to.not.contain(COOKIE_VALUE);
    expect(all).to.not.contain(PROXY_PASSWORD);
    const leases = new RedisProxyLeaseStore(container.get(TOKENS.Redis), { prefix: `${prefix}:` });
    await waitFor('the lease released', async () => (await leases.leasesOfAccount(accountId)).length === 0, 3000);
    const job = await queue.getJob(executionId);
    expect(await job!.getState()).to.equal('completed');
    expect(job!.returnvalue).to.include({ status: 'completed', itemCount: ids.length, proxyId: proxyIds[1] });
  });

  it('a login wall invalidates the account and fails the execution, without retries', async () => {
    await start();
    sites.setMode('xiaohongshu', 'login');
    const { executionId, accountId } = await requested();
    await waitForEvent(executionId, 'ExecutionFailed');
    await waitFor('the job failed', async () => (await queue.getJob(executionId))!.isFailed(), 5000);
    const account = await events(platformAccountStream(accountId));
    const invalidated = ofType(account, 'AccountInvalidated');
    expect(invalidated).to.have.length(1);
    expect(invalidated[0]!.data).to.include({ reason: 'login_wall', requestedBy: null });
    await new Promise((resolve) => setTimeout(resolve, 900)); // longer than the back-off: nothing retries
    const list = await executionEvents(executionId);
    expect(ofType(list, 'ExecutionStarted')).to.have.length(1);
    expect(ofType(list, 'ExecutionRetried')).to.have.length(0);
    expect(ofType(list, 'ExecutionFailed')).to.have.length(1); // the dead letter's FailExecution was a no-op
    expect(executionEventsOf(list, 'ExecutionFailed').map((e) => e.data)[0]!.reason).to.match(/^login_wall:/);
    const job = await queue.getJob(executionId);
    expect(job!.attemptsMade).to.equal(1);
  });

  it('a captcha bans the proxy for the platform; the retry completes on the other proxy with no item collected twice', async () => {
    await start({ scraperTuning: { delayMs: [25, 25] } });
    const { executionId } = await requested();
    await waitForEvent(executionId, 'ItemsCollected');
    sites.setMode('xiaohongshu', 'captcha');
    const first = executionEventsOf(await executionEvents(executionId), 'ProxyAssigned').map((e) => e.data)[0]!;
    const firstProxy = first.proxyId;
    await waitFor('the ban', async () => ofType(await events(`proxy-${firstProxy}`), 'ProxyBanned').length > 0, 10_000);
    sites.setMode('xiaohongshu', 'ok');
    await waitForEvent(executionId, 'ExecutionCompleted');

    const [banned] = ofType(await events(`proxy-${firstProxy}`), 'ProxyBanned').map((e) => proxyAggregate.events.decode(e));
    if (banned?.type !== 'ProxyBanned') throw new Error('no ProxyBanned recorded');
    const ban = banned.data;
    expect(ban.platform).to.equal('xiaohongshu');
    expect(Date.parse(ban.until ?? '') - Date.now()).to.be.within(50 * 60_000, 61 * 60_000);
    const list = await executionEvents(executionId);
    const assigned = executionEventsOf(list, 'ProxyAssigned').map((e) => e.data);
    const other = proxyIds.find((id) => id !== firstProxy)!;
    expect(assigned.map((a) => a.proxyId)).to.deep.equal([firstProxy, other]);
    expect(assigned[1]!.reason).to.equal('retry');
    expect(ofType(list, 'ExecutionRetried')).to.have.length(1);
    const ids = collectedIds(list);
    expect(new Set(ids).size).to.equal(ids.length);
    expect([...ids].sort()).to.deep.equal([...expectedNotes()].sort());
    const otherLocal = proxies.at(proxyIds.indexOf(other));
    expect(otherLocal.requests.length).to.be.greaterThan(0);
  });

  it('a graceful stop mid-job releases the job and its lease; a new worker finishes it with no duplicate items', async () => {
    const first = await start({ scraperTuning: { delayMs: [40, 40] } });
    const { executionId, accountId } = await requested();
    await waitForEvent(executionId, 'ItemsCollected');
    const stopping = Date.now();
    await first.stop({ timeoutMs: 300 });
    workers.splice(workers.indexOf(first), 1);
    expect(Date.now() - stopping).to.be.below(3000);
    const job = await queue.getJob(executionId);
    expect(await job!.getState()).to.equal('waiting');
    expect(job!.attemptsMade).to.equal(0); // released, not failed
    const leases = new RedisProxyLeaseStore(container.get(TOKENS.Redis), { prefix: `${prefix}:` });
    expect(await leases.leasesOfAccount(accountId)).to.deep.equal([]);
    const before = collectedIds(await executionEvents(executionId));
    expect(before.length).to.be.greaterThan(0).and.below(expectedNotes().length);

    await start();
    await waitForEvent(executionId, 'ExecutionCompleted');
    const list = await executionEvents(executionId);
    const ids = collectedIds(list);
    expect(ids).to.deep.equal(expectedNotes());
    const starts = executionEventsOf(list, 'ExecutionStarted').map((e) => e.data);
    expect(starts.map((s) => s.attempt)).to.deep.equal([1, 2]);
    expect(starts[0]!.workerId).to.not.equal(starts[1]!.workerId);
    expect(executionEventsOf(list, 'ExecutionRetried').map((e) => e.data)[0]!.reason).to.match(/^resumed/);
  });

  it('an unreachable proxy (dead: ERR_PROXY_CONNECTION_FAILED) is reported, and the retry leases another one instead of it', async () => {
    // last in the file: proxy #1 stays dead; the captcha test's ban is lifted, so both proxies are usable but for the dead one
    for (const proxyId of proxyIds) {
      await handle(
        store(),
        proxyAggregate,
        proxyId,
        { type: 'UnbanProxy', proxyId, platform: 'xiaohongshu', unbannedBy: 'test-admin', now: new Date().toISOString() },
        { context },
      );
    }
    await proxies.kill(0);
    await start();
    const { executionId } = await requested({ assign: proxyIds[0] });
    await waitForEvent(executionId, 'ExecutionCompleted');
    // observations live in the proxy's day stream (proxy_health-…)
    const day = proxyHealthStream(proxyHealthDayId(proxyIds[0]!, utcDay(new Date())));
    const checks = (await events(day)).map((e) => proxyHealthAggregate.events.decode(e).data);
    expect(checks).to.have.length(1); // under the threshold (3): reported, not failed, and not leased again
    expect(checks[0]).to.include({ ok: false, source: 'job', jobId: executionId });
    expect(checks[0]!.error).to.match(/^unreachable: net::ERR_PROXY_CONNECTION_FAILED/);
    const list = await executionEvents(executionId);
    const assigned = executionEventsOf(list, 'ProxyAssigned').map((e) => e.data);
    expect(assigned).to.deep.equal([
      { ...assigned[0], proxyId: proxyIds[0], reason: 'initial' },
      { ...assigned[1], proxyId: proxyIds[1], reason: 'proxy_failed' },
    ]);
    expect(collectedIds(list)).to.deep.equal(expectedNotes());
    // the job is marked completed once the processor has returned, a moment after the execution's last event
    await waitFor('the job completed', async () => (await queue.getJob(executionId))?.finishedOn !== undefined, 5000);
    expect((await queue.getJob(executionId))!.attemptsMade, 'the failed try and the one that completed').to.equal(2);
  });
});

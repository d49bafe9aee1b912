import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Queue } from 'bullmq';
import { QUEUE_NAMES, QueueFactory, type ScrapeJobData } from '../../src/adapters/queue/queues.js';
import { comparePositions, START } from '../../src/event-store/position.js';
import type { RecordedEvent } from '../../src/event-store/port.js';
import type { RunningWorker } from '../../src/main/worker.js';
import { readCheckpoint, resetCheckpoint } from '../../src/consumers/checkpoints.js';
import { proxyStream } from '../../src/write-model/proxy/decider.js';
import { quotaDay } from '../../src/application/quota-day.js';
import { dailyUsageId, subscriptionUsageStream } from '../../src/write-model/subscription-usage/decider.js';
import { workflowExecutionStream } from '../../src/write-model/workflow-execution/decider.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { waitFor } from '../support/wait-for.js';

const ofType = (events: RecordedEvent[], type: string) => events.filter((e) => e.type === type);
const collectedIds = (events: RecordedEvent[]) =>
  ofType(events, 'ItemsCollected').flatMap((e) => (e.data as { items: { platformContentId: string }[] }).items.map((i) => i.platformContentId));

const MAX_ITEMS = 30;
/** slow enough to act mid-run: a batch of 10 notes takes ≈ 1.5–2 s */
const PACE: readonly [number, number] = [150, 150];

/**
 * Resilience: a proxy dying, the worker restarted
 * gracefully, the worker killed hard (a real process, SIGKILL), the process
 * managers restarted (and made to see their events again) — each mid-run,
 * each ending with the execution completed once and every note collected
 * exactly once.
 */
describe('automation resilience (e2e): proxy death, worker restarts and kills, process-manager restarts mid-run', function () {
  this.timeout(60_000);
  let platform: Platform;
  let admin: string;
  let proxyIds: string[];
  let queue: Queue<ScrapeJobData>;
  const workers: RunningWorker[] = [];
  let child: ChildProcess | undefined;
  let childOutput = '';
  let probeTarget: Server;

  before(async function () {
    this.timeout(60_000);
    // the proxy-health job probes every proxy when a worker starts: a target that answers, so only a dead proxy fails
    probeTarget = createServer((_req, res) => void res.writeHead(200, { 'content-type': 'text/plain' }).end('User-agent: *\n'));
    await new Promise<void>((resolve) => probeTarget.listen(0, '127.0.0.1', resolve));
    const target = `http://127.0.0.1:${(probeTarget.address() as AddressInfo).port}/robots.txt`;
    // one failure reported by a job fails the proxy (ProxyFailed → pm-proxy-failover)
    platform = await startPlatform({ proxies: 3, config: { PROXY_FAILURE_THRESHOLD: '1', PROXY_HEALTH_TARGET_URL: target } });
    admin = await platform.adminToken();
    proxyIds = [];
    for (const p of platform.proxies.proxies) {
      const r = await platform.call('POST', '/api/v1/proxies', {
        token: admin,
        body: {
          host: p.host,
          port: p.port,
          protocol: 'http',
          username: p.username,
          password: p.password,
          country: 'CN',
          region: 'shanghai',
          provider: 'local',
        },
      });
      expect(r.status, r.text).to.equal(201);
      proxyIds.push(r.body.data.id);
    }
    queue = new QueueFactory({ redisUrl: platform.config.REDIS_URL, prefix: platform.config.QUEUE_PREFIX }).queue<ScrapeJobData>(QUEUE_NAMES.scrape);
  });
  after(async () => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGKILL');
    await queue?.close();
    await platform?.stop();
    probeTarget?.closeAllConnections();
    await new Promise((resolve) => probeTarget?.close(resolve));
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop({ timeoutMs: 1_000 })));
  });

  const startWorker = async (name: string) => {
    const worker = await platform.startWorker(name, { delayMs: PACE });
    workers.push(worker);
    return worker;
  };

  /** A user with a verified Xiaohongshu account and a notes workflow on it. */
  async function userWithWorkflow(name: string) {
    const user = await platform.signUp(name);
    const cookies = `a1=${randomBytes(8).toString('hex')}; web_session=${randomBytes(12).toString('hex')}`;
    const connected = await platform.call('POST', '/api/v1/platform-accounts', {
      token: user.token,
      body: { platform: 'xiaohongshu', credentials: { cookies }, display_name: `${name}的号` },
    });
    expect(connected.status, connected.text).to.equal(201);
    const accountId = connected.body.data.id as string;
    const verified = await platform.call('POST', `/api/v1/platform-accounts/${accountId}/verify`, { token: user.token });
    expect(verified.body?.data, verified.text).to.include({ status: 'active' });
    const keyword = platform.sites.manifest.xiaohongshu.keyword;
    const created = await platform.call('POST', '/api/v1/workflows', {
      token: user.token,
      body: { name: `${keyword}笔记`, type: 'xiaohongshu.notes', config: { mode: 'keyword', keyword, maxItems: MAX_ITEMS }, platform_account_id: accountId },
    });
    expect(created.status, created.text).to.equal(201);
    return { ...user, accountId, workflowId: created.body.data.id as string };
  }

  async function execute(user: { token: string; workflowId: string }): Promise<string> {
    const r = await platform.call('POST', `/api/v1/workflows/${user.workflowId}/execute`, { token: user.token });
    expect(r.status, r.text).to.equal(202);
    return r.body.data.execution_id as string;
  }

  const expectedNotes = () =>
    platform.sites.manifest.xiaohongshu.searchNotes
      .filter((n) => n.special !== 'unavailable')
      .map((n) => n.id)
      .slice(0, MAX_ITEMS);
  const executionEvents = (id: string) => platform.events(workflowExecutionStream(id));
  const untilEvent = (id: string, type: string, timeoutMs = 30_000) =>
    waitFor(`${type} of execution ${id}`, async () => ofType(await executionEvents(id), type).length > 0, timeoutMs, 50);
  const jobsOf = async (executionId: string) =>
    (await queue.getJobs(['active', 'waiting', 'delayed', 'prioritized', 'waiting-children', 'completed', 'failed'])).filter(
      (j) => j?.data?.executionId === executionId,
    );

  /** Completed once, every expected note exactly once in the stream and in the content query. */
  async function expectCollectedOnce(user: { token: string }, executionId: string): Promise<RecordedEvent[]> {
    const events = await executionEvents(executionId);
    expect(ofType(events, 'ExecutionCompleted'), 'completed once').to.have.length(1);
    expect(ofType(events, 'ExecutionFailed')).to.have.length(0);
    const ids = collectedIds(events);
    expect(ids.length, 'no note collected twice').to.equal(new Set(ids).size);
    expect([...ids].sort()).to.deep.equal([...expectedNotes()].sort());
    expect((ofType(events, 'ExecutionCompleted')[0]!.data as { itemCount: number }).itemCount).to.equal(MAX_ITEMS);
    let contents: any;
    await waitFor(
      'the notes in the content query',
      async () => {
        contents = await platform.call('GET', '/api/v1/xiaohongshu/contents?per_page=100', { token: user.token });
        return contents.body?.data?.pagination?.total === MAX_ITEMS;
      },
      20_000,
      100,
    );
    expect(contents.body.data.items.map((c: any) => c.id).sort()).to.deep.equal([...expectedNotes()].sort());
    return events;
  }

  it('(a) the proxy dies mid-run: ProxyFailed, the execution moves to another proxy (proxy_failed) and completes, nothing collected twice', async () => {
    const user = await userWithWorkflow('alice');
    await startWorker('a');
    const executionId = await execute(user);
    await untilEvent(executionId, 'ItemsCollected');
    const first = ofType(await executionEvents(executionId), 'ProxyAssigned')[0]!.data as { proxyId: string; reason: string };
    expect(first.reason).to.equal('initial');
    const dead = proxyIds.indexOf(first.proxyId);
    const killedAt = Date.now();
    await platform.proxies.kill(dead);
    const before = collectedIds(await executionEvents(executionId)).length;
    expect(before, 'killed mid-run').to.be.greaterThan(0).and.below(MAX_ITEMS);

    await waitFor('ProxyFailed', async () => ofType(await platform.events(proxyStream(first.proxyId)), 'ProxyFailed').length > 0, 20_000, 50);
    await untilEvent(executionId, 'ExecutionCompleted');
    const tookMs = Date.now() - killedAt;

    const failed = ofType(await platform.events(proxyStream(first.proxyId)), 'ProxyFailed')[0]!.data as { reason: string; source: string };
    expect(failed.source).to.equal('job');
    expect(failed.reason).to.match(/^unreachable: /);
    const events = await expectCollectedOnce(user, executionId);
    const assigned = ofType(events, 'ProxyAssigned').map((e) => e.data as { proxyId: string; reason: string });
    const moved = assigned.filter((a) => a.reason === 'proxy_failed');
    expect(moved, JSON.stringify(assigned)).to.have.length(1);
    expect(moved[0]!.proxyId).to.not.equal(first.proxyId);
    expect(assigned.at(-1)!.proxyId, 'finished on the new proxy').to.equal(moved[0]!.proxyId);
    // the rest of the run really went through the new proxy
    const site = new URL(platform.sites.origin);
    const other = platform.proxies.at(proxyIds.indexOf(moved[0]!.proxyId));
    expect(other.requests.filter((r) => r.hostname === site.hostname && r.port === Number(site.port) && r.at >= killedAt).length).to.be.greaterThan(0);
    // the final run started after the kill, on the new proxy; the first one started before
    const starts = ofType(events, 'ExecutionStarted');
    expect(starts.length).to.be.at.least(2);
    expect(tookMs).to.be.below(25_000);
  });

  it('(b) a graceful worker restart mid-run loses and duplicates nothing', async () => {
    const user = await userWithWorkflow('bob');
    const first = await startWorker('b1');
    const executionId = await execute(user);
    await untilEvent(executionId, 'ItemsCollected');
    await first.stop({ timeoutMs: 1_000 }); // most of it to finish (not enough), then the job is released
    const job = await queue.getJob(executionId);
    expect(await job!.getState()).to.equal('waiting');
    expect(job!.attemptsMade, 'released, no attempt spent').to.equal(0);
    const before = collectedIds(await executionEvents(executionId)).length;
    expect(before, 'stopped mid-run').to.be.greaterThan(0).and.below(MAX_ITEMS);

    const second = await startWorker('b2');
    await untilEvent(executionId, 'ExecutionCompleted');
    const events = await expectCollectedOnce(user, executionId);
    const starts = ofType(events, 'ExecutionStarted').map((e) => e.data as { workerId: string; attempt: number });
    expect(starts.map((s) => s.attempt)).to.deep.equal([1, 2]);
    expect(starts[0]!.workerId).to.contain(first.workerName);
    expect(starts[1]!.workerId).to.contain(second.workerName);
    expect((ofType(events, 'ExecutionRetried')[0]!.data as { reason: string }).reason).to.match(/^resumed/);
    expect(await jobsOf(executionId)).to.have.length(1);
  });

  it('(c) a worker process killed hard (SIGKILL) mid-run: the job is taken again after its lock expires and completes, nothing lost or twice', async function () {
    this.timeout(70_000);
    const user = await userWithWorkflow('carol');
    const childName = `killed-${randomBytes(3).toString('hex')}`;
    childOutput = '';
    // the real worker (startWorker, every queue) in a process of its own, with the platform's settings and the tests' lock timings
    const script = `
      import { loadConfig } from ${JSON.stringify(`${process.cwd()}/src/config.ts`)};
      import { buildContainer } from ${JSON.stringify(`${process.cwd()}/src/container.ts`)};
      import { startWorker, allProcessors } from ${JSON.stringify(`${process.cwd()}/src/main/worker.ts`)};
      const config = loadConfig(process.env);
      const container = await buildContainer(config, { processName: 'worker' });
      await startWorker(container, {
        workerName: ${JSON.stringify(childName)},
        processors: allProcessors({ scraperTuning: { delayMs: [${PACE.join(', ')}] }, context: { allowHosts: ['127.0.0.1'] }, lockDurationMs: 5000, stalledIntervalMs: 2000 }),
      });
      console.log('CHILD WORKER STARTED');
    `;
    const c = platform.config;
    child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: process.cwd(),
      detached: true, // a process group of its own: SIGKILL takes it all
      env: {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'warn',
        DATABASE_URL: c.DATABASE_URL,
        REDIS_URL: c.REDIS_URL,
        QUEUE_PREFIX: c.QUEUE_PREFIX,
        XIAOHONGSHU_WEB_URL: c.XIAOHONGSHU_WEB_URL,
        XIAOHONGSHU_API_URL: c.XIAOHONGSHU_API_URL,
        QIDIAN_WEB_URL: c.QIDIAN_WEB_URL,
        SCRAPE_BACKOFF_MS: String(c.SCRAPE_BACKOFF_MS),
        SCRAPE_MAX_ATTEMPTS: String(c.SCRAPE_MAX_ATTEMPTS),
        PROXY_LEASE_TTL_MS: String(c.PROXY_LEASE_TTL_MS),
        PROXY_FAILURE_THRESHOLD: String(c.PROXY_FAILURE_THRESHOLD),
        PROXY_HEALTH_INTERVAL_MS: String(c.PROXY_HEALTH_INTERVAL_MS),
        PROXY_HEALTH_TARGET_URL: c.PROXY_HEALTH_TARGET_URL,
        ACCOUNT_JOBS_PER_MINUTE: String(c.ACCOUNT_JOBS_PER_MINUTE),
        WORKER_CONCURRENCY: String(c.WORKER_CONCURRENCY),
        CHROMIUM_PATH: c.CHROMIUM_PATH,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (childOutput += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (childOutput += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child!.once('exit', (code, signal) => resolve({ code, signal })));
    await waitFor('the child worker to start', () => childOutput.includes('CHILD WORKER STARTED') || child!.exitCode !== null, 30_000, 50).catch(
      () => undefined,
    );
    expect(childOutput, childOutput.slice(-2000)).to.contain('CHILD WORKER STARTED');

    const executionId = await execute(user);
    try {
      await untilEvent(executionId, 'ItemsCollected');
    } catch (error) {
      throw new Error(`${(error as Error).message}; child output:\n${childOutput.slice(-2000)}`);
    }
    const killedAt = Date.now();
    process.kill(-child.pid!, 'SIGKILL');
    expect((await exited).signal).to.equal('SIGKILL');
    const atKill = await executionEvents(executionId);
    const before = collectedIds(atKill).length;
    expect(before, 'killed mid-run').to.be.greaterThan(0).and.below(MAX_ITEMS);
    expect(ofType(atKill, 'ExecutionStarted').map((e) => (e.data as { workerId: string }).workerId)).to.satisfy(
      (ids: string[]) => ids.length === 1 && ids[0]!.includes(childName),
    );
    // nothing more from the dead process
    await new Promise((resolve) => setTimeout(resolve, 500));
    const afterKill = collectedIds(await executionEvents(executionId)).length;
    expect(afterKill).to.be.at.most(before + 10); // at most a batch already on its way

    const rescuer = await startWorker('c2');
    await untilEvent(executionId, 'ExecutionCompleted', 40_000);
    const tookMs = Date.now() - killedAt;
    const events = await expectCollectedOnce(user, executionId);
    const starts = ofType(events, 'ExecutionStarted').map((e) => e.data as { workerId: string; attempt: number });
    expect(starts).to.have.length(2);
    expect(starts[0]!.workerId).to.contain(childName);
    expect(starts[1]!.workerId).to.contain(rescuer.workerName);
    expect(ofType(events, 'ExecutionRetried')).to.have.length(1);
    const jobs = await jobsOf(executionId);
    expect(jobs.map((j) => j.id)).to.deep.equal([executionId]);
    expect(await jobs[0]!.getState()).to.equal('completed');
    // the lock (5 s) had to expire first, and a stalled-job check (2 s) notice it
    expect(tookMs).to.be.above(3_000).and.below(35_000);
  });

  it('(d) the process managers restarted mid-run (and replaying their events) lose and duplicate nothing: one job, quota counted once', async () => {
    const user = await userWithWorkflow('dave');
    // the day's usage stream (today in QUOTA_TIME_ZONE, the default Asia/Shanghai): uses and refusals live there
    const usageStream = subscriptionUsageStream(dailyUsageId(user.userId, 'xiaohongshu', quotaDay(new Date(), 'Asia/Shanghai').day));
    const usageBefore = ofType(await platform.events(usageStream), 'UsageRecorded').length;
    await startWorker('d');
    const executionId = await execute(user);
    // a crash-restart while the request is being dispatched
    await platform.restartConsumer('pm-dispatch-executions');
    await untilEvent(executionId, 'ItemsCollected');
    // mid-run: both PMs restarted from the start of the log (a crash before any checkpoint): every event is delivered again
    for (const name of ['pm-dispatch-executions', 'pm-proxy-failover']) {
      await resetCheckpoint(platform.knex, name, START);
      await platform.restartConsumer(name);
    }
    await untilEvent(executionId, 'ExecutionCompleted');
    // the replays have passed this execution's events
    const last = (await executionEvents(executionId)).at(-1)!;
    for (const name of ['pm-dispatch-executions', 'pm-proxy-failover']) {
      await waitFor(`${name} past the completion`, async () => comparePositions(await readCheckpoint(platform.knex, name), last.position) >= 0, 20_000, 100);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));

    const events = await expectCollectedOnce(user, executionId);
    expect(ofType(events, 'ExecutionStarted'), 'one run').to.have.length(1);
    expect(ofType(events, 'ExecutionRetried')).to.have.length(0);
    expect(ofType(events, 'ProxyAssigned').map((e) => (e.data as { reason: string }).reason)).to.deep.equal(['initial']);
    expect(ofType(events, 'ExecutionRequested')).to.have.length(1);
    expect((await executionEvents(executionId)).length, 'nothing written after the replay').to.equal(events.length);
    const jobs = await jobsOf(executionId);
    expect(
      jobs.map((j) => j.id),
      'one job',
    ).to.deep.equal([executionId]);
    const usage = ofType(await platform.events(usageStream), 'UsageRecorded');
    expect(usage.length - usageBefore, 'quota counted once').to.equal(1);
    expect(ofType(await platform.events(usageStream), 'QuotaExceeded')).to.have.length(0);
  });
});

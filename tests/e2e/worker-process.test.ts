import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import knexFactory from 'knex';
import type { Queue } from 'bullmq';
import type { Container } from 'inversify';
import { buildContainer, disposeContainer } from '../../src/container.js';
import { prepareDatabase } from '../../src/main/boot.js';
import { QUEUE_NAMES, QueueFactory, type ScrapeJobData } from '../../src/adapters/queue/queues.js';
import { ScrapeDispatcher } from '../../src/adapters/queue/scrape-dispatcher.js';
import { registerProxy } from '../../src/application/proxies.js';
import { proxiesProjection } from '../../src/projections/proxies.js';
import { TOKENS } from '../../src/tokens.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { workflowExecutionAggregate, workflowExecutionStream } from '../../src/write-model/workflow-execution/decider.js';
import { testConfig, testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';
import { startFixtureSites, type FixtureSites } from '../support/fixture-sites.js';
import { startHttpProxy, type LocalProxy } from '../support/local-proxies.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';
import { waitFor } from '../support/wait-for.js';
import { connectPlatformAccount } from '../support/platform-accounts.js';

const COOKIE_VALUE = '040069b2e2e-process-secret';
const PROXY_PASSWORD = 'e2e-proxy-pass';
const SHUTDOWN_TIMEOUT_MS = 5000;

/**
 * `npm run worker` as its own process, against a database of its own (so the
 * proxies read model holds only this test's proxy) and a fresh queue prefix.
 */
describe('worker process (e2e: tsx src/main/worker.ts)', function () {
  this.timeout(40_000);
  const databaseUrl = (() => {
    const url = new URL(testDatabaseUrl);
    url.pathname = `/collector_worker_e2e_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
    return url.toString();
  })();
  const prefix = `test-worker-e2e-${randomUUID().slice(0, 8)}`;
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  let sites: FixtureSites;
  let proxy: LocalProxy;
  let container: Container;
  let queue: Queue<ScrapeJobData>;
  let child: ChildProcess | undefined;
  let output = '';

  before(async () => {
    sites = await startFixtureSites();
    proxy = await startHttpProxy({ username: 'e2e-user', password: PROXY_PASSWORD });
    const config = testConfig({ DATABASE_URL: databaseUrl, QUEUE_PREFIX: prefix });
    container = await buildContainer(config);
    await prepareDatabase(config, container.get(TOKENS.Knex), container.get(TOKENS.Logger));
    queue = new QueueFactory({ redisUrl: testRedisUrl, prefix }).queue<ScrapeJobData>(QUEUE_NAMES.scrape);
  });

  after(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await queue?.obliterate({ force: true }).catch(() => undefined);
    await queue?.close();
    if (container) await disposeContainer(container);
    const admin = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 1 } });
    await admin.raw(`DROP DATABASE IF EXISTS "${new URL(databaseUrl).pathname.slice(1)}" WITH (FORCE)`);
    await admin.destroy();
    await proxy?.stop();
    await sites?.close();
  });

  it('takes a scrape job, completes it through the proxy, and exits 0 on SIGTERM within the shutdown timeout', async () => {
    const store = container.get(TOKENS.EventStore);
    const secretBox = container.get(TOKENS.SecretBox);
    await registerProxy(
      { store, context, secretBox },
      { host: proxy.host, port: proxy.port, protocol: 'http', username: 'e2e-user', password: PROXY_PASSWORD, registeredBy: 'admin' },
    );
    await runConsumerToHead({ store, knex: container.get(TOKENS.Knex), databaseUrl }, proxiesProjection);

    const owner = `user-${randomUUID()}`;
    const accountId = randomUUID();
    await connectPlatformAccount(store, context, {
      accountId,
      ownerId: owner,
      credentials: secretBox.encrypt(JSON.stringify({ cookies: `a1=18f0c0ffee0a1; web_session=${COOKIE_VALUE}` }), accountId),
      displayName: 'shop',
    });
    const executionId = randomUUID();
    const config = { mode: 'keyword', keyword: sites.manifest.xiaohongshu.keyword, maxItems: 2 };
    await handle(
      store,
      workflowExecutionAggregate,
      executionId,
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
      { context },
    );
    await new ScrapeDispatcher(queue, { retry: { attempts: 2, backoffMs: 500 } }).enqueue({
      executionId,
      workflowId: `wf-${executionId}`,
      ownerId: owner,
      platform: 'xiaohongshu',
      type: 'xiaohongshu.notes',
      config,
      platformAccountId: accountId,
      cursor: null,
      attempt: 1,
    });

    // what `npx tsx` runs, without npm in between: npm does not pass SIGTERM on (tsx does, and exits with the child's code)
    child = spawn('node_modules/.bin/tsx', ['src/main/worker.ts'], {
      cwd: process.cwd(),
      env: {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'info',
        DATABASE_URL: databaseUrl,
        REDIS_URL: testRedisUrl,
        QUEUE_PREFIX: prefix,
        XIAOHONGSHU_WEB_URL: sites.urls.xiaohongshuWeb,
        XIAOHONGSHU_API_URL: sites.urls.xiaohongshuApi,
        QIDIAN_WEB_URL: sites.urls.qidianWeb,
        SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
        WORKER_CONCURRENCY: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child!.once('exit', (code, signal) => resolve({ code, signal })));

    const types = async () => (await store.readStream(workflowExecutionStream(executionId))).map((e) => e.type);
    try {
      await waitFor('the execution to complete', async () => (await types()).includes('ExecutionCompleted'), 30_000, 100);
    } catch (error) {
      throw new Error(`${(error as Error).message}; events: ${(await types()).join(', ')}; worker output:\n${output.slice(-3000)}`);
    }
    const events = await store.readStream(workflowExecutionStream(executionId));
    const items = events.filter((e) => e.type === 'ItemsCollected').flatMap((e) => (e.data as { items: unknown[] }).items);
    expect(items).to.have.length(2);
    expect(proxy.requests.filter((r) => r.hostname === '127.0.0.1').length).to.be.greaterThan(0);
    await waitFor('the job completed', async () => (await queue.getJob(executionId))!.isCompleted(), 5000);

    const signalled = Date.now();
    child.kill('SIGTERM');
    const { code } = await exited;
    expect(code, output.slice(-2000)).to.equal(0);
    expect(Date.now() - signalled).to.be.below(SHUTDOWN_TIMEOUT_MS);
    expect(output).to.contain('"msg":"worker started"');
    expect(output).to.not.contain(COOKIE_VALUE);
    expect(output).to.not.contain(PROXY_PASSWORD);
  });
  it('refuses to start without a browser at CHROMIUM_PATH: exit 1 and one line naming the variable', async () => {
    const run = (chromium: string) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
        const refused = spawn('node_modules/.bin/tsx', ['src/main/worker.ts'], {
          cwd: process.cwd(),
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATABASE_URL: databaseUrl, REDIS_URL: testRedisUrl, CHROMIUM_PATH: chromium },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        refused.stdout!.on('data', (c) => (stdout += c));
        refused.stderr!.on('data', (c) => (stderr += c));
        refused.on('error', reject);
        refused.on('close', (code) => resolve({ code, stdout, stderr }));
      });
    const [missing, notAFile, notExecutable] = await Promise.all([run('/nonexistent/chromium'), run('/tmp'), run('package.json')]);
    expect(missing).to.deep.equal({
      code: 1,
      stdout: '',
      stderr:
        "Invalid configuration:\n  CHROMIUM_PATH: no executable browser at /nonexistent/chromium (install Debian's chromium package, or set CHROMIUM_PATH to the browser)\n",
    });
    expect(notAFile.code).to.equal(1);
    expect(notAFile.stderr).to.equal(
      "Invalid configuration:\n  CHROMIUM_PATH: /tmp is not a file (install Debian's chromium package, or set CHROMIUM_PATH to the browser)\n",
    );
    expect(notExecutable.code).to.equal(1);
    expect(notExecutable.stderr).to.include('CHROMIUM_PATH: no executable browser at package.json');
  });
});

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { expect } from 'chai';
import { testRedisUrl } from '../setup/test-env.js';
import { scratchDatabase } from '../support/scratch-database.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The real projector process (`src/main/projector.ts`) with METRICS_PORT set:
 * Prometheus can scrape what only it counts (consumer_lock_held…) from
 * GET /metrics, behind the ops token as on the API; a port already taken
 * stops it at start with a line naming METRICS_PORT.
 */
describe('the projector process serves its metrics on METRICS_PORT (e2e)', function () {
  this.timeout(90_000);
  const OPS_TOKEN = randomBytes(24).toString('hex');
  const prefix = `test-projector-metrics-${randomUUID().slice(0, 8)}`;
  let database: Awaited<ReturnType<typeof scratchDatabase>>;
  const children: ChildProcess[] = [];

  const startProjector = (metricsPort: number) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/projector.ts'], {
      cwd: process.cwd(),
      env: {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'info',
        DATABASE_URL: database.url,
        REDIS_URL: testRedisUrl,
        QUEUE_PREFIX: prefix,
        SHUTDOWN_TIMEOUT_MS: '5000',
        HOST: '127.0.0.1',
        METRICS_PORT: String(metricsPort),
        OPS_TOKEN,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    return { child, output: () => output };
  };
  /** The first JSON log entry whose message starts so, once the process has written the whole line. */
  const logEntry = (output: string, msg: string): Record<string, unknown> | undefined =>
    output
      .split('\n')
      .slice(0, -1)
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => String(entry['msg']).startsWith(msg));

  before(async () => {
    database = await scratchDatabase('collector_projector_metrics_e2e');
  });

  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => once(c, 'exit')));
    await database?.drop();
  });

  it('answers GET /metrics only with the ops token, with the lock gauge of the consumers it runs; 404 elsewhere; exits 0 on SIGTERM', async () => {
    const { child, output } = startProjector(0);
    try {
      await waitFor('the metrics listening line', () => logEntry(output(), 'projector metrics listening') !== undefined, 30_000, 50);
      const url = logEntry(output(), 'projector metrics listening')!['url'] as string;
      expect(url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const base = url.slice(0, -'/metrics'.length);
      const withToken = { headers: { Authorization: `Bearer ${OPS_TOKEN}` } };

      const none = await fetch(url);
      expect(none.status).to.equal(401);
      expect(none.headers.get('www-authenticate')).to.equal('Bearer');
      expect(await none.text()).to.not.include('consumer_lock_held');
      expect((await fetch(url, { headers: { Authorization: `Bearer ${OPS_TOKEN}x` } })).status).to.equal(401);

      for (const [method, path] of [
        ['GET', '/'],
        ['GET', '/metricsx'],
        ['GET', '/healthz'],
        ['GET', '/readyz'],
        ['POST', '/metrics'],
      ]) {
        expect((await fetch(`${base}${path}`, { ...withToken, method })).status, `${method} ${path}`).to.equal(404);
      }

      await waitFor('the projector started', () => logEntry(output(), 'projector started with') !== undefined, 30_000, 50);
      expect(logEntry(output(), 'projector started with')!['consumers']).to.include('proxies-v1');
      let body = '';
      try {
        await waitFor(
          'consumer_lock_held of proxies-v1 at 1',
          async () => {
            const res = await fetch(url, withToken);
            expect(res.status).to.equal(200);
            expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
            body = await res.text();
            return body.includes('consumer_lock_held{consumer="proxies-v1"} 1');
          },
          30_000,
          200,
        );
      } catch (error) {
        throw new Error(`${(error as Error).message}\n${body.slice(0, 3000)}\n${output().slice(-3000)}`);
      }
      expect(body).to.include('# TYPE consumer_events_parked_total counter').and.include('# TYPE consumer_handler_failures_total counter');
      // the token never reaches the log
      expect(output()).to.not.include(OPS_TOKEN);

      // a scraper's kept-alive connection does not hold the shutdown up (it would exit 1 at SHUTDOWN_TIMEOUT_MS)
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code, output().slice(-3000)).to.equal(0);
      const after = await fetch(url, withToken).then(
        (res) => res.status,
        () => 'refused',
      );
      expect(after).to.equal('refused');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('exits 1 at start, naming METRICS_PORT, when its port is taken', async () => {
    const occupant = createServer();
    occupant.listen(0, '127.0.0.1');
    await once(occupant, 'listening');
    const { port } = occupant.address() as { port: number };
    try {
      const { child, output } = startProjector(port);
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).to.equal(1);
      expect(output()).to.include(`METRICS_PORT: cannot listen on 127.0.0.1:${port}: the port is taken`);
      expect(output()).to.not.include('projector started with');
    } finally {
      occupant.close();
    }
  });
});

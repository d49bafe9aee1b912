import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import knexFactory from 'knex';
import { Redis } from 'ioredis';
import { testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

function chromiumInstalled(): boolean {
  try {
    accessSync(CHROMIUM, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The demo as a user starts it, its output collected line by line. */
class DemoRun {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private waiters = new Set<() => void>();

  constructor(env: NodeJS.ProcessEnv) {
    // node itself (what `npm run demo` runs after its install check), so the signal reaches the process that handles it
    this.child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let partial = '';
    const take = (chunk: Buffer) => {
      const text = partial + chunk.toString('utf8');
      const parts = text.split('\n');
      partial = parts.pop()!;
      this.lines.push(...parts);
      for (const wake of [...this.waiters]) wake();
    };
    this.child.stdout!.on('data', take);
    this.child.stderr!.on('data', take);
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** The first output line matching `pattern` (its match), waiting up to `timeoutMs`. */
  line(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (const l of this.lines) {
          const m = pattern.exec(l);
          if (m) {
            done();
            resolve(m);
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; output:\n${this.lines.join('\n')}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      void this.exited.then((code) => {
        if (!this.waiters.has(check)) return;
        done();
        reject(new Error(`the demo exited with ${code} before printing ${pattern}; output:\n${this.lines.join('\n')}`));
      });
      check();
    });
  }

  interrupt(): void {
    this.child.kill('SIGINT');
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

async function api(url: string, method: string, route: string, options: { token?: string; body?: unknown } = {}): Promise<any> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  if (options.token) headers['Authorization'] = `Bearer ${options.token}`;
  const res = await fetch(`${url}${route}`, { method, headers, ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) });
  const body = await res.json();
  expect(res.status, JSON.stringify(body)).to.be.oneOf([200, 201]);
  return body.data;
}

/** Today in the time zone the demo's quotas count days in (its config's default unless the environment sets one). */
function quotaDay(): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: process.env.QUOTA_TIME_ZONE ?? 'Asia/Shanghai' }).format(new Date());
}

/**
 * `npm run demo` end to end: started as a user would (its script, as a child
 * process), on a database and queue prefix of its own and free ports. The
 * printed demo user sees collected items through the API, a quota runs out and
 * pauses the Xiaohongshu workflow with a mail, SIGINT stops it with exit 0,
 * and a second run reuses everything the first one set up.
 */
describe('npm run demo (e2e): the main job in a sandbox', function () {
  this.timeout(120_000);
  const database = `collector_e2e_demo_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DEMO_DATABASE: database,
    DEMO_PORT: '0',
    DATABASE_URL: testDatabaseUrl,
    REDIS_URL: testRedisUrl,
    LOG_LEVEL: 'warn',
  };
  let run: DemoRun | undefined;
  /** the quota day (in the demo's time zone) on which the first run's quota ran out */
  let pausedOnDay: string | undefined;

  before(function () {
    if (!chromiumInstalled()) this.skip();
  });

  // the tests before this one logged in from 127.0.0.1 under their own high limits; the demo runs with the default ones
  beforeEach(async () => {
    const redis = new Redis(testRedisUrl, { maxRetriesPerRequest: 1 });
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', 'ratelimit:login:*', 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  });

  afterEach(() => run?.kill());

  after(async () => {
    const admin = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 1 } });
    try {
      await admin.raw(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    } finally {
      await admin.destroy();
    }
    const redis = new Redis(testRedisUrl, { maxRetriesPerRequest: 1 });
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `demo-${database}:*`, 'COUNT', 500);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
    rmSync(path.join(os.tmpdir(), `${database}.log`), { force: true });
  });

  it('collects through the proxies, runs out of quota with a mail, and stops on SIGINT with exit 0', async () => {
    run = new DemoRun(env);
    const [, url] = await run.line(/^\s+API\s+(http:\/\/127\.0\.0\.1:\d+)/, 60_000);
    const [, email, password] = await run.line(/^\s+Demo user\s+(\S+@\S+) \/ (\S+)/, 5_000);
    await run.line(/set up: \d+ things created/, 1_000);

    // items arrive, and the printed user sees them through the API
    await run.line(/^demo: milestone first-items/, 45_000);
    const token = (await api(url!, 'POST', '/api/v1/auth/login', { body: { email, password } })).access_token as string;
    await run.line(/notes collected \(/, 45_000);
    let notes = 0;
    for (let i = 0; i < 50 && notes === 0; i++) {
      notes = (await api(url!, 'GET', '/api/v1/xiaohongshu/contents?per_page=1', { token })).pagination.total;
      if (notes === 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(notes, 'Xiaohongshu notes stored for the demo user').to.be.greaterThan(0);
    const rankings = (await api(url!, 'GET', '/api/v1/qidian/rankings', { token })).rankings as { entries: unknown[] }[];
    expect(rankings.flatMap((r) => r.entries).length, 'Qidian ranking entries').to.be.greaterThan(0);
    expect(
      run.lines.some((l) => /run started through proxy 127\.0\.0\.1:\d+/.test(l)),
      'runs go through the sandbox proxies',
    ).to.equal(true);

    // the free plan's daily API calls run out: the scheduled workflow is paused and the user gets a mail
    await run.line(/^demo: milestone quota-pause/, 60_000);
    pausedOnDay = quotaDay();
    await run.line(/^demo: milestone mail/, 20_000);
    const workflows = (await api(url!, 'GET', '/api/v1/workflows', { token })).items as { platform: string; paused_for: string[] }[];
    expect(workflows.find((w) => w.platform === 'xiaohongshu')?.paused_for).to.include('quota_exceeded');

    run.interrupt();
    expect(await run.exited).to.equal(0);
    expect(run.lines).to.include('demo: stopped');
  });

  it('a second run reuses the data of the first', async () => {
    run = new DemoRun(env);
    await run.line(/reusing the data of a previous run/, 60_000);
    await run.line(/^demo: ready after/, 10_000);
    // a new quota day (midnight in the quota time zone) between the runs lifts the pause, as it should
    if (pausedOnDay === quotaDay()) {
      expect(
        run.lines.some((l) => /小红书.*paused \(quota_exceeded/.test(l)),
        'the quota pause is still in force',
      ).to.equal(true);
    }
    run.interrupt();
    expect(await run.exited).to.equal(0);
  });
});

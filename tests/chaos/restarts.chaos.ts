import { expect } from 'chai';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { projectionDefinitions, rebuildProjection } from '../../src/operations/projections.js';
import { comparePositions } from '../../src/event-store/position.js';
import { readCheckpoint } from '../../src/consumers/checkpoints.js';
import { freePort } from '../support/free-port.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { waitFor } from '../support/wait-for.js';

/**
 * `npm run test:chaos` (CI runs it after the suite): the API in this process,
 * a real projector process (every projection and process manager) and a
 * Redis of the platform's own, under steady traffic, while in turn the
 * Postgres server restarts (pg_ctlcluster … restart: every session of every
 * process cut), the projector is SIGKILLed and another started, and the
 * platform's Redis stops and starts again. What needs the missing service
 * answers 503 with Retry-After meanwhile, never a 500; it all recovers by
 * itself; clients that retry with an Idempotency-Key lose and duplicate
 * nothing; afterwards every read table equals a fresh rebuild.
 *
 * Needs root and Debian's pg_ctlcluster (as on CI); elsewhere it says so and
 * skips. It restarts the whole Postgres server: run it alone.
 */
/** A table's rows as sorted JSON, without the columns that hold when a row was written (a now() default). */
async function rowsOf(knex: Knex, table: string): Promise<string[]> {
  const { rows: stamped } = await knex.raw<{ rows: { c: string }[] }>(
    `SELECT a.attname AS c FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = ?::regclass AND NOT a.attisdropped AND pg_get_expr(d.adbin, d.adrelid) ~* '(now\\(\\)|clock_timestamp|current_timestamp)'`,
    [table],
  );
  const drop = stamped.map((r) => r.c);
  const { rows } = await knex.raw<{ rows: { j: string }[] }>(`SELECT (to_jsonb(t) - ?::text[])::text AS j FROM "${table}" t`, [drop]);
  return rows.map((r) => r.j).sort();
}

/** A redis-server of the test's own (nothing kept on disk): it can be stopped and started without touching anyone else's. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await waitFor(`redis on ${port}`, () => spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG', 10_000, 50);
  return child;
}

async function stop(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

function cluster(): { version: string; name: string } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const listed = spawnSync('pg_lsclusters', ['-h'], { encoding: 'utf8' });
  if (listed.status !== 0) return undefined;
  const line = listed.stdout.split('\n').find((l) => /\s5432\s+online/.test(l));
  if (!line) return undefined;
  const [version, name] = line.trim().split(/\s+/);
  return version && name ? { version, name } : undefined;
}

describe('chaos: Postgres restarts, the projector is SIGKILLed and Redis restarts under steady traffic', function () {
  this.timeout(300_000);
  const target = cluster();
  let platform: Platform;
  let redisPort = 0;
  let redis: ChildProcess | undefined;
  let projector: ChildProcess | undefined;
  let projectorLog = '';

  const startProjector = () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/projector.ts'], {
      cwd: process.cwd(),
      env: {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'warn',
        DATABASE_URL: platform.config.DATABASE_URL,
        REDIS_URL: platform.config.REDIS_URL,
        QUEUE_PREFIX: platform.config.QUEUE_PREFIX,
        DEADLINE_SWEEP_INTERVAL_MS: '200',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => (projectorLog = (projectorLog + chunk.toString()).slice(-20_000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    return child;
  };

  before(async function () {
    if (!target) {
      console.log('      skipped: needs root and pg_ctlcluster with a cluster on port 5432 (CI has both)');
      this.skip();
    }
    redisPort = await freePort();
    redis = await startRedis(redisPort);
    platform = await startPlatform({ config: { REDIS_URL: `redis://127.0.0.1:${redisPort}` } });
    // the projections and process managers run in a projector process of their own: it can be killed
    await platform.stopConsumers();
    projector = startProjector();
  });
  after(async () => {
    await stop(projector);
    await platform?.stop();
    await stop(redis);
  });

  it('answers only successes and 503s through a Postgres restart, a projector SIGKILL and a Redis restart, recovers within 10 s of each, loses and duplicates no command, and its read tables equal a rebuild', async () => {
    const users = await Promise.all([0, 1, 2].map((i) => platform.signUp(`chaos${i}`)));
    const statuses = new Map<number, number>();
    const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
    const landed = new Map<string, string[]>(users.map((u) => [u.userId, []]));
    const registered: string[] = [];
    let stop_ = false;

    /**
     * Sends until it lands (2xx), counting every answer, as a client following the API's conventions does:
     * a dropped connection, a 503 and a 409 IDEMPOTENCY_IN_PROGRESS (the first try's key not yet released)
     * are tried again; `landedAlready` says which other refusal means the first try landed (its answer lost).
     */
    const untilLanded = async (send: () => Promise<Response>, landedAlready?: (code: string) => boolean): Promise<Response | 'landed before'> => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        let res: Response | undefined;
        try {
          res = await send();
        } catch {
          res = undefined;
        }
        if (res) count(res.status);
        if (res && res.status < 300) return res;
        const code = res && res.status !== 503 ? (((await res.json()) as { error?: { code?: string } }).error?.code ?? '') : '';
        if (res && res.status !== 503 && landedAlready?.(code)) return 'landed before';
        if (res && res.status !== 503 && code !== 'IDEMPOTENCY_IN_PROGRESS') throw new Error(`${res.status} ${code}`);
        if (Date.now() > deadline) throw new Error('a command did not land within 30 s');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };

    const profileTraffic = users.map(async (user, u) => {
      for (let i = 0; !stop_; i++) {
        const name = `chaos ${u}-${i}`;
        await untilLanded(() =>
          fetch(`${platform.url}/api/v1/users/profile`, {
            method: 'PUT',
            headers: { Authorization: `Bearer ${user.token}`, 'Content-Type': 'application/json' },
            body: JSON.stringify({ display_name: name }),
          }),
        );
        landed.get(user.userId)!.push(name);
      }
    });
    const registrations = (async () => {
      while (!stop_) {
        const email = `chaos-reg-${randomUUID()}@example.test`;
        const key = randomUUID();
        const body = JSON.stringify({ email, password: 'correct horse battery', display_name: 'Chaos' });
        // the same key on every try: a registration that landed answers its stored 201 — or, when Postgres went away
        // before the answer could be stored, 409 CONFLICT (the email is taken: by this very registration)
        await untilLanded(
          () =>
            fetch(`${platform.url}/api/v1/auth/register`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key }, body }),
          (code) => code === 'CONFLICT',
        );
        registered.push(email);
      }
    })();

    const readsBack = () =>
      waitFor(
        'the API to serve reads again',
        async () => {
          const res = await fetch(`${platform.url}/api/v1/users/profile`, { headers: { Authorization: `Bearer ${users[0]!.token}` } }).catch(() => undefined);
          return res?.status === 200;
        },
        10_000,
        100,
      );
    const loginsBack = () =>
      waitFor(
        'logins to answer again',
        async () => {
          const res = await fetch(`${platform.url}/api/v1/auth/login`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ email: 'nobody@example.test', password: 'wrong password' }),
          }).catch(() => undefined);
          return res?.status === 401;
        },
        10_000,
        100,
      );

    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // 1. the Postgres server restarts
    const restartedAt = Date.now();
    execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', target!.version, target!.name, 'restart', '-m', 'fast'], { stdio: 'ignore' });
    const upAt = Date.now();
    await readsBack();
    const recoveredMs = Date.now() - upAt;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // 2. the projector dies mid-batch; another takes over
    await stop(projector, 'SIGKILL');
    projector = startProjector();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // 3. the platform's Redis stops and starts again (it keeps nothing: the limits' counts are gone)
    await stop(redis);
    await new Promise((resolve) => setTimeout(resolve, 500));
    redis = await startRedis(redisPort);
    const redisUpAt = Date.now();
    await loginsBack();
    const redisRecoveredMs = Date.now() - redisUpAt;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    stop_ = true;
    await Promise.all([...profileTraffic, registrations]);
    console.log(
      `      postgres restart ${upAt - restartedAt} ms, reads back ${recoveredMs} ms after; redis back, logins answer ${redisRecoveredMs} ms after; answers ${JSON.stringify([...statuses])}`,
    );

    expect(
      [...statuses.keys()].filter((s) => s >= 500 && s !== 503),
      JSON.stringify([...statuses]),
    ).to.deep.equal([]);
    // every update once, in order
    for (const user of users) {
      const updates = (await platform.store.readStream(`user-${user.userId}`))
        .filter((e) => e.type === 'ProfileUpdated')
        .map((e) => (e.data as { displayName?: string }).displayName);
      expect(updates).to.deep.equal(landed.get(user.userId));
    }
    // every registration once
    await waitFor(
      'the registrations in the read table',
      async () => {
        const r = await platform.knex.raw<{ rows: unknown[] }>('SELECT 1 FROM users WHERE email = ANY(?)', [registered]);
        return r.rows.length === registered.length;
      },
      20_000,
    );
    const { rows } = await platform.knex.raw<{ rows: { email: string; n: string }[] }>(
      'SELECT email, count(*)::text AS n FROM users WHERE email = ANY(?) GROUP BY email',
      [registered],
    );
    expect(rows).to.have.length(registered.length);
    expect(rows.every((r) => r.n === '1')).to.equal(true);

    // every read table the live projections built equals a fresh rebuild of it. The process managers may still be
    // appending (free plans for the last registrations): wait until every projection is at a head that stays put
    const defs = projectionDefinitions(platform.config.QUOTA_TIME_ZONE);
    for (let settled = false; !settled; ) {
      const head = await platform.store.headPosition();
      for (const def of defs) {
        await waitFor(`${def.name} at the head`, async () => comparePositions(await readCheckpoint(platform.knex, def.name), head) >= 0, 30_000).catch(
          (error: unknown) => {
            throw new Error(`${String(error)}\n--- projector log:\n${projectorLog.slice(-3000)}`);
          },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 500)); // time for a process manager to react to the last events
      settled = comparePositions(await platform.store.headPosition(), head) === 0;
    }
    await stop(projector);
    const ops = { store: platform.store, knex: platform.knex, databaseUrl: platform.config.DATABASE_URL, timeZone: platform.config.QUOTA_TIME_ZONE };
    for (const def of defs) {
      const before = await Promise.all(def.tables.map((table) => rowsOf(platform.knex, table)));
      await rebuildProjection(ops, def.name);
      const after = await Promise.all(def.tables.map((table) => rowsOf(platform.knex, table)));
      def.tables.forEach((table, i) => expect(after[i], `${def.name}: ${table}`).to.deep.equal(before[i]));
    }
  });
});

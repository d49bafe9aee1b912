import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import knexFactory, { type Knex } from 'knex';
import type { Container } from 'inversify';
import { recordHealthCheck, registerProxy } from '../../src/application/proxies.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { EventStore } from '../../src/event-store/port.js';
import { comparePositions, parsePosition } from '../../src/event-store/position.js';
import { prepareDatabase } from '../../src/main/boot.js';
import { consumerOverview, type ConsumerOverview } from '../../src/operations/consumers.js';
import { TOKENS } from '../../src/tokens.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { testConfig, testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';
import { waitFor } from '../support/wait-for.js';

/**
 * Two real projector processes (`src/main/projector.ts`) on one database:
 * they share the consumers out (each consumer runs in exactly one, seen in
 * pg_locks through `consumers status`); one is SIGKILLed and the other takes
 * its consumers over within 10 s, with every event applied (the proxies
 * projection counts each health check).
 */
describe('projector processes: consumers shared out, failover on a crash (e2e)', function () {
  this.timeout(120_000);
  const databaseUrl = (() => {
    const url = new URL(testDatabaseUrl);
    url.pathname = `/collector_failover_e2e_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
    return url.toString();
  })();
  const prefix = `test-failover-${randomUUID().slice(0, 8)}`;
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  let container: Container;
  let knex: Knex;
  let store: EventStore;
  const children: ChildProcess[] = [];
  const output = new Map<number, string>();

  const startProjector = () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/projector.ts'], {
      cwd: process.cwd(),
      env: {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'info',
        DATABASE_URL: databaseUrl,
        REDIS_URL: testRedisUrl,
        QUEUE_PREFIX: prefix,
        SHUTDOWN_TIMEOUT_MS: '5000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    output.set(child.pid!, '');
    const keep = (chunk: Buffer) => output.set(child.pid!, (output.get(child.pid!) + chunk.toString()).slice(-20_000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    children.push(child);
    return child;
  };
  const appName = (child: ChildProcess) => `projector ${hostname()} ${child.pid}`.slice(0, 63);
  const overview = () => consumerOverview({ knex, store, timeZone: 'Asia/Shanghai' });
  const runBy = (all: ConsumerOverview[], child: ChildProcess) =>
    all.filter((c) => c.kind !== 'other' && c.heldBy?.applicationName === appName(child)).map((c) => c.name);
  const logs = () => [...output.entries()].map(([pid, text]) => `--- projector ${pid}:\n${text.slice(-3000)}`).join('\n');

  before(async () => {
    const config = testConfig({ DATABASE_URL: databaseUrl, QUEUE_PREFIX: prefix });
    container = await buildContainer(config);
    knex = container.get(TOKENS.Knex);
    store = container.get(TOKENS.EventStore);
    await prepareDatabase(config, knex, container.get(TOKENS.Logger));
  });

  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (container) await disposeContainer(container);
    const admin = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 1 } });
    await admin.raw(`DROP DATABASE IF EXISTS "${new URL(databaseUrl).pathname.slice(1)}" WITH (FORCE)`);
    await admin.destroy();
  });

  it('runs every consumer in exactly one projector, and moves the consumers of a killed one to the other within 10 s, losing nothing', async () => {
    const a = startProjector();
    const b = startProjector();
    const known = (await overview()).filter((c) => c.kind !== 'other').map((c) => c.name);
    expect(known.length).to.be.greaterThan(10);

    // shared out: every consumer held by one of the two, each holding about half
    try {
      await waitFor(
        'the consumers shared out between the two projectors',
        async () => {
          const all = await overview();
          const [ofA, ofB] = [runBy(all, a), runBy(all, b)];
          // about half: the queue blockage detector's lock counts in the fair share too, so one may hold a consumer fewer
          return ofA.length + ofB.length === known.length && Math.abs(ofA.length - ofB.length) <= 2;
        },
        60_000,
        200,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${JSON.stringify((await overview()).map((c) => [c.name, c.heldBy?.applicationName]))}\n${logs()}`);
    }
    const shared = await overview();
    const ofA = runBy(shared, a);
    const ofB = runBy(shared, b);
    expect(
      ofA.filter((name) => ofB.includes(name)),
      'no consumer in both',
    ).to.deep.equal([]);
    expect([...ofA, ...ofB].sort()).to.deep.equal([...known].sort());

    // events for the proxies projection before the kill
    const { proxyId } = await registerProxy(
      { store, context, secretBox: container.get(TOKENS.SecretBox) },
      { host: '127.0.0.1', port: 9, protocol: 'http', registeredBy: 'test' },
    );
    let checks = 0;
    const check = async () => {
      await recordHealthCheck({ store, context }, { proxyId, ok: true, latencyMs: 7 });
      checks++;
    };
    for (let i = 0; i < 10; i++) await check();
    const counted = async () => {
      const row = (await knex('proxies').where({ id: proxyId }).first('total_checks', 'successful_checks', 'latency_sum_ms')) as
        | { total_checks: number; successful_checks: number; latency_sum_ms: string }
        | undefined;
      return row ? { total: row.total_checks, ok: row.successful_checks, latency: Number(row.latency_sum_ms) } : null;
    };
    try {
      await waitFor('10 checks projected', async () => (await counted())?.total === 10, 20_000, 100);
    } catch (error) {
      throw new Error(`${(error as Error).message}: ${JSON.stringify(await counted())}\n${JSON.stringify(await overview())}\n${logs()}`);
    }

    // kill the one running the proxies projection, while checks keep coming
    const victim = ofA.includes('proxies-v1') ? a : b;
    const survivor = victim === a ? b : a;
    let appending = true;
    const during = (async () => {
      while (appending) {
        await check();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const killedAt = Date.now();
    victim.kill('SIGKILL');
    await new Promise((resolve) => victim.once('exit', resolve));
    try {
      await waitFor('the survivor runs every consumer', async () => runBy(await overview(), survivor).length === known.length, 10_000, 100);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${logs()}`);
    }
    const tookMs = Date.now() - killedAt;
    expect(tookMs).to.be.below(10_000);
    appending = false;
    await during;
    for (let i = 0; i < 10; i++) await check();

    // every check counted once, and every consumer reaches the head
    await waitFor(`${checks} checks projected`, async () => (await counted())?.total === checks, 20_000, 100);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await counted()).to.deep.equal({ total: checks, ok: checks, latency: 7 * checks });
    const head = await store.headPosition();
    await waitFor(
      'every consumer at the head',
      async () =>
        (await overview()).filter((c) => c.kind !== 'other').every((c) => c.checkpoint !== null && comparePositions(parsePosition(c.checkpoint), head) >= 0),
      20_000,
      200,
    );

    // the survivor still stops cleanly
    const exited = new Promise<number | null>((resolve) => survivor.once('exit', (code) => resolve(code)));
    survivor.kill('SIGTERM');
    expect(await exited).to.equal(0);
  });
});

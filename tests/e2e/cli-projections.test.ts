import { expect } from 'chai';
import { cliInProcess } from '../support/cli-in-process.js';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { fastAppendStatement } from '../../src/adapters/event-store/postgres/append.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { formatStatuses } from '../../src/cli/projections.js';
import type { ProjectionStatusView } from '../../src/operations/projections.js';
import { comparePositions, formatPosition } from '../../src/event-store/position.js';
import { SUBSCRIPTIONS_PROJECTION, subscriptionsProjection } from '../../src/projections/subscriptions.js';
import { readCheckpoint } from '../../src/consumers/checkpoints.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { subscriptionAggregate, subscriptionKey } from '../../src/write-model/subscription/index.js';
import { dailyUsageId, subscriptionUsageAggregate } from '../../src/write-model/subscription-usage/index.js';
import { testRedisUrl } from '../setup/test-env.js';
import { scratchDatabase } from '../support/scratch-database.js';
import { waitFor } from '../support/wait-for.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('cli: projections list / status / rebuild / reset (e2e, real binary, seeded fresh database)', function () {
  this.timeout(120_000);
  let databaseUrl: string;
  let knex: Knex;
  let scratch: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
  let store: PostgresEventStore;
  let live: ConsumerRunner | undefined;
  const NAME = SUBSCRIPTIONS_PROJECTION;

  const env = () => ({ NODE_ENV: 'test', DATABASE_URL: databaseUrl, REDIS_URL: testRedisUrl, LOG_LEVEL: 'silent' });
  /** The real binary: `node --import tsx src/main/cli.ts …` against the seeded database; its output so far, and its end. */
  function start(args: string[]): { child: ChildProcessWithoutNullStreams; run: Run; done: Promise<Run> } {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/cli.ts', ...args], {
      cwd: process.cwd(),
      env: { ...process.env, ...env() },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end();
    const run: Run = { code: null, stdout: '', stderr: '' };
    child.stdout.on('data', (chunk) => (run.stdout += chunk));
    child.stderr.on('data', (chunk) => (run.stderr += chunk));
    const done = new Promise<Run>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve({ ...run, code }));
    });
    return { child, run, done };
  }
  const cli = (args: string[]): Promise<Run> => start(args).done;

  const startLive = async () => {
    live = new ConsumerRunner({ store, knex, databaseUrl }, subscriptionsProjection, {
      idleCheckpointMs: 50,
      lockRetryMs: 50,
      minBackoffMs: 20,
      maxBackoffMs: 200,
    });
    live.start();
    const head = await store.headPosition();
    await waitFor('subscriptions-v1 at the head', async () => comparePositions(await readCheckpoint(knex, NAME), head) >= 0, 30_000);
  };
  const count = async (table: string) => Number((await knex(table).count({ n: '*' }))[0]!.n);

  before(async () => {
    scratch = await scratchDatabase('collector_cli_proj');
    databaseUrl = scratch.url;
    knex = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 5 } });
    store = createPostgresEventStore({ connectionString: databaseUrl, poolSize: 4 });
    // the seed: 30 subscriptions, 4 events each (2 of them in the day's usage stream)
    const context = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const userId = randomUUID();
        const subscriptionId = randomUUID();
        const key = subscriptionKey(userId, 'xiaohongshu');
        const now = `2026-03-01T0${i % 10}:00:00.000Z`;
        await handle(
          store,
          subscriptionAggregate,
          key,
          { type: 'StartSubscription', subscriptionId, userId, service: 'xiaohongshu', plan: 'free', now },
          { context },
        );
        const subscription = { subscriptionId, userId, service: 'xiaohongshu' as const, plan: 'free' as const, planChange: 0 };
        for (const amount of [3, 4]) {
          await handle(
            store,
            subscriptionUsageAggregate,
            dailyUsageId(userId, 'xiaohongshu', '2026-03-01'),
            {
              type: 'ConsumeQuota',
              subscription,
              feature: 'daily_api_calls',
              amount,
              day: '2026-03-01',
              resetsAt: '2026-03-01T16:00:00.000Z',
              now,
            },
            { context },
          );
        }
        await handle(
          store,
          subscriptionAggregate,
          key,
          { type: 'ReserveResource', feature: 'account_limit', resourceId: `acc-${i}`, day: '2026-03-01', resetsAt: '2026-03-01T16:00:00.000Z', now },
          { context },
        );
      }),
    );
    await startLive();
  });
  after(async () => {
    await live?.stop();
    await store?.close();
    await knex?.destroy();
    await scratch?.drop();
  });

  it('--help at every level', async () => {
    for (const args of [
      ['projections', '--help'],
      ['projections', 'status', '--help'],
      ['projections', 'rebuild', '--help'],
      ['projections', 'reset', '--help'],
    ]) {
      const run = await cliInProcess(args);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.include('Usage:');
    }
    expect((await cliInProcess(['projections', 'rebuild', '--help'])).stdout)
      .to.include('--all')
      .and.include('--json')
      .and.include('--priority');
  });

  it('list and status (text and --json): checkpoint, head, lag in events and seconds, state', async () => {
    const list = await cli(['projections', 'list', '--json']);
    expect(list.code, list.stderr).to.equal(0);
    const listed = JSON.parse(list.stdout);
    expect(listed.map((p: { name: string }) => p.name)).to.include.members(['users-v1', NAME, 'workflows-v1', 'notifications-v1']);
    expect(listed.find((p: { name: string }) => p.name === NAME)).to.deep.include({
      base: 'subscriptions',
      version: 1,
      state: 'live',
      tables: ['subscriptions', 'feature_usage_stats', 'subscription_reservations'],
    });

    const head = formatPosition(await store.headPosition());
    const one = await cli(['projections', 'status', NAME, '--json']);
    expect(one.code, one.stderr).to.equal(0);
    const status = JSON.parse(one.stdout);
    expect(status).to.include({ name: NAME, state: 'live', head, lagEvents: 0, lagSeconds: null, rebuild: null });
    expect(status.checkpoint).to.match(/^\d+-\d+$/);

    const all = JSON.parse((await cli(['projections', 'status', '--json'])).stdout);
    // users-v1 never ran here: all 120 events are ahead of it, the first one as old as the seed
    const neverRan = all.find((s: { name: string }) => s.name === 'users-v1');
    expect(neverRan).to.include({ state: 'never-ran', checkpoint: null, lagEvents: 120, head });
    const [first] = await store.readAll({ maxCount: 1 });
    expect(neverRan.lagSeconds)
      .to.be.a('number')
      .within(0, (Date.now() - first!.created.getTime()) / 1000 + 1);

    const text = await cli(['projections', 'status']);
    expect(text.code, text.stderr).to.equal(0);
    expect(text.stdout).to.match(new RegExp(`${NAME}\\s+live\\s+checkpoint \\d+-\\d+\\s+head ${head}\\s+lag 0 events`));
    expect(text.stdout).to.match(/users-v1\s+never-ran\s+checkpoint -\s+head \S+\s+lag 120 events, [\d.]+s/);

    const unknown = await cli(['projections', 'status', 'nope-v1']);
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.include('unknown projection "nope-v1"');
  });

  it('rebuild --json: replays into shadow tables and swaps them in (progress on stderr); the tables hold the same rows', async () => {
    const before = await knex('subscriptions').orderBy('id').select();
    const run = await cli(['projections', 'rebuild', NAME, '--json']);
    expect(run.code, run.stderr).to.equal(0);
    const result = JSON.parse(run.stdout);
    expect(result).to.include({ name: NAME, phase: 'done', processedEvents: 120, totalEvents: 120 });
    expect(run.stderr)
      .to.match(/subscriptions-v1: replaying \d+\/120 events/)
      .and.match(/subscriptions-v1: swapping/);
    expect(await knex('subscriptions').orderBy('id').select()).to.deep.equal(before);
    expect((await knex.raw(`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'rebuild\\_%'`)).rows).to.deep.equal([]);
    const status = JSON.parse((await cli(['projections', 'status', NAME, '--json'])).stdout);
    expect(status).to.include({ state: 'live', rebuild: null });

    const neither = await cli(['projections', 'rebuild']);
    expect(neither.code).to.equal(1);
    expect(neither.stderr)
      .to.match(/^error: name a projection or pass --all\n/)
      .and.include('Usage: cli projections rebuild');

    // commander's usage errors: the same `error:` line, and the command's usage; nothing runs
    const badPriority = await cliInProcess(['projections', 'rebuild', NAME, '--priority', 'high'], env());
    expect(badPriority.code).to.equal(1);
    expect(badPriority.stderr).to.match(/^error: option '--priority <level>' argument 'high' is invalid\. Allowed choices are low, normal\./);
    const two = await cliInProcess(['projections', 'rebuild', NAME, 'users-v1'], env());
    expect(two.code).to.equal(1);
    expect(two.stderr).to.match(/^error: too many arguments for 'rebuild'\. Expected 1 argument but got 2\./);
  });

  it('reset --json: empties the tables and rewinds the checkpoint; the projector replays them', async () => {
    const rows = await count('subscriptions');
    expect(rows).to.equal(30);
    await live!.stop(); // so the emptied state can be seen before the replay
    const run = await cli(['projections', 'reset', NAME, '--json']);
    expect(run.code, run.stderr).to.equal(0);
    expect(JSON.parse(run.stdout)).to.deep.equal({ name: NAME, reset: true, checkpoint: '0-0' });
    expect(await count('subscriptions')).to.equal(0);
    expect(await count('feature_usage_stats')).to.equal(0);
    expect(formatPosition(await readCheckpoint(knex, NAME))).to.equal('0-0');
    const status = JSON.parse((await cli(['projections', 'status', NAME, '--json'])).stdout);
    expect(status).to.include({ checkpoint: '0-0', lagEvents: 120 });
    expect(status.lagSeconds).to.be.a('number');

    await startLive();
    expect(await count('subscriptions')).to.equal(rows);
    expect(await count('subscription_reservations')).to.equal(30);
  });

  it('an interrupted rebuild: status says it is not running, reset is refused while it runs, running it again resumes and says so', async () => {
    // an append left open, then one committed after it: the rebuild loads what is below the open one and waits there
    const blocker = new pg.Client({ connectionString: databaseUrl });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(fastAppendStatement(`open-${randomUUID()}`, [{ id: randomUUID(), type: 'LeftOpen', data: {} }], 'any'));
      await store.append(`other-${randomUUID()}`, [{ id: randomUUID(), type: 'Unrelated', data: {} }]);
      const rebuild = start(['projections', 'rebuild', NAME, '--priority', 'normal']);
      await waitFor('the load to wait at the open append', () => /replaying 120\/120 events/.test(rebuild.run.stderr), 30_000);

      const running = await cliInProcess(['projections', 'status', NAME, '--json'], env());
      expect(JSON.parse(running.stdout)).to.deep.include({ state: 'rebuilding' });
      expect(JSON.parse(running.stdout).rebuild).to.include({ running: true, processedEvents: 120 });
      const reset = await cliInProcess(['projections', 'reset', NAME], env());
      expect(reset).to.include({ code: 1, stderr: `error: a rebuild of ${NAME} is already running (one at a time)` });

      rebuild.child.kill('SIGINT');
      const stopped = await rebuild.done;
      expect(stopped.code).to.equal(1);
      expect(stopped.stderr.trim().split('\n').at(-1)).to.equal(`error: rebuild of ${NAME} stopped; running it again resumes from its checkpoint`);
    } finally {
      await blocker.query('ROLLBACK').catch(() => undefined);
      await blocker.end();
    }

    const status = await cliInProcess(['projections', 'status', NAME, '--json'], env());
    expect(JSON.parse(status.stdout)).to.deep.include({ state: 'rebuilding' });
    expect(JSON.parse(status.stdout).rebuild).to.include({ running: false, processedEvents: 120, etaSeconds: null });
    const text = await cliInProcess(['projections', 'status', NAME], env());
    expect(text.stdout).to.include(
      `rebuild not running (it failed or was interrupted) at 120/120 events, loading, started ${JSON.parse(status.stdout).rebuild.startedAt}: \`projections rebuild ${NAME}\` resumes it`,
    );
    expect((await cliInProcess(['projections', 'list'], env())).stdout).to.match(new RegExp(`${NAME}\\s+v1\\s+rebuilding \\(not running\\)`));

    // this run finds the load done: it says so rather than a rate of 0/s beside 120 events
    const resumed = await cli(['projections', 'rebuild', NAME, '--priority', 'normal']);
    expect(resumed.code, resumed.stderr).to.equal(0);
    expect(resumed.stdout).to.match(new RegExp(`^${NAME}: rebuilt and swapped in \\(120 events, all loaded before this run resumed it; load `));
    expect(JSON.parse((await cliInProcess(['projections', 'status', NAME, '--json'], env())).stdout)).to.include({ state: 'live', rebuild: null });
  });

  it('a rebuild whose handler fails names the projection and the event, and how to go on; status then says it is not running', async () => {
    const stream = `subscription-${randomUUID()}`;
    const eventId = randomUUID();
    const { position } = await store.append(stream, [{ id: eventId, type: 'SubscriptionStarted', data: {} }]);
    const run = await cli(['projections', 'rebuild', NAME, '--priority', 'normal']);
    expect(run.code).to.equal(1);
    const last = run.stderr.trim().split('\n').at(-1)!;
    expect(last).to.match(
      new RegExp(
        `^error: ${NAME} rebuild stopped at event ${eventId} \\(SubscriptionStarted ${stream}@0, position ${formatPosition(position)}\\): ` +
          'cannot decode SubscriptionStarted \\(schema version 1\\): .*; fix it and run the rebuild again to resume$',
      ),
    );
    expect(run.stderr).to.not.match(/^\s+at /m);
    expect(run.stdout).to.equal('');
    const status = JSON.parse((await cliInProcess(['projections', 'status', NAME, '--json'], env())).stdout);
    expect(status).to.include({ state: 'rebuilding' });
    expect(status.rebuild).to.include({ running: false });
  });

  it('status lines: an unknown eta is `?`, a running rebuild shows its rate', () => {
    const base = { base: 'x', version: 1, tables: [], checkpoint: '1-0', head: '2-0', lagEvents: 1, lagSeconds: 0.5, state: 'rebuilding' as const };
    const rebuild = { name: 'x-v1', phase: 'replaying' as const, processedEvents: 10, totalEvents: 10, counted: false, startedAt: '2026-01-01T00:00:00.000Z' };
    const lines = formatStatuses([
      { ...base, name: 'x-v1', rebuild: { ...rebuild, running: true, eventsPerSecond: 0, etaSeconds: null } },
      { ...base, name: 'y-v1', rebuild: { ...rebuild, name: 'y-v1', running: true, counted: true, eventsPerSecond: 5, etaSeconds: 3 } },
    ] satisfies ProjectionStatusView[]);
    expect(lines[1]).to.match(/rebuild: 10\/\? events, 0\/s, eta \? \(since /);
    expect(lines[3]).to.match(/rebuild: 10\/10 events, 5\/s, eta 3s \(since /);
  });
});

import { expect } from 'chai';
import { cliInProcess } from '../support/cli-in-process.js';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
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

  /** The real binary: `node --import tsx src/main/cli.ts …` against the seeded database. */
  function cli(args: string[]): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/cli.ts', ...args], {
        cwd: process.cwd(),
        env: { ...process.env, NODE_ENV: 'test', DATABASE_URL: databaseUrl, REDIS_URL: testRedisUrl, LOG_LEVEL: 'silent' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

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
    // users-v1 never ran here: all 120 events are ahead of it
    expect(all.find((s: { name: string }) => s.name === 'users-v1')).to.include({ state: 'never-ran', checkpoint: null, lagEvents: 120, head });

    const text = await cli(['projections', 'status']);
    expect(text.code, text.stderr).to.equal(0);
    expect(text.stdout).to.match(new RegExp(`${NAME}\\s+live\\s+checkpoint \\d+-\\d+\\s+head ${head}\\s+lag 0 events`));
    expect(text.stdout).to.match(/users-v1\s+never-ran\s+checkpoint -/);

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
    expect(neither.stderr).to.include('--all');

    const badPriority = await cli(['projections', 'rebuild', NAME, '--priority', 'high']);
    expect(badPriority.code).to.equal(1);
    expect(badPriority.stderr).to.include('--priority: low or normal, not "high"');
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
});

import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import type { Logger } from 'pino';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import type { EventData } from '../../src/event-store/port.js';
import { comparePositions, START } from '../../src/event-store/position.js';
import { readCheckpoint, resetCheckpoint, waitForCheckpoint } from '../../src/consumers/checkpoints.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import type { Consumer } from '../../src/consumers/consumer.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { waitFor } from '../support/wait-for.js';
import { createProjectionTable, testProjection } from './fixtures/test-projection.js';

const fixture = fileURLToPath(new URL('./fixtures/run-consumer.ts', import.meta.url));

function withApplicationName(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('application_name', name);
  return parsed.toString();
}

describe('consumer runtime (checkpointed subscriptions)', function () {
  this.timeout(60_000);
  let knex: Knex;
  let store: PostgresEventStore;
  let category: string;
  let table: string;
  let name: string;
  const runners: ConsumerRunner[] = [];

  const appendEvents = async (count: number, streams = 5) => {
    for (let i = 0; i < count; i++) {
      const event: EventData = { id: randomUUID(), type: 'Happened', data: { i } };
      await store.append(`${category}-${i % streams}`, [event]);
    }
  };
  const rowCounts = async () => {
    const [row] = await knex(table).select(knex.raw('count(*)::int AS total'), knex.raw('count(DISTINCT event_id)::int AS distinct'));
    return row as { total: number; distinct: number };
  };
  const runner = (consumer: Consumer, deps: Partial<ConstructorParameters<typeof ConsumerRunner>[0]> = {}) => {
    const r = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl, ...deps }, consumer, { lockRetryMs: 50, minBackoffMs: 20, maxBackoffMs: 200 });
    runners.push(r);
    return r;
  };

  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 5 } });
    store = createPostgresEventStore({ connectionString: testDatabaseUrl, poolSize: 5 });
  });
  after(async () => {
    await store.close();
    await knex.destroy();
  });
  beforeEach(async () => {
    const id = randomUUID().replaceAll('-', '').slice(0, 12);
    category = `rt${id}`;
    table = `rt_rows_${id}`;
    name = `test-projection-${id}`;
    await createProjectionTable(knex, table);
  });
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop()));
    await knex.schema.dropTableIfExists(table);
  });

  it('projects every event once and resumes from its checkpoint after a restart', async () => {
    await appendEvents(50);
    const first = runner(testProjection(name, table, category));
    first.start();
    await waitFor('50 rows', async () => (await rowCounts()).total === 50);
    await first.stop();

    await appendEvents(30);
    runner(testProjection(name, table, category)).start();
    await waitFor('80 rows', async () => (await rowCounts()).total >= 80);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await rowCounts()).to.deep.equal({ total: 80, distinct: 80 });
  });

  it('loses and duplicates nothing when its process is killed at any instant', async () => {
    await appendEvents(300, 10);
    const start = () => {
      const child = spawn(process.execPath, ['--import', 'tsx', fixture, testDatabaseUrl, name, table, category, '15'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      return child;
    };
    const kill = async (child: ChildProcess) => {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    };

    // crash twice, at different points mid-run
    for (const threshold of [40, 160]) {
      const child = start();
      await waitFor(`${threshold} rows`, async () => (await rowCounts()).total >= threshold, 30_000, 5);
      await kill(child);
    }
    const afterCrashes = await rowCounts();
    expect(afterCrashes.total).to.be.below(300, 'the crashes happened before the end');
    expect(afterCrashes.total).to.equal(afterCrashes.distinct);

    // the survivor finishes the job from the checkpoint the crashed one committed
    runner(testProjection(name, table, category)).start();
    await waitFor('300 rows', async () => (await rowCounts()).total >= 300, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await rowCounts()).to.deep.equal({ total: 300, distinct: 300 });
    const [last] = await store.readAll({ direction: 'backwards', maxCount: 1, filter: { streamPrefixes: [`${category}-`] } });
    expect(comparePositions(await readCheckpoint(knex, name), last!.position)).to.be.at.least(0);
  });

  it('runs one instance at a time; a standby takes over when the active one stops', async () => {
    const a = runner(testProjection(name, table, category));
    const b = runner(testProjection(name, table, category));
    a.start();
    await waitFor('a running', () => a.status().state === 'running');
    b.start();
    await waitFor('b standing by', () => b.status().state === 'standby');
    await appendEvents(40);
    await waitFor('40 rows', async () => (await rowCounts()).total >= 40);
    expect(b.status().state).to.equal('standby');

    await a.stop();
    await waitFor('b running', () => b.status().state === 'running');
    await appendEvents(20);
    await waitFor('60 rows', async () => (await rowCounts()).total >= 60);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await rowCounts()).to.deep.equal({ total: 60, distinct: 60 });
  });

  it('resubscribes with back-off when its database connections drop', async () => {
    const appName = `rt-drop-${randomUUID().slice(0, 8)}`;
    const url = withApplicationName(testDatabaseUrl, appName);
    const ownStore = createPostgresEventStore({ connectionString: url, poolSize: 3 });
    const r = runner(testProjection(name, table, category), { store: ownStore, databaseUrl: url });
    try {
      r.start();
      await appendEvents(20);
      await waitFor('20 rows', async () => (await rowCounts()).total >= 20);

      const { rows } = await knex.raw(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ? OR application_name = ?`, [
        appName,
        `lock:consumer:${name}`.slice(0, 63),
      ]);
      expect(rows.length).to.be.greaterThan(0);
      await appendEvents(20);
      await waitFor('40 rows', async () => (await rowCounts()).total >= 40, 20_000);
      expect(await rowCounts()).to.deep.equal({ total: 40, distinct: 40 });
      await waitFor('running again', () => r.status().state === 'running');
    } finally {
      await r.stop();
      await ownStore.close();
    }
  });

  it('lets a reader wait, bounded, until the consumer has reached a position', async () => {
    const written = await store.append(`${category}-1`, [{ id: randomUUID(), type: 'Happened', data: {} }]);
    expect(await waitForCheckpoint(knex, name, written.position, 100), 'not running yet').to.equal(false);
    runner(testProjection(name, table, category)).start();
    expect(await waitForCheckpoint(knex, name, written.position, 5_000)).to.equal(true);
    expect((await rowCounts()).total).to.equal(1);
  });

  it('reaches the head when only events it does not want went by (a held-back idle checkpoint is written once quiet)', async () => {
    const consumer: Consumer = { name, filter: { eventTypes: [`Never${category}`] }, handle: async () => {} };
    const r = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl }, consumer, {
      lockRetryMs: 50,
      minBackoffMs: 20,
      maxBackoffMs: 200,
      idleCheckpointMs: 300,
    });
    runners.push(r);
    r.start();
    // right after it subscribed: these only produce empty batches, the first ones within idleCheckpointMs
    await new Promise((resolve) => setTimeout(resolve, 50));
    await appendEvents(3);
    const head = await store.headPosition();
    expect(await waitForCheckpoint(knex, name, head, 3_000), 'the checkpoint reached the head').to.equal(true);
  });

  it('rolls a failing batch back whole and retries it until it goes through', async () => {
    let failuresLeft = 2;
    const flaky: Consumer = {
      ...testProjection(name, table, category),
      async handle(events, context) {
        await context.tx(table).insert(events.map((e) => ({ event_id: e.id, stream_name: e.streamName })));
        if (failuresLeft-- > 0) throw new Error('projection bug, for now');
      },
    };
    await appendEvents(30);
    const r = runner(flaky);
    r.start();
    await waitFor('30 rows', async () => (await rowCounts()).total >= 30);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await rowCounts()).to.deep.equal({ total: 30, distinct: 30 });
    expect(failuresLeft).to.be.below(0);
  });

  it('resubscribes from a checkpoint moved under it (a swap, a reset or a replay), saying so at info level, not as a fault', async () => {
    const lines: { level: string; msg: string }[] = [];
    const record = (level: string) => (_fields: unknown, msg?: string) => void lines.push({ level, msg: msg ?? '' });
    const logger = { info: record('info'), warn: record('warn'), error: record('error'), debug: () => undefined } as unknown as Logger;
    const r = runner(testProjection(name, table, category), { logger });
    r.start();
    await appendEvents(10);
    await waitFor('10 rows', async () => (await rowCounts()).total >= 10);
    const at = await readCheckpoint(knex, name);
    // what a rebuild's swap does to the live checkpoint: same place, a new epoch
    await resetCheckpoint(knex, name, at);
    await appendEvents(10);
    await waitFor('20 rows', async () => (await rowCounts()).total >= 20);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await rowCounts()).to.deep.equal({ total: 20, distinct: 20 });
    expect(lines.filter((l) => l.msg.includes('its checkpoint was moved'))).to.have.length.greaterThan(0);
    expect(lines.filter((l) => l.level !== 'info')).to.deep.equal([]);
  });

  it('notices a reset on a quiet store, with no new event to write a checkpoint for, and replays from the start', async () => {
    const r = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl }, testProjection(name, table, category), {
      lockRetryMs: 50,
      minBackoffMs: 20,
      maxBackoffMs: 200,
      ownershipCheckMs: 300,
    });
    runners.push(r);
    r.start();
    await appendEvents(10);
    await waitFor('10 rows', async () => (await rowCounts()).total >= 10);
    // what `projections reset` does: the tables emptied, the checkpoint back to the start with a new epoch
    await knex(table).delete();
    await resetCheckpoint(knex, name, START);
    await waitFor('the 10 rows again, with nothing appended since', async () => (await rowCounts()).total >= 10, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await rowCounts()).to.deep.equal({ total: 10, distinct: 10 });
  });
});

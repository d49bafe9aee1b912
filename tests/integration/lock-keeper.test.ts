import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { ConsumerRunner, consumerLockKey } from '../../src/consumers/consumer-runner.js';
import { LockKeeper, lockHolders } from '../../src/consumers/lock-keeper.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { waitFor } from '../support/wait-for.js';
import { createProjectionTable, testProjection } from './fixtures/test-projection.js';

/**
 * One connection per process for every consumer lock: two keepers here stand
 * for two projector processes (they share nothing but the database).
 */
describe('lock keeper: every consumer lock of a process on one connection', function () {
  this.timeout(60_000);
  let knex: Knex;
  let store: PostgresEventStore;
  let id: string;
  let category: string;
  const tables: string[] = [];
  const runners: ConsumerRunner[] = [];
  const keepers: LockKeeper[] = [];

  const keeper = (label: string) => {
    const k = new LockKeeper(testDatabaseUrl, { applicationName: `lk-${id}-${label}`, retryMs: 50, probeIntervalMs: 200, probeTimeoutMs: 1_000 });
    keepers.push(k);
    return k;
  };
  const names = (n: number) => Array.from({ length: n }, (_, i) => `test-locks-${id}-${i}`);
  const runner = (locks: LockKeeper, name: string, table: string) => {
    const r = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl, locks }, testProjection(name, table, category), {
      lockRetryMs: 50,
      minBackoffMs: 20,
      maxBackoffMs: 200,
    });
    runners.push(r);
    r.start();
    return r;
  };
  const append = async (count: number) => {
    for (let i = 0; i < count; i++) await store.append(`${category}-${i % 3}`, [{ id: randomUUID(), type: 'Happened', data: { i } }]);
  };
  const counts = async (table: string) => {
    const [row] = await knex(table).select(knex.raw('count(*)::int AS total'), knex.raw('count(DISTINCT event_id)::int AS distinct'));
    return row as { total: number; distinct: number };
  };
  const connections = async (applicationName: string) => {
    const { rows } = await knex.raw<{ rows: { pid: number }[] }>('SELECT pid FROM pg_stat_activity WHERE application_name = ?', [applicationName]);
    return rows.map((r) => r.pid);
  };
  const holders = async (consumers: string[]) => {
    const found = await lockHolders(knex, consumers.map(consumerLockKey));
    return consumers.map((c) => found.get(consumerLockKey(c))?.applicationName ?? null);
  };

  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 8 } });
    store = createPostgresEventStore({ connectionString: testDatabaseUrl, poolSize: 4 });
  });
  after(async () => {
    await store.close();
    await knex.destroy();
  });
  beforeEach(() => {
    id = randomUUID().replaceAll('-', '').slice(0, 10);
    category = `lk${id}`;
  });
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop()));
    await Promise.all(keepers.splice(0).map((k) => k.close()));
    for (const table of tables.splice(0)) await knex.schema.dropTableIfExists(table);
  });

  it('runs each consumer in one process; the other stands by on its single connection and takes over when the first stops', async () => {
    const table = `lk_rows_${id}`;
    tables.push(table);
    await createProjectionTable(knex, table);
    const [name] = names(1);
    const a = keeper('a');
    const b = keeper('b');
    const first = runner(a, name!, table);
    await waitFor('first running', () => first.status().state === 'running');
    const second = runner(b, name!, table);
    await waitFor('second standing by', () => second.status().state === 'standby');
    expect(await holders([name!])).to.deep.equal([`lk-${id}-a`]);

    // the standby asks every 50 ms, over one connection that stays the same
    const standbyConnection = await connections(`lk-${id}-b`);
    expect(standbyConnection).to.have.length(1);
    await append(30);
    await waitFor('30 rows', async () => (await counts(table)).total >= 30);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await connections(`lk-${id}-b`)).to.deep.equal(standbyConnection);
    expect(second.status().state).to.equal('standby');

    await first.stop();
    await waitFor('second running', () => second.status().state === 'running');
    expect(await holders([name!])).to.deep.equal([`lk-${id}-b`]);
    await append(20);
    await waitFor('50 rows', async () => (await counts(table)).total >= 50);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await counts(table)).to.deep.equal({ total: 50, distinct: 50 });
  });

  it('holds the locks of many consumers on one connection, and a standby process waits for all of them on one', async () => {
    const consumers = names(6);
    const a = keeper('a');
    const b = keeper('b');
    const active = consumers.map((name, i) => runner(a, name, `lk_rows_${id}_${i}`));
    for (const [i] of consumers.entries()) {
      tables.push(`lk_rows_${id}_${i}`);
      await createProjectionTable(knex, `lk_rows_${id}_${i}`);
    }
    await waitFor('all running', () => active.every((r) => r.status().state === 'running'));
    const standby = consumers.map((name, i) => runner(b, name, `lk_rows_${id}_${i}`));
    await waitFor('all standing by', () => standby.every((r) => r.status().state === 'standby'));
    expect(await connections(`lk-${id}-a`)).to.have.length(1);
    expect(await connections(`lk-${id}-b`)).to.have.length(1);
    expect(a.heldKeys().sort()).to.deep.equal(consumers.map(consumerLockKey).sort());
    expect(b.heldKeys()).to.deep.equal([]);
    expect(await holders(consumers)).to.deep.equal(consumers.map(() => `lk-${id}-a`));
  });

  it('when the lock connection is terminated, its holders stop, each consumer runs again in exactly one process, nothing is applied twice', async () => {
    const consumers = names(4);
    const consumerTables = consumers.map((_, i) => `lk_rows_${id}_${i}`);
    for (const table of consumerTables) {
      tables.push(table);
      await createProjectionTable(knex, table);
    }
    const a = keeper('a');
    const b = keeper('b');
    const active = consumers.map((name, i) => runner(a, name, consumerTables[i]!));
    await waitFor('all running on a', () => active.every((r) => r.status().state === 'running'));
    const standby = consumers.map((name, i) => runner(b, name, consumerTables[i]!));
    await waitFor('all standing by on b', () => standby.every((r) => r.status().state === 'standby'));
    await append(20);
    for (const table of consumerTables) await waitFor('20 rows', async () => (await counts(table)).total >= 20);

    const [pid] = await connections(`lk-${id}-a`);
    await knex.raw('SELECT pg_terminate_backend(?)', [pid!]);
    // events while the consumers move
    await append(20);
    // b's standbys and a's reconnecting keeper race for the freed locks: each consumer ends up
    // running in exactly one of them (b takes over what a has not re-taken), never in both
    const settled = async () => {
      const held = await holders(consumers);
      return consumers.every((_, i) => {
        const states = [active[i]!.status().state, standby[i]!.status().state].sort();
        const runner = active[i]!.status().state === 'running' ? `lk-${id}-a` : `lk-${id}-b`;
        return states[0] === 'running' && states[1] === 'standby' && held[i] === runner;
      });
    };
    await waitFor('every consumer running in exactly one process, holding its lock', settled, 10_000);
    expect([...a.heldKeys(), ...b.heldKeys()].sort()).to.deep.equal(consumers.map(consumerLockKey).sort());
    await append(20);
    for (const table of consumerTables) await waitFor(`60 rows in ${table}`, async () => (await counts(table)).total >= 60, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const table of consumerTables) expect(await counts(table)).to.deep.equal({ total: 60, distinct: 60 });
  });

  it('has the server notice within seconds when the network cuts its connection off: TCP keep-alives on the server side of the lock session', async () => {
    const k = new LockKeeper(testDatabaseUrl, { applicationName: `lk-${id}-ka`, keepAliveMs: 4_000 });
    keepers.push(k);
    const lease = await k.tryAcquire(`keep-alive-${id}`, () => undefined);
    expect(lease).to.not.equal(undefined);
    // the session's own settings, read on its own connection (over TCP, as the test database is reached)
    const client = (k as unknown as { client: { query(sql: string): Promise<{ rows: Record<string, string>[] }> } }).client;
    const setting = async (name: string) => (await client.query(`SHOW ${name}`)).rows[0]![name];
    expect(await setting('tcp_keepalives_idle')).to.equal('4');
    expect(await setting('tcp_keepalives_interval')).to.equal('1');
    expect(await setting('tcp_keepalives_count')).to.equal('3');
  });

  it('alone, re-takes its locks on a new connection after the old one is terminated', async () => {
    const consumers = names(3);
    const consumerTables = consumers.map((_, i) => `lk_rows_${id}_${i}`);
    for (const table of consumerTables) {
      tables.push(table);
      await createProjectionTable(knex, table);
    }
    const a = keeper('a');
    const active = consumers.map((name, i) => runner(a, name, consumerTables[i]!));
    await waitFor('all running', () => active.every((r) => r.status().state === 'running'));
    const [before] = await connections(`lk-${id}-a`);
    await knex.raw('SELECT pg_terminate_backend(?)', [before!]);
    await waitFor(
      'the locks are held again, on a new connection',
      async () => {
        const now = await lockHolders(knex, consumers.map(consumerLockKey));
        return consumers.every((c) => now.get(consumerLockKey(c))?.pid !== undefined && now.get(consumerLockKey(c))?.pid !== before);
      },
      10_000,
    );
    await waitFor('all running again', () => active.every((r) => r.status().state === 'running'));
    expect(await connections(`lk-${id}-a`)).to.have.length(1);
    await append(15);
    for (const table of consumerTables) await waitFor('15 rows', async () => (await counts(table)).total >= 15);
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const table of consumerTables) expect(await counts(table)).to.deep.equal({ total: 15, distinct: 15 });
  });

  it('in a group, shares the consumers out evenly: a process that holds them all hands half over when another comes up, and takes them back when it goes', async () => {
    const consumers = names(6);
    const consumerTables = consumers.map((_, i) => `lk_rows_${id}_${i}`);
    for (const table of consumerTables) {
      tables.push(table);
      await createProjectionTable(knex, table);
    }
    const member = (label: string) => {
      const k = new LockKeeper(testDatabaseUrl, {
        applicationName: `lk-${id}-${label}`,
        group: `test-${id}`,
        retryMs: 50,
        probeIntervalMs: 100,
        minHoldMs: 200,
      });
      keepers.push(k);
      return k;
    };
    const a = member('a');
    const onA = consumers.map((name, i) => runner(a, name, consumerTables[i]!));
    await waitFor('a runs all', () => onA.every((r) => r.status().state === 'running'));
    await append(12);
    const b = member('b');
    const onB = consumers.map((name, i) => runner(b, name, consumerTables[i]!));
    await waitFor(
      'three each',
      async () => {
        const held = await holders(consumers);
        return held.filter((h) => h === `lk-${id}-a`).length === 3 && held.filter((h) => h === `lk-${id}-b`).length === 3;
      },
      10_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    const held = await holders(consumers);
    expect(held.filter((h) => h === `lk-${id}-a`)).to.have.length(3, 'stable: no ping-pong');
    expect(consumers.filter((_, i) => onA[i]!.status().state === 'running' && onB[i]!.status().state === 'running')).to.deep.equal([]);
    await append(12);

    // b goes away (its lock connection ends): a takes everything back
    await Promise.all(onB.map((r) => r.stop()));
    await waitFor('a runs all again', async () => (await holders(consumers)).every((h) => h === `lk-${id}-a`), 10_000);
    await append(6);
    for (const table of consumerTables) await waitFor(`30 rows in ${table}`, async () => (await counts(table)).total >= 30, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const table of consumerTables) expect(await counts(table)).to.deep.equal({ total: 30, distinct: 30 });
  });

  it('gives a key to one holder at a time within a process (session locks are re-entrant)', async () => {
    const k = keeper('a');
    const key = `test-key-${id}`;
    const first = await k.tryAcquire(key, () => undefined);
    expect(first?.held).to.equal(true);
    expect(await k.tryAcquire(key, () => undefined)).to.equal(undefined);
    const waiting = k.acquire(key, { onLost: () => undefined, retryMs: 20 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await first!.release();
    const second = await waiting;
    expect(second?.held).to.equal(true);
    expect(first!.held).to.equal(false);
    await second!.release();
    // released for real: another session gets it
    const other = keeper('b');
    const taken = await other.tryAcquire(key, () => undefined);
    expect(taken?.held).to.equal(true);
  });
});

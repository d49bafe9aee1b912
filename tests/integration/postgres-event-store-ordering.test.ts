import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { fastAppendStatement } from '../../src/adapters/event-store/postgres/append.js';
import type { RecordedEvent } from '../../src/event-store/index.js';
import { MIGRATIONS_DIRECTORY } from '../../src/adapters/db/migrate.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { waitFor } from '../support/wait-for.js';

const event = (type = 'Ordered', data: Record<string, string> = {}) => ({ id: randomUUID(), type, data });

interface Row {
  stream_name: string;
  stream_revision: string;
  transaction_id: string;
  global_position: string;
}

describe('Postgres event store: $all order under concurrency', function () {
  this.timeout(30_000);
  let isolated: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  let store: PostgresEventStore;
  const clients: pg.Client[] = [];
  const connect = async () => {
    const client = new pg.Client({ connectionString: isolated.connectionString });
    await client.connect();
    clients.push(client);
    return client;
  };
  const rowsOf = async (stream: string): Promise<Row[]> => {
    const client = await connect();
    const { rows } = await client.query<Row>(
      `SELECT stream_name, stream_revision::text, transaction_id::text, global_position::text FROM es_events
        WHERE stream_name LIKE $1 ORDER BY es_events.transaction_id, es_events.global_position`,
      [stream],
    );
    return rows;
  };

  before(async () => {
    isolated = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: isolated.connectionString, poolSize: 6 });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
  });
  after(async () => {
    await store.close();
    await isolated.drop();
  });

  it("a subscription from 'end' still delivers an event whose transaction was in flight when it started", async () => {
    await store.append(`late-${randomUUID()}`, [event()]);
    const late = await connect();
    const lateStream = `late-${randomUUID()}`;
    await late.query('BEGIN');
    await late.query(fastAppendStatement(lateStream, [event('LateCommitter')], 'any')); // holds the older transaction id
    const laterStream = `later-${randomUUID()}`;
    await store.append(laterStream, [event('CommittedFirst')]); // newer id, committed: the unguarded head

    const seen: RecordedEvent[] = [];
    const subscription = store.subscribeToAll({ fromPosition: 'end', filter: { eventTypes: ['LateCommitter', 'CommittedFirst'] } });
    const reading = (async () => {
      for await (const batch of subscription) {
        seen.push(...batch.events);
        if (seen.length >= 2) break;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 100)); // the subscription has found its start
    await late.query('COMMIT');
    await waitFor('both events delivered', () => seen.length >= 2);
    await subscription.close();
    await reading;
    expect(seen.map((e) => e.streamName)).to.deep.equal([lateStream, laterStream]);
  });

  it('the slow append path takes its transaction id only after the stream revision it builds on has committed', async () => {
    const stream = `slow-${randomUUID()}`;
    await store.append(stream, [event('First')]);
    // Hold the stream as a slow-path writer would (its advisory lock and its metadata row).
    const holder = await connect();
    await holder.query(`INSERT INTO es_streams (stream_name) VALUES ($1) ON CONFLICT DO NOTHING`, [stream]);
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM es_streams WHERE stream_name = $1 FOR UPDATE`, [stream]);
    await holder.query(`SELECT pg_advisory_xact_lock(hashtextextended('es_stream:' || $1, 0))`, [stream]);
    // A slow-path append waits for the stream …
    const slow = await connect();
    const slowPid = (await slow.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const waiting = slow.query(`SELECT * FROM es_append_recreating($1, 'any', NULL, $2::jsonb)`, [stream, JSON.stringify([event('Slow')])]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const { rows: held } = await holder.query<{ backend_xid: string | null; wait_event_type: string | null }>(
      'SELECT backend_xid::text, wait_event_type FROM pg_stat_activity WHERE pid = $1',
      [slowPid],
    );
    expect(held[0]?.wait_event_type, 'the slow append waits for the stream').to.equal('Lock');
    expect(held[0]?.backend_xid, 'and holds no transaction id while it waits').to.equal(null);
    // … while a fast-path append lands revision 1 and commits.
    await store.append(stream, [event('Fast')]);
    await holder.query('COMMIT');
    await waiting;

    const rows = await rowsOf(stream);
    expect(
      rows.map((r) => r.stream_revision),
      'revisions in $all order',
    ).to.deep.equal(['0', '1', '2']);
  });

  it('a combined append inserts its streams in name order', async () => {
    const own = createPostgresEventStore({ connectionString: isolated.connectionString, poolSize: 2, combining: { maxInFlight: 1 } });
    try {
      const prefix = `combined-${randomUUID().slice(0, 8)}`;
      const blocker = own.append(`${prefix}-0`, [event()]); // in flight: the rest queue up and go as one statement
      const names = ['e', 'c', 'a', 'd', 'b'].map((x) => `${prefix}-${x}`);
      await Promise.all([blocker, ...names.map((name) => own.append(name, [event()]))]);
      const combined = (await rowsOf(`${prefix}-%`)).filter((r) => r.stream_name !== `${prefix}-0`);
      expect(new Set(combined.map((r) => r.transaction_id)).size, 'one transaction').to.equal(1);
      expect(
        combined.map((r) => r.stream_name),
        JSON.stringify(combined),
      ).to.deep.equal([...names].sort());
    } finally {
      await own.close();
    }
  });

  it('a combined append that Postgres refuses lands every good append on its own and refuses only the bad one', async () => {
    const own = createPostgresEventStore({
      connectionString: isolated.connectionString,
      poolSize: 3,
      combining: { maxInFlight: 1, maxFallbackConcurrency: 2 },
    });
    try {
      const prefix = `fallback-${randomUUID().slice(0, 8)}`;
      const blocker = own.append(`${prefix}-first`, [event()]);
      const good = Array.from({ length: 12 }, (_, i) => own.append(`${prefix}-${i}`, [event()]));
      const bad = own.append(`${prefix}-bad`, [event('Bad', { text: 'nul \u0000 byte' })]).then(
        () => 'landed',
        () => 'refused',
      );
      await Promise.all([blocker, ...good]);
      expect(await bad).to.equal('refused');
      expect(await rowsOf(`${prefix}-%`)).to.have.length(13);
    } finally {
      await own.close();
    }
  });

  it('delivers every event exactly once while appends commit late and transactions that append nothing come and go', async () => {
    const prefix = `churn${randomUUID().slice(0, 8)}`;
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const until = Date.now() + 2_500;
    const appended: string[] = [];
    const seen: RecordedEvent[] = [];
    const subscription = store.subscribeToAll({ fromPosition: await store.headPosition(), filter: { streamPrefixes: [`${prefix}-`] }, batchSize: 20 });
    const reading = (async () => {
      for await (const batch of subscription) seen.push(...batch.events);
    })();
    // appends held open for a while, on connections that take the appender lock at their first append
    const held = Array.from({ length: 4 }, async (_, c) => {
      const client = await connect();
      while (Date.now() < until) {
        const e = event('HeldOpen');
        await client.query('BEGIN');
        await client.query(fastAppendStatement(`${prefix}-held${c}`, [e], 'any'));
        await pause(Math.random() * 15);
        await client.query('COMMIT');
        appended.push(e.id);
      }
    });
    // transactions with an id that never append: they must neither hold back nor confuse the horizon
    const bystanders = Array.from({ length: 3 }, async () => {
      const client = await connect();
      while (Date.now() < until) {
        await client.query('BEGIN');
        await client.query('SELECT pg_current_xact_id()');
        await pause(Math.random() * 10);
        await client.query('COMMIT');
      }
    });
    const plain = Array.from({ length: 3 }, async (_, w) => {
      while (Date.now() < until) {
        const e = event('Plain');
        await store.append(`${prefix}-plain${w}`, [e]);
        appended.push(e.id);
      }
    });
    await Promise.all([...held, ...bystanders, ...plain]);
    await waitFor('every append delivered', () => seen.length >= appended.length);
    await pause(200); // nothing more should come
    await subscription.close();
    await reading;
    expect(seen.map((e) => e.id).sort()).to.deep.equal([...appended].sort());
    const positions = seen.map((e) => e.position);
    for (let i = 1; i < positions.length; i++) {
      const [a, b] = [positions[i - 1]!, positions[i]!];
      expect(a.commit < b.commit || (a.commit === b.commit && a.prepare < b.prepare), `ascending at ${i}`).to.equal(true);
    }
  });

  it('every index on es_events is built concurrently, outside a transaction', () => {
    for (const file of readdirSync(MIGRATIONS_DIRECTORY).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(`${MIGRATIONS_DIRECTORY}/${file}`, 'utf8');
      if (file.endsWith('_event_store.ts')) continue; // creates the (empty) table with its keys
      for (const m of text.matchAll(/CREATE\s+(UNIQUE\s+)?INDEX\s+(CONCURRENTLY\s+)?[^;`]*?\sON\s+es_events\b/gi)) {
        expect(m[2], `${file}: ${m[0]}`).to.match(/CONCURRENTLY/i);
        expect(text, `${file} runs outside a transaction`).to.match(/export const config = \{ transaction: false \}/);
      }
    }
  });
});

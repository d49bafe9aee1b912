import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { readWindow } from '../../src/adapters/event-store/postgres/all-subscription.js';
import { fastAppendStatement } from '../../src/adapters/event-store/postgres/append.js';
import { SharedTail, TailFilter } from '../../src/adapters/event-store/postgres/shared-tail.js';
import { WakeSignal } from '../../src/adapters/event-store/postgres/wake-signal.js';
import type { EventFilter, RecordedEvent } from '../../src/event-store/index.js';
import { START, type Position } from '../../src/event-store/position.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { waitFor } from '../support/wait-for.js';

const event = (type: string) => ({ id: randomUUID(), type, data: {} });
const ids = (events: readonly RecordedEvent[]) => events.map((e) => e.id);

describe('Postgres event store: live subscriptions share one read of the newest events', function () {
  this.timeout(30_000);
  let isolated: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  let store: PostgresEventStore;
  let pool: pg.Pool;
  let signal: WakeSignal;

  before(async () => {
    isolated = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: isolated.connectionString, poolSize: 6 });
    pool = new pg.Pool({ connectionString: isolated.connectionString, max: 3 });
    signal = new WakeSignal(pool, isolated.connectionString, () => undefined);
    // the tails below wait for wake-ups: LISTEN must be in place before their appends
    let woken = false;
    const stop = signal.subscribe(() => (woken = true));
    await waitFor('LISTEN to be in place', async () => {
      await store.append(`listening-${randomUUID()}`, [event('Listening')]);
      return woken;
    });
    stop();
  });
  after(async () => {
    await signal.close();
    await pool.end();
    await store.close();
    await isolated.drop();
  });

  /** A tail over the real window query, counting its reads of Postgres. */
  const countingTail = (options: { maxEvents?: number; readSize?: number } = {}) => {
    const reads = { windows: 0 };
    const tail = new SharedTail(
      signal,
      (after, limit) => {
        reads.windows++;
        return readWindow(pool, after, limit, [], []);
      },
      async () => (await store.readAll({ fromPosition: 'end', direction: 'backwards', maxCount: 1 }))[0]?.position ?? START,
      { maxEvents: options.maxEvents ?? 1_000, readSize: options.readSize ?? 500, maxAgeMs: 60_000, blockedAgeMs: 20 },
    );
    return { tail, reads };
  };

  it('every subscription gets exactly the events its filter wants, in $all order, late committers included', async () => {
    const run = randomUUID().slice(0, 8);
    const filters: EventFilter[] = [
      {},
      { eventTypes: [`A${run}`] },
      { eventTypes: [`B${run}`, `C${run}`] },
      { streamPrefixes: [`left${run}-`] },
      { streamPrefixes: [`right${run}-`], eventTypes: [`A${run}`] },
    ];
    const subscriptions = filters.map((filter) => ({
      filter,
      sub: store.subscribeToAll({ fromPosition: 'end', filter, batchSize: 7 }),
      got: [] as RecordedEvent[],
      live: false,
    }));
    const readers = subscriptions.map(async (s) => {
      for await (const batch of s.sub) {
        s.live = true;
        s.got.push(...batch.events.filter((e) => e.type.endsWith(run)));
      }
    });
    // a subscription from 'end' finds where that is with its first read, and then says it is live
    await waitFor('every subscription to be live', () => subscriptions.every((s) => s.live));

    const late = new pg.Client({ connectionString: isolated.connectionString });
    await late.connect();
    await late.query('BEGIN');
    await late.query(fastAppendStatement(`left${run}-late`, [event(`A${run}`)], 'any')); // commits after the others
    const writers = ['left', 'right', 'middle'].map(async (side) => {
      for (let i = 0; i < 40; i++) {
        const type = ['A', 'B', 'C'][i % 3]!;
        await store.append(`${side}${run}-${i % 4}`, [event(`${type}${run}`)]);
      }
    });
    await Promise.all(writers);
    await late.query('COMMIT');
    await late.end();
    await store.append(`tail${run}`, [event(`Z${run}`)]);

    const all = (await store.readAll({ fromPosition: 'start', maxCount: 10_000 })).filter((e) => e.type.endsWith(run));
    const matching = (filter: EventFilter) =>
      all.filter((e) => (filter.eventTypes ?? [e.type]).includes(e.type) && (filter.streamPrefixes ?? ['']).some((p) => e.streamName.startsWith(p)));
    for (const s of subscriptions) await waitFor(`events of ${JSON.stringify(s.filter)}`, () => s.got.length >= matching(s.filter).length);
    for (const s of subscriptions) expect(ids(s.got), JSON.stringify(s.filter)).to.deep.equal(ids(matching(s.filter)));
    expect(all.map((e) => e.type)).to.include(`A${run}`);
    await Promise.all(subscriptions.map((s) => s.sub.close()));
    await Promise.all(readers);
  });

  it('twenty readers at the head cost one read of Postgres per wake-up, not twenty', async () => {
    const { tail, reads } = countingTail();
    const stream = `shared-${randomUUID()}`;
    await store.append(stream, [event('Before')]);
    const head = (await store.readAll({ fromPosition: 'end', direction: 'backwards', maxCount: 1 }))[0]!.position;
    expect(await tail.window(head, new TailFilter(undefined), 100)).to.not.equal(undefined); // the tail starts at the horizon
    const startReads = reads.windows;

    await store.append(stream, [event('Wanted'), event('Other'), event('Wanted')]);
    await waitFor('the tail to hold the three events', async () => ((await tail.window(head, new TailFilter(undefined), 100))?.events.length ?? 0) === 3);
    const afterFirst = reads.windows;
    const windows = await Promise.all(
      Array.from({ length: 20 }, (_, i) => tail.window(head, new TailFilter(i % 2 === 0 ? { eventTypes: ['Wanted'] } : undefined), 100)),
    );
    expect(reads.windows).to.equal(afterFirst, 'readers after the refresh are answered from memory');
    expect(afterFirst - startReads).to.be.within(1, 3);
    expect(windows.map((w) => w!.events.length)).to.deep.equal(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 2 : 3)));
    tail.close();
  });

  it('a reader with a small batch gets its events in slices, each ending at its last event', async () => {
    const { tail } = countingTail();
    const stream = `slices-${randomUUID()}`;
    await store.append(stream, [event('Seed')]);
    const head = (await store.readAll({ fromPosition: 'end', direction: 'backwards', maxCount: 1 }))[0]!.position;
    await tail.window(head, new TailFilter(undefined), 10);
    await store.append(
      stream,
      Array.from({ length: 7 }, () => event('Slice')),
    );
    await waitFor('the tail to hold the seven events', async () => ((await tail.window(head, new TailFilter(undefined), 100))?.events.length ?? 0) === 7);

    let after: Position = head;
    const got: RecordedEvent[] = [];
    for (let i = 0; i < 3; i++) {
      const window = (await tail.window(after, new TailFilter({ eventTypes: ['Slice'] }), 3))!;
      got.push(...window.events);
      expect(window.full).to.equal(i < 2);
      expect(window.horizon).to.deep.equal(i < 2 ? window.events.at(-1)!.position : window.horizon);
      after = window.horizon!;
    }
    expect(got.map((e) => e.revision)).to.deep.equal([1n, 2n, 3n, 4n, 5n, 6n, 7n]);
    tail.close();
  });

  it('keeps only its newest events: a reader behind them is sent to Postgres', async () => {
    const { tail } = countingTail({ maxEvents: 5, readSize: 100 });
    const stream = `trimmed-${randomUUID()}`;
    await store.append(stream, [event('Seed')]);
    const head = (await store.readAll({ fromPosition: 'end', direction: 'backwards', maxCount: 1 }))[0]!.position;
    await tail.window(head, new TailFilter(undefined), 10);
    await store.append(
      stream,
      Array.from({ length: 12 }, () => event('Many')),
    );
    const last = (await store.readAll({ fromPosition: 'end', direction: 'backwards', maxCount: 1 }))[0]!;
    await waitFor('the tail to drop its oldest events', async () => (await tail.window(head, new TailFilter(undefined), 100)) === undefined);

    const all = await store.readStream(stream);
    const recent = (await tail.window(all[7]!.position, new TailFilter(undefined), 100))!;
    expect(recent.events.map((e) => e.revision)).to.deep.equal([8n, 9n, 10n, 11n, 12n]);
    expect(recent.horizon).to.deep.equal(last.position);
    expect(await tail.window(all[6]!.position, new TailFilter(undefined), 100)).to.equal(undefined);
    tail.close();
  });
});

import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { WrongExpectedVersionError } from '../../src/event-store/errors.js';
import { contextFromEvent, contextFromRequest } from '../../src/write-model/core/command-context.js';
import { handle, load, NO_RETRY } from '../../src/write-model/core/command-handler.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { eventIdsFrom } from '../../src/write-model/core/event-ids.js';
import { useStateCache } from '../../src/write-model/core/state-cache.js';
import { counterAggregate, type CounterCommand, type CounterState } from '../support/counter-decider.js';
import { testDatabaseUrl } from '../setup/test-env.js';

describe('command handling core (on the Postgres event store)', () => {
  let store: PostgresEventStore;
  let id: string;
  const counter = counterAggregate(null);
  const context = contextFromRequest({ requestId: 'req-1', userId: 'user-1' });

  before(() => {
    store = createPostgresEventStore({ connectionString: testDatabaseUrl, poolSize: 10 });
  });
  after(() => store.close());
  beforeEach(() => {
    id = randomUUID();
  });

  it('loads, decides and appends, carrying correlation, causation, actor, request and schema version into the metadata', async () => {
    const opened = await handle(store, counter, id, { type: 'Open', limit: 10 }, { context });
    expect(opened.revision).to.equal(0n);
    expect(opened.position).to.not.equal(undefined);
    const incremented = await handle(store, counter, id, { type: 'Increment', by: 3 }, { context });
    expect(incremented.state).to.deep.equal({ open: true, value: 3, limit: 10 });

    const [first, second] = await store.readStream(`counter-${id}`);
    expect(first!.metadata).to.deep.equal({ $correlationId: 'req-1', $causationId: 'req-1', userId: 'user-1', requestId: 'req-1', schemaVersion: 1 });
    expect(second!.metadata.schemaVersion).to.equal(2);

    // a reaction to that event continues the correlation and names the event as its cause
    const reaction = contextFromEvent(first!, 'quota');
    expect(reaction).to.deep.include({ correlationId: 'req-1', causationId: first!.id, actor: 'pm:quota' });
  });

  it('appends nothing when the decision is to do nothing, and nothing when the command is refused', async () => {
    await handle(store, counter, id, { type: 'Open', limit: 1 }, { context });
    const touched = await handle(store, counter, id, { type: 'Touch' }, { context });
    expect(touched.events).to.deep.equal([]);
    expect(touched.position).to.equal(undefined);
    const none = await handle(store, counter, id, () => [], { context });
    expect(none.events).to.deep.equal([]);
    let refused: unknown;
    await handle(store, counter, id, { type: 'Increment', by: 2 }, { context }).catch((e) => (refused = e));
    expect(refused).to.be.instanceOf(DomainError).with.property('code', 'QUOTA_EXCEEDED');
    expect(await store.readStream(`counter-${id}`)).to.have.length(1);
  });

  it('retries conflicts on fresh state, so concurrent commands all land and the invariant holds', async () => {
    await handle(store, counter, id, { type: 'Open', limit: 6 }, { context });
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => handle(store, counter, id, { type: 'Increment', by: 1 }, { context, retry: { maxAttempts: 20, baseDelayMs: 2 } })),
    );
    const landed = results.filter((r) => r.status === 'fulfilled').length;
    const overLimit = results.filter((r) => r.status === 'rejected' && r.reason instanceof DomainError).length;
    expect([landed, overLimit]).to.deep.equal([6, 2]);
    const events = await store.readStream(`counter-${id}`);
    expect(events.filter((e) => e.type === 'CounterIncremented')).to.have.length(6);
  });

  it('re-decides a decision function on the fresh state of every retry', async () => {
    await handle(store, counter, id, { type: 'Open', limit: 100 }, { context });
    // each writer tops the counter up to the next multiple of 10: only right if it sees the latest value
    const topUp = (state: CounterState) =>
      state.value % 10 === 0 ? { type: 'Increment' as const, by: 10 } : { type: 'Increment' as const, by: 10 - (state.value % 10) };
    const seen: number[] = [];
    // five writers race; besides, another writer always gets in before the first append, so at least one
    // decision meets a conflict (the race alone does not always produce one)
    let interloped = false;
    const racing = new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'append' && !interloped) {
          return async (...args: Parameters<PostgresEventStore['append']>) => {
            interloped = true;
            await target.append(`counter-${id}`, [{ id: randomUUID(), type: 'CounterIncremented', data: { by: 0 }, metadata: { schemaVersion: 2 } }]);
            return target.append(...args);
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    await Promise.all(
      Array.from({ length: 5 }, () =>
        handle(racing, counter, id, (state) => (seen.push(state.value), topUp(state)), { context, retry: { maxAttempts: 30, baseDelayMs: 2 } }),
      ),
    );
    const { state } = await load(store, counter, id);
    expect(state.value).to.equal(50);
    expect(seen.length).to.be.greaterThan(5); // decisions were taken again after a conflict
  });

  it('decides several commands in order, each on the state the previous one left', async () => {
    const commands: CounterCommand[] = [{ type: 'Open', limit: 3 }, { type: 'Increment', by: 2 }, { type: 'Touch' }];
    const result = await handle(store, counter, id, () => commands, { context });
    expect(result.events.map((e) => e.type)).to.deep.equal(['CounterOpened', 'CounterIncremented']);
    expect(result.revision).to.equal(1n);
  });

  it('decides on the state the caller has just loaded without reading again, and reads afresh after a conflict', async () => {
    await handle(store, counter, id, { type: 'Open', limit: 10 }, { context });
    const loaded = await load(store, counter, id);
    const reads: string[] = [];
    const counted = new Proxy(store, {
      get(target, key, receiver) {
        if (key === 'readStream') return (name: string, options?: never) => (reads.push(name), target.readStream(name, options));
        const value: unknown = Reflect.get(target, key, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    await handle(counted, counter, id, { type: 'Increment', by: 1 }, { context, loaded });
    expect(reads, 'no read: the loaded state was used').to.deep.equal([]);

    const stale = await load(store, counter, id);
    await handle(store, counter, id, { type: 'Increment', by: 1 }, { context }); // someone else moves the stream
    const result = await handle(counted, counter, id, (state) => ({ type: 'Increment' as const, by: state.value }), { context, loaded: stale });
    expect(reads, 'the conflict made it read afresh').to.have.length(1);
    expect(result.state.value).to.equal(4); // 2, doubled on the fresh state, not on the stale 1
  });

  it('gives up after the bounded number of attempts', async () => {
    await handle(store, counter, id, { type: 'Open', limit: 100 }, { context });
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => handle(store, counter, id, { type: 'Increment', by: 1 }, { context, retry: NO_RETRY })),
    );
    const conflicts = results.filter((r) => r.status === 'rejected' && r.reason instanceof WrongExpectedVersionError).length;
    const landed = results.filter((r) => r.status === 'fulfilled').length;
    expect(conflicts).to.be.greaterThan(0);
    expect((await store.readStream(`counter-${id}`)).length).to.equal(1 + landed);
  });

  it('refuses, without retrying, a command whose caller saw an older revision (If-Match)', async () => {
    await handle(store, counter, id, { type: 'Open', limit: 10 }, { context });
    await handle(store, counter, id, { type: 'Increment', by: 1 }, { context });
    let error: unknown;
    await handle(store, counter, id, { type: 'Increment', by: 1 }, { context, expectedRevision: 0n }).catch((e) => (error = e));
    expect(error).to.be.instanceOf(WrongExpectedVersionError).with.property('actual', 1n);
    const ok = await handle(store, counter, id, { type: 'Increment', by: 1 }, { context, expectedRevision: 1n });
    expect(ok.revision).to.equal(2n);
  });

  it('makes a reaction handled twice a no-op when its event ids derive from the trigger', async () => {
    await handle(store, counter, id, { type: 'Open', limit: 10 }, { context });
    const ids = eventIdsFrom(`trigger-${randomUUID()}`);
    await handle(store, counter, id, { type: 'Increment', by: 1 }, { context, eventIds: ids });
    await handle(store, counter, id, { type: 'Increment', by: 1 }, { context, eventIds: ids });
    expect(await store.readStream(`counter-${id}`)).to.have.length(2);
  });

  it('folds events stored in an older shape through the upcaster', async () => {
    await handle(store, counter, id, { type: 'Open', limit: 10 }, { context });
    await store.append(`counter-${id}`, [{ id: randomUUID(), type: 'CounterIncremented', data: { amount: 4 }, metadata: { schemaVersion: 1 } }]);
    await store.append(`counter-${id}`, [{ id: randomUUID(), type: 'CounterIncremented', data: { amount: 1 } }]); // no version: 1
    expect((await load(store, counter, id)).state.value).to.equal(5);
  });

  it('refuses to fold an event that does not fit its schema, naming it', async () => {
    await handle(store, counter, id, { type: 'Open', limit: 10 }, { context });
    await store.append(`counter-${id}`, [{ id: randomUUID(), type: 'CounterIncremented', data: { by: 'four' }, metadata: { schemaVersion: 2 } }]);
    let error: unknown;
    await load(store, counter, id).catch((e) => (error = e));
    expect(String(error)).to.match(/cannot decode CounterIncremented \(schema version 2\): by:/);
  });
});

describe('snapshots (on the Postgres event store)', () => {
  let store: PostgresEventStore;
  const context = contextFromRequest({ requestId: 'req-1' });

  before(() => {
    store = createPostgresEventStore({ connectionString: testDatabaseUrl, poolSize: 4 });
  });
  after(() => store.close());

  async function countTo(id: string, n: number, aggregate = counterAggregate()): Promise<void> {
    await handle(store, aggregate, id, { type: 'Open', limit: 1000 }, { context });
    for (let i = 0; i < n; i++) await handle(store, aggregate, id, { type: 'Increment', by: 1 }, { context });
  }

  it('writes a snapshot once the threshold is passed, and loads from it plus the tail', async () => {
    const id = randomUUID();
    await countTo(id, 3); // revisions 0..3: four events folded, the threshold is five
    expect(await store.snapshots.read(`counter-${id}`, 1)).to.equal(undefined);
    await handle(store, counterAggregate(), id, { type: 'Increment', by: 1 }, { context });
    const snapshot = await store.snapshots.read(`counter-${id}`, 1);
    expect(snapshot).to.deep.include({ revision: 4n, version: 1 });
    expect(snapshot?.state).to.deep.equal({ open: true, value: 4, limit: 1000 });
  });

  it('loads the same state from snapshot + tail as from the whole stream, and reads only the tail', async () => {
    const id = randomUUID();
    const aggregate = counterAggregate({ version: 1, every: 5 });
    await handle(store, aggregate, id, { type: 'Open', limit: 1000 }, { context });
    for (let i = 0; i < 12; i++) await handle(store, aggregate, id, { type: 'Increment', by: 1 }, { context });
    const snapshot = await store.snapshots.read(`counter-${id}`, 1);
    expect(snapshot?.revision).to.equal(9n); // written at revisions 4 and 9
    expect(snapshot?.state).to.deep.equal({ open: true, value: 9, limit: 1000 });

    const withSnapshot = await load(store, aggregate, id);
    const whole = await load(store, counterAggregate(null), id);
    expect(withSnapshot).to.deep.equal(whole);
    expect(withSnapshot).to.deep.equal({ state: { open: true, value: 12, limit: 1000 }, revision: 12n });

    // proof the tail alone was read: a snapshot that lies is believed
    await store.snapshots.delete(`counter-${id}`);
    await store.snapshots.write({ streamName: `counter-${id}`, revision: 9n, version: 1, state: { open: true, value: 100, limit: 1000 } });
    expect((await load(store, aggregate, id)).state.value).to.equal(103);
  });

  it('ignores a snapshot of another version and replaces it', async () => {
    const id = randomUUID();
    await handle(store, counterAggregate({ version: 1, every: 2 }), id, { type: 'Open', limit: 1000 }, { context });
    for (let i = 0; i < 3; i++) await handle(store, counterAggregate({ version: 1, every: 2 }), id, { type: 'Increment', by: 1 }, { context });
    await store.snapshots.write({ streamName: `counter-${id}`, revision: 3n, version: 1, state: { open: true, value: 999, limit: 1 } });
    const v2 = counterAggregate({ version: 2, every: 2 });
    expect((await load(store, v2, id)).state).to.deep.equal({ open: true, value: 3, limit: 1000 });
    expect((await store.snapshots.read(`counter-${id}`, 2))?.state).to.deep.equal({ open: true, value: 3, limit: 1000 });
    expect(await store.snapshots.read(`counter-${id}`, 1)).to.equal(undefined);
  });

  it('never lets an older snapshot overwrite a newer one', async () => {
    const stream = `counter-${randomUUID()}`;
    await store.snapshots.write({ streamName: stream, revision: 9n, version: 1, state: { at: 9 } });
    await store.snapshots.write({ streamName: stream, revision: 4n, version: 1, state: { at: 4 } });
    expect((await store.snapshots.read(stream, 1))?.revision).to.equal(9n);
  });

  it('forgets the snapshot when the stream is deleted, so a recreated stream starts afresh', async () => {
    const id = randomUUID();
    const aggregate = counterAggregate({ version: 1, every: 2 });
    await countTo(id, 4, aggregate);
    expect(await store.snapshots.read(`counter-${id}`, 1)).to.not.equal(undefined);
    await store.deleteStream(`counter-${id}`);
    expect(await store.snapshots.read(`counter-${id}`, 1)).to.equal(undefined);
    const reopened = await handle(store, aggregate, id, { type: 'Open', limit: 5 }, { context });
    expect(reopened.state).to.deep.equal({ open: true, value: 0, limit: 5 });
  });
});

describe('states kept between commands (on the Postgres event store)', () => {
  // two store instances: two processes serving the same streams
  let here: PostgresEventStore;
  let elsewhere: PostgresEventStore;
  const context = contextFromRequest({ requestId: 'req-cache' });
  const aggregate = counterAggregate({ version: 1, every: 50 });

  before(() => {
    here = createPostgresEventStore({ connectionString: testDatabaseUrl, poolSize: 4 });
    elsewhere = createPostgresEventStore({ connectionString: testDatabaseUrl, poolSize: 4 });
  });
  after(async () => {
    await here.close();
    await elsewhere.close();
  });

  /** `here` with its stream reads counted (every call goes on to the real store). */
  const counted = (store: PostgresEventStore) => {
    const reads = { streams: 0 };
    const proxy = new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'readStreamFromSnapshot' || property === 'readStream') reads.streams++;
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    return { store: proxy, reads };
  };

  it('decides the next command on the state the last one left, without reading the stream', async () => {
    const { store, reads } = counted(here);
    const id = randomUUID();
    await handle(store, aggregate, id, { type: 'Open', limit: 100 }, { context });
    const before = reads.streams;
    for (let i = 0; i < 5; i++) await handle(store, aggregate, id, { type: 'Increment', by: 1 }, { context });
    expect(reads.streams - before).to.equal(0);
    expect((await load(here, aggregate, id)).state.value).to.equal(5);
    // the state handed to the caller is its own: changing it changes nothing kept
    const result = await handle(store, aggregate, id, { type: 'Increment', by: 1 }, { context });
    result.state.value = 1_000;
    expect((await handle(store, aggregate, id, { type: 'Increment', by: 1 }, { context })).state.value).to.equal(7);
  });

  it('decides again on a fresh read when another process moved the stream on (the append proves the state current)', async () => {
    const id = randomUUID();
    await handle(here, aggregate, id, { type: 'Open', limit: 3 }, { context });
    await handle(here, aggregate, id, { type: 'Increment', by: 2 }, { context }); // here keeps value 2
    await handle(elsewhere, aggregate, id, { type: 'Increment', by: 1 }, { context }); // now 3
    let refused: unknown;
    await handle(here, aggregate, id, { type: 'Increment', by: 1 }, { context, retry: NO_RETRY }).catch((e) => (refused = e));
    expect(refused).to.be.instanceOf(DomainError).with.property('code', 'QUOTA_EXCEEDED');
    expect((await here.readStream(`counter-${id}`)).map((e) => e.type)).to.deep.equal(['CounterOpened', 'CounterIncremented', 'CounterIncremented']);
  });

  it('never refuses, or finds nothing to do, on a kept state alone: that is checked on a fresh read', async () => {
    const id = randomUUID();
    expect((await handle(here, aggregate, id, { type: 'Touch' }, { context })).revision).to.equal(-1n); // here keeps "not open"
    await handle(elsewhere, aggregate, id, { type: 'Open', limit: 5 }, { context });
    const incremented = await handle(here, aggregate, id, { type: 'Increment', by: 1 }, { context, retry: NO_RETRY });
    expect(incremented.state).to.deep.equal({ open: true, value: 1, limit: 5 });
    expect(incremented.revision).to.equal(1n);
  });

  it("checks a caller's If-Match against the stream, not against a kept state that is behind", async () => {
    const id = randomUUID();
    await handle(here, aggregate, id, { type: 'Open', limit: 5 }, { context }); // here keeps revision 0
    await handle(elsewhere, aggregate, id, { type: 'Increment', by: 1 }, { context });
    const result = await handle(here, aggregate, id, { type: 'Increment', by: 1 }, { context, expectedRevision: 1n });
    expect(result.revision).to.equal(2n);
    let stale: unknown;
    await handle(here, aggregate, id, { type: 'Increment', by: 1 }, { context, expectedRevision: 1n }).catch((e) => (stale = e));
    expect(stale).to.be.instanceOf(WrongExpectedVersionError);
  });

  it('creates a new stream (If-Match: no stream) without reading it, and still refuses when the stream exists', async () => {
    const { store, reads } = counted(elsewhere);
    const id = randomUUID();
    const plain = counterAggregate(null); // no snapshots: nothing is kept, the new stream alone is not read
    const opened = await handle(store, plain, id, { type: 'Open', limit: 5 }, { context, expectedRevision: 'no_stream' });
    expect(opened.revision).to.equal(0n);
    expect(reads.streams).to.equal(0);
    let exists: unknown;
    await handle(store, plain, id, { type: 'Open', limit: 5 }, { context, expectedRevision: 'no_stream' }).catch((e) => (exists = e));
    expect(exists).to.be.instanceOf(WrongExpectedVersionError);
    expect(await here.readStream(`counter-${id}`)).to.have.length(1);
  });

  it('keeps nothing when told to keep no states (STATE_CACHE_ENTRIES=0): every command reads its stream', async () => {
    const uncached = createPostgresEventStore({ connectionString: testDatabaseUrl, poolSize: 2 });
    try {
      const { store, reads } = counted(uncached);
      useStateCache(store, 0); // the store commands are handled through
      const id = randomUUID();
      await handle(store, aggregate, id, { type: 'Open', limit: 10 }, { context });
      for (let i = 0; i < 3; i++) await handle(store, aggregate, id, { type: 'Increment', by: 1 }, { context });
      expect(reads.streams).to.equal(4);
    } finally {
      await uncached.close();
    }
  });
});

import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import {
  AppendTooLargeError,
  comparePositions,
  ConditionFailedError,
  IdempotencyConflictError,
  StreamNotFoundError,
  WrongExpectedVersionError,
  type EventData,
  type EventStore,
  type Position,
  type RecordedEvent,
} from '../../src/event-store/index.js';

export interface ContractOptions {
  /**
   * Appends inside a transaction held open for `holdMs` before it commits —
   * a slow writer whose events got their global numbers early. Adapters that
   * have no such thing (EventStoreDB orders at commit) leave it out.
   */
  appendInHeldTransaction?: (streamName: string, events: EventData[], holdMs: number) => Promise<void>;
  /** the most bytes the store takes in one append (EventStoreDB's MaxAppendSize); Postgres has no such limit */
  appendLimitBytes?: number;
}

const event = (type: string, data: Record<string, unknown> = {}, metadata: EventData['metadata'] = {}): EventData => ({
  id: randomUUID(),
  type,
  data: data as EventData['data'],
  metadata,
});

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection, got success');
}

/** Collects events from a subscription until `until` says enough, or fails after timeoutMs. */
export async function collect(
  store: EventStore,
  options: Parameters<EventStore['subscribeToAll']>[0],
  until: (seen: RecordedEvent[]) => boolean,
  timeoutMs = 15_000,
): Promise<RecordedEvent[]> {
  const subscription = store.subscribeToAll(options);
  const seen: RecordedEvent[] = [];
  const timer = setTimeout(() => void subscription.close(), timeoutMs);
  try {
    for await (const batch of subscription) {
      seen.push(...batch.events);
      if (until(seen)) break;
    }
  } finally {
    clearTimeout(timer);
    await subscription.close();
  }
  if (!until(seen)) throw new Error(`subscription timed out after ${timeoutMs} ms with ${seen.length} events`);
  return seen;
}

function expectAscending(events: RecordedEvent[]): void {
  for (let i = 1; i < events.length; i++) {
    expect(comparePositions(events[i - 1]!.position, events[i]!.position), `event ${i} after event ${i - 1}`).to.equal(-1);
  }
}

/** The one suite every EventStore adapter must pass. */
export function eventStoreContract(makeStore: () => Promise<EventStore>, options: ContractOptions = {}): void {
  let store: EventStore;
  let category: string;
  const stream = (id: string | number) => `${category}-${id}`;

  before(async () => {
    store = await makeStore();
  });
  after(async () => {
    await store?.close();
  });
  beforeEach(() => {
    // a fresh category per test: the store is shared and persistent
    category = `contract${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  });

  describe('append and read a stream', () => {
    it('writes events with consecutive revisions and reads them back whole', async () => {
      const events = [event('Opened', { n: 1 }, { $correlationId: 'c1', userId: 'u1' }), event('Noted', { text: '中文 ✓', nested: { a: [1, 2] } })];
      const result = await store.append(stream(1), events, 'no_stream');
      expect(result.nextExpectedRevision).to.equal(1n);

      const read = await store.readStream(stream(1));
      expect(read.map((e) => [e.id, e.type, e.revision, e.streamName])).to.deep.equal([
        [events[0]!.id, 'Opened', 0n, stream(1)],
        [events[1]!.id, 'Noted', 1n, stream(1)],
      ]);
      expect(read[1]!.data).to.deep.equal({ text: '中文 ✓', nested: { a: [1, 2] } });
      expect(read[0]!.metadata).to.include({ $correlationId: 'c1', userId: 'u1' });
      expect(read[0]!.created).to.be.instanceOf(Date);
      expect(comparePositions(read[1]!.position, result.position)).to.equal(0);
    });

    it('refuses no_stream when the stream exists, naming the actual revision', async () => {
      await store.append(stream(1), [event('A'), event('B')], 'no_stream');
      const error = await rejection(store.append(stream(1), [event('C')], 'no_stream'));
      expect(error).to.be.instanceOf(WrongExpectedVersionError);
      expect((error as WrongExpectedVersionError).actual).to.equal(1n);
    });

    it('refuses stream_exists when there is no stream', async () => {
      const error = await rejection(store.append(stream(1), [event('A')], 'stream_exists'));
      expect(error).to.be.instanceOf(WrongExpectedVersionError);
      expect((error as WrongExpectedVersionError).actual).to.equal('no_stream');
      await store.append(stream(1), [event('A')], 'no_stream');
      await store.append(stream(1), [event('B')], 'stream_exists');
      expect(await store.readStream(stream(1))).to.have.length(2);
    });

    it('accepts an exact revision only when it is the last one, and any always', async () => {
      await store.append(stream(1), [event('A')], 'no_stream');
      const stale = await rejection(store.append(stream(1), [event('B')], 5n));
      expect(stale).to.be.instanceOf(WrongExpectedVersionError);
      expect((stale as WrongExpectedVersionError).actual).to.equal(0n);
      expect((await store.append(stream(1), [event('B')], 0n)).nextExpectedRevision).to.equal(1n);
      expect((await store.append(stream(1), [event('C')], 'any')).nextExpectedRevision).to.equal(2n);
      expect((await store.append(stream(2), [event('D')], 'any')).nextExpectedRevision).to.equal(0n);
    });

    it('lets exactly one of several writers with the same expected revision win', async () => {
      await store.append(stream(1), [event('A')], 'no_stream');
      const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => store.append(stream(1), [event('B')], 0n)));
      expect(outcomes.filter((o) => o.status === 'fulfilled')).to.have.length(1);
      for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).to.be.instanceOf(WrongExpectedVersionError);
      expect(await store.readStream(stream(1))).to.have.length(2);
    });

    it('lands every one of many concurrent appends with expected revision any, with consecutive revisions', async () => {
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => store.append(stream(1), [event('Any', { i })], 'any')));
      expect(results.map((r) => Number(r.nextExpectedRevision)).sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 12 }, (_, i) => i));
      expect((await store.readStream(stream(1))).map((e) => Number(e.revision))).to.deep.equal(Array.from({ length: 12 }, (_, i) => i));
    });

    it('writes once when the same append races with itself', async () => {
      const events = [event('A'), event('B')];
      const results = await Promise.all(Array.from({ length: 4 }, () => store.append(stream(1), events, 'any')));
      for (const r of results) expect(r.nextExpectedRevision).to.equal(1n);
      expect(await store.readStream(stream(1))).to.have.length(2);
    });

    it('treats re-appending the same event ids as done, writing nothing twice', async () => {
      const events = [event('A'), event('B')];
      const first = await store.append(stream(1), events, 'no_stream');
      const again = await store.append(stream(1), events, 'no_stream');
      expect(again.nextExpectedRevision).to.equal(first.nextExpectedRevision);
      expect(comparePositions(again.position, first.position)).to.equal(0);
      expect(await store.readStream(stream(1))).to.have.length(2);
    });

    it('refuses a batch that repeats only some ids already written, writing none of it', async () => {
      const [a, b] = [event('A'), event('B')];
      await store.append(stream(1), [a], 'no_stream');
      await rejection(store.append(stream(1), [a, b], 0n));
      expect((await store.readStream(stream(1))).map((e) => e.id)).to.deep.equal([a.id]);
    });

    it('reads forwards and backwards from a revision with maxCount', async () => {
      await store.append(
        stream(1),
        Array.from({ length: 10 }, (_, i) => event('N', { i })),
        'no_stream',
      );
      const rev = (events: RecordedEvent[]) => events.map((e) => Number(e.revision));
      expect(rev(await store.readStream(stream(1), { fromRevision: 3n, maxCount: 4 }))).to.deep.equal([3, 4, 5, 6]);
      expect(rev(await store.readStream(stream(1), { direction: 'backwards', maxCount: 3 }))).to.deep.equal([9, 8, 7]);
      expect(rev(await store.readStream(stream(1), { direction: 'backwards', fromRevision: 4n, maxCount: 2 }))).to.deep.equal([4, 3]);
      expect(rev(await store.readStream(stream(1), { direction: 'backwards', fromRevision: 'start' }))).to.deep.equal([0]);
      expect(await store.readStream(stream(1), { fromRevision: 'end' })).to.deep.equal([]);
    });

    it('refuses an append with no events, a non-uuid id or a reserved ($) name, writing nothing', async () => {
      expect(await rejection(store.append(stream(1), []))).to.be.instanceOf(TypeError);
      expect(await rejection(store.append(stream(1), [{ id: 'not-a-uuid', type: 'A', data: {} }]))).to.be.instanceOf(TypeError);
      expect(await rejection(store.append(stream(1), [event('$Internal')]))).to.be.instanceOf(TypeError);
      expect(await rejection(store.append('$system', [event('A')]))).to.be.instanceOf(TypeError);
      expect(await rejection(store.readStream(stream(1)))).to.be.instanceOf(StreamNotFoundError);
    });

    it('says a stream that was never written is not found', async () => {
      expect(await rejection(store.readStream(stream('missing')))).to.be.instanceOf(StreamNotFoundError);
    });
  });

  describe('appends that depend on other streams (conditions)', () => {
    it('lands while the streams it depends on are where the decision read them, alone or among concurrent appends', async () => {
      await store.append(stream(1), [event('Plan'), event('Upgraded')], 'no_stream'); // at revision 1
      const conditions = [
        { streamName: stream(1), revision: 1n },
        { streamName: stream(9), revision: 'no_stream' as const },
      ];
      expect((await store.append(stream(2), [event('Used')], 'no_stream', { conditions })).nextExpectedRevision).to.equal(0n);
      const together = await Promise.all([3, 4, 5].map((n) => store.append(stream(n), [event('Used')], 'no_stream', n === 4 ? { conditions } : {})));
      expect(together.map((r) => r.nextExpectedRevision)).to.deep.equal([0n, 0n, 0n]);
    });

    it('refuses with ConditionFailedError, writing nothing, once a stream it depends on moved on', async () => {
      await store.append(stream(1), [event('Plan')], 'no_stream');
      await store.append(stream(1), [event('Downgraded')], 0n); // the decision below read revision 0
      const moved = await rejection(store.append(stream(2), [event('Used')], 'no_stream', { conditions: [{ streamName: stream(1), revision: 0n }] }));
      expect(moved).to.be.instanceOf(ConditionFailedError);
      expect(moved).to.include({ streamName: stream(1), expected: 0n, actual: 1n });
      const created = await rejection(
        store.append(stream(2), [event('Used')], 'no_stream', { conditions: [{ streamName: stream(1), revision: 'no_stream' }] }),
      );
      expect(created).to.be.instanceOf(ConditionFailedError);
      expect(await rejection(store.readStream(stream(2)))).to.be.instanceOf(StreamNotFoundError);
      // the append's own expectation is still its own error
      await store.append(stream(2), [event('Used')], 'no_stream');
      const own = await rejection(store.append(stream(2), [event('Used')], 'no_stream', { conditions: [{ streamName: stream(1), revision: 1n }] }));
      expect(own).to.be.instanceOf(WrongExpectedVersionError);
    });
  });

  describe("repeats of appends with deterministic ids (process managers' reactions)", () => {
    const once = { deterministicIds: true };

    it('appends nothing when the same ids come again, however far the stream moved meanwhile, and answers the first result', async () => {
      const reaction = [event('Reacted', { to: 'x' }), event('ReactedToo')];
      const first = await store.append(stream(1), reaction, 'no_stream', once);
      for (let i = 0; i < 10; i++)
        await store.append(
          stream(1),
          Array.from({ length: 5 }, (_, j) => event('Other', { n: i * 5 + j })),
          'any',
        );
      const [newest] = await store.readStream(stream(1), { direction: 'backwards', maxCount: 1 });
      expect(newest!.revision).to.equal(51n);
      // redelivered: the handler read the stream anew and appends at its end
      for (const expected of [newest!.revision, 'any', 'stream_exists'] as const) {
        const again = await store.append(stream(1), reaction, expected, once);
        expect(again.nextExpectedRevision, String(expected)).to.equal(first.nextExpectedRevision);
        expect(comparePositions(again.position, first.position)).to.equal(0);
      }
      expect(await store.readStream(stream(1))).to.have.length(52);
    });

    it('lets an attempt refused on a stale revision be followed by one that lands, and recognises that one later', async () => {
      await store.append(stream(1), [event('A')], 'no_stream');
      const reaction = [event('Reacted')];
      expect(await rejection(store.append(stream(1), reaction, 7n, once))).to.be.instanceOf(WrongExpectedVersionError);
      const landed = await store.append(stream(1), reaction, 0n, once);
      expect(landed.nextExpectedRevision).to.equal(1n);
      await store.append(
        stream(1),
        Array.from({ length: 20 }, (_, i) => event('Other', { i })),
        1n,
      );
      const again = await store.append(stream(1), reaction, 21n, once);
      expect(again.nextExpectedRevision).to.equal(1n);
      expect(await store.readStream(stream(1))).to.have.length(22);
    });

    it('writes once when the same reaction races with itself', async () => {
      await store.append(stream(1), [event('A')], 'no_stream');
      const reaction = [event('Reacted'), event('ReactedToo')];
      const results = await Promise.allSettled(Array.from({ length: 4 }, () => store.append(stream(1), reaction, 'any', once)));
      for (const r of results) if (r.status === 'fulfilled') expect(r.value.nextExpectedRevision).to.equal(2n);
      expect(results.some((r) => r.status === 'fulfilled')).to.equal(true);
      expect((await store.readStream(stream(1))).map((e) => e.type)).to.deep.equal(['A', 'Reacted', 'ReactedToo']);
    });

    it('refuses ids already written to another stream', async () => {
      const reaction = [event('Reacted')];
      await store.append(stream(1), reaction, 'no_stream', once);
      expect(await rejection(store.append(stream(2), reaction, 'no_stream', once))).to.be.instanceOf(IdempotencyConflictError);
      expect(await rejection(store.readStream(stream(2)))).to.be.instanceOf(StreamNotFoundError);
    });
  });

  describe('snapshots', () => {
    it('reads a stream from its snapshot: the snapshot of that version and the events after it', async () => {
      await store.append(
        stream(1),
        Array.from({ length: 5 }, (_, i) => event('N', { i })),
        'no_stream',
      );
      const whole = await store.readStreamFromSnapshot(stream(1), 1);
      expect(whole.snapshot).to.equal(undefined);
      expect(whole.events.map((e) => Number(e.revision))).to.deep.equal([0, 1, 2, 3, 4]);

      await store.snapshots.write({ streamName: stream(1), revision: 2n, version: 1, state: { upTo: 2 } });
      const tail = await store.readStreamFromSnapshot(stream(1), 1);
      expect(tail.snapshot).to.deep.equal({ streamName: stream(1), revision: 2n, version: 1, state: { upTo: 2 } });
      expect(tail.events.map((e) => Number(e.revision))).to.deep.equal([3, 4]);
      expect((await store.readStreamFromSnapshot(stream(1), 2)).snapshot, 'another version is not used').to.equal(undefined);

      await store.snapshots.write({ streamName: stream(1), revision: 4n, version: 1, state: { upTo: 4 } });
      const none = await store.readStreamFromSnapshot(stream(1), 1);
      expect([none.snapshot?.revision, none.events]).to.deep.equal([4n, []]);
    });

    it("says a missing stream is not found, and forgets a deleted stream's snapshot", async () => {
      expect(await rejection(store.readStreamFromSnapshot(stream('missing'), 1))).to.be.instanceOf(StreamNotFoundError);
      await store.append(stream(2), [event('A'), event('B')], 'no_stream');
      await store.snapshots.write({ streamName: stream(2), revision: 1n, version: 1, state: { upTo: 1 } });
      await store.deleteStream(stream(2));
      expect(await store.snapshots.read(stream(2), 1)).to.equal(undefined);
      await store.append(stream(2), [event('C')], 'any');
      const recreated = await store.readStreamFromSnapshot(stream(2), 1);
      expect([recreated.snapshot, recreated.events.map((e) => e.type)]).to.deep.equal([undefined, ['C']]);
    });
  });

  describe('stream metadata and deletion', () => {
    it('honours maxCount and truncateBefore on reads, and keeps custom metadata', async () => {
      await store.append(
        stream(1),
        Array.from({ length: 6 }, (_, i) => event('N', { i })),
        'no_stream',
      );
      await store.setStreamMetadata(stream(1), { maxCount: 3, custom: { owner: 'u1' } });
      expect((await store.readStream(stream(1))).map((e) => Number(e.revision))).to.deep.equal([3, 4, 5]);
      expect(await store.getStreamMetadata(stream(1))).to.deep.include({ maxCount: 3, custom: { owner: 'u1' } });

      await store.setStreamMetadata(stream(1), { truncateBefore: 5n });
      expect((await store.readStream(stream(1))).map((e) => Number(e.revision))).to.deep.equal([5]);
      expect((await store.append(stream(1), [event('M')], 5n)).nextExpectedRevision).to.equal(6n);
    });

    it('honours maxAge on reads', async () => {
      await store.append(stream(1), [event('Old')], 'no_stream');
      await store.setStreamMetadata(stream(1), { maxAge: 1 });
      expect(await store.readStream(stream(1))).to.have.length(1);
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      await store.append(stream(1), [event('New')], 0n);
      expect((await store.readStream(stream(1))).map((e) => e.type)).to.deep.equal(['New']);
    });

    it('soft-deletes a stream: reads say not found, an append recreates it after the old revisions', async () => {
      await store.append(stream(1), [event('A'), event('B')], 'no_stream');
      await store.deleteStream(stream(1), 1n);
      expect(await rejection(store.readStream(stream(1)))).to.be.instanceOf(StreamNotFoundError);
      const recreated = await store.append(stream(1), [event('C')], 'any');
      expect(recreated.nextExpectedRevision).to.equal(2n);
      expect((await store.readStream(stream(1))).map((e) => e.type)).to.deep.equal(['C']);
    });

    it('counts a soft-deleted stream as no stream for expected revisions', async () => {
      await store.append(stream(1), [event('A')], 'no_stream');
      await store.deleteStream(stream(1));
      expect(await rejection(store.append(stream(1), [event('B')], 0n))).to.be.instanceOf(WrongExpectedVersionError);
      expect(await rejection(store.append(stream(1), [event('B')], 'stream_exists'))).to.be.instanceOf(WrongExpectedVersionError);
      expect((await store.append(stream(1), [event('B')], 'no_stream')).nextExpectedRevision).to.equal(1n);
      expect((await store.readStream(stream(1))).map((e) => e.type)).to.deep.equal(['B']);
    });

    it('keeps a soft-deleted stream deleted through metadata writes; recreated, it shows only what came after', async () => {
      await store.append(stream(1), [event('A'), event('B')], 'no_stream');
      await store.deleteStream(stream(1));
      const metadata = await store.getStreamMetadata(stream(1));
      await store.setStreamMetadata(stream(1), { ...metadata, custom: { note: 'read, then written back' } });
      await store.setStreamMetadata(stream(1), { maxAge: 3_600 });
      expect(await rejection(store.readStream(stream(1)))).to.be.instanceOf(StreamNotFoundError);
      expect((await store.append(stream(1), [event('C')], 'any')).nextExpectedRevision).to.equal(2n);
      expect((await store.readStream(stream(1))).map((e) => e.type)).to.deep.equal(['C']);
      // and the truncation that hides the old life survives a write that leaves it out
      await store.setStreamMetadata(stream(1), { maxCount: 100 });
      expect((await store.readStream(stream(1))).map((e) => e.type)).to.deep.equal(['C']);
    });

    it('never moves truncateBefore back through a metadata write', async () => {
      await store.append(
        stream(1),
        Array.from({ length: 4 }, (_, i) => event('N', { i })),
        'no_stream',
      );
      await store.setStreamMetadata(stream(1), { truncateBefore: 2n });
      await store.setStreamMetadata(stream(1), { truncateBefore: 1n, custom: { a: 1 } });
      expect((await store.readStream(stream(1))).map((e) => Number(e.revision))).to.deep.equal([2, 3]);
      expect(await store.getStreamMetadata(stream(1))).to.deep.include({ truncateBefore: 2n, custom: { a: 1 } });
    });

    it('refuses a delete at a stale expected revision', async () => {
      await store.append(stream(1), [event('A'), event('B')], 'no_stream');
      expect(await rejection(store.deleteStream(stream(1), 0n))).to.be.instanceOf(WrongExpectedVersionError);
      expect(await store.readStream(stream(1))).to.have.length(2);
    });
  });

  describe('$all', () => {
    it('reads all events in global order, forwards in pages and backwards, each page exclusive of its start', async () => {
      const start = await store.headPosition();
      for (let i = 0; i < 5; i++) await store.append(stream(i % 2), [event('E', { i }), event('F', { i })]);
      const filter = { streamPrefixes: [`${category}-`] };

      const pages: RecordedEvent[] = [];
      let from: Position = start;
      for (;;) {
        const page = await store.readAll({ fromPosition: from, maxCount: 3, filter });
        if (page.length === 0) break;
        pages.push(...page);
        from = page.at(-1)!.position;
      }
      expect(pages.map((e) => `${e.type}${(e.data as { i: number }).i}`)).to.deep.equal(['E0', 'F0', 'E1', 'F1', 'E2', 'F2', 'E3', 'F3', 'E4', 'F4']);
      expectAscending(pages);

      const backwards = await store.readAll({ direction: 'backwards', maxCount: 4, filter });
      expect(backwards.map((e) => e.id)).to.deep.equal(
        pages
          .slice(-4)
          .reverse()
          .map((e) => e.id),
      );
      expect(comparePositions(await store.headPosition(), pages.at(-1)!.position)).to.be.at.least(0);
    });

    it('filters by event type and by stream prefix', async () => {
      const start = await store.headPosition();
      await store.append(stream('a'), [event('Kept'), event('Dropped')]);
      await store.append(`${category}x-b`, [event('Kept')]);
      const byType = await store.readAll({ fromPosition: start, filter: { eventTypes: ['Kept'], streamPrefixes: [category] } });
      expect(byType.map((e) => e.streamName)).to.deep.equal([stream('a'), `${category}x-b`]);
      const byPrefix = await store.readAll({ fromPosition: start, filter: { streamPrefixes: [`${category}-`] } });
      expect(byPrefix.map((e) => e.type)).to.deep.equal(['Kept', 'Dropped']);
    });
  });

  describe('bounded reads and counts of $all', () => {
    it('stops a read at toPosition, forwards and backwards, filtered or not', async () => {
      const start = await store.headPosition();
      for (let i = 0; i < 3; i++) await store.append(stream(i % 2), [event('Common', { i }), event('Common', { i })]);
      await store.append(stream('x'), [event('Rare')]);
      const filter = { streamPrefixes: [`${category}-`] };
      const all = await store.readAll({ fromPosition: start, filter });
      expect(all).to.have.length(7);

      const forwards = await store.readAll({ fromPosition: start, toPosition: all[2]!.position, filter });
      expect(forwards.map((e) => e.id)).to.deep.equal(all.slice(0, 3).map((e) => e.id));
      const backwards = await store.readAll({ direction: 'backwards', toPosition: all[3]!.position, filter });
      expect(backwards.map((e) => e.id)).to.deep.equal(
        all
          .slice(3)
          .reverse()
          .map((e) => e.id),
      );
      // a sparse filter whose only event lies past the bound finds nothing (and stops scanning there)
      const sparse = await store.readAll({ fromPosition: start, toPosition: all[5]!.position, filter: { ...filter, eventTypes: ['Rare'] } });
      expect(sparse).to.deep.equal([]);
    });

    it('counts events between two positions, with a filter', async () => {
      const start = await store.headPosition();
      await store.append(stream(1), [event('Kept'), event('Dropped'), event('Kept')]);
      await store.append(`${category}x-2`, [event('Kept')]);
      const end = await store.headPosition();
      expect(await store.countEvents(start, end, { streamPrefixes: [`${category}-`] })).to.deep.equal({ count: 3, exact: true });
      expect(await store.countEvents(start, end, { streamPrefixes: [category], eventTypes: ['Kept'] })).to.deep.equal({ count: 3, exact: true });
      expect(await store.countEvents(end, start, { streamPrefixes: [category] })).to.deep.equal({ count: 0, exact: true });
    });

    it('refuses an append larger than the store takes at once, writing none of it', async function () {
      if (!options.appendLimitBytes) this.skip();
      const big = event('Big', { blob: 'x'.repeat(options.appendLimitBytes! + 64 * 1024) });
      const error = await rejection(store.append(stream(1), [big], 'no_stream'));
      expect(error).to.be.instanceOf(AppendTooLargeError);
      expect(await rejection(store.readStream(stream(1)))).to.be.instanceOf(StreamNotFoundError);
    });
  });

  describe('subscribeToAll', () => {
    it('catches up, then goes live, in global order', async () => {
      const start = await store.headPosition();
      await store.append(stream(1), [event('Before1'), event('Before2')]);
      const seen = collect(store, { fromPosition: start, filter: { streamPrefixes: [`${category}-`] } }, (s) => s.length >= 4);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await store.append(stream(2), [event('Live1')]);
      await store.append(stream(1), [event('Live2')]);
      const events = await seen;
      expect(events.map((e) => e.type)).to.deep.equal(['Before1', 'Before2', 'Live1', 'Live2']);
      expectAscending(events);
    });

    it('delivers only what the filter asks for, and still advances its checkpoint past the rest', async () => {
      const start = await store.headPosition();
      await store.append(stream(1), [event('Noise'), event('Wanted'), event('Noise')]);
      const subscription = store.subscribeToAll({ fromPosition: start, filter: { eventTypes: ['Wanted'], streamPrefixes: [`${category}-`] } });
      const wanted: RecordedEvent[] = [];
      let checkpoint: Position = start;
      const all = await store.readAll({ fromPosition: start, filter: { streamPrefixes: [`${category}-`] } });
      for await (const batch of subscription) {
        wanted.push(...batch.events);
        checkpoint = batch.checkpoint;
        if (comparePositions(checkpoint, all.at(-1)!.position) >= 0) break;
      }
      await subscription.close();
      expect(wanted.map((e) => e.type)).to.deep.equal(['Wanted']);
    });

    it('says it has caught up, also when the history ends exactly at the end of a batch', async () => {
      const start = await store.headPosition();
      await store.append(stream(1), [event('A'), event('B'), event('C'), event('D')]);
      const subscription = store.subscribeToAll({ fromPosition: start, batchSize: 2, filter: { streamPrefixes: [`${category}-`] } });
      const seen: RecordedEvent[] = [];
      const timer = setTimeout(() => void subscription.close(), 5_000);
      let caughtUp = false;
      for await (const batch of subscription) {
        seen.push(...batch.events);
        if (batch.caughtUp) {
          caughtUp = true;
          break;
        }
      }
      clearTimeout(timer);
      await subscription.close();
      expect(caughtUp, 'a caught-up batch arrived').to.equal(true);
      expect(seen.map((e) => e.type)).to.deep.equal(['A', 'B', 'C', 'D']);
    });

    it('sees every event of many concurrent writers exactly once, in order', async function () {
      this.timeout(60_000);
      const start = await store.headPosition();
      const writers = 8;
      const perWriter = 40;
      const total = writers * perWriter + (options.appendInHeldTransaction ? 6 : 0);
      const seen = collect(store, { fromPosition: start, filter: { streamPrefixes: [`${category}-`] }, batchSize: 50 }, (s) => s.length >= total, 45_000);
      const held = options.appendInHeldTransaction
        ? Array.from({ length: 3 }, (_, i) => options.appendInHeldTransaction!(stream(`held${i}`), [event('Held', { i }), event('Held', { i })], 300 + i * 400))
        : [];
      await Promise.all([
        ...held,
        ...Array.from({ length: writers }, async (_, w) => {
          for (let i = 0; i < perWriter; i++) await store.append(stream(`w${w}`), [event('Written', { w, i })], i === 0 ? 'no_stream' : BigInt(i - 1));
        }),
      ]);
      const events = await seen;
      expect(events).to.have.length(total);
      expect(new Set(events.map((e) => e.id)).size).to.equal(total);
      expectAscending(events);
      for (let w = 0; w < writers; w++) {
        const mine = events.filter((e) => e.streamName === stream(`w${w}`)).map((e) => Number(e.revision));
        expect(mine).to.deep.equal(Array.from({ length: perWriter }, (_, i) => i));
      }
    });

    it('stops iterating when closed', async () => {
      const subscription = store.subscribeToAll({ fromPosition: 'end' });
      const startedAt = Date.now();
      setTimeout(() => void subscription.close(), 50);
      for await (const batch of subscription) expect(batch.events).to.be.an('array');
      expect(Date.now() - startedAt).to.be.below(2_000);
    });
  });
}

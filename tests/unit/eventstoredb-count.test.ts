import { expect } from 'chai';
import { EventCounter, type ScanAll, type ScannedEvent } from '../../src/adapters/event-store/eventstoredb/event-counter.js';
import { comparePositions, START, type Position } from '../../src/event-store/position.js';

/** An in-memory $all: positions are byte offsets of a log, as EventStoreDB's are; a few system events between. */
function log(count: number, bytesPerEvent = 300): ScannedEvent[] {
  const events: ScannedEvent[] = [];
  let offset = 1_000n;
  for (let i = 0; i < count; i++) {
    offset += BigInt(bytesPerEvent + (i % 7) * 10);
    const system = i % 50 === 0;
    events.push({
      position: { commit: offset, prepare: offset },
      type: system ? '$metadata' : i % 3 === 0 ? 'Wanted' : 'Other',
      streamName: system ? '$$order-1' : `order-${i % 10}`,
    });
  }
  return events;
}

/** The store's read, counting what it costs. */
function scanner(events: ScannedEvent[]): { scan: ScanAll; read: () => number } {
  let read = 0;
  const scan: ScanAll = async (after, upTo, limit) => {
    const from = events.findIndex((e) => comparePositions(e.position, after) > 0);
    if (from < 0) return { events: [], complete: true };
    const out: ScannedEvent[] = [];
    let i = from;
    for (; i < events.length && out.length < limit && comparePositions(events[i]!.position, upTo) <= 0; i++) out.push(events[i]!);
    read += out.length;
    return { events: out, complete: i >= events.length || comparePositions(events[i]!.position, upTo) > 0 };
  };
  return { scan, read: () => read };
}

const exactCount = (events: ScannedEvent[], after: Position, upTo: Position, type?: string) =>
  events.filter(
    (e) => comparePositions(e.position, after) > 0 && comparePositions(e.position, upTo) <= 0 && !e.type.startsWith('$') && (!type || e.type === type),
  ).length;

describe('EventStoreDB adapter: counting $all events, a bounded read per call', () => {
  const events = log(50_000);
  const head = events.at(-1)!.position;

  it("counts a short span exactly (a projection's lag), system events left out", async () => {
    const { scan } = scanner(events);
    const counter = new EventCounter(scan, 1_000);
    const after = events[40_000]!.position;
    const upTo = events[40_600]!.position;
    expect(await counter.count(after, upTo)).to.deep.equal({ count: exactCount(events, after, upTo), exact: true });
    expect(await counter.count(upTo, after)).to.deep.equal({ count: 0, exact: true });
  });

  it('estimates a long span from what one page read, never reading more than a few pages per call', async () => {
    const { scan, read } = scanner(events);
    const counter = new EventCounter(scan, 1_000);
    const total = await counter.count(START, head);
    expect(total.exact).to.equal(false);
    expect(read()).to.be.at.most(3_000);
    const truth = exactCount(events, START, head);
    expect(Math.abs(total.count - truth) / truth, `${total.count} vs ${truth}`).to.be.below(0.1);
  });

  it("follows a rebuild's progress reading only what is new, and turns exact as it catches up", async () => {
    const { scan, read } = scanner(events);
    const counter = new EventCounter(scan, 1_000);
    let previous = 0;
    for (let at = 500; at < 20_000; at += 700) {
      const before = read();
      const processed = await counter.count(START, events[at]!.position);
      // each poll reads what the rebuild did since the last one (700 events here), not the history again
      expect(read() - before, `poll at ${at}`).to.be.at.most(1_000);
      expect(processed).to.deep.equal({ count: exactCount(events, START, events[at]!.position), exact: true });
      expect(processed.count).to.be.greaterThan(previous);
      previous = processed.count;
    }
  });

  it("counts a filter's events on their own, estimating the same way", async () => {
    const { scan } = scanner(events);
    const counter = new EventCounter(scan, 1_000);
    const filter = { eventTypes: ['Wanted'] };
    const upTo = events[800]!.position;
    expect(await counter.count(START, upTo, filter)).to.deep.equal({ count: exactCount(events, START, upTo, 'Wanted'), exact: true });
    const estimate = await counter.count(START, head, filter);
    const truth = exactCount(events, START, head, 'Wanted');
    expect(estimate.exact).to.equal(false);
    expect(Math.abs(estimate.count - truth) / truth).to.be.below(0.1);
    // the unfiltered totals are kept apart
    expect((await counter.count(START, upTo)).count).to.equal(exactCount(events, START, upTo));
  });
});

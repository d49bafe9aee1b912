import { expect } from 'chai';
import fc from 'fast-check';
import { AGGREGATES } from '../../src/operations/aggregates.js';
import { decideAll } from '../support/histories/harness.js';
import { HISTORY_SOURCES } from '../support/histories/index.js';

/** What a snapshot keeps: the state as JSON (what es_snapshots stores and gives back). */
const asStored = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/**
 * For every aggregate, over generated histories: the state folded from a
 * snapshot taken at any point plus the events after it equals the state
 * folded from the whole history; and every event the decider writes survives
 * the trip through storage and the aggregate's decoder unchanged.
 */
describe('snapshots and decoders over generated histories (fast-check)', () => {
  for (const { aggregate, commands } of HISTORY_SOURCES) {
    it(`${aggregate.name}: snapshot at any revision + tail = the whole fold`, () => {
      fc.assert(
        fc.property(commands, fc.nat(), (generated, cutAt) => {
          const events = decideAll(aggregate, generated);
          const cut = cutAt % (events.length + 1);
          const { decider } = aggregate;
          let whole = decider.initialState();
          for (const event of events) whole = decider.evolve(whole, event);
          let head = decider.initialState();
          for (const event of events.slice(0, cut)) head = decider.evolve(head, event);
          let resumed = asStored(head);
          for (const event of events.slice(cut)) resumed = decider.evolve(resumed, event);
          expect(asStored(resumed)).to.deep.equal(asStored(whole));
          // the snapshot keeps nothing JSON cannot hold (no undefined-valued keys, Dates, Maps)
          expect(resumed).to.deep.equal(whole);
        }),
        { numRuns: 150 },
      );
    });

    it(`${aggregate.name}: every event it writes decodes back to itself`, () => {
      fc.assert(
        fc.property(commands, (generated) => {
          for (const event of decideAll(aggregate, generated)) {
            const stored = { type: event.type, data: asStored(event.data), metadata: { schemaVersion: aggregate.events.version(event.type) } };
            expect(asStored(aggregate.events.decode(stored))).to.deep.equal(asStored(event));
          }
        }),
        { numRuns: 100 },
      );
    });
  }

  it('covers every aggregate of src/operations/aggregates.ts, each once', () => {
    const covered = HISTORY_SOURCES.map((s) => s.aggregate.name);
    expect(new Set(covered).size, 'one history source per aggregate').to.equal(covered.length);
    expect(new Set(covered), 'history sources (tests/support/histories) vs AGGREGATES').to.deep.equal(new Set(AGGREGATES.map((a) => a.name)));
  });
});

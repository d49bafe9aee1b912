import { ANY, NO_STREAM, STREAM_EXISTS } from '@eventstore/db-client';
import { expect } from 'chai';
import { exactNamesRegex, matchesFilter } from '../../src/adapters/event-store/eventstoredb/filters.js';
import { streamEventPosition, toClientExpectedRevision, toPosition, toRecordedEvent } from '../../src/adapters/event-store/eventstoredb/mapping.js';
import { fromClientStreamMetadata, toClientStreamMetadata } from '../../src/adapters/event-store/eventstoredb/stream-metadata.js';

// What of the EventStoreDB adapter can be checked without a server: the translations.
describe('EventStoreDB adapter: translations to and from the client', () => {
  it('maps expected revisions onto the client constants, refusing a negative one', () => {
    expect(toClientExpectedRevision('any')).to.equal(ANY);
    expect(toClientExpectedRevision('no_stream')).to.equal(NO_STREAM);
    expect(toClientExpectedRevision('stream_exists')).to.equal(STREAM_EXISTS);
    expect(toClientExpectedRevision(41n)).to.equal(41n);
    expect(() => toClientExpectedRevision(-2n)).to.throw(RangeError);
  });

  it('keeps positions beyond 2^53 exact', () => {
    const big = (1n << 60n) + 7n;
    expect(toPosition({ commit: big, prepare: big - 1n })).to.deep.equal({ commit: big, prepare: big - 1n });
    const event = {
      streamId: 's-1',
      id: 'x',
      revision: 3n,
      type: 'T',
      created: new Date(0),
      isJson: true,
      data: {},
      metadata: {},
      position: { commit: big, prepare: big },
    };
    expect(streamEventPosition(event).commit).to.equal(big);
    expect(() => streamEventPosition({ ...event, position: undefined })).to.throw(/22\.6/);
  });

  it('turns binary data into base64 and odd metadata into an empty object', () => {
    const recorded = toRecordedEvent(
      { streamId: 's-1', id: 'x', revision: 0n, type: 'T', created: new Date(0), isJson: false, data: new Uint8Array([1, 2, 3]), metadata: [1] },
      { commit: 1n, prepare: 1n },
    );
    expect(recorded.data).to.equal('AQID');
    expect(recorded.metadata).to.deep.equal({});
  });

  it('matches event types exactly, with regex metacharacters escaped', () => {
    const regex = new RegExp(exactNamesRegex(['Opened', 'a.b+c']));
    expect(regex.test('Opened')).to.equal(true);
    expect(regex.test('OpenedLate')).to.equal(false);
    expect(regex.test('a.b+c')).to.equal(true);
    expect(regex.test('axbbc')).to.equal(false);
  });

  it('applies both halves of a filter and never lets system events through', () => {
    const filter = { eventTypes: ['A'], streamPrefixes: ['user-'] };
    expect(matchesFilter('A', 'user-1', filter)).to.equal(true);
    expect(matchesFilter('B', 'user-1', filter)).to.equal(false);
    expect(matchesFilter('A', 'proxy-1', filter)).to.equal(false);
    expect(matchesFilter('$metadata', '$$user-1', undefined)).to.equal(false);
  });

  it('round-trips stream metadata, refusing reserved custom keys and ignoring the soft-delete marker', () => {
    const client = toClientStreamMetadata('s-1', { maxAge: 60, maxCount: 5, truncateBefore: 3n, custom: { owner: 'u1' } });
    expect(fromClientStreamMetadata(client)).to.deep.equal({ maxAge: 60, maxCount: 5, truncateBefore: 3n, custom: { owner: 'u1' } });
    expect(() => toClientStreamMetadata('s-1', { custom: { maxAge: 1 } })).to.throw(TypeError);
    // biome-ignore lint/correctness/noPrecisionLoss: the client hands this exact (rounded) number for "no truncation"
    expect(fromClientStreamMetadata({ truncateBefore: 9223372036854775807 })).to.deep.equal({});
  });
});

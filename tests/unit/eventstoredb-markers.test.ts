import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { ClientRecordedEvent } from '../../src/adapters/event-store/eventstoredb/mapping.js';
import {
  earlierAppendAt,
  MARKER_TYPE,
  markerData,
  markerStreamName,
  parseMarker,
  slotOf,
  type Marker,
} from '../../src/adapters/event-store/eventstoredb/reaction-markers.js';
import { IdempotencyConflictError } from '../../src/event-store/errors.js';

const recorded = (streamId: string, id: string, revision: bigint): ClientRecordedEvent => ({
  streamId,
  id,
  revision,
  type: 'E',
  created: new Date(),
  isJson: true,
  data: {},
  metadata: {},
});

describe('EventStoreDB adapter: markers of appends with deterministic ids', () => {
  const ids = [randomUUID(), randomUUID()];
  const marker: Marker = { stream: 'order-1', ids, slot: 40n };

  it('names the marker stream after the first id, and round-trips a marker through JSON', () => {
    expect(markerStreamName(ids[0]!.toUpperCase())).to.equal(`reaction-${ids[0]}`);
    for (const m of [marker, { ...marker, slot: 'first' as const }, { ...marker, slot: (1n << 62n) + 1n }]) {
      expect(parseMarker(MARKER_TYPE, JSON.parse(JSON.stringify(markerData(m))))).to.deep.equal(m);
    }
    expect(parseMarker('Other', markerData(marker))).to.equal(undefined);
    expect(parseMarker(MARKER_TYPE, { stream: 'x', ids: [], slot: '1' })).to.equal(undefined);
    expect(slotOf(39n)).to.equal(40n);
    expect(slotOf('no_stream')).to.equal('first');
  });

  it('finds the earlier append at its slot, however far the stream moved after it', () => {
    const landed = [recorded('order-1', ids[0]!.toUpperCase(), 40n), recorded('order-1', ids[1]!, 41n)];
    expect(earlierAppendAt('order-1', ids, marker, landed)).to.equal(landed[1]);
  });

  it('says "not there" when the slot holds other events or none (that attempt never landed)', () => {
    expect(earlierAppendAt('order-1', ids, marker, [recorded('order-1', randomUUID(), 40n)])).to.equal(undefined);
    expect(earlierAppendAt('order-1', ids, marker, [])).to.equal(undefined);
  });

  it('refuses a repeat that is not whole: other ids after the first, or the first id in another stream', () => {
    const partial = [recorded('order-1', ids[0]!, 40n), recorded('order-1', randomUUID(), 41n)];
    expect(() => earlierAppendAt('order-1', ids, marker, partial)).to.throw(IdempotencyConflictError);
    const elsewhere = { ...marker, stream: 'order-2' };
    const there = [recorded('order-2', ids[0]!, 40n), recorded('order-2', ids[1]!, 41n)];
    expect(() => earlierAppendAt('order-1', ids, elsewhere, there)).to.throw(IdempotencyConflictError);
  });
});

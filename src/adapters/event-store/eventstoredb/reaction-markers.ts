import { IdempotencyConflictError } from '../../../event-store/errors.js';
import type { ExpectedRevision } from '../../../event-store/port.js';
import type { ClientRecordedEvent } from './mapping.js';

/**
 * Appends whose ids are deterministic (a process manager's reaction, handled
 * again after a redelivery) must be recognised however far their stream has
 * moved since; EventStoreDB deduplicates ids only near the stream's end. So
 * such an append first writes a marker — an event in a stream named after
 * its first id, saying which stream and which revision its events take — and
 * only then appends them at that exact revision. A repeat reads the marker
 * stream (a few events) and, for each marker, the events at the revision it
 * names: two bounded reads, whatever the stream's length.
 *
 * Why marker first: EventStoreDB has no transaction over two streams. A
 * marker whose append never happened (a crash, a conflict) is harmless — its
 * revision holds other events, or none — while events without a marker
 * cannot exist, so a crash between the two writes never lets a repeat
 * through. Two attempts racing cannot both land: each appends at an exact
 * revision read before it looked for markers, so the later one either sees
 * the earlier's marker and its events, or conflicts on the revision.
 *
 * The markers are `$`-typed events (hidden from every $all read and
 * subscription of the port, like the server's own) and stay for good: a
 * reaction replayed from the start of $all must still be recognised. They
 * cost one small event per deterministic append. A repeat is recognised while
 * the earlier events are readable: retention (maxAge, maxCount) or a delete
 * that hid them lets it append again.
 */

export const MARKER_TYPE = '$reaction-append';

export function markerStreamName(firstEventId: string): string {
  return `reaction-${firstEventId.toLowerCase()}`;
}

/** Where the events of an append take their place: a revision, or the first of the stream's current life (`no_stream`). */
export type Slot = bigint | 'first';

export interface Marker {
  stream: string;
  /** lower-case event ids, in order */
  ids: string[];
  slot: Slot;
}

/** The slot an append at this (exact or no_stream) expected revision takes. */
export function slotOf(expected: bigint | 'no_stream'): Slot {
  return expected === 'no_stream' ? 'first' : expected + 1n;
}

export function markerData(marker: Marker): { stream: string; ids: string[]; slot: string } {
  return { stream: marker.stream, ids: marker.ids, slot: marker.slot === 'first' ? 'first' : marker.slot.toString() };
}

/** A marker event's data back; undefined for anything else (another writer's event in that stream). */
export function parseMarker(type: string, data: unknown): Marker | undefined {
  if (type !== MARKER_TYPE || data === null || typeof data !== 'object') return undefined;
  const { stream, ids, slot } = data as { stream?: unknown; ids?: unknown; slot?: unknown };
  if (typeof stream !== 'string' || !Array.isArray(ids) || !ids.every((id) => typeof id === 'string') || ids.length === 0) return undefined;
  if (slot === 'first') return { stream, ids: ids as string[], slot };
  if (typeof slot !== 'string' || !/^\d{1,20}$/.test(slot)) return undefined;
  return { stream, ids: ids as string[], slot: BigInt(slot) };
}

/**
 * What the events found at a marker's slot say about an append of `ids` to
 * `streamName`: undefined when that attempt did not land there; the last
 * event of the earlier append when it is a whole repeat; a conflict when the
 * first id landed with other events, or in another stream.
 */
export function earlierAppendAt(
  streamName: string,
  ids: readonly string[],
  marker: Marker,
  atSlot: readonly ClientRecordedEvent[],
): ClientRecordedEvent | undefined {
  const first = atSlot[0];
  if (!first || first.id.toLowerCase() !== marker.ids[0]) return undefined;
  const whole =
    marker.stream === streamName &&
    atSlot.length === ids.length &&
    atSlot.every((event, i) => event.id.toLowerCase() === ids[i] && event.revision === first.revision + BigInt(i));
  if (!whole) throw new IdempotencyConflictError(streamName, [...ids]);
  return atSlot.at(-1);
}

/** How many of a marker stream's newest events a repeat looks at: one per attempt, and attempts are few. */
export const MARKERS_READ = 16;

export type PinnedRevision = bigint | 'no_stream';

export function isPinned(expected: ExpectedRevision): expected is PinnedRevision {
  return typeof expected === 'bigint' || expected === 'no_stream';
}

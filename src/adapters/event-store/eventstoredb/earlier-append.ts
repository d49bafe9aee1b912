import { IdempotencyConflictError } from '../../../event-store/errors.js';
import type { EventData } from '../../../event-store/port.js';
import type { ClientRecordedEvent } from './mapping.js';

/**
 * EventStoreDB deduplicates event ids only at the slot the expected revision
 * names, or against a cache of recent writes for `any`; a batch that repeats
 * some ids at the stream's end is written again as new events. The port
 * promises Postgres' behaviour: a whole repeat is the earlier result, a partial
 * one is refused. So an append first compares its ids with the stream's newest
 * events. Returns the earlier append's last event, or undefined for new work.
 */
export function findEarlierAppend(
  streamName: string,
  events: readonly EventData[],
  newestFirst: readonly ClientRecordedEvent[],
): ClientRecordedEvent | undefined {
  // the server formats uuids in lower case; callers may not
  const ids = events.map((event) => event.id.toLowerCase());
  const wanted = new Set(ids);
  const hits = newestFirst.filter((recorded) => wanted.has(recorded.id.toLowerCase())).reverse();
  const first = hits[0];
  if (!first) return undefined;
  const whole =
    hits.length === ids.length && hits.every((recorded, i) => recorded.id.toLowerCase() === ids[i] && recorded.revision === first.revision + BigInt(i));
  if (!whole)
    throw new IdempotencyConflictError(
      streamName,
      events.map((event) => event.id),
    );
  return hits.at(-1);
}

/** A batch naming one id twice could never be a repeat of one append (Postgres refuses it the same way). */
export function refuseRepeatedIds(streamName: string, events: readonly EventData[]): void {
  if (new Set(events.map((event) => event.id.toLowerCase())).size !== events.length) {
    throw new IdempotencyConflictError(
      streamName,
      events.map((event) => event.id),
    );
  }
}

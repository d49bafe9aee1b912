import {
  ANY,
  jsonEvent,
  NO_STREAM,
  STREAM_EXISTS,
  type AppendExpectedRevision,
  type ExpectedRevision as ClientExpectedRevision,
  type EventData as ClientEventData,
  type JSONType,
  type Position as ClientPosition,
} from '@eventstore/db-client';
import type { EventData, EventMetadata, ExpectedRevision, Json, RecordedEvent } from '../../../event-store/port.js';
import type { Position } from '../../../event-store/position.js';

/** The fields of the client's recorded event this adapter reads (stream reads and $all reads alike). */
export interface ClientRecordedEvent {
  streamId: string;
  id: string;
  revision: bigint;
  type: string;
  created: Date;
  isJson: boolean;
  data: unknown;
  metadata: unknown;
  position?: ClientPosition | undefined;
}

export function toClientExpectedRevision(expected: ExpectedRevision): AppendExpectedRevision {
  switch (expected) {
    case 'any':
      return ANY;
    case 'no_stream':
      return NO_STREAM;
    case 'stream_exists':
      return STREAM_EXISTS;
    default:
      // the wire format is an unsigned revision: a negative one would fail deep inside protobuf
      if (expected < 0n) throw new RangeError(`expected revision ${expected} is negative`);
      return expected;
  }
}

/** Deletes take no `stream_exists` in this client (it would send the word as a revision). */
export function toClientDeleteRevision(expected: Exclude<ExpectedRevision, 'stream_exists'>): ClientExpectedRevision {
  return toClientExpectedRevision(expected) as ClientExpectedRevision;
}

export function toClientEvent(event: EventData): ClientEventData {
  return jsonEvent({
    id: event.id,
    type: event.type,
    // the client JSON.stringifies data whatever its type; its JSONType is just narrower than the port's Json
    data: event.data as JSONType,
    ...(event.metadata ? { metadata: event.metadata as JSONType } : {}),
  });
}

/** Positions come from the client as bigints already: copy, never convert. */
export function toPosition(position: ClientPosition): Position {
  return { commit: position.commit, prepare: position.prepare };
}

const UNKNOWN_POSITION = (1n << 64n) - 1n;

/**
 * Stream reads carry an event's $all position only from EventStoreDB 22.6 on;
 * older servers send -1 (2^64-1 on the wire) or nothing (0, where no event can
 * be: the log starts with an epoch record).
 */
export function streamEventPosition(event: ClientRecordedEvent): Position {
  const p = event.position;
  if (!p || p.commit === UNKNOWN_POSITION || p.prepare === UNKNOWN_POSITION || (p.commit === 0n && p.prepare === 0n)) {
    throw new Error(`EventStoreDB did not report the $all position of ${event.streamId}@${event.revision}; the adapter needs EventStoreDB 22.6 or later`);
  }
  return toPosition(p);
}

/**
 * gRPC appends are implicit transactions: each event commits itself and sits
 * at (logPosition, logPosition) in $all, and the append's commit position is
 * the last event's log position. Servers before 22.x put the transaction's
 * first position in `prepare`, which matches no event; use the commit twice.
 */
export function lastAppendedPosition(position: ClientPosition): Position {
  return { commit: position.commit, prepare: position.commit };
}

export function toRecordedEvent(event: ClientRecordedEvent, position: Position): RecordedEvent {
  return {
    id: event.id,
    type: event.type,
    streamName: event.streamId,
    revision: event.revision,
    position,
    data: toJson(event),
    metadata: toMetadata(event.metadata),
    created: event.created,
  };
}

function toJson(event: ClientRecordedEvent): Json {
  // only other writers produce binary events; base64 keeps them representable as Json
  if (!event.isJson && event.data instanceof Uint8Array) return Buffer.from(event.data).toString('base64');
  return event.data as Json;
}

function toMetadata(metadata: unknown): EventMetadata {
  // absent, non-JSON (bytes) or non-object metadata: the port always has an object
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata) || metadata instanceof Uint8Array) return {};
  return metadata as EventMetadata;
}

export function isSystemEvent(type: string, streamName: string): boolean {
  return type.startsWith('$') || streamName.startsWith('$');
}

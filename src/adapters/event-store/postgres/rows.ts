import type { EventMetadata, Json, RecordedEvent } from '../../../event-store/port.js';

/**
 * Columns every event query selects, in this shape. Positions travel as text
 * (never through a JS number); the time as epoch milliseconds, which is much
 * cheaper to turn into a Date than timestamptz text.
 */
export const EVENT_COLUMNS = eventColumns();

/** EVENT_COLUMNS with `data` as an expression over it (a rebuild reading only the part of an event its handler uses). */
export function eventColumns(data = 'data'): string {
  return `transaction_id::text AS commit_position, global_position::text AS prepare_position,
  stream_name, stream_revision::text AS stream_revision, event_id, event_type, ${data === 'data' ? 'data' : `(${data}) AS data`}, metadata,
  (extract(epoch FROM created_at) * 1000)::float8 AS created_ms`;
}

export interface EventRow {
  commit_position: string;
  prepare_position: string;
  stream_name: string;
  stream_revision: string;
  event_id: string;
  event_type: string;
  data: Json;
  metadata: EventMetadata;
  created_ms: number;
}

export function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    id: row.event_id,
    type: row.event_type,
    streamName: row.stream_name,
    revision: BigInt(row.stream_revision),
    position: { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) },
    data: row.data,
    metadata: row.metadata,
    created: new Date(row.created_ms),
  };
}

/** Escapes LIKE wildcards so a stream prefix matches literally. */
export function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

import type { Knex } from 'knex';
import type { RecordedEvent } from '../event-store/port.js';

/** The longest error text kept per dead letter (a stack is enough to find the bug). */
const MAX_ERROR_CHARS = 8_000;

export function errorText(error: unknown): string {
  const text = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error);
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}…` : text;
}

export interface ParkedEvent {
  consumer: string;
  event: RecordedEvent;
  error: unknown;
  attempts: number;
  firstFailedAt: Date;
  lastFailedAt: Date;
}

/**
 * Parks an event in consumer_dead_letters, in the transaction that moves the
 * consumer's checkpoint past it: both land or neither. The same event parked
 * again (a replay) reuses its row. Answers the row's id.
 */
export async function parkEvent(tx: Knex.Transaction, parked: ParkedEvent): Promise<string> {
  const { event } = parked;
  const { rows } = await tx.raw<{ rows: { id: string }[] }>(
    `INSERT INTO consumer_dead_letters
       (consumer, event_id, stream_name, stream_revision, event_type, commit_position, prepare_position, error, attempts, first_failed_at, last_failed_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (consumer, event_id) DO UPDATE SET
       status = 'parked', error = excluded.error, attempts = consumer_dead_letters.attempts + excluded.attempts,
       last_failed_at = excluded.last_failed_at, resolved_at = NULL
     RETURNING id::text`,
    [
      parked.consumer,
      event.id,
      event.streamName,
      event.revision.toString(),
      event.type,
      event.position.commit.toString(),
      event.position.prepare.toString(),
      errorText(parked.error),
      parked.attempts,
      parked.firstFailedAt,
      parked.lastFailedAt,
    ],
  );
  return rows[0]!.id;
}

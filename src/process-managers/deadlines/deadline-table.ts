import type { Knex } from 'knex';
import type { RecordedEvent } from '../../event-store/port.js';

/**
 * What a deadline does when it falls due; each kind has one action
 * (./expiry-actions.ts, ./resume-actions.ts).
 */
export type DeadlineKind = 'subscription.expire' | 'payment_order.expire' | 'workflows.resume_after_quota';

export interface Deadline {
  key: string;
  kind: DeadlineKind;
  subjectId: string;
  dueAt: string;
  attempts: number;
  causeEventId: string;
  correlationId: string;
}

export function deadlineKey(kind: DeadlineKind, subjectId: string): string {
  return `${kind}:${subjectId}`;
}

/**
 * Sets (or moves) the deadline of a subject. A moved deadline starts afresh:
 * its attempts and back-off belonged to the old time.
 */
export async function scheduleDeadline(
  db: Knex | Knex.Transaction,
  kind: DeadlineKind,
  subjectId: string,
  dueAt: string,
  cause: RecordedEvent,
): Promise<void> {
  const correlation = cause.metadata.$correlationId;
  await db('deadlines')
    .insert({
      key: deadlineKey(kind, subjectId),
      kind,
      subject_id: subjectId,
      due_at: dueAt,
      retry_at: null,
      attempts: 0,
      last_error: null,
      cause_event_id: cause.id,
      correlation_id: typeof correlation === 'string' ? correlation : cause.id,
      updated_at: db.fn.now(),
    })
    .onConflict('key')
    .merge();
}

export async function cancelDeadline(db: Knex | Knex.Transaction, kind: DeadlineKind, subjectId: string): Promise<void> {
  await db('deadlines').delete().where({ key: deadlineKey(kind, subjectId) });
}

interface DeadlineRow {
  key: string;
  kind: DeadlineKind;
  subject_id: string;
  due_at: Date;
  attempts: number;
  cause_event_id: string;
  correlation_id: string;
}

/**
 * Locks up to `limit` deadlines due at `now`, skipping rows another sweeper
 * holds, so several projector processes share the work without doing any of
 * it twice at once.
 */
export async function claimDueDeadlines(tx: Knex.Transaction, now: Date, limit: number): Promise<Deadline[]> {
  const rows = (await tx('deadlines')
    .select('key', 'kind', 'subject_id', 'due_at', 'attempts', 'cause_event_id', 'correlation_id')
    .whereRaw('coalesce(retry_at, due_at) <= ?', [now])
    .orderByRaw('coalesce(retry_at, due_at)')
    .limit(limit)
    .forUpdate()
    .skipLocked()) as DeadlineRow[];
  return rows.map((r) => ({
    key: r.key,
    kind: r.kind,
    subjectId: r.subject_id,
    dueAt: r.due_at.toISOString(),
    attempts: r.attempts,
    causeEventId: r.cause_event_id,
    correlationId: r.correlation_id,
  }));
}

/** Done: removed unless the events moved it meanwhile (then the new time stands). */
export async function completeDeadline(tx: Knex.Transaction, deadline: Deadline): Promise<void> {
  await tx('deadlines').delete().where({ key: deadline.key, due_at: deadline.dueAt });
}

export async function postponeDeadline(tx: Knex.Transaction, deadline: Deadline, retryAt: Date, error: string): Promise<void> {
  await tx('deadlines')
    .update({ retry_at: retryAt, attempts: deadline.attempts + 1, last_error: error.slice(0, 500), updated_at: tx.fn.now() })
    .where({ key: deadline.key, due_at: deadline.dueAt });
}

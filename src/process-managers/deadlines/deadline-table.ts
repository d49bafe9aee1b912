import type { Knex } from 'knex';
import type { RecordedEvent } from '../../event-store/port.js';

/**
 * What a deadline does when it falls due; each kind has one action
 * (./expiry-actions.ts, ./renewal-actions.ts, ./resume-actions.ts,
 * ./publication-actions.ts, ./oauth-refresh-actions.ts, ./sms-batch-actions.ts).
 */
export type DeadlineKind =
  | 'subscription.expire'
  | 'subscription.renewal'
  | 'payment_order.expire'
  | 'workflows.resume_after_quota'
  | 'publication.due'
  | 'sms_batch.due'
  | 'platform_account.oauth_refresh';

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
export async function scheduleDeadline(db: Knex | Knex.Transaction, kind: DeadlineKind, subjectId: string, dueAt: string, cause: RecordedEvent): Promise<void> {
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
  await db('deadlines')
    .delete()
    .where({ key: deadlineKey(kind, subjectId) });
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
 * Claims up to `limit` deadlines due at `now` in one short statement: their
 * next attempt moves to `now + leaseMs`, so another sweeper (another
 * projector process) passes them by while this one runs their commands, and
 * a sweeper that dies mid-way leaves them due again when the lease ends. No
 * transaction stays open while the commands run: one that held a transaction
 * id would hold back every subscriber of $all.
 */
export async function claimDueDeadlines(db: Knex, now: Date, limit: number, leaseMs: number): Promise<Deadline[]> {
  const { rows } = await db.raw<{ rows: DeadlineRow[] }>(
    `UPDATE deadlines SET retry_at = ?, updated_at = now()
      WHERE key IN (SELECT key FROM deadlines WHERE coalesce(retry_at, due_at) <= ?
                     ORDER BY coalesce(retry_at, due_at) LIMIT ? FOR UPDATE SKIP LOCKED)
      RETURNING key, kind, subject_id, due_at, attempts, cause_event_id, correlation_id`,
    [new Date(now.getTime() + leaseMs), now, limit],
  );
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
export async function completeDeadline(db: Knex, deadline: Deadline): Promise<void> {
  await db('deadlines').delete().where({ key: deadline.key, due_at: deadline.dueAt });
}

export async function postponeDeadline(db: Knex, deadline: Deadline, retryAt: Date, error: string): Promise<void> {
  await db('deadlines')
    .update({ retry_at: retryAt, attempts: deadline.attempts + 1, last_error: error.slice(0, 500), updated_at: db.fn.now() })
    .where({ key: deadline.key, due_at: deadline.dueAt });
}

import type { Knex } from 'knex';
import type { SmsBatchStatus } from '../write-model/sms-batch/events.js';
import type { SmsEncoding } from '../write-model/sms-message/segments.js';
import { pageOf, type Page, type PageRequest } from './page.js';
import { selectPage } from './page-query.js';
import { MESSAGE_COLUMNS, messageView, type SmsMessageView, type SmsStatus } from './sms.js';

/**
 * Queries over `sms_batches` and `sms_keywords` (projection
 * `sms-batches-v1`) and a batch's messages in `sms_messages` (sms-v1).
 * Always filtered by the caller's owners (their data scope: themselves, a
 * team, the organization) or organization.
 */

export interface SmsBatchProgress {
  /** messages requested so far (the fan-out may still be running) */
  requested: number;
  /** requested, not yet accepted by the provider (waiting, paced, or retried) */
  queued: number;
  /** the provider has them, no receipt yet */
  sent: number;
  delivered: number;
  undelivered: number;
  /** never sent (refused by the provider, out of attempts, or the balance could not pay) */
  failed: number;
}

export interface SmsBatchView {
  id: string;
  owner_id: string;
  organization_id: string | null;
  status: SmsBatchStatus | 'completed';
  text: string;
  sender_id: string;
  encoding: SmsEncoding;
  segments: number;
  recipient_count: number;
  invalid_skipped: number;
  duplicates_removed: number;
  scheduled_at: string | null;
  review: { id: string | null; hit_count: number | null; reviewer_id: string | null; comment: string | null; decided_at: string | null };
  progress: SmsBatchProgress;
  created_at: string;
  started_at: string | null;
  cancelled_at: string | null;
}

const BATCH_COLUMNS = [
  'id',
  'owner_id',
  'organization_id',
  'status',
  'text',
  'sender_id',
  'encoding',
  'segments',
  'recipient_count',
  'invalid_skipped',
  'duplicates_removed',
  'scheduled_at',
  'review_id',
  'hit_count',
  'reviewer_id',
  'review_comment',
  'decided_at',
  'created_at',
  'started_at',
  'cancelled_at',
];

const iso = (v: unknown): string | null => (v instanceof Date ? v.toISOString() : typeof v === 'string' ? new Date(v).toISOString() : null);

function emptyProgress(): SmsBatchProgress {
  return { requested: 0, queued: 0, sent: 0, delivered: 0, undelivered: 0, failed: 0 };
}

/** Each batch's messages counted by status (one grouped query over the batch index). */
async function progressOf(knex: Knex, batchIds: readonly string[]): Promise<Map<string, SmsBatchProgress>> {
  const out = new Map<string, SmsBatchProgress>();
  if (batchIds.length === 0) return out;
  const rows = await knex('sms_messages')
    .whereIn('batch_id', [...batchIds])
    .groupBy('batch_id', 'status')
    .select('batch_id', 'status', knex.raw('count(*)::int AS n'));
  for (const r of rows as { batch_id: string; status: SmsStatus; n: number }[]) {
    const p = out.get(r.batch_id) ?? emptyProgress();
    const n = Number(r.n);
    p.requested += n;
    if (r.status === 'pending') p.queued += n;
    else p[r.status] += n;
    out.set(r.batch_id, p);
  }
  return out;
}

function batchView(r: Record<string, any>, progress: SmsBatchProgress | undefined): SmsBatchView {
  const p = progress ?? emptyProgress();
  const recipients = Number(r.recipient_count);
  // every message requested and none left waiting: the batch is done
  const done = r.status === 'sending' && p.requested >= recipients && p.queued === 0 && p.sent === 0;
  return {
    id: r.id,
    owner_id: r.owner_id,
    organization_id: r.organization_id ?? null,
    status: done ? 'completed' : r.status,
    text: r.text,
    sender_id: r.sender_id,
    encoding: r.encoding,
    segments: Number(r.segments),
    recipient_count: recipients,
    invalid_skipped: Number(r.invalid_skipped),
    duplicates_removed: Number(r.duplicates_removed),
    scheduled_at: iso(r.scheduled_at),
    review: {
      id: r.review_id ?? null,
      hit_count: r.hit_count === null || r.hit_count === undefined ? null : Number(r.hit_count),
      reviewer_id: r.reviewer_id ?? null,
      comment: r.review_comment ?? null,
      decided_at: iso(r.decided_at),
    },
    progress: p,
    created_at: iso(r.created_at)!,
    started_at: iso(r.started_at),
    cancelled_at: iso(r.cancelled_at),
  };
}

/** A sending batch is done: every recipient's message requested, none pending or waiting for its receipt (batchView's rule, in SQL). */
const COMPLETED_SQL =
  '(SELECT count(*) FROM sms_messages m WHERE m.batch_id = sms_batches.id) >= sms_batches.recipient_count ' +
  "AND NOT EXISTS (SELECT 1 FROM sms_messages m WHERE m.batch_id = sms_batches.id AND m.status IN ('pending', 'sent'))";

/** The batches of these owners, newest first; `completed` and `sending` are told apart as the views show them. */
export async function listSmsBatches(
  knex: Knex,
  ownerIds: readonly string[],
  f: { status?: SmsBatchStatus | 'completed' | undefined },
  page: PageRequest,
): Promise<Page<SmsBatchView>> {
  const q = knex('sms_batches').whereIn('owner_id', [...ownerIds]);
  // `completed` is not stored: a sending batch whose messages all have their outcome (as batchView decides)
  if (f.status === 'completed') q.andWhere('status', 'sending').andWhereRaw(COMPLETED_SQL);
  else if (f.status === 'sending') q.andWhere('status', 'sending').andWhereRaw(`NOT (${COMPLETED_SQL})`);
  else if (f.status) q.andWhere('status', f.status);
  const ordered = q.select(BATCH_COLUMNS).orderBy([
    { column: 'created_at', order: 'desc' },
    { column: 'id', order: 'desc' },
  ]);
  const { rows, total } = await selectPage<Record<string, any>>(knex, ordered, page);
  const progress = await progressOf(
    knex,
    rows.map((r) => r.id),
  );
  return pageOf(
    rows.map((r) => batchView(r, progress.get(r.id))),
    page,
    total,
  );
}

/** One batch of these owners; null for an unknown one or another's. */
export async function findSmsBatch(knex: Knex, ownerIds: readonly string[], id: string): Promise<SmsBatchView | null> {
  const row = await knex('sms_batches')
    .where({ id })
    .whereIn('owner_id', [...ownerIds])
    .first(BATCH_COLUMNS);
  if (!row) return null;
  return batchView(row, (await progressOf(knex, [id])).get(id));
}

/** A batch's messages, by recipient number. */
export async function listSmsBatchMessages(
  knex: Knex,
  batchId: string,
  f: { status?: SmsStatus | undefined },
  page: PageRequest,
): Promise<Page<SmsMessageView>> {
  const q = knex('sms_messages').where('batch_id', batchId);
  if (f.status) q.andWhere('status', f.status);
  const ordered = q.select(MESSAGE_COLUMNS).orderBy([
    { column: 'to_number', order: 'asc' },
    { column: 'id', order: 'asc' },
  ]);
  const { rows, total } = await selectPage<Record<string, any>>(knex, ordered, page);
  return pageOf(rows.map(messageView), page, total);
}

export interface SmsKeywordView {
  keyword: string;
  owner_id: string;
  organization_id: string | null;
  reserved_at: string;
}

/** The keywords held by the organization (or by the user outside one), alphabetically. */
export async function listSmsKeywords(knex: Knex, holder: { userId: string; organizationId: string | null }, page: PageRequest): Promise<Page<SmsKeywordView>> {
  const q = knex('sms_keywords').where('released', false);
  if (holder.organizationId) q.andWhere('organization_id', holder.organizationId);
  else q.andWhere('owner_id', holder.userId).whereNull('organization_id');
  const ordered = q.select(['keyword', 'owner_id', 'organization_id', 'reserved_at']).orderBy('keyword', 'asc');
  const { rows, total } = await selectPage<Record<string, any>>(knex, ordered, page);
  return pageOf(
    rows.map((r) => ({ keyword: r.keyword, owner_id: r.owner_id, organization_id: r.organization_id ?? null, reserved_at: iso(r.reserved_at)! })),
    page,
    total,
  );
}

/** Who holds a keyword (normalised), for the inbound routing; null: nobody. */
export async function keywordOwner(knex: Knex, keyword: string): Promise<{ ownerId: string; organizationId: string | null } | null> {
  const row = await knex('sms_keywords').where({ keyword, released: false }).first(['owner_id', 'organization_id']);
  return row ? { ownerId: row.owner_id, organizationId: row.organization_id ?? null } : null;
}

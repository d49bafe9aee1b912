import type { Knex } from 'knex';
import { pageOf, type Page, type PageRequest } from './page.js';
import type { SendFailureCode } from '../write-model/outgoing-message/events.js';
import { selectPage } from './page-query.js';

/**
 * Queries over `xiaohongshu_outgoing_messages` (projection
 * `xiaohongshu-outgoing-messages-v1`): the private messages a user asked to
 * send and how each ended. Always the caller's own rows.
 */

export const OUTGOING_STATUSES = ['pending', 'sent', 'failed'] as const;
export type OutgoingStatus = (typeof OUTGOING_STATUSES)[number];

export interface OutgoingMessageView {
  id: string;
  status: OutgoingStatus;
  platform_account_id: string;
  conversation_id: string | null;
  peer_id: string | null;
  text: string;
  platform_message_id: string | null;
  recovered: boolean;
  failure: { code: SendFailureCode; reason: string } | null;
  requested_at: string;
  sent_at: string | null;
  finished_at: string | null;
}

export interface OutgoingFilters {
  status?: OutgoingStatus | undefined;
  platform_account_id?: string | undefined;
  conversation_id?: string | undefined;
}

const COLUMNS = [
  'id',
  'status',
  'platform_account_id',
  'conversation_id',
  'peer_id',
  'text',
  'platform_message_id',
  'recovered',
  'failure_code',
  'failure_reason',
  'requested_at',
  'sent_at',
  'finished_at',
];

const isoOrNull = (v: unknown): string | null => (v instanceof Date ? v.toISOString() : typeof v === 'string' ? new Date(v).toISOString() : null);

function view(r: Record<string, any>): OutgoingMessageView {
  return {
    id: r.id,
    status: r.status,
    platform_account_id: r.platform_account_id,
    conversation_id: r.conversation_id ?? null,
    peer_id: r.peer_id ?? null,
    text: r.text,
    platform_message_id: r.platform_message_id ?? null,
    recovered: r.recovered === true,
    failure: r.failure_code ? { code: r.failure_code, reason: r.failure_reason ?? '' } : null,
    requested_at: isoOrNull(r.requested_at)!,
    sent_at: isoOrNull(r.sent_at),
    finished_at: isoOrNull(r.finished_at),
  };
}

/** The owner's outgoing messages, newest request first. */
export async function listOutgoingMessages(knex: Knex, ownerId: string, f: OutgoingFilters, page: PageRequest): Promise<Page<OutgoingMessageView>> {
  const q = knex('xiaohongshu_outgoing_messages').where('owner_id', ownerId);
  if (f.status) q.andWhere('status', f.status);
  if (f.platform_account_id) q.andWhere('platform_account_id', f.platform_account_id);
  if (f.conversation_id) q.andWhere('conversation_id', f.conversation_id);
  const ordered = q.select(COLUMNS).orderBy([
    { column: 'requested_at', order: 'desc' },
    { column: 'id', order: 'desc' },
  ]);
  const { rows, total } = await selectPage<Record<string, any>>(knex, ordered, page);
  return pageOf(rows.map(view), page, total);
}

/** One of the owner's outgoing messages; null for an unknown one or another user's. */
export async function findOutgoingMessage(knex: Knex, ownerId: string, id: string): Promise<OutgoingMessageView | null> {
  const row = await knex('xiaohongshu_outgoing_messages').where({ owner_id: ownerId, id }).first(COLUMNS);
  return row ? view(row) : null;
}

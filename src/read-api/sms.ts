import type { Knex } from 'knex';
import { pageOf, type Page, type PageRequest } from './page.js';
import { selectPage } from './page-query.js';
import type { SmsFailureCode } from '../write-model/sms-message/events.js';
import type { SmsEncoding } from '../write-model/sms-message/segments.js';

/**
 * Queries over `sms_messages` and `sms_inbound` (projection `sms-v1`): the
 * SMS a user asked to send and how each ended, and the inbound messages
 * routed to them. Always the caller's own rows — except `replyTarget`, the
 * routing look-up the inbound callback makes for the platform.
 */

export const SMS_STATUSES = ['pending', 'sent', 'delivered', 'undelivered', 'failed'] as const;
export type SmsStatus = (typeof SMS_STATUSES)[number];

export interface SmsMessageView {
  id: string;
  status: SmsStatus;
  to: string;
  country: string;
  calling_code: string;
  text: string;
  encoding: SmsEncoding;
  segments: number;
  unit_price_fen: number;
  price_fen: number;
  provider_message_id: string | null;
  sender_number: string | null;
  undelivered: { error_code: string; reason: string } | null;
  failure: { code: SmsFailureCode; reason: string } | null;
  requested_at: string;
  sent_at: string | null;
  done_at: string | null;
  finished_at: string | null;
}

export interface SmsInboundView {
  id: string;
  from: string;
  to: string;
  text: string;
  /** only routed messages are listed (an owner's): by a keyword, or as a reply */
  route: 'keyword' | 'reply';
  reply_to: string | null;
  /** the keyword it was routed by */
  keyword: string | null;
  received_at: string;
}

export const MESSAGE_COLUMNS = [
  'id',
  'status',
  'to_number',
  'country',
  'calling_code',
  'text',
  'encoding',
  'segments',
  'unit_price_fen',
  'price_fen',
  'provider_message_id',
  'sender_number',
  'error_code',
  'error_reason',
  'failure_code',
  'failure_reason',
  'requested_at',
  'sent_at',
  'done_at',
  'finished_at',
];

const iso = (v: unknown): string | null => (v instanceof Date ? v.toISOString() : typeof v === 'string' ? new Date(v).toISOString() : null);

export function messageView(r: Record<string, any>): SmsMessageView {
  return {
    id: r.id,
    status: r.status,
    to: r.to_number,
    country: r.country,
    calling_code: r.calling_code,
    text: r.text,
    encoding: r.encoding,
    segments: Number(r.segments),
    unit_price_fen: Number(r.unit_price_fen),
    price_fen: Number(r.price_fen),
    provider_message_id: r.provider_message_id ?? null,
    sender_number: r.sender_number ?? null,
    undelivered: r.status === 'undelivered' ? { error_code: r.error_code ?? '', reason: r.error_reason ?? '' } : null,
    failure: r.failure_code ? { code: r.failure_code, reason: r.failure_reason ?? '' } : null,
    requested_at: iso(r.requested_at)!,
    sent_at: iso(r.sent_at),
    done_at: iso(r.done_at),
    finished_at: iso(r.finished_at),
  };
}

/** The owner's SMS, newest request first. */
export async function listSmsMessages(knex: Knex, ownerId: string, f: { status?: SmsStatus | undefined }, page: PageRequest): Promise<Page<SmsMessageView>> {
  const q = knex('sms_messages').where('owner_id', ownerId);
  if (f.status) q.andWhere('status', f.status);
  const ordered = q.select(MESSAGE_COLUMNS).orderBy([
    { column: 'requested_at', order: 'desc' },
    { column: 'id', order: 'desc' },
  ]);
  const { rows, total } = await selectPage<Record<string, any>>(knex, ordered, page);
  return pageOf(rows.map(messageView), page, total);
}

/** One of the owner's SMS; null for an unknown one or another user's. */
export async function findSmsMessage(knex: Knex, ownerId: string, id: string): Promise<SmsMessageView | null> {
  const row = await knex('sms_messages').where({ owner_id: ownerId, id }).first(MESSAGE_COLUMNS);
  return row ? messageView(row) : null;
}

/**
 * The inbound messages routed to the owners (the caller, or the members of
 * their data scope) or to their organization, newest first.
 */
export async function listInboundSms(
  knex: Knex,
  owners: string | { ownerIds: readonly string[]; organizationId?: string | null },
  page: PageRequest,
): Promise<Page<SmsInboundView>> {
  const { ownerIds, organizationId = null } = typeof owners === 'string' ? { ownerIds: [owners] } : owners;
  const ordered = knex('sms_inbound')
    .where((q) => {
      q.whereIn('owner_id', [...ownerIds]);
      if (organizationId) q.orWhere('organization_id', organizationId);
    })
    .select(['provider_message_id', 'from_number', 'to_number', 'text', 'route', 'reply_to', 'keyword', 'received_at'])
    .orderBy([
      { column: 'received_at', order: 'desc' },
      { column: 'provider_message_id', order: 'desc' },
    ]);
  const { rows, total } = await selectPage<Record<string, any>>(knex, ordered, page);
  return pageOf(
    rows.map((r) => ({
      id: r.provider_message_id,
      from: r.from_number,
      to: r.to_number,
      text: r.text,
      route: r.route,
      reply_to: r.reply_to ?? null,
      keyword: r.keyword ?? null,
      received_at: iso(r.received_at)!,
    })),
    page,
    total,
  );
}

/**
 * Whom an inbound message from `from` to our number `to` answers: the
 * newest message sent to `from` from that number (or, while its sender is
 * not known yet, to `from` at all) within `withinDays`. Null: nobody.
 */
export async function replyTarget(
  knex: Knex,
  from: string,
  to: string,
  now: Date,
  withinDays = 30,
): Promise<{ messageId: string; ownerId: string; organizationId: string | null } | null> {
  const row = await knex('sms_messages')
    .where('to_number', from)
    .andWhere('requested_at', '>=', new Date(now.getTime() - withinDays * 86_400_000).toISOString())
    .andWhere((q) => q.where('sender_number', to).orWhereNull('sender_number'))
    .whereNot('status', 'failed')
    .orderBy('requested_at', 'desc')
    .first(['id', 'owner_id', 'organization_id']);
  return row ? { messageId: row.id, ownerId: row.owner_id, organizationId: row.organization_id ?? null } : null;
}

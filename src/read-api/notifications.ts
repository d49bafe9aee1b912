import type { Knex } from 'knex';
import { pageOf, type Page, type PageRequest } from './page.js';
import { selectPage } from './page-query.js';
import type { NotificationKind } from '../write-model/notification/events.js';

/** Queries of the `notifications-v1` read model. */

export interface NotificationView {
  id: string;
  kind: NotificationKind;
  title: string;
  body: string;
  data: Record<string, unknown>;
  read: boolean;
  read_at: string | null;
  emailed: boolean;
  created_at: string;
}

export interface NotificationPage extends Page<NotificationView> {
  /** the user's unread notifications, whatever the filter */
  unread_count: number;
}

const iso = (value: unknown): string => (value instanceof Date ? value : new Date(String(value))).toISOString();

const NOTIFICATION_COLUMNS = ['id', 'kind', 'title', 'body', 'data', 'read_at', 'emailed_at', 'created_at'] as const;

function toView(row: Record<string, any>): NotificationView {
  return {
    id: row.id,
    kind: row.kind,
    title: row.title,
    body: row.body,
    data: typeof row.data === 'string' ? JSON.parse(row.data) : (row.data ?? {}),
    read: row.read_at != null,
    read_at: row.read_at == null ? null : iso(row.read_at),
    emailed: row.emailed_at != null,
    created_at: iso(row.created_at),
  };
}

/** The user's notifications, newest first (then latest sent); `unread` keeps the unread ones only. */
export async function listNotifications(knex: Knex, userId: string, request: PageRequest & { unread?: boolean }): Promise<NotificationPage> {
  const base = () => {
    const q = knex('notifications').where({ user_id: userId });
    return request.unread ? q.whereNull('read_at') : q;
  };
  const ordered = base()
    .select(NOTIFICATION_COLUMNS)
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'seq', order: 'desc' },
    ]);
  const unread = knex('notifications').where({ user_id: userId }).whereNull('read_at');
  const { rows, total, counts } = await selectPage(knex, ordered, request, { unread });
  return { ...pageOf(rows.map(toView), request, total), unread_count: counts.unread! };
}

export async function countUnread(knex: Knex, userId: string): Promise<number> {
  const counted = await knex('notifications').where({ user_id: userId }).whereNull('read_at').count<{ total: string }[]>({ total: '*' });
  return Number(counted[0]?.total ?? 0);
}

import type { Knex } from 'knex';
import { selectPage } from './page-query.js';
import { prepared } from '../adapters/db/prepared.js';
import { pageOf, type Page, type PageRequest } from '../adapters/http/pagination.js';

/** Queries of the `users-v1` read model. Rows hold no secrets; these map them to the API's shape. */

export interface UserProfileView {
  id: string;
  email: string;
  display_name: string;
  avatar_url: string | null;
  timezone: string | null;
  role: string;
  status: string;
  email_verified: boolean;
  registered_at: string;
  updated_at: string;
}

export interface UserSessionView {
  id: string;
  user_agent: string | null;
  ip: string | null;
  started_at: string;
  last_refreshed_at: string | null;
  expires_at: string;
  ended_at: string | null;
  end_reason: string | null;
}

const iso = (value: unknown): string => (value instanceof Date ? value : new Date(String(value))).toISOString();
const isoOrNull = (value: unknown): string | null => (value == null ? null : iso(value));

/** The profile and the user stream revision it reflects (the ETag), or undefined. */
export async function findUserProfile(knex: Knex, userId: string): Promise<{ profile: UserProfileView; revision: bigint } | undefined> {
  const row = await prepared(
    knex('users')
      .select('id', 'email', 'display_name', 'avatar_url', 'timezone', 'role', 'status', 'email_verified_at', 'registered_at', 'updated_at', 'revision')
      .where({ id: userId })
      .first(),
  );
  if (!row) return undefined;
  return {
    revision: BigInt(row.revision),
    profile: {
      id: row.id,
      email: row.email,
      display_name: row.display_name,
      avatar_url: row.avatar_url,
      timezone: row.timezone,
      role: row.role,
      status: row.status,
      email_verified: row.email_verified_at != null,
      registered_at: iso(row.registered_at),
      updated_at: iso(row.updated_at),
    },
  };
}

/** A user's sessions, newest first (ended ones included, marked by ended_at / end_reason). */
export async function listUserSessions(knex: Knex, userId: string, page: PageRequest): Promise<Page<UserSessionView>> {
  const ordered = knex('user_sessions')
    .select('id', 'user_agent', 'ip', 'started_at', 'last_refreshed_at', 'expires_at', 'ended_at', 'end_reason')
    .where({ user_id: userId })
    .orderBy([{ column: 'started_at', order: 'desc' }, { column: 'id', order: 'asc' }]);
  const { rows, total: count } = await selectPage<Record<string, any>>(knex, ordered, page);
  const items = rows.map((row) => ({
    id: row.id,
    user_agent: row.user_agent,
    ip: row.ip,
    started_at: iso(row.started_at),
    last_refreshed_at: isoOrNull(row.last_refreshed_at),
    expires_at: iso(row.expires_at),
    ended_at: isoOrNull(row.ended_at),
    end_reason: row.end_reason,
  }));
  return pageOf(items, page, Number(count));
}

import type { Knex } from 'knex';
import { selectPage } from './page-query.js';
import { prepared } from './prepared.js';
import { pageOf, type Page, type PageRequest } from './page.js';
import { NOTIFICATION_KINDS, type NotificationKind } from '../write-model/notification/events.js';
import type { NotificationChannels } from '../write-model/user/events.js';

/** Queries of the `users-v1` read model. Rows hold no secrets; these map them to the API's shape. */

/** Every notification kind with its channels (a kind never chosen: in-app and mail on, SMS off). */
export type NotificationPreferencesView = Record<NotificationKind, { in_app: boolean; mail: boolean; sms: boolean }>;

export function preferencesView(stored: Record<string, NotificationChannels> | null | undefined): NotificationPreferencesView {
  return Object.fromEntries(
    NOTIFICATION_KINDS.map((kind) => {
      const chosen = stored?.[kind];
      return [kind, { in_app: chosen?.inApp ?? true, mail: chosen?.mail ?? true, sms: chosen?.sms ?? false }];
    }),
  ) as NotificationPreferencesView;
}

export interface UserProfileView {
  id: string;
  email: string;
  username: string | null;
  display_name: string;
  avatar_url: string | null;
  timezone: string | null;
  role: string;
  status: string;
  email_verified: boolean;
  notification_preferences: NotificationPreferencesView;
  /** the verified phone number (SMS notifications and login codes go to it) */
  phone: { number: string; verified_at: string } | null;
  /** the second factors: TOTP off, being enrolled or on, the unused recovery codes, SMS codes on or off */
  mfa: { totp: 'off' | 'pending' | 'on'; recovery_codes_left: number; sms: boolean };
  registered_at: string;
  updated_at: string;
}

/** What the admin list adds: whether logins need a second factor. */
export interface AdminUserView extends UserProfileView {
  mfa_enabled: boolean;
  revision: string;
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
  const row = await prepared(knex('users').select(PROFILE_COLUMNS).where({ id: userId }).first());
  if (!row) return undefined;
  return { revision: BigInt(row.revision), profile: profileOf(row) };
}

const PROFILE_COLUMNS = [
  'id',
  'email',
  'username',
  'display_name',
  'avatar_url',
  'timezone',
  'role',
  'status',
  'email_verified_at',
  'notification_preferences',
  'mfa_totp',
  'mfa_recovery_codes_left',
  'mfa_sms',
  'phone_e164',
  'phone_verified_at',
  'registered_at',
  'updated_at',
  'revision',
];

function profileOf(row: Record<string, any>): UserProfileView {
  return {
    id: row.id,
    email: row.email,
    username: row.username ?? null,
    display_name: row.display_name,
    avatar_url: row.avatar_url,
    timezone: row.timezone,
    role: row.role,
    status: row.status,
    email_verified: row.email_verified_at != null,
    notification_preferences: preferencesView(row.notification_preferences),
    phone: row.phone_e164 ? { number: row.phone_e164, verified_at: iso(row.phone_verified_at) } : null,
    mfa: { totp: row.mfa_totp ?? 'off', recovery_codes_left: Number(row.mfa_recovery_codes_left ?? 0), sms: row.mfa_sms === true },
    registered_at: iso(row.registered_at),
    updated_at: iso(row.updated_at),
  };
}

export interface UserSearch {
  /** a prefix of the email, the username or the display name (case-insensitive) */
  q?: string;
  role?: string;
  status?: string;
  emailVerified?: boolean;
  registeredFrom?: string;
  registeredTo?: string;
  /** a second factor on (TOTP or SMS; true) or none */
  mfaEnabled?: boolean;
}

function adminView(row: Record<string, any>): AdminUserView {
  return { ...profileOf(row), mfa_enabled: row.mfa_totp === 'on' || row.mfa_sms === true, revision: String(row.revision) };
}

/** Users for the admin list, newest registrations first. */
export async function searchUsers(knex: Knex, search: UserSearch, page: PageRequest): Promise<Page<AdminUserView>> {
  const query = knex('users').select(PROFILE_COLUMNS);
  if (search.q !== undefined) {
    const prefix = `${search.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query.where((w) => w.where('email', 'like', prefix).orWhere('username', 'like', prefix).orWhereRaw('lower(display_name) LIKE ?', [prefix]));
  }
  if (search.role !== undefined) query.where('role', search.role);
  if (search.status !== undefined) query.where('status', search.status);
  if (search.emailVerified !== undefined) query.where((w) => (search.emailVerified ? w.whereNotNull('email_verified_at') : w.whereNull('email_verified_at')));
  if (search.registeredFrom !== undefined) query.where('registered_at', '>=', search.registeredFrom);
  if (search.registeredTo !== undefined) query.where('registered_at', '<', search.registeredTo);
  if (search.mfaEnabled !== undefined)
    query.where((w) => (search.mfaEnabled ? w.where('mfa_totp', 'on').orWhere('mfa_sms', true) : w.whereNot('mfa_totp', 'on').andWhere('mfa_sms', false)));
  query.orderBy([
    { column: 'registered_at', order: 'desc' },
    { column: 'id', order: 'asc' },
  ]);
  const { rows, total } = await selectPage<Record<string, any>>(knex, query, page);
  return pageOf(rows.map(adminView), page, Number(total));
}

/** One user for the admin, or undefined. */
export async function findUser(knex: Knex, userId: string): Promise<AdminUserView | undefined> {
  const row = await prepared(knex('users').select(PROFILE_COLUMNS).where({ id: userId }).first());
  return row ? adminView(row) : undefined;
}

/** A user's sessions, newest first (ended ones included, marked by ended_at / end_reason). */
export async function listUserSessions(knex: Knex, userId: string, page: PageRequest): Promise<Page<UserSessionView>> {
  const ordered = knex('user_sessions')
    .select('id', 'user_agent', 'ip', 'started_at', 'last_refreshed_at', 'expires_at', 'ended_at', 'end_reason')
    .where({ user_id: userId })
    .orderBy([
      { column: 'started_at', order: 'desc' },
      { column: 'id', order: 'asc' },
    ]);
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

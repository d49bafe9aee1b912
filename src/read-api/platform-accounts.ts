import type { Knex } from 'knex';
import { selectPage } from './page-query.js';
import { pageOf, type Page, type PageRequest } from './page.js';
import { ownedBy, type Owners } from './owners.js';

/** Queries of the `platform-accounts-v1` read model (platform_accounts). No credentials: the table has none. */

export const ACCOUNT_STATUSES = ['pending_verification', 'active', 'invalid', 'disconnected'] as const;
export type AccountStatusFilter = (typeof ACCOUNT_STATUSES)[number];

export interface PlatformAccountView {
  id: string;
  /** a user's id, or the organization's for an account it owns */
  owner_id: string;
  platform: string;
  platform_user_id: string | null;
  display_name: string;
  nickname: string | null;
  status: AccountStatusFilter;
  health_score: number;
  health_level: string;
  last_invalidation_reason: string | null;
  invalidated_at: string | null;
  verified_at: string | null;
  connected_at: string;
  disconnected_at: string | null;
  updated_at: string;
  /** always true: every account is connected with credentials (cookies or OAuth tokens); they are never shown */
  has_credentials: true;
  /** how the account is bound: cookies the owner gave, or OAuth tokens the platform granted */
  binding: 'cookies' | 'oauth';
  /** OAuth: when the access token expires (the refresh job renews it before); null for cookies */
  token_expires_at: string | null;
  /** the stream revision the row reflects (also the ETag) */
  revision: string;
}

export interface PlatformAccountRow {
  view: PlatformAccountView;
  ownerId: string;
}

export interface AccountListFilter {
  platform?: string;
  /** given: only that status (disconnected included); absent: every status but disconnected */
  status?: AccountStatusFilter;
}

const COLUMNS = [
  'id',
  'owner_id',
  'platform',
  'platform_user_id',
  'display_name',
  'nickname',
  'status',
  'health_score',
  'health_level',
  'last_invalidation_reason',
  'invalidated_at',
  'verified_at',
  'connected_at',
  'disconnected_at',
  'updated_at',
  'binding',
  'token_expires_at',
  'last_revision',
];

const iso = (value: unknown): string => (value instanceof Date ? value : new Date(String(value))).toISOString();
const isoOrNull = (value: unknown): string | null => (value == null ? null : iso(value));

function toView(row: Record<string, any>): PlatformAccountView {
  return {
    id: row.id,
    owner_id: row.owner_id,
    platform: row.platform,
    platform_user_id: row.platform_user_id,
    display_name: row.display_name,
    nickname: row.nickname,
    status: row.status,
    health_score: Number(row.health_score),
    health_level: row.health_level,
    last_invalidation_reason: row.last_invalidation_reason,
    invalidated_at: isoOrNull(row.invalidated_at),
    verified_at: isoOrNull(row.verified_at),
    connected_at: iso(row.connected_at),
    disconnected_at: isoOrNull(row.disconnected_at),
    updated_at: iso(row.updated_at),
    has_credentials: true,
    binding: row.binding === 'oauth' ? 'oauth' : 'cookies',
    token_expires_at: isoOrNull(row.token_expires_at),
    revision: String(row.last_revision),
  };
}

/** An owner's accounts, newest first; disconnected ones only when asked for by status. */
export async function listPlatformAccounts(knex: Knex, ownerId: Owners, filter: AccountListFilter, page: PageRequest): Promise<Page<PlatformAccountView>> {
  const where = (q: Knex.QueryBuilder) => {
    ownedBy(q, ownerId);
    if (filter.platform) q.andWhere({ platform: filter.platform });
    if (filter.status) q.andWhere({ status: filter.status });
    else q.andWhereNot({ status: 'disconnected' });
    return q;
  };
  const ordered = where(knex('platform_accounts').select(COLUMNS)).orderBy([
    { column: 'connected_at', order: 'desc' },
    { column: 'id', order: 'asc' },
  ]);
  const { rows, total } = await selectPage<Record<string, any>>(knex, ordered, page);
  return pageOf(rows.map(toView), page, total);
}

/** One account with its owner; undefined when unknown. The caller checks the owner. */
export async function findPlatformAccount(knex: Knex, id: string): Promise<PlatformAccountRow | undefined> {
  const row = await knex('platform_accounts').select(COLUMNS).where({ id }).first();
  return row ? { view: toView(row), ownerId: row.owner_id } : undefined;
}

import type { Knex } from 'knex';
import { pageOf, type Page, type PageRequest } from './page.js';
import { selectPage } from './page-query.js';
import type { ApiKeyScope } from '../write-model/api-key/events.js';

const COLUMNS = ['id', 'name', 'scopes', 'prefix', 'created_at', 'expires_at', 'revoked_at', 'last_used_day'] as const;

/** A key as GET /api/v1/users/api-keys shows it: never the secret, nor its hash. */
export interface ApiKeyView {
  id: string;
  name: string;
  scopes: ApiKeyScope[];
  prefix: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_day: string | null;
  /** active, expired or revoked (now) */
  status: 'active' | 'expired' | 'revoked';
}

interface Row {
  id: string;
  name: string;
  scopes: ApiKeyScope[];
  prefix: string;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_day: string | null;
}

function view(row: Row, now: Date): ApiKeyView {
  const status = row.revoked_at !== null ? 'revoked' : row.expires_at !== null && row.expires_at.getTime() <= now.getTime() ? 'expired' : 'active';
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes,
    prefix: row.prefix,
    created_at: row.created_at.toISOString(),
    expires_at: row.expires_at?.toISOString() ?? null,
    revoked_at: row.revoked_at?.toISOString() ?? null,
    last_used_day: row.last_used_day,
    status,
  };
}

/** The user's keys, newest first, revoked and expired ones included. */
export async function listApiKeys(knex: Knex, userId: string, page: PageRequest, now = new Date()): Promise<Page<ApiKeyView>> {
  const ordered = knex('api_keys')
    .where({ user_id: userId })
    .select(COLUMNS)
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ]);
  const { rows, total } = await selectPage<Record<string, unknown>>(knex, ordered, page);
  return pageOf(
    rows.map((r) => view(r as unknown as Row, now)),
    page,
    total,
  );
}

/** How many of the user's keys are neither revoked nor expired. */
export async function countActiveApiKeys(knex: Knex, userId: string, now = new Date()): Promise<number> {
  const counted = await knex('api_keys')
    .where({ user_id: userId })
    .whereNull('revoked_at')
    .andWhere((q) => q.whereNull('expires_at').orWhere('expires_at', '>', now))
    .count<{ n: string }[]>({ n: '*' });
  return Number(counted[0]?.n ?? 0);
}

import type { Knex } from 'knex';
import { ownedBy, type Owners } from './owners.js';
import { offsetOf, pageOf, type Page, type PageRequest } from './page.js';
import type { NovelAlertKind } from '../write-model/novel-alert/events.js';

/**
 * Queries of the `qidian-alerts-v1` read model: the alert rules and keyword
 * watches of the owners a data scope reaches, newest first. Deleted rules
 * and unwatched keywords are not listed. The novel's title comes from the
 * rule owner's latest capture (qidian_novels; null until collected).
 */

const iso = (value: unknown): string => (value instanceof Date ? value : new Date(String(value))).toISOString();

export interface AlertView {
  id: string;
  /** whose rule it is */
  owner_id: string;
  novel_id: string;
  novel_title: string | null;
  kind: NovelAlertKind;
  words: number | null;
  status: string;
  created_at: string;
  updated_at: string;
  revision: string;
}

function toAlert(row: Record<string, any>): AlertView {
  return {
    id: row.id,
    owner_id: row.user_id,
    novel_id: row.novel_id,
    novel_title: row.novel_title ?? null,
    kind: row.kind,
    words: row.words == null ? null : Number(row.words),
    status: row.status,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    revision: String(row.last_revision),
  };
}

function alertsQuery(knex: Knex, owners: Owners) {
  const q = knex('qidian_alerts as a')
    .leftJoin('qidian_novels as n', function () {
      this.on('n.owner_id', '=', 'a.user_id').andOn('n.novel_id', '=', 'a.novel_id');
    })
    .where({ 'a.status': 'active' });
  return ownedBy(q, owners, 'a.user_id');
}

export async function listAlerts(knex: Knex, userId: Owners, page: PageRequest, filter: { novelId?: string } = {}): Promise<Page<AlertView>> {
  const base = () => {
    const q = alertsQuery(knex, userId);
    return filter.novelId ? q.andWhere('a.novel_id', filter.novelId) : q;
  };
  const [{ total }] = (await base().count({ total: '*' })) as [{ total: string }];
  const rows = await base()
    .select('a.*', 'n.title as novel_title')
    .orderBy([
      { column: 'a.created_at', order: 'desc' },
      { column: 'a.id', order: 'desc' },
    ])
    .offset(offsetOf(page))
    .limit(page.per_page);
  return pageOf(rows.map(toAlert), page, Number(total));
}

export interface KeywordView {
  id: string;
  /** who watches it */
  owner_id: string;
  keyword: string;
  status: string;
  created_at: string;
  updated_at: string;
}

export async function listKeywords(knex: Knex, owners: Owners, page: PageRequest): Promise<Page<KeywordView>> {
  const base = () => ownedBy(knex('qidian_keywords').where({ status: 'watching' }), owners, 'user_id');
  const [{ total }] = (await base().count({ total: '*' })) as [{ total: string }];
  const rows = await base()
    .select('*')
    .orderBy([
      { column: 'created_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ])
    .offset(offsetOf(page))
    .limit(page.per_page);
  return pageOf(
    rows.map((r: Record<string, any>) => ({
      id: r.id,
      owner_id: r.user_id,
      keyword: r.keyword,
      status: r.status,
      created_at: iso(r.created_at),
      updated_at: iso(r.updated_at),
    })),
    page,
    Number(total),
  );
}

/** How many keywords the user watches (as the read model has it). */
export async function countKeywords(knex: Knex, userId: string): Promise<number> {
  const [{ total }] = (await knex('qidian_keywords').where({ user_id: userId, status: 'watching' }).count({ total: '*' })) as [{ total: string }];
  return Number(total);
}

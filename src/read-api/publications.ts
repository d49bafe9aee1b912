import type { Knex } from 'knex';
import { PUBLICATION_STATUSES, type PublicationFailureCode, type PublicationStatus } from '../write-model/publication/events.js';
import { pageOf, type Page, type PageRequest } from './page.js';
import { selectPage } from './page-query.js';
import { ownedBy, type Owners } from './owners.js';

/**
 * Queries over `publications` and `publication_history` (projection
 * `publications-v1`): a user's publications, one per article version and
 * target account, with their review, attempts, post, metrics and history.
 * Always the caller's own rows.
 */

export { PUBLICATION_STATUSES };

export const REVIEW_STATUSES = ['pending', 'approved', 'rejected', 'withdrawn'] as const;

export interface PublicationView {
  id: string;
  status: PublicationStatus;
  article_id: string;
  article_version: number;
  account_id: string;
  platform: string;
  region: string;
  title: string;
  scheduled_at: string | null;
  review: {
    /** the automatic pre-review: passed, flagged (sent to a human review), or null while not run */
    pre_review: 'passed' | 'flagged' | null;
    hits: number | null;
    review_id: string | null;
    status: (typeof REVIEW_STATUSES)[number] | null;
  };
  attempts: number;
  last_error: string | null;
  next_attempt_at: string | null;
  post: { id: string; url: string; published_at: string | null; recovered: boolean } | null;
  failure: { code: PublicationFailureCode; reason: string } | null;
  unpublish_requested: boolean;
  metrics: { views: number | null; likes: number | null; comments: number | null; extra: Record<string, number>; read_at: string } | null;
  requested_at: string;
  updated_at: string;
}

export interface PublicationHistoryEntry {
  revision: number;
  event: string;
  status: PublicationStatus;
  at: string;
  detail: Record<string, unknown>;
}

export interface PublicationFilters {
  status?: PublicationStatus | undefined;
  article_id?: string | undefined;
  account_id?: string | undefined;
  platform?: string | undefined;
}

const COLUMNS = [
  'id',
  'status',
  'article_id',
  'article_version',
  'account_id',
  'platform',
  'region',
  'title',
  'scheduled_at',
  'pre_review',
  'review_id',
  'review_status',
  'review_hits',
  'attempts',
  'last_error',
  'next_attempt_at',
  'post_id',
  'post_url',
  'published_at',
  'recovered',
  'failure_code',
  'failure_reason',
  'unpublish_requested',
  'views',
  'likes',
  'comments',
  'metrics_extra',
  'metrics_read_at',
  'requested_at',
  'updated_at',
];

const isoOrNull = (v: unknown): string | null => (v instanceof Date ? v.toISOString() : typeof v === 'string' ? new Date(v).toISOString() : null);
const numberOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function view(r: Record<string, any>): PublicationView {
  return {
    id: r.id,
    status: r.status,
    article_id: r.article_id,
    article_version: Number(r.article_version),
    account_id: r.account_id,
    platform: r.platform,
    region: r.region,
    title: r.title,
    scheduled_at: isoOrNull(r.scheduled_at),
    review: { pre_review: r.pre_review ?? null, hits: numberOrNull(r.review_hits), review_id: r.review_id ?? null, status: r.review_status ?? null },
    attempts: Number(r.attempts),
    last_error: r.last_error ?? null,
    next_attempt_at: isoOrNull(r.next_attempt_at),
    post: r.post_id ? { id: r.post_id, url: r.post_url, published_at: isoOrNull(r.published_at), recovered: r.recovered === true } : null,
    failure: r.failure_code ? { code: r.failure_code, reason: r.failure_reason ?? '' } : null,
    unpublish_requested: r.unpublish_requested === true,
    metrics: r.metrics_read_at
      ? {
          views: numberOrNull(r.views),
          likes: numberOrNull(r.likes),
          comments: numberOrNull(r.comments),
          extra: r.metrics_extra ?? {},
          read_at: isoOrNull(r.metrics_read_at)!,
        }
      : null,
    requested_at: isoOrNull(r.requested_at)!,
    updated_at: isoOrNull(r.updated_at)!,
  };
}

/** The owner's publications, newest request first. */
export async function listPublications(knex: Knex, ownerId: Owners, f: PublicationFilters, page: PageRequest): Promise<Page<PublicationView>> {
  const q = ownedBy(knex('publications'), ownerId);
  if (f.status) q.andWhere('status', f.status);
  if (f.article_id) q.andWhere('article_id', f.article_id);
  if (f.account_id) q.andWhere('account_id', f.account_id);
  if (f.platform) q.andWhere('platform', f.platform);
  const ordered = q.select(COLUMNS).orderBy([
    { column: 'requested_at', order: 'desc' },
    { column: 'id', order: 'desc' },
  ]);
  const { rows, total } = await selectPage<Record<string, any>>(knex, ordered, page);
  return pageOf(rows.map(view), page, total);
}

/** One of the owner's publications with its history (oldest first); null for an unknown one or another user's. */
export async function findPublication(knex: Knex, ownerId: Owners, id: string): Promise<(PublicationView & { history: PublicationHistoryEntry[] }) | null> {
  const row = await ownedBy(knex('publications').where({ id }), ownerId).first(COLUMNS);
  if (!row) return null;
  const history = await knex('publication_history')
    .where({ publication_id: id })
    .orderBy('revision', 'asc')
    .select('revision', 'event', 'status', 'at', 'detail');
  return {
    ...view(row),
    history: history.map((h: Record<string, any>) => ({
      revision: Number(h.revision),
      event: h.event,
      status: h.status,
      at: isoOrNull(h.at)!,
      detail: h.detail ?? {},
    })),
  };
}

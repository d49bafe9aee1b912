import type { Knex } from 'knex';
import type { RedLineCategory, ReviewRuleParams, RuleKind } from '../write-model/review-rules/events.js';
import type { ReviewHit } from '../write-model/review/events.js';
import { pageOf, type Page, type PageRequest } from './page.js';
import { selectPage } from './page-query.js';

/**
 * Queries over the content-review read models (`reviews`, projection
 * `reviews-v1`; `review_rules`, projection `review-rules-v1`). Who may ask
 * what is the review policy's business (src/application/review/policy.ts):
 * the queue is for reviewers and admins, an author sees only their own
 * reviews (`ownerId`), a scope's rules are listed only for whom may read
 * that scope.
 */

export const REVIEW_STATUSES = ['open', 'approved', 'rejected', 'withdrawn'] as const;
export type ReviewStatus = (typeof REVIEW_STATUSES)[number];

export interface ReviewSummaryView {
  id: string;
  /** what is reviewed: a publication, or an SMS batch (publication_id and article_id then name the batch) */
  subject: 'publication' | 'sms_batch';
  publication_id: string;
  article_id: string;
  article_version: number;
  owner_id: string;
  platform: string;
  region: string | null;
  title: string;
  status: ReviewStatus;
  hit_count: number;
  opened_at: string;
  claimed_by: string | null;
  claimed_at: string | null;
  decided_by: string | null;
  decided_at: string | null;
  comment: string | null;
  /** decided: how long it waited; open: how long it has waited so far */
  waited_seconds: number;
}

export interface ReviewView extends ReviewSummaryView {
  hits: ReviewHit[];
  /** what was reviewed; null when neither the review nor the article version holds it */
  content: { title: string; summary: string | null; body: string; tags: string[] } | null;
}

export interface ReviewFilters {
  status?: ReviewStatus | undefined;
  platform?: string | undefined;
  /** only this author's reviews (an author's own list) */
  ownerId?: string | undefined;
  /** several authors (a data scope: a team's, an organization's); newest first too */
  ownerIds?: readonly string[] | undefined;
}

const SUMMARY_COLUMNS = [
  'id',
  'subject',
  'publication_id',
  'article_id',
  'article_version',
  'owner_id',
  'platform',
  'region',
  'title',
  'status',
  'hit_count',
  'opened_at',
  'claimed_by',
  'claimed_at',
  'decided_by',
  'decided_at',
  'comment',
  'waited_seconds',
];

const iso = (v: unknown): string | null => (v instanceof Date ? v.toISOString() : typeof v === 'string' ? new Date(v).toISOString() : null);

function summary(r: Record<string, any>, now: Date): ReviewSummaryView {
  const openedAt = iso(r.opened_at)!;
  return {
    id: r.id,
    subject: r.subject === 'sms_batch' ? 'sms_batch' : 'publication',
    publication_id: r.publication_id,
    article_id: r.article_id,
    article_version: Number(r.article_version),
    owner_id: r.owner_id,
    platform: r.platform,
    region: r.region ?? null,
    title: r.title,
    status: r.status,
    hit_count: Number(r.hit_count),
    opened_at: openedAt,
    claimed_by: r.claimed_by ?? null,
    claimed_at: iso(r.claimed_at),
    decided_by: r.decided_by ?? null,
    decided_at: iso(r.decided_at),
    comment: r.comment ?? null,
    waited_seconds:
      r.waited_seconds !== null && r.waited_seconds !== undefined
        ? Number(r.waited_seconds)
        : Math.max(0, Math.floor(((r.decided_at ? Date.parse(iso(r.decided_at)!) : now.getTime()) - Date.parse(openedAt)) / 1000)),
  };
}

/**
 * Reviews, oldest opened first (the queue's order) — or, for an author's own
 * list, newest first. Filters combine with AND.
 */
export async function listReviews(knex: Knex, f: ReviewFilters, page: PageRequest, now: Date = new Date()): Promise<Page<ReviewSummaryView>> {
  const q = knex('reviews');
  if (f.ownerId !== undefined) q.where('owner_id', f.ownerId);
  if (f.ownerIds !== undefined) q.whereIn('owner_id', [...f.ownerIds]);
  if (f.status) q.andWhere('status', f.status);
  if (f.platform) q.andWhere('platform', f.platform);
  const order = f.ownerId !== undefined || f.ownerIds !== undefined ? 'desc' : 'asc';
  const ordered = q.select(SUMMARY_COLUMNS).orderBy([
    { column: 'opened_at', order },
    { column: 'id', order },
  ]);
  const { rows, total } = await selectPage<Record<string, any>>(knex, ordered, page);
  return pageOf(
    rows.map((r) => summary(r, now)),
    page,
    total,
  );
}

/**
 * One review with its hits and the content under review: as the review
 * holds it, else the article version's (article_versions, when that read
 * model has it). null for an unknown review.
 */
export async function findReview(knex: Knex, id: string, now: Date = new Date()): Promise<ReviewView | null> {
  const row = await knex('reviews')
    .where({ id })
    .first([...SUMMARY_COLUMNS, 'hits', 'content']);
  if (!row) return null;
  let content: ReviewView['content'] = null;
  if (row.content) {
    content = { title: row.title, summary: row.content.summary ?? null, body: row.content.body, tags: row.content.tags ?? [] };
  } else {
    const version = await articleVersion(knex, row.article_id, Number(row.article_version), row.owner_id);
    if (version) content = version;
  }
  return { ...summary(row, now), hits: row.hits as ReviewHit[], content };
}

async function articleVersion(knex: Knex, articleId: string, version: number, ownerId: string): Promise<ReviewView['content']> {
  // the articles' read model (articles-v1) keeps every version's content
  const v = await knex('article_versions').where({ article_id: articleId, version, owner_id: ownerId }).first(['title', 'summary', 'body', 'tags']);
  return v ? { title: v.title, summary: v.summary ?? null, body: v.body, tags: v.tags ?? [] } : null;
}

// ---------------------------------------------------------------- rules

export interface ReviewRuleSummaryView {
  id: string;
  scope: 'platform' | 'mine';
  kind: RuleKind;
  name: string;
  category: RedLineCategory | null;
  phrase_count: number;
  platforms: string[];
  regions: string[];
  params: ReviewRuleParams;
  enabled: boolean;
  created_at: string;
  updated_at: string;
  updated_by: string;
}

const RULE_COLUMNS = [
  'id',
  'scope',
  'kind',
  'name',
  'category',
  'phrase_count',
  'platforms',
  'regions',
  'params',
  'enabled',
  'created_at',
  'updated_at',
  'updated_by',
];

/** The rules of one scope (`platform` or a tenant's user id), by name; phrases are counted, not listed (GET one for them). */
export async function listReviewRules(knex: Knex, scope: string, page: PageRequest): Promise<Page<ReviewRuleSummaryView>> {
  const ordered = knex('review_rules')
    .where({ scope, removed: false })
    .select(RULE_COLUMNS)
    .orderBy([
      { column: 'name', order: 'asc' },
      { column: 'id', order: 'asc' },
    ]);
  const { rows, total } = await selectPage<Record<string, any>>(knex, ordered, page);
  return pageOf(
    rows.map((r) => ({
      id: r.id,
      scope: r.scope === 'platform' ? 'platform' : 'mine',
      kind: r.kind,
      name: r.name,
      category: r.category ?? null,
      phrase_count: Number(r.phrase_count),
      platforms: r.platforms ?? [],
      regions: r.regions ?? [],
      params: r.params ?? {},
      enabled: r.enabled === true,
      created_at: iso(r.created_at)!,
      updated_at: iso(r.updated_at)!,
      updated_by: r.updated_by,
    })),
    page,
    total,
  );
}

import type { Knex } from 'knex';
import { pageOf, type Page, type PageRequest } from './page.js';
import { selectPage } from './page-query.js';
import type { MediaContentType } from '../write-model/media/events.js';
import { ownedBy, type Owners } from './owners.js';

/**
 * Queries over the `articles-v1` read model: `articles`, `article_versions`
 * and `media`. Always the caller's own rows; deleted ones are not shown.
 */

export const ARTICLE_SORTS = ['updated_at', 'created_at', 'title', 'word_count'] as const;
export type ArticleSort = (typeof ARTICLE_SORTS)[number];

export interface ArticleSummaryView {
  id: string;
  /** a user's id, or the organization's for an article it owns */
  owner_id: string;
  version: number;
  title: string;
  summary: string | null;
  tags: string[];
  cover_media_id: string | null;
  image_count: number;
  word_count: number;
  created_at: string;
  updated_at: string;
  /** the stream revision: If-Match for PUT */
  revision: string;
}

export interface ArticleVersionView {
  version: number;
  title: string;
  body: string;
  summary: string | null;
  tags: string[];
  cover_media_id: string | null;
  image_media_ids: string[];
  word_count: number;
  created_at: string;
}

export type ArticleVersionSummaryView = Omit<ArticleVersionView, 'body'>;

export interface ArticleView extends ArticleSummaryView {
  body: string;
  image_media_ids: string[];
}

export interface MediaView {
  id: string;
  content_type: MediaContentType;
  size_bytes: number;
  width: number | null;
  height: number | null;
  sha256: string;
  uploaded_at: string;
  url: string;
}

export interface ArticleFilters {
  /** words searched in title, summary and tags (case-insensitive, every word must match) */
  q?: string | undefined;
  tag?: string | undefined;
  sort?: ArticleSort | undefined;
  order?: 'asc' | 'desc' | undefined;
}

const iso = (v: unknown): string => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());

const SUMMARY_COLUMNS = [
  'id',
  'owner_id',
  'version',
  'title',
  'summary',
  'tags',
  'cover_media_id',
  'image_count',
  'word_count',
  'created_at',
  'updated_at',
  'last_revision',
];

function summaryView(r: Record<string, any>): ArticleSummaryView {
  return {
    id: r.id,
    owner_id: r.owner_id,
    version: Number(r.version),
    title: r.title,
    summary: r.summary ?? null,
    tags: r.tags ?? [],
    cover_media_id: r.cover_media_id ?? null,
    image_count: Number(r.image_count),
    word_count: Number(r.word_count),
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
    revision: String(r.last_revision),
  };
}

function versionView(r: Record<string, any>): ArticleVersionView {
  return {
    version: Number(r.version),
    title: r.title,
    body: r.body,
    summary: r.summary ?? null,
    tags: r.tags ?? [],
    cover_media_id: r.cover_media_id ?? null,
    image_media_ids: r.image_media_ids ?? [],
    word_count: Number(r.word_count),
    created_at: iso(r.created_at),
  };
}

/** `%` and `_` taken literally in ILIKE. */
const likeEscaped = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The owner's live articles, filtered and sorted (ties: newest id first). */
export async function listArticles(knex: Knex, ownerId: Owners, f: ArticleFilters, page: PageRequest): Promise<Page<ArticleSummaryView>> {
  const q = ownedBy(knex('articles').where({ status: 'active' }), ownerId);
  if (f.tag) q.andWhereRaw('tags @> ARRAY[?]::text[]', [f.tag]);
  for (const word of (f.q ?? '').split(/\s+/).filter(Boolean)) {
    const like = `%${likeEscaped(word)}%`;
    q.andWhere((w) =>
      w
        .whereRaw('title ILIKE ?', [like])
        .orWhereRaw('summary ILIKE ?', [like])
        .orWhereRaw('EXISTS (SELECT 1 FROM unnest(tags) AS tag WHERE tag ILIKE ?)', [like]),
    );
  }
  const order = f.order ?? 'desc';
  const ordered = q.select(SUMMARY_COLUMNS).orderBy([
    { column: f.sort ?? 'updated_at', order },
    { column: 'id', order: 'desc' },
  ]);
  const { rows, total } = await selectPage<Record<string, any>>(knex, ordered, page);
  return pageOf(rows.map(summaryView), page, total);
}

/** One of the owner's live articles with its current version's body; null for an unknown, deleted or someone else's one. */
export async function findArticle(knex: Knex, ownerId: Owners, id: string): Promise<ArticleView | null> {
  const row = await ownedBy(
    knex('articles as a')
      .join('article_versions as v', (j) => j.on('v.article_id', 'a.id').andOn('v.version', 'a.version'))
      .where({ 'a.id': id, 'a.status': 'active' }),
    ownerId,
    'a.owner_id',
  ).first([...SUMMARY_COLUMNS.map((c) => `a.${c}`), 'v.body', 'v.image_media_ids']);
  return row ? { ...summaryView(row), body: row.body, image_media_ids: row.image_media_ids ?? [] } : null;
}

async function ownsArticle(knex: Knex, ownerId: Owners, id: string): Promise<boolean> {
  return (await ownedBy(knex('articles').where({ id, status: 'active' }), ownerId).first('id')) !== undefined;
}

/** The versions of the owner's live article, newest first, without their bodies; null when the article is not theirs (or gone). */
export async function listArticleVersions(knex: Knex, ownerId: Owners, id: string, page: PageRequest): Promise<Page<ArticleVersionSummaryView> | null> {
  if (!(await ownsArticle(knex, ownerId, id))) return null;
  const ordered = ownedBy(knex('article_versions').where({ article_id: id }), ownerId)
    .select('version', 'title', 'summary', 'tags', 'cover_media_id', 'image_media_ids', 'word_count', 'created_at')
    .orderBy('version', 'desc');
  const { rows, total } = await selectPage<Record<string, any>>(knex, ordered, page);
  return pageOf(
    rows.map((r) => {
      const { body: _body, ...rest } = versionView({ ...r, body: '' });
      return rest;
    }),
    page,
    total,
  );
}

/** One version of the owner's live article, whole; null when there is no such version or the article is not theirs. */
export async function findArticleVersion(knex: Knex, ownerId: Owners, id: string, version: number): Promise<ArticleVersionView | null> {
  if (!(await ownsArticle(knex, ownerId, id))) return null;
  const row = await ownedBy(knex('article_versions').where({ article_id: id, version }), ownerId).first(
    'version',
    'title',
    'body',
    'summary',
    'tags',
    'cover_media_id',
    'image_media_ids',
    'word_count',
    'created_at',
  );
  return row ? versionView(row) : null;
}

const MEDIA_COLUMNS = ['id', 'content_type', 'size_bytes', 'width', 'height', 'sha256', 'uploaded_at'];

export function mediaView(r: Record<string, any>): MediaView {
  return {
    id: r.id,
    content_type: r.content_type,
    size_bytes: Number(r.size_bytes),
    width: r.width ?? null,
    height: r.height ?? null,
    sha256: r.sha256,
    uploaded_at: iso(r.uploaded_at),
    url: `/api/v1/media/${r.id}`,
  };
}

/** The owner's live uploads, newest first. */
/** The owners' live uploads (a member's own and their organization's), newest first. */
export async function listMedia(knex: Knex, owners: Owners, page: PageRequest): Promise<Page<MediaView>> {
  const ordered = ownedBy(knex('media'), owners)
    .where({ status: 'active' })
    .select(MEDIA_COLUMNS)
    .orderBy([
      { column: 'uploaded_at', order: 'desc' },
      { column: 'id', order: 'desc' },
    ]);
  const { rows, total } = await selectPage<Record<string, any>>(knex, ordered, page);
  return pageOf(rows.map(mediaView), page, total);
}

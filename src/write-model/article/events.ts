import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';

/**
 * One article a user writes (and later publishes): stream
 * `article-{articleId}`. Every version is kept whole in its event
 * (ArticleCreated is version 1, each ArticleRevised the next), so any
 * version can be read back exactly as it was published. The stream grows
 * only with the author's own revisions, bounded by MAX_ARTICLE_VERSIONS, and
 * is snapshotted. Every event names the owner. Times are ISO-8601 strings.
 */

/** Limits of one version's content (characters as JavaScript counts them). */
export const ARTICLE_LIMITS = {
  title: 200,
  body: 100_000,
  summary: 500,
  tags: 20,
  tag: 30,
  images: 18,
} as const;

/** Versions one article may have: beyond it, the author starts a new article (the stream stays bounded). */
export const MAX_ARTICLE_VERSIONS = 500;

/** What one version of an article holds. */
export interface ArticleVersionContent {
  /** 1 for the created content, then +1 per revision */
  version: number;
  title: string;
  /** Markdown, as the author wrote it */
  body: string;
  summary: string | null;
  tags: string[];
  /** a media id of the owner's (image), or null */
  coverMediaId: string | null;
  /** media ids of the owner's images, in order */
  imageMediaIds: string[];
}

export interface ArticleCreatedData {
  articleId: string;
  ownerId: string;
  content: ArticleVersionContent;
  createdAt: string;
}

export interface ArticleRevisedData {
  articleId: string;
  ownerId: string;
  /** the whole new version, not a difference */
  content: ArticleVersionContent;
  revisedAt: string;
}

export interface ArticleDeletedData {
  articleId: string;
  ownerId: string;
  /** the version current when it was deleted */
  version: number;
  deletedAt: string;
}

export type ArticleEvent =
  | DomainEvent<'ArticleCreated', ArticleCreatedData>
  | DomainEvent<'ArticleRevised', ArticleRevisedData>
  | DomainEvent<'ArticleDeleted', ArticleDeletedData>;

export type ArticleEventType = ArticleEvent['type'];

// ---------------------------------------------------------------- decoding

const content = z.object({
  version: z.number().int().min(1),
  title: z.string(),
  body: z.string(),
  summary: z.string().nullable(),
  tags: z.array(z.string()),
  coverMediaId: z.string().nullable(),
  imageMediaIds: z.array(z.string()),
});
const ref = { articleId: z.string(), ownerId: z.string() };

/** The decode boundary of this aggregate's stored events (see core/event-codec.ts). */
export const articleEvents = eventCodec<ArticleEvent>({
  ArticleCreated: { schema: z.object({ ...ref, content, createdAt: z.string() }) },
  ArticleRevised: { schema: z.object({ ...ref, content, revisedAt: z.string() }) },
  ArticleDeleted: { schema: z.object({ ...ref, version: z.number().int().min(1), deletedAt: z.string() }) },
});

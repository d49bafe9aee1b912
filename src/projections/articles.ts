import type { Consumer } from '../consumers/consumer.js';
import { articleEvents, type ArticleVersionContent } from '../write-model/article/events.js';
import { mediaEvents } from '../write-model/media/events.js';
import { MAX_INT32 } from '../write-model/core/validate.js';
import { patchRows, upsertRows, type Row } from './sql-batch.js';

/**
 * Read model of articles and media: `articles` (one row per article, its
 * current version), `article_versions` (every version) and `media` (one row
 * per upload).
 *
 * A batch is folded in memory and written with a few statements whatever
 * its size: new rows inserted (an existing row stays), then one patch per
 * article or media item carrying what its later events set, guarded by the
 * stream revision (`last_revision`): an event the row already reflects is
 * not applied again, so a redelivered batch, or the same events split into
 * other batches, leaves the same rows. Versions are immutable: inserted,
 * never updated.
 */
export const ARTICLES_PROJECTION = 'articles-v1';

const ARTICLE_PREFIX = 'article-';
const MEDIA_PREFIX = 'media-';

/** A side in pixels as the media table keeps it: one no integer column holds (a header's nonsense, recorded before uploads dropped it) is unknown. */
const pixels = (n: number | null): number | null => (n !== null && n >= 0 && n <= MAX_INT32 ? n : null);

const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/gu;
const WORD = /[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu;

/**
 * Words of a Markdown text as a reader counts them: each Chinese, Japanese
 * or Korean character one, each run of other letters or digits one; link
 * targets, image addresses and Markdown marks are not words.
 */
export function wordCount(markdown: string): number {
  const text = markdown
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, ' $1 ') // [text](url), ![alt](src): the text only
    .replace(/<[^>]+>/g, ' ') // inline HTML tags
    .replace(/https?:\/\/\S+/g, ' ');
  const cjk = text.match(CJK)?.length ?? 0;
  const words = text.replace(CJK, ' ').match(WORD)?.length ?? 0;
  return cjk + words;
}

function versionRow(articleId: string, ownerId: string, c: ArticleVersionContent, at: string): Row {
  return {
    article_id: articleId,
    version: c.version,
    owner_id: ownerId,
    title: c.title,
    body: c.body,
    summary: c.summary,
    tags: c.tags,
    cover_media_id: c.coverMediaId,
    image_media_ids: c.imageMediaIds,
    word_count: wordCount(c.body),
    created_at: at,
  };
}

function currentColumns(c: ArticleVersionContent, at: string): Row {
  return {
    version: c.version,
    title: c.title,
    summary: c.summary,
    tags: c.tags,
    cover_media_id: c.coverMediaId,
    image_count: c.imageMediaIds.length,
    word_count: wordCount(c.body),
    updated_at: at,
  };
}

export function createArticlesProjection(name: string = ARTICLES_PROJECTION): Consumer {
  return {
    name,
    filter: { streamPrefixes: [ARTICLE_PREFIX, MEDIA_PREFIX], eventTypes: [...articleEvents.types, ...mediaEvents.types] },
    async handle(events, { tx }) {
      const articleInserts = new Map<string, Row>();
      const articlePatches = new Map<string, Row>();
      const versions = new Map<string, Row>();
      const mediaInserts = new Map<string, Row>();
      const mediaPatches = new Map<string, Row>();
      for (const recorded of events) {
        const revision = recorded.revision.toString();
        if (recorded.streamName.startsWith(ARTICLE_PREFIX) && articleEvents.owns(recorded.type)) {
          const event = articleEvents.decode(recorded);
          const { articleId, ownerId } = event.data;
          if (event.type === 'ArticleCreated') {
            const d = event.data;
            versions.set(`${articleId}:${d.content.version}`, versionRow(articleId, ownerId, d.content, d.createdAt));
            if (!articleInserts.has(articleId)) {
              articleInserts.set(articleId, {
                id: articleId,
                owner_id: ownerId,
                status: 'active',
                ...currentColumns(d.content, d.createdAt),
                created_at: d.createdAt,
                deleted_at: null,
                last_revision: revision,
              });
            }
            continue;
          }
          const patch: Row = { ...(articlePatches.get(articleId) ?? { id: articleId }), last_revision: revision };
          if (event.type === 'ArticleRevised') {
            const d = event.data;
            versions.set(`${articleId}:${d.content.version}`, versionRow(articleId, ownerId, d.content, d.revisedAt));
            Object.assign(patch, currentColumns(d.content, d.revisedAt));
          } else {
            Object.assign(patch, { status: 'deleted', deleted_at: event.data.deletedAt });
          }
          articlePatches.set(articleId, patch);
        } else if (recorded.streamName.startsWith(MEDIA_PREFIX) && mediaEvents.owns(recorded.type)) {
          const event = mediaEvents.decode(recorded);
          if (event.type === 'MediaUploaded') {
            const d = event.data;
            if (!mediaInserts.has(d.mediaId)) {
              mediaInserts.set(d.mediaId, {
                id: d.mediaId,
                owner_id: d.ownerId,
                status: 'active',
                content_type: d.contentType,
                size_bytes: d.sizeBytes,
                sha256: d.sha256,
                width: pixels(d.width),
                height: pixels(d.height),
                storage_key: d.storageKey,
                uploaded_at: d.uploadedAt,
                deleted_at: null,
                last_revision: revision,
              });
            }
          } else {
            mediaPatches.set(event.data.mediaId, { id: event.data.mediaId, status: 'deleted', deleted_at: event.data.deletedAt, last_revision: revision });
          }
        }
      }
      await upsertRows(tx, 'articles', [...articleInserts.values()], { conflict: ['id'] });
      await upsertRows(tx, 'article_versions', [...versions.values()], { conflict: ['article_id', 'version'] });
      await patchRows(tx, 'articles', [...articlePatches.values()], { key: ['id'], guard: 't.last_revision < n.last_revision' });
      await upsertRows(tx, 'media', [...mediaInserts.values()], { conflict: ['id'] });
      await patchRows(tx, 'media', [...mediaPatches.values()], { key: ['id'], guard: 't.last_revision < n.last_revision' });
    },
  };
}

export const articlesProjection: Consumer = createArticlesProjection();

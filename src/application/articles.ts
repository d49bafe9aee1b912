import { reaches } from './data-scope.js';
import { randomUUID } from 'node:crypto';
import type { EventStore } from '../event-store/port.js';
import type { Position } from '../event-store/position.js';
import type { PostImage } from '../platforms/publishing/port.js';
import { articleAggregate, articleStream } from '../write-model/article/decider.js';
import { articleEvents, type ArticleVersionContent } from '../write-model/article/events.js';
import type { ArticleContentInput } from '../write-model/article/commands.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { mediaAggregate } from '../write-model/media/decider.js';
import type { MediaStorage } from './ports/media-storage.js';

/**
 * Articles (drafts kept as versions; /api/v1/articles) and what the
 * publishing job reads of them: a version's content (loadArticleVersion) and
 * its images' bytes (readPostImages).
 *
 * The media an article names must be the author's own live uploads: checked
 * on the media streams before the command (VALIDATION_ERROR under
 * body.cover_media_id / body.image_media_ids[i]).
 */

export interface ArticleDeps {
  store: EventStore;
  now: () => Date;
}

export interface ArticleCaller {
  /** the owner a new article is recorded under: the caller, or their organization (docs/organizations.md) */
  userId: string;
  context: CommandContext;
  /** whose articles the caller's data scope reaches (ctx.state.access.ownerIds); default: the caller's own */
  ownerIds?: readonly string[];
}

/** The owner of an article the caller reaches, whom a change is made for (NOT_FOUND otherwise, as for an unknown one). */
function reachedOwner(state: { status: string; ownerId: string | null }, caller: ArticleCaller, articleId: string): string {
  if (state.status !== 'active' || state.ownerId === null || !reaches(caller, state.ownerId))
    throw new DomainError('NOT_FOUND', `article ${articleId} not found`, { articleId });
  return state.ownerId;
}

export interface ArticleWrite {
  articleId: string;
  /** the version now current */
  version: number;
  revision: bigint;
  position: Position | undefined;
}

function mediaIssue(path: (string | number)[], mediaId: string): { in: 'body'; path: (string | number)[]; message: string; code: string } {
  return { in: 'body', path, message: `media ${mediaId} is not one of my uploaded images`, code: 'unknown_media' };
}

/** The cover and image ids of the content that are not the owner's live uploads (deleted since, or never theirs), each once. */
export async function missingMedia(
  store: EventStore,
  ownerId: string,
  content: Pick<ArticleContentInput, 'coverMediaId' | 'imageMediaIds'>,
): Promise<string[]> {
  const ids = [...new Set([...(content.coverMediaId ? [content.coverMediaId] : []), ...content.imageMediaIds])];
  const live = await Promise.all(
    ids.map(async (id) => {
      const { state } = await load(store, mediaAggregate, id);
      return state.status === 'active' && state.ownerId === ownerId;
    }),
  );
  return ids.filter((_, i) => !live[i]);
}

/** VALIDATION_ERROR naming every cover or image id that is not the owner's live upload. */
export async function requireOwnMedia(store: EventStore, ownerId: string, content: Pick<ArticleContentInput, 'coverMediaId' | 'imageMediaIds'>): Promise<void> {
  const wanted: [(string | number)[], string][] = [];
  if (content.coverMediaId) wanted.push([['cover_media_id'], content.coverMediaId]);
  content.imageMediaIds.forEach((id, i) => wanted.push([['image_media_ids', i], id]));
  const checked = await Promise.all(
    wanted.map(async ([path, id]) => {
      const { state } = await load(store, mediaAggregate, id);
      return state.status === 'active' && state.ownerId === ownerId ? null : mediaIssue(path, id);
    }),
  );
  const issues = checked.filter((i) => i !== null);
  if (issues.length > 0) throw new DomainError('VALIDATION_ERROR', 'the article names media that are not my uploaded images', { issues });
}

export async function createArticle(deps: ArticleDeps, caller: ArticleCaller, input: ArticleContentInput): Promise<ArticleWrite> {
  await requireOwnMedia(deps.store, caller.userId, input);
  const articleId = randomUUID();
  const result = await handle(
    deps.store,
    articleAggregate,
    articleId,
    { type: 'CreateArticle', articleId, ownerId: caller.userId, ...input, now: deps.now().toISOString() },
    { context: caller.context, expectedRevision: 'no_stream' },
  );
  return { articleId, version: result.state.version, revision: result.revision, position: result.position };
}

/**
 * A new version. `expectedRevision` (If-Match) is the stream revision the
 * caller saw (412 when it moved); `expectedVersion` the version it edited
 * (409 when another is current). Identical content: nothing written.
 */
export async function reviseArticle(
  deps: ArticleDeps,
  caller: ArticleCaller,
  articleId: string,
  input: ArticleContentInput,
  expect: { expectedRevision?: bigint | undefined; expectedVersion?: number | undefined } = {},
): Promise<ArticleWrite> {
  const { state } = await load(deps.store, articleAggregate, articleId);
  const ownerId = reachedOwner(state, caller, articleId);
  await requireOwnMedia(deps.store, ownerId, input);
  const result = await handle(
    deps.store,
    articleAggregate,
    articleId,
    { type: 'ReviseArticle', articleId, requestedBy: ownerId, ...input, expectedVersion: expect.expectedVersion, now: deps.now().toISOString() },
    { context: caller.context, ...(expect.expectedRevision !== undefined ? { expectedRevision: expect.expectedRevision } : {}) },
  );
  return { articleId, version: result.state.version, revision: result.revision, position: result.position };
}

/** Deleted for good (its versions stay in the stream); NOT_FOUND for an unknown, someone else's or an already deleted article. */
/** Deletes the article; `expectedRevision` (If-Match) is the stream revision the caller last saw. */
export async function deleteArticle(deps: ArticleDeps, caller: ArticleCaller, articleId: string, expectedRevision?: bigint): Promise<ArticleWrite> {
  const { state } = await load(deps.store, articleAggregate, articleId);
  const ownerId = reachedOwner(state, caller, articleId);
  const result = await handle(
    deps.store,
    articleAggregate,
    articleId,
    { type: 'DeleteArticle', articleId, requestedBy: ownerId, now: deps.now().toISOString() },
    { context: caller.context, ...(expectedRevision !== undefined ? { expectedRevision } : {}) },
  );
  return { articleId, version: result.state.version, revision: result.revision, position: result.position };
}

/**
 * The current version of the owner's article, or version `version`, read
 * from its stream (a version's event is at revision version - 1). NOT_FOUND
 * for an unknown, deleted or someone else's article, and for a version it
 * does not have.
 */
export async function loadArticleVersion(
  store: EventStore,
  query: { articleId: string; ownerId: string | readonly string[]; version?: number },
): Promise<ArticleVersionContent & { ownerId: string }> {
  const { articleId, version } = query;
  const owners = typeof query.ownerId === 'string' ? [query.ownerId] : query.ownerId;
  const { state } = await load(store, articleAggregate, articleId);
  if (state.status !== 'active' || state.ownerId === null || !owners.includes(state.ownerId) || state.current === null) {
    throw new DomainError('NOT_FOUND', `article ${articleId} not found`, { articleId });
  }
  const ownerId = state.ownerId;
  if (version === undefined || version === state.version) return { ...structuredClone(state.current), ownerId };
  if (!Number.isInteger(version) || version < 1 || version > state.version) {
    throw new DomainError('NOT_FOUND', `article ${articleId} has no version ${version}`, { articleId, version });
  }
  const [recorded] = await store.readStream(articleStream(articleId), { fromRevision: BigInt(version - 1), maxCount: 1 });
  const event = recorded ? articleEvents.decode(recorded) : undefined;
  if (event && event.type !== 'ArticleDeleted' && event.data.content.version === version) return { ...event.data.content, ownerId };
  // versions are one per event from revision 0: anything else is a stream this code did not write
  throw new Error(`article ${articleId}: version ${version} is not at revision ${version - 1}`);
}

/**
 * The images of a version as a post carries them: the cover first (when it
 * has one), then the images in order, each once. Every one must still be the
 * owner's live upload with its bytes in storage: NOT_FOUND (details.mediaId)
 * otherwise, which the publishing job reports as a refusal.
 */
export async function readPostImages(
  deps: { store: EventStore; storage: MediaStorage },
  ownerId: string,
  content: ArticleVersionContent,
): Promise<PostImage[]> {
  const ids = [...new Set([...(content.coverMediaId ? [content.coverMediaId] : []), ...content.imageMediaIds])];
  return Promise.all(
    ids.map(async (mediaId): Promise<PostImage> => {
      const { state } = await load(deps.store, mediaAggregate, mediaId);
      if (state.status !== 'active' || state.ownerId !== ownerId) throw new DomainError('NOT_FOUND', `image ${mediaId} of the article is gone`, { mediaId });
      const bytes = await deps.storage.get(state.storageKey);
      if (!bytes) throw new DomainError('NOT_FOUND', `the bytes of image ${mediaId} are missing from storage`, { mediaId });
      return { mediaId, contentType: state.contentType, bytes };
    }),
  );
}

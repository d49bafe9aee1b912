import { SNAPSHOT_EVERY, type Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, requireText } from '../core/validate.js';
import type { ArticleCommand, ArticleContentInput, CreateArticle, DeleteArticle, ReviseArticle } from './commands.js';
import { ARTICLE_LIMITS, MAX_ARTICLE_VERSIONS, articleEvents, type ArticleEvent, type ArticleVersionContent } from './events.js';
import { initialState, type ArticleState } from './state.js';
import { characterCount } from '../core/characters.js';

/**
 * The Article aggregate: an author's draft, kept as numbered versions.
 *
 * Rules (tests/unit/article.spec.test.ts):
 * - Content: title 1..200 characters (trimmed), body Markdown up to 100,000,
 *   summary up to 500 or null (blank → null), at most 20 distinct tags of
 *   1..30 characters (trimmed), a cover media id or null, at most 18
 *   distinct image media ids; no NUL anywhere. VALIDATION_ERROR names the
 *   field (details.field) and its limit (details.max). That the media are
 *   the owner's images is checked before (src/application/articles.ts).
 * - CreateArticle: version 1. A repeat (same owner, same content, still at
 *   version 1) is a no-op; anything else under an existing id is CONFLICT.
 * - ReviseArticle: owner only, and not deleted: NOT_FOUND otherwise (a
 *   stranger learns nothing). The same content as the current version is a
 *   no-op (a retried revision included); otherwise, with expectedVersion
 *   given, it must be the current version (CONFLICT, details.reason
 *   `version_mismatch`); at MAX_ARTICLE_VERSIONS versions: CONFLICT
 *   (`version_limit`). The new version is the whole content, numbered +1.
 * - DeleteArticle: owner only (NOT_FOUND); a repeat is a no-op.
 */
export function articleStream(articleId: string): string {
  return `article-${articleId}`;
}

type Event = ArticleEvent;
type State = ArticleState;

const MAX_ID = 100;

function noNul(value: string, field: string): void {
  if (value.includes('\u0000')) throw invalid(`${field} must not contain NUL characters`, { field });
}

function text(value: unknown, field: string, max: number, options: { trim: boolean; min: number }): string {
  if (typeof value !== 'string') throw invalid(`${field} must be a string`, { field });
  const v = options.trim ? value.trim() : value;
  if (characterCount(v) < options.min) throw invalid(`${field} must not be empty`, { field });
  if (characterCount(v) > max) throw invalid(`${field} must be at most ${max} characters`, { field, max });
  noNul(v, field);
  return v;
}

function mediaId(value: unknown, field: string): string {
  const id = requireText(value, field);
  if (characterCount(id) > MAX_ID) throw invalid(`${field} must be at most ${MAX_ID} characters`, { field, max: MAX_ID });
  noNul(id, field);
  return id;
}

function list(value: unknown, field: string, max: number): unknown[] {
  if (!Array.isArray(value)) throw invalid(`${field} must be a list`, { field });
  if (value.length > max) throw invalid(`${field} must hold at most ${max} entries`, { field, max });
  return value;
}

function distinct(values: string[], field: string): string[] {
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) throw invalid(`${field} must not repeat ${JSON.stringify(v)}`, { field, got: v });
    seen.add(v);
  }
  return values;
}

/** The content of version `version` from a command's fields, checked and normalised (trimmed title and tags, blank summary → null). */
export function articleContent(input: ArticleContentInput, version: number): ArticleVersionContent {
  const L = ARTICLE_LIMITS;
  const title = text(input.title, 'title', L.title, { trim: true, min: 1 });
  const body = text(input.body, 'body', L.body, { trim: false, min: 0 });
  let summary: string | null = null;
  if (input.summary !== null && input.summary !== undefined) {
    const s = text(input.summary, 'summary', L.summary, { trim: true, min: 0 });
    summary = s === '' ? null : s;
  }
  const tags = distinct(
    list(input.tags, 'tags', L.tags).map((t) => text(t, 'tags', L.tag, { trim: true, min: 1 })),
    'tags',
  );
  const coverMediaId = input.coverMediaId === null || input.coverMediaId === undefined ? null : mediaId(input.coverMediaId, 'coverMediaId');
  const imageMediaIds = distinct(
    list(input.imageMediaIds, 'imageMediaIds', L.images).map((id) => mediaId(id, 'imageMediaIds')),
    'imageMediaIds',
  );
  return { version, title, body, summary, tags, coverMediaId, imageMediaIds };
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/** Whether two versions hold the same content (their numbers aside). */
export function sameArticleContent(a: ArticleVersionContent, b: ArticleVersionContent): boolean {
  return (
    a.title === b.title &&
    a.body === b.body &&
    a.summary === b.summary &&
    a.coverMediaId === b.coverMediaId &&
    sameList(a.tags, b.tags) &&
    sameList(a.imageMediaIds, b.imageMediaIds)
  );
}

function notFound(articleId: string): DomainError {
  return new DomainError('NOT_FOUND', `article ${articleId} not found`, { articleId });
}

/** The owner's live article; NOT_FOUND for an unknown, deleted or someone else's one. */
function owned(state: State, articleId: string, requestedBy: unknown): State & { current: ArticleVersionContent; ownerId: string } {
  if (state.status !== 'active' || state.current === null || state.ownerId === null || state.ownerId !== requestedBy) throw notFound(articleId);
  return state as State & { current: ArticleVersionContent; ownerId: string };
}

function create(command: CreateArticle, state: State): Event[] {
  const articleId = requireText(command.articleId, 'articleId');
  const ownerId = requireText(command.ownerId, 'ownerId');
  const content = articleContent(command, 1);
  instant(command.now, 'now');
  if (state.status !== 'none') {
    const repeat =
      state.status === 'active' && state.ownerId === ownerId && state.version === 1 && state.current !== null && sameArticleContent(state.current, content);
    if (repeat) return [];
    throw new DomainError('CONFLICT', `article ${articleId} already exists`, { articleId });
  }
  return [{ type: 'ArticleCreated', data: { articleId, ownerId, content, createdAt: command.now } }];
}

function revise(command: ReviseArticle, state: State): Event[] {
  const articleId = requireText(command.articleId, 'articleId');
  const requestedBy = requireText(command.requestedBy, 'requestedBy');
  const expected = command.expectedVersion;
  if (expected !== undefined && !(Number.isInteger(expected) && expected >= 1)) {
    throw invalid('expectedVersion must be a version number (1 or more)', { field: 'expectedVersion', got: expected });
  }
  instant(command.now, 'now');
  const article = owned(state, articleId, requestedBy);
  const content = articleContent(command, article.version + 1);
  // a retried revision (or an edit that changed nothing) finds its content current already
  if (sameArticleContent(article.current, content)) return [];
  if (expected !== undefined && expected !== article.version) {
    throw new DomainError('CONFLICT', `article ${articleId} is at version ${article.version}, not ${expected}`, {
      articleId,
      reason: 'version_mismatch',
      expectedVersion: expected,
      version: article.version,
    });
  }
  if (article.version >= MAX_ARTICLE_VERSIONS) {
    throw new DomainError('CONFLICT', `article ${articleId} has ${MAX_ARTICLE_VERSIONS} versions, the most an article keeps: start a new article`, {
      articleId,
      reason: 'version_limit',
      max: MAX_ARTICLE_VERSIONS,
    });
  }
  return [{ type: 'ArticleRevised', data: { articleId, ownerId: article.ownerId, content, revisedAt: command.now } }];
}

function remove(command: DeleteArticle, state: State): Event[] {
  const articleId = requireText(command.articleId, 'articleId');
  const requestedBy = requireText(command.requestedBy, 'requestedBy');
  instant(command.now, 'now');
  if (state.status === 'deleted' && state.ownerId === requestedBy) return [];
  const article = owned(state, articleId, requestedBy);
  return [{ type: 'ArticleDeleted', data: { articleId, ownerId: article.ownerId, version: article.version, deletedAt: command.now } }];
}

function decide(command: ArticleCommand, state: State): Event[] {
  switch (command.type) {
    case 'CreateArticle':
      return create(command, state);
    case 'ReviseArticle':
      return revise(command, state);
    case 'DeleteArticle':
      return remove(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

/**
 * Folds in place (the fold owns its state), O(1) per event: the current
 * version replaces the previous one; the content objects of events are
 * taken as they are and never changed.
 */
function evolve(state: State, event: Event): State {
  switch (event.type) {
    case 'ArticleCreated': {
      const d = event.data;
      state.status = 'active';
      state.articleId = d.articleId;
      state.ownerId = d.ownerId;
      state.version = d.content.version;
      state.current = d.content;
      state.createdAt = d.createdAt;
      state.updatedAt = d.createdAt;
      return state;
    }
    case 'ArticleRevised':
      state.version = event.data.content.version;
      state.current = event.data.content;
      state.updatedAt = event.data.revisedAt;
      return state;
    case 'ArticleDeleted':
      state.status = 'deleted';
      state.deletedAt = event.data.deletedAt;
      return state;
  }
}

export const articleDecider: Decider<ArticleState, ArticleCommand, ArticleEvent> = { initialState, decide, evolve };

/**
 * The binding the command handler uses: stream `article-{articleId}`. It
 * holds the article's whole life (each revision a version), so it is
 * snapshotted like the other lifecycle streams.
 */
export const articleAggregate: Aggregate<ArticleState, ArticleCommand, ArticleEvent> = {
  name: 'article',
  streamName: articleStream,
  decider: articleDecider,
  events: articleEvents,
  snapshot: { version: 1, every: SNAPSHOT_EVERY.lifecycle },
};

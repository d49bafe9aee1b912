/** Commands of one article (stream `article-{articleId}`); all carry `now`. */

/** The content a command gives: a version's content without its number (the aggregate numbers versions). */
export interface ArticleContentInput {
  title: string;
  body: string;
  summary: string | null;
  tags: string[];
  coverMediaId: string | null;
  imageMediaIds: string[];
}

/** The author starts an article: version 1. The media ids were checked to be the owner's before. */
export interface CreateArticle extends ArticleContentInput {
  type: 'CreateArticle';
  articleId: string;
  ownerId: string;
  now: string;
}

/** The author writes a new version (the whole content). */
export interface ReviseArticle extends ArticleContentInput {
  type: 'ReviseArticle';
  articleId: string;
  requestedBy: string;
  /** the version the author edited; another current version → CONFLICT */
  expectedVersion?: number | undefined;
  now: string;
}

export interface DeleteArticle {
  type: 'DeleteArticle';
  articleId: string;
  requestedBy: string;
  now: string;
}

export type ArticleCommand = CreateArticle | ReviseArticle | DeleteArticle;

import type { ArticleVersionContent } from './events.js';

/** `none`: nothing in the stream; `deleted` is final. */
export type ArticleStatus = 'none' | 'active' | 'deleted';

export interface ArticleState {
  status: ArticleStatus;
  articleId: string | null;
  ownerId: string | null;
  /** the current version's number; 0 while `none` */
  version: number;
  /** the current version (what a revision is compared with: an identical one is a no-op) */
  current: ArticleVersionContent | null;
  createdAt: string | null;
  updatedAt: string | null;
  deletedAt: string | null;
}

export function initialState(): ArticleState {
  return { status: 'none', articleId: null, ownerId: null, version: 0, current: null, createdAt: null, updatedAt: null, deletedAt: null };
}

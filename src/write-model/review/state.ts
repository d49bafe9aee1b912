import type { ReviewSubject } from './events.js';

/** What a decision needs of one review. */
export interface OpenedReview {
  status: 'open' | 'approved' | 'rejected' | 'withdrawn';
  reviewId: string;
  /** absent: a publication */
  subject?: ReviewSubject;
  publicationId: string;
  articleId: string;
  articleVersion: number;
  ownerId: string;
  /** who wrote it, when the owner is an organization: they may not decide it either */
  authorId?: string;
  openedAt: string;
  /** who holds the review now and since when; null when nobody does */
  claim: { reviewerId: string; claimedAt: string } | null;
  /** set once approved or rejected */
  decision: { reviewerId: string; comment: string | null; decidedAt: string } | null;
}

export type ReviewState = { status: 'none' } | OpenedReview;

export function initialState(): ReviewState {
  return { status: 'none' };
}

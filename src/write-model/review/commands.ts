import type { ReviewContent, ReviewHit, ReviewSubject } from './events.js';

/** Commands of one review (stream `review-{reviewId}`); all carry `now`. */

/** The publications process manager: flagged content waits for a human. */
export interface OpenReview {
  type: 'OpenReview';
  reviewId: string;
  /** absent: a publication; `sms_batch`: publicationId and articleId name the batch */
  subject?: ReviewSubject;
  publicationId: string;
  articleId: string;
  articleVersion: number;
  ownerId: string;
  /** who wrote it, when the owner is an organization (they may not decide it either) */
  authorId?: string | null;
  platform: string;
  region: string | null;
  title: string;
  hits: ReviewHit[];
  /** the summary, body and tags reviewed; left out, the read side shows the article version's */
  content?: ReviewContent | null;
  now: string;
}

/** A reviewer takes the review (nobody else decides it while the claim holds). */
export interface ClaimReview {
  type: 'ClaimReview';
  reviewId: string;
  reviewerId: string;
  /** REVIEW_CLAIM_TTL_MINUTES: after this long another reviewer may take the claim over */
  claimTtlMinutes: number;
  now: string;
}

/** The claimer gives the review back to the queue. */
export interface ReleaseReview {
  type: 'ReleaseReview';
  reviewId: string;
  reviewerId: string;
  now: string;
}

export interface ApproveReview {
  type: 'ApproveReview';
  reviewId: string;
  reviewerId: string;
  comment: string | null;
  now: string;
}

export interface RejectReview {
  type: 'RejectReview';
  reviewId: string;
  reviewerId: string;
  /** required: the author is told why */
  comment: string;
  now: string;
}

/** The publication was cancelled: the review leaves the queue undecided. */
export interface WithdrawReview {
  type: 'WithdrawReview';
  reviewId: string;
  now: string;
}

export type ReviewCommand = OpenReview | ClaimReview | ReleaseReview | ApproveReview | RejectReview | WithdrawReview;

import type { PublicationContent, PublicationFailureCode } from './events.js';

/** Commands of one publication (stream `publication-{publicationId}`); all carry `now`. */

/** The API: publish one article version to one account (article, account and plan checked before). */
export interface RequestPublication {
  type: 'RequestPublication';
  publicationId: string;
  ownerId: string;
  articleId: string;
  articleVersion: number;
  accountId: string;
  platform: string;
  region: string;
  content: PublicationContent;
  /** null: at once; else a time after `now`, at most MAX_SCHEDULE_AHEAD_DAYS ahead */
  scheduledAt: string | null;
  /** the member who asked, when the owner is their organization (nobody reviews their own content) */
  authorId?: string | null;
  now: string;
}

/** The deadline sweeper: a scheduled publication's time has come. */
export interface ReleaseScheduledPublication {
  type: 'ReleaseScheduledPublication';
  publicationId: string;
  now: string;
}

/** The process manager: the automatic pre-review's verdict (a flag names the human review it opens). */
export interface RecordPreReview {
  type: 'RecordPreReview';
  publicationId: string;
  verdict: 'pass' | 'flag';
  hitCount: number;
  /** required with `flag` */
  reviewId: string | null;
  now: string;
}

/** The process manager: a reviewer approved or rejected the flagged content. */
export interface RecordReviewDecision {
  type: 'RecordReviewDecision';
  publicationId: string;
  reviewId: string;
  decision: 'approved' | 'rejected';
  reviewerId: string;
  comment: string | null;
  now: string;
}

/** The worker: an attempt at publishing begins (BullMQ's attempt number, 1-based). */
export interface StartPublishAttempt {
  type: 'StartPublishAttempt';
  publicationId: string;
  attempt: number;
  now: string;
}

/** The worker: an attempt failed, worth another (`nextAttemptAt`), or it was the last (null). */
export interface RecordPublishAttemptFailed {
  type: 'RecordPublishAttemptFailed';
  publicationId: string;
  attempt: number;
  reason: string;
  nextAttemptAt: string | null;
  now: string;
}

/** The worker: the platform has the post (made now, or found made by an earlier attempt). */
export interface RecordPublished {
  type: 'RecordPublished';
  publicationId: string;
  postId: string;
  url: string;
  /** as the platform says; null: `now` */
  publishedAt: string | null;
  recovered: boolean;
  now: string;
}

/** The worker or the process manager: it will not be published. */
export interface FailPublication {
  type: 'FailPublication';
  publicationId: string;
  code: PublicationFailureCode;
  reason: string;
  now: string;
}

/** The owner: cancel before publishing starts. */
export interface CancelPublication {
  type: 'CancelPublication';
  publicationId: string;
  requestedBy: string;
  now: string;
}

/** The owner: take the post down again; `canUnpublish` is the platform's publisher's capability. */
export interface RequestUnpublish {
  type: 'RequestUnpublish';
  publicationId: string;
  requestedBy: string;
  canUnpublish: boolean;
  now: string;
}

/** The worker: the platform no longer shows the post. */
export interface RecordUnpublished {
  type: 'RecordUnpublished';
  publicationId: string;
  now: string;
}

/** The worker: taking it down failed for good (the post stays published). */
export interface RecordUnpublishFailed {
  type: 'RecordUnpublishFailed';
  publicationId: string;
  reason: string;
  now: string;
}

/** The worker: the post's metrics as read now (recorded only when they changed). */
export interface RecordPublicationMetrics {
  type: 'RecordPublicationMetrics';
  publicationId: string;
  views: number | null;
  likes: number | null;
  comments: number | null;
  extra?: Record<string, number>;
  now: string;
}

export type PublicationCommand =
  | RequestPublication
  | ReleaseScheduledPublication
  | RecordPreReview
  | RecordReviewDecision
  | StartPublishAttempt
  | RecordPublishAttemptFailed
  | RecordPublished
  | FailPublication
  | CancelPublication
  | RequestUnpublish
  | RecordUnpublished
  | RecordUnpublishFailed
  | RecordPublicationMetrics;

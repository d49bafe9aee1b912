import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';

/**
 * One article version published to one platform account: stream
 * `publication-{publicationId}`. A request to several accounts makes one
 * publication each, so every target has its own status and history.
 *
 * The stream stays short whatever the user does: requested, (due), the
 * pre-review's verdict, a human review's decision, queued, at most
 * PUBLISH_MAX_ATTEMPTS attempt starts and failures, published or failed,
 * at most MAX_METRICS_READINGS metrics readings (recorded only when they
 * change), an unpublish request and its outcome: a few tens of events.
 * Every event names the publication, owner, article, account and platform,
 * so consumers need no stream names. Times are ISO-8601 strings.
 */

/**
 * Where a publication stands:
 * - `scheduled`: waits for its time (`scheduledAt`);
 * - `pending_review`: due, the automatic pre-review not run yet;
 * - `in_review`: the pre-review flagged it, a human reviewer decides;
 * - `queued`: a `publish` job is on the queue;
 * - `publishing`: an attempt started (retries stay here);
 * - `published`: the platform has the post;
 * - `failed`: it will not be published (see the failure code);
 * - `cancelled`: the owner cancelled it before publishing started;
 * - `unpublished`: taken down again through the platform.
 */
export const PUBLICATION_STATUSES = [
  'scheduled',
  'pending_review',
  'in_review',
  'queued',
  'publishing',
  'published',
  'failed',
  'cancelled',
  'unpublished',
] as const;
export type PublicationStatus = (typeof PUBLICATION_STATUSES)[number];

/**
 * Why a publication failed for good:
 * - `refused`: the platform refused the post itself (content rules, a bad image);
 * - `account_invalid`: the platform no longer accepts the account's credentials (the account was invalidated);
 * - `account_unavailable`: the account was disconnected, invalid or not the owner's when the job ran;
 * - `attempts_exhausted`: transient failures (network, 5xx, rate limits) until the last attempt;
 * - `review_rejected`: a reviewer rejected the content;
 * - `publisher_unavailable`: no publisher for the platform on the worker, or the article's images could not be read.
 */
export const PUBLICATION_FAILURE_CODES = [
  'refused',
  'account_invalid',
  'account_unavailable',
  'attempts_exhausted',
  'review_rejected',
  'publisher_unavailable',
] as const;
export type PublicationFailureCode = (typeof PUBLICATION_FAILURE_CODES)[number];

/** The most metrics readings one publication records (the follow-up schedule is shorter). */
export const MAX_METRICS_READINGS = 24;
/** A publication is scheduled at most this far ahead. */
export const MAX_SCHEDULE_AHEAD_DAYS = 90;

/** The version of the article as published: exactly what was reviewed. */
export interface PublicationContent {
  title: string;
  /** Markdown as the author wrote it */
  body: string;
  summary: string | null;
  tags: string[];
  coverMediaId: string | null;
  /** the body's images, in order (the cover not among them) */
  imageMediaIds: string[];
}

/** What every event of a publication names. */
export interface PublicationRef {
  publicationId: string;
  ownerId: string;
  articleId: string;
  accountId: string;
  platform: string;
}

export interface PublicationRequestedData extends PublicationRef {
  articleVersion: number;
  /** the review rules' region, e.g. CN */
  region: string;
  content: PublicationContent;
  /** null: due at once */
  scheduledAt: string | null;
  /** unique per publication: sent where the platform keeps a client token, else how a retry recognises its own post */
  clientToken: string;
  status: 'scheduled' | 'pending_review';
  requestedAt: string;
  /** the member who asked, when the owner is their organization; absent: the owner asked */
  authorId?: string;
}

export interface PublicationDueData extends PublicationRef {
  scheduledAt: string;
  dueAt: string;
}

export interface PreReviewPassedData extends PublicationRef {
  hitCount: number;
  reviewedAt: string;
}

export interface PreReviewFlaggedData extends PublicationRef {
  /** the human review it waits for (review-{reviewId}) */
  reviewId: string;
  hitCount: number;
  flaggedAt: string;
}

export interface PublicationReviewDecidedData extends PublicationRef {
  reviewId: string;
  reviewerId: string;
  comment: string | null;
  decidedAt: string;
}

export interface PublicationQueuedData extends PublicationRef {
  queuedAt: string;
}

export interface PublishAttemptStartedData extends PublicationRef {
  /** 1-based */
  attempt: number;
  startedAt: string;
}

export interface PublishAttemptFailedData extends PublicationRef {
  attempt: number;
  /** short, never a credential */
  reason: string;
  /** when the next attempt runs; null: this was the last one */
  nextAttemptAt: string | null;
  failedAt: string;
}

export interface PublicationPublishedData extends PublicationRef {
  postId: string;
  url: string;
  /** as the platform says; else when it was recorded */
  publishedAt: string;
  /** true when a retry found the post already there (an earlier attempt made it) */
  recovered: boolean;
  recordedAt: string;
}

export interface PublicationFailedData extends PublicationRef {
  code: PublicationFailureCode;
  reason: string;
  failedAt: string;
}

export interface PublicationCancelledData extends PublicationRef {
  cancelledBy: string;
  previousStatus: 'scheduled' | 'pending_review' | 'in_review' | 'queued';
  /** the human review it was waiting for (withdrawn by the process manager); null: none open */
  reviewId: string | null;
  cancelledAt: string;
}

export interface PublicationUnpublishRequestedData extends PublicationRef {
  postId: string;
  requestedBy: string;
  requestedAt: string;
}

export interface PublicationUnpublishedData extends PublicationRef {
  postId: string;
  unpublishedAt: string;
}

export interface PublicationUnpublishFailedData extends PublicationRef {
  postId: string;
  reason: string;
  failedAt: string;
}

export interface PublicationMetricsRecordedData extends PublicationRef {
  views: number | null;
  likes: number | null;
  comments: number | null;
  /** collects, shares and the like, where the platform has them */
  extra: Record<string, number>;
  readAt: string;
}

export type PublicationEvent =
  | DomainEvent<'PublicationRequested', PublicationRequestedData>
  | DomainEvent<'PublicationDue', PublicationDueData>
  | DomainEvent<'PreReviewPassed', PreReviewPassedData>
  | DomainEvent<'PreReviewFlagged', PreReviewFlaggedData>
  | DomainEvent<'PublicationReviewApproved', PublicationReviewDecidedData>
  | DomainEvent<'PublicationReviewRejected', PublicationReviewDecidedData>
  | DomainEvent<'PublicationQueued', PublicationQueuedData>
  | DomainEvent<'PublishAttemptStarted', PublishAttemptStartedData>
  | DomainEvent<'PublishAttemptFailed', PublishAttemptFailedData>
  | DomainEvent<'PublicationPublished', PublicationPublishedData>
  | DomainEvent<'PublicationFailed', PublicationFailedData>
  | DomainEvent<'PublicationCancelled', PublicationCancelledData>
  | DomainEvent<'PublicationUnpublishRequested', PublicationUnpublishRequestedData>
  | DomainEvent<'PublicationUnpublished', PublicationUnpublishedData>
  | DomainEvent<'PublicationUnpublishFailed', PublicationUnpublishFailedData>
  | DomainEvent<'PublicationMetricsRecorded', PublicationMetricsRecordedData>;

export type PublicationEventType = PublicationEvent['type'];

// ---------------------------------------------------------------- decoding

const ref = { publicationId: z.string(), ownerId: z.string(), articleId: z.string(), accountId: z.string(), platform: z.string() };
const count = z.number().int().min(0).nullable();
const decided = z.object({ ...ref, reviewId: z.string(), reviewerId: z.string(), comment: z.string().nullable(), decidedAt: z.string() });

/** The decode boundary of this aggregate's stored events (see core/event-codec.ts). */
export const publicationEvents = eventCodec<PublicationEvent>({
  PublicationRequested: {
    schema: z.object({
      ...ref,
      authorId: z.string().optional(),
      articleVersion: z.number().int().min(1),
      region: z.string(),
      content: z.object({
        title: z.string(),
        body: z.string(),
        summary: z.string().nullable(),
        tags: z.array(z.string()),
        coverMediaId: z.string().nullable(),
        imageMediaIds: z.array(z.string()),
      }),
      scheduledAt: z.string().nullable(),
      clientToken: z.string(),
      status: z.enum(['scheduled', 'pending_review']),
      requestedAt: z.string(),
    }),
  },
  PublicationDue: { schema: z.object({ ...ref, scheduledAt: z.string(), dueAt: z.string() }) },
  PreReviewPassed: { schema: z.object({ ...ref, hitCount: z.number().int().min(0), reviewedAt: z.string() }) },
  PreReviewFlagged: { schema: z.object({ ...ref, reviewId: z.string(), hitCount: z.number().int().min(0), flaggedAt: z.string() }) },
  PublicationReviewApproved: { schema: decided },
  PublicationReviewRejected: { schema: decided },
  PublicationQueued: { schema: z.object({ ...ref, queuedAt: z.string() }) },
  PublishAttemptStarted: { schema: z.object({ ...ref, attempt: z.number().int().min(1), startedAt: z.string() }) },
  PublishAttemptFailed: {
    schema: z.object({ ...ref, attempt: z.number().int().min(1), reason: z.string(), nextAttemptAt: z.string().nullable(), failedAt: z.string() }),
  },
  PublicationPublished: {
    schema: z.object({ ...ref, postId: z.string(), url: z.string(), publishedAt: z.string(), recovered: z.boolean(), recordedAt: z.string() }),
  },
  PublicationFailed: { schema: z.object({ ...ref, code: z.enum(PUBLICATION_FAILURE_CODES), reason: z.string(), failedAt: z.string() }) },
  PublicationCancelled: {
    schema: z.object({
      ...ref,
      cancelledBy: z.string(),
      previousStatus: z.enum(['scheduled', 'pending_review', 'in_review', 'queued']),
      reviewId: z.string().nullable(),
      cancelledAt: z.string(),
    }),
  },
  PublicationUnpublishRequested: { schema: z.object({ ...ref, postId: z.string(), requestedBy: z.string(), requestedAt: z.string() }) },
  PublicationUnpublished: { schema: z.object({ ...ref, postId: z.string(), unpublishedAt: z.string() }) },
  PublicationUnpublishFailed: { schema: z.object({ ...ref, postId: z.string(), reason: z.string(), failedAt: z.string() }) },
  PublicationMetricsRecorded: {
    schema: z.object({ ...ref, views: count, likes: count, comments: count, extra: z.record(z.string(), z.number()), readAt: z.string() }),
  },
});

import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';
import { RED_LINE_CATEGORIES, RULE_KINDS, type RedLineCategory, type RuleKind } from '../review-rules/events.js';

/**
 * One human review of flagged content: stream `review-{reviewId}`, a handful
 * of events (opened, claims and releases, then approved, rejected or
 * withdrawn). One stream per review, so nothing grows with the queue; the
 * queue is the read model's business. Every event names the review; the
 * decisions also name the publication and its owner, so the publications
 * process manager and the notifications need nothing else. Times are
 * ISO-8601 strings.
 */

/** The fields of an article a hit is found in. */
export const HIT_FIELDS = ['title', 'summary', 'body', 'tags'] as const;
export type HitField = (typeof HIT_FIELDS)[number];

/**
 * What a rule found. `start`/`end` are UTF-16 offsets into the field as the
 * author wrote it (`tags`: into the tags joined with a newline); `match` is
 * the text found there. Length and image rules have no place in the text:
 * their hit spans the whole field (length) or nothing (image, at 0), and
 * `match` says what was measured (e.g. `12 images, at most 9`).
 */
export interface ReviewHit {
  ruleId: string;
  ruleName: string;
  kind: RuleKind;
  category: RedLineCategory | null;
  field: HitField;
  start: number;
  end: number;
  match: string;
}

/** Most hits kept with a review (the first ones, in the order found). */
export const MAX_REVIEW_HITS = 500;
/** A reviewer's comment, at most this many characters. */
export const MAX_REVIEW_COMMENT = 2000;
export const MAX_REVIEW_TITLE = 500;

/** What was reviewed, when the opener passes it along (otherwise the article version is read). */
export interface ReviewContent {
  summary: string | null;
  body: string;
  tags: string[];
}

/**
 * What a review is of: a publication (the default: absent in events written
 * before SMS batches were reviewed), or an SMS batch (`publicationId`,
 * `articleId` then name the batch, `platform` is `sms`).
 */
export const REVIEW_SUBJECTS = ['publication', 'sms_batch'] as const;
export type ReviewSubject = (typeof REVIEW_SUBJECTS)[number];

export interface ReviewOpenedData {
  reviewId: string;
  /** absent: a publication */
  subject?: ReviewSubject;
  /** the subject's id: the publication, or the SMS batch */
  publicationId: string;
  articleId: string;
  articleVersion: number;
  ownerId: string;
  /** who wrote it, when the owner is an organization; absent: the owner */
  authorId?: string;
  platform: string;
  region: string | null;
  title: string;
  hits: ReviewHit[];
  /** absent when the opener did not pass it: the article version holds it */
  content: ReviewContent | null;
  openedAt: string;
}

export interface ReviewClaimedData {
  reviewId: string;
  reviewerId: string;
  /** the reviewer whose claim had run out and was taken over; null when nobody held it */
  takenOverFrom: string | null;
  claimedAt: string;
}

export interface ReviewReleasedData {
  reviewId: string;
  reviewerId: string;
  releasedAt: string;
}

export interface ReviewDecidedData {
  reviewId: string;
  /** absent: a publication */
  subject?: ReviewSubject;
  publicationId: string;
  ownerId: string;
  reviewerId: string;
  /** required when rejected */
  comment: string | null;
  decidedAt: string;
  /** from opening to the decision */
  waitedSeconds: number;
}

export interface ReviewWithdrawnData {
  reviewId: string;
  /** absent: a publication */
  subject?: ReviewSubject;
  publicationId: string;
  ownerId: string;
  withdrawnAt: string;
}

export type ReviewEvent =
  | DomainEvent<'ReviewOpened', ReviewOpenedData>
  | DomainEvent<'ReviewClaimed', ReviewClaimedData>
  | DomainEvent<'ReviewReleased', ReviewReleasedData>
  | DomainEvent<'ReviewApproved', ReviewDecidedData>
  | DomainEvent<'ReviewRejected', ReviewDecidedData>
  | DomainEvent<'ReviewWithdrawn', ReviewWithdrawnData>;

export type ReviewEventType = ReviewEvent['type'];

// ---------------------------------------------------------------- decoding

export const reviewHitSchema = z.object({
  ruleId: z.string(),
  ruleName: z.string(),
  kind: z.enum(RULE_KINDS),
  category: z.enum(RED_LINE_CATEGORIES).nullable(),
  field: z.enum(HIT_FIELDS),
  start: z.number().int().min(0),
  end: z.number().int().min(0),
  match: z.string(),
});

const decided = z.object({
  reviewId: z.string(),
  subject: z.enum(REVIEW_SUBJECTS).optional(),
  publicationId: z.string(),
  ownerId: z.string(),
  reviewerId: z.string(),
  comment: z.string().nullable(),
  decidedAt: z.string(),
  waitedSeconds: z.number().int().min(0),
});

/** The decode boundary of this aggregate's stored events (see core/event-codec.ts). */
export const reviewEvents = eventCodec<ReviewEvent>({
  ReviewOpened: {
    schema: z.object({
      reviewId: z.string(),
      subject: z.enum(REVIEW_SUBJECTS).optional(),
      publicationId: z.string(),
      articleId: z.string(),
      articleVersion: z.number().int(),
      ownerId: z.string(),
      authorId: z.string().optional(),
      platform: z.string(),
      region: z.string().nullable(),
      title: z.string(),
      hits: z.array(reviewHitSchema),
      content: z.object({ summary: z.string().nullable(), body: z.string(), tags: z.array(z.string()) }).nullable(),
      openedAt: z.string(),
    }),
  },
  ReviewClaimed: { schema: z.object({ reviewId: z.string(), reviewerId: z.string(), takenOverFrom: z.string().nullable(), claimedAt: z.string() }) },
  ReviewReleased: { schema: z.object({ reviewId: z.string(), reviewerId: z.string(), releasedAt: z.string() }) },
  ReviewApproved: { schema: decided },
  ReviewRejected: { schema: decided },
  ReviewWithdrawn: {
    schema: z.object({
      reviewId: z.string(),
      subject: z.enum(REVIEW_SUBJECTS).optional(),
      publicationId: z.string(),
      ownerId: z.string(),
      withdrawnAt: z.string(),
    }),
  },
});

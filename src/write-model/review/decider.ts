import type { Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, optionalText, requireOneOf, requireText } from '../core/validate.js';
import type { ApproveReview, ClaimReview, OpenReview, RejectReview, ReleaseReview, ReviewCommand, WithdrawReview } from './commands.js';
import {
  MAX_REVIEW_COMMENT,
  MAX_REVIEW_HITS,
  MAX_REVIEW_TITLE,
  REVIEW_SUBJECTS,
  reviewEvents,
  reviewHitSchema,
  type ReviewContent,
  type ReviewEvent,
  type ReviewHit,
} from './events.js';
import { initialState, type OpenedReview, type ReviewState } from './state.js';
import { characterCount, truncateCharacters } from '../core/characters.js';

/**
 * One human review: stream `review-{reviewId}`. The publications process
 * manager opens it for flagged content (and withdraws it when the
 * publication is cancelled); reviewers claim it and decide. Whether the
 * caller is a reviewer at all is the review policy's check
 * (src/application/review/policy.ts); the decider guards the review itself.
 *
 * Rules (tests/unit/review.spec.test.ts):
 * - OpenReview: well-formed (hits ≤ MAX_REVIEW_HITS, each within its field);
 *   the same publication again is a no-op, another under the same id CONFLICT.
 * - ClaimReview: NOT_FOUND for an unknown review; the author never reviews
 *   their own content (PERMISSION_DENIED, reason own_content); only an open
 *   review (CONFLICT, details.status); held by the same reviewer: a no-op;
 *   held by another: CONFLICT (reason claimed, with who and until when)
 *   unless the claim is older than `claimTtlMinutes`, then taken over.
 * - ReleaseReview: nobody holds it: a no-op; only the claimer releases it
 *   (CONFLICT otherwise); a decided review: CONFLICT.
 * - ApproveReview / RejectReview: the author never decides (PERMISSION_DENIED);
 *   only the claimer decides (CONFLICT, reason not_claimed or claimed);
 *   a rejection needs a comment (VALIDATION_ERROR, field comment); the same
 *   decision by the same reviewer again is a no-op, any other decision on a
 *   decided review CONFLICT.
 * - WithdrawReview: an open review is withdrawn; withdrawn or decided
 *   already: a no-op (a late cancellation changes no decision).
 */
export function reviewStream(reviewId: string): string {
  return `review-${reviewId}`;
}

type Event = ReviewEvent;
type State = ReviewState;

function opened(state: State, reviewId: unknown): OpenedReview {
  const id = requireText(reviewId, 'reviewId');
  if (state.status === 'none') throw new DomainError('NOT_FOUND', `review ${id} not found`, { reviewId: id });
  return state;
}

function notOwn(review: OpenedReview, reviewerId: string): void {
  if (review.ownerId === reviewerId || review.authorId === reviewerId)
    throw new DomainError('PERMISSION_DENIED', 'a reviewer cannot review their own content', { reason: 'own_content', reviewId: review.reviewId });
}

function comment(value: unknown, required: boolean): string | null {
  const blank = typeof value === 'string' && value.trim() === '';
  const text = required ? requireText(value, 'comment') : optionalText(blank ? null : value, 'comment');
  if (text === null) return null;
  const trimmed = text.trim();
  if (characterCount(trimmed) > MAX_REVIEW_COMMENT)
    throw invalid(`comment must be at most ${MAX_REVIEW_COMMENT} characters`, { field: 'comment', max: MAX_REVIEW_COMMENT });
  return trimmed;
}

function hits(value: unknown): ReviewHit[] {
  if (!Array.isArray(value)) throw invalid('hits must be a list', { field: 'hits' });
  if (value.length > MAX_REVIEW_HITS) throw invalid(`at most ${MAX_REVIEW_HITS} hits`, { field: 'hits', max: MAX_REVIEW_HITS });
  return value.map((hit, i) => {
    const parsed = reviewHitSchema.safeParse(hit);
    if (!parsed.success || parsed.data.end < parsed.data.start) throw invalid(`hits[${i}] is not a hit`, { field: `hits.${i}` });
    return parsed.data;
  });
}

function content(value: unknown): ReviewContent | null {
  if (value === undefined || value === null) return null;
  const c = value as ReviewContent;
  if (
    typeof c.body !== 'string' ||
    !(c.summary === null || typeof c.summary === 'string') ||
    !Array.isArray(c.tags) ||
    c.tags.some((t) => typeof t !== 'string')
  )
    throw invalid('content must hold summary, body and tags', { field: 'content' });
  return { summary: c.summary, body: c.body, tags: [...c.tags] };
}

function open(command: OpenReview, state: State): Event[] {
  const reviewId = requireText(command.reviewId, 'reviewId');
  const publicationId = requireText(command.publicationId, 'publicationId');
  const articleId = requireText(command.articleId, 'articleId');
  if (!Number.isInteger(command.articleVersion) || command.articleVersion < 1)
    throw invalid('articleVersion must be a positive integer', { field: 'articleVersion' });
  const ownerId = requireText(command.ownerId, 'ownerId');
  const authorId = command.authorId ? requireText(command.authorId, 'authorId') : null;
  const platform = requireText(command.platform, 'platform');
  const region = optionalText(command.region, 'region');
  const title = requireText(command.title, 'title');
  const found = hits(command.hits);
  const reviewed = content(command.content);
  const subject = command.subject === undefined || command.subject === 'publication' ? null : requireOneOf(command.subject, REVIEW_SUBJECTS, 'subject');
  instant(command.now, 'now');
  if (state.status !== 'none') {
    if (state.publicationId === publicationId && state.ownerId === ownerId && (state.subject ?? null) === subject) return [];
    throw new DomainError('CONFLICT', `review ${reviewId} was opened for another publication`, { reviewId });
  }
  return [
    {
      type: 'ReviewOpened',
      data: {
        reviewId,
        ...(subject ? { subject } : {}),
        publicationId,
        articleId,
        articleVersion: command.articleVersion,
        ownerId,
        ...(authorId && authorId !== ownerId ? { authorId } : {}),
        platform,
        region,
        title: truncateCharacters(title, MAX_REVIEW_TITLE),
        hits: found,
        content: reviewed,
        openedAt: command.now,
      },
    },
  ];
}

/** The subject as events carry it: left out for a publication (the shape written before other subjects). */
function subjectOf(review: OpenedReview): { subject?: 'sms_batch' } {
  return review.subject === 'sms_batch' ? { subject: 'sms_batch' } : {};
}

function notDecided(review: OpenedReview): void {
  if (review.status !== 'open')
    throw new DomainError('CONFLICT', `review ${review.reviewId} is ${review.status}`, {
      reason: review.status,
      status: review.status,
      reviewId: review.reviewId,
    });
}

function claim(command: ClaimReview, state: State): Event[] {
  const review = opened(state, command.reviewId);
  const reviewerId = requireText(command.reviewerId, 'reviewerId');
  const now = instant(command.now, 'now');
  if (!Number.isInteger(command.claimTtlMinutes) || command.claimTtlMinutes < 1)
    throw invalid('claimTtlMinutes must be a positive integer', { field: 'claimTtlMinutes' });
  notOwn(review, reviewerId);
  notDecided(review);
  const held = review.claim;
  if (held?.reviewerId === reviewerId) return [];
  if (held) {
    const expiresAt = Date.parse(held.claimedAt) + command.claimTtlMinutes * 60_000;
    if (now < expiresAt)
      throw new DomainError('CONFLICT', 'another reviewer holds this review', {
        reason: 'claimed',
        claimedBy: held.reviewerId,
        claimedAt: held.claimedAt,
        expiresAt: new Date(expiresAt).toISOString(),
      });
  }
  return [{ type: 'ReviewClaimed', data: { reviewId: review.reviewId, reviewerId, takenOverFrom: held?.reviewerId ?? null, claimedAt: command.now } }];
}

function release(command: ReleaseReview, state: State): Event[] {
  const review = opened(state, command.reviewId);
  const reviewerId = requireText(command.reviewerId, 'reviewerId');
  instant(command.now, 'now');
  notDecided(review);
  if (!review.claim) return [];
  if (review.claim.reviewerId !== reviewerId)
    throw new DomainError('CONFLICT', 'only the reviewer who holds this review releases it', { reason: 'claimed', claimedBy: review.claim.reviewerId });
  return [{ type: 'ReviewReleased', data: { reviewId: review.reviewId, reviewerId, releasedAt: command.now } }];
}

function decideReview(command: ApproveReview | RejectReview, state: State): Event[] {
  const review = opened(state, command.reviewId);
  const reviewerId = requireText(command.reviewerId, 'reviewerId');
  const approving = command.type === 'ApproveReview';
  const text = comment(command.comment, !approving);
  const now = instant(command.now, 'now');
  notOwn(review, reviewerId);
  const wanted = approving ? 'approved' : 'rejected';
  if (review.status === wanted && review.decision?.reviewerId === reviewerId) return [];
  notDecided(review);
  if (review.claim?.reviewerId !== reviewerId) {
    throw new DomainError(
      'CONFLICT',
      review.claim ? 'another reviewer holds this review' : 'claim the review before deciding it',
      review.claim ? { reason: 'claimed', claimedBy: review.claim.reviewerId } : { reason: 'not_claimed' },
    );
  }
  const data = {
    reviewId: review.reviewId,
    ...subjectOf(review),
    publicationId: review.publicationId,
    ownerId: review.ownerId,
    reviewerId,
    comment: text,
    decidedAt: command.now,
    waitedSeconds: Math.max(0, Math.floor((now - Date.parse(review.openedAt)) / 1000)),
  };
  return [approving ? { type: 'ReviewApproved', data } : { type: 'ReviewRejected', data }];
}

function withdraw(command: WithdrawReview, state: State): Event[] {
  const review = opened(state, command.reviewId);
  instant(command.now, 'now');
  if (review.status !== 'open') return [];
  return [
    {
      type: 'ReviewWithdrawn',
      data: { reviewId: review.reviewId, ...subjectOf(review), publicationId: review.publicationId, ownerId: review.ownerId, withdrawnAt: command.now },
    },
  ];
}

function decide(command: ReviewCommand, state: State): Event[] {
  switch (command.type) {
    case 'OpenReview':
      return open(command, state);
    case 'ClaimReview':
      return claim(command, state);
    case 'ReleaseReview':
      return release(command, state);
    case 'ApproveReview':
    case 'RejectReview':
      return decideReview(command, state);
    case 'WithdrawReview':
      return withdraw(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

/** O(1) per event; only ReviewOpened can come first (anything else on an empty state leaves it). */
function evolve(state: State, event: Event): State {
  if (event.type === 'ReviewOpened') {
    const d = event.data;
    return {
      status: 'open',
      reviewId: d.reviewId,
      ...(d.subject === 'sms_batch' ? { subject: d.subject } : {}),
      publicationId: d.publicationId,
      articleId: d.articleId,
      articleVersion: d.articleVersion,
      ownerId: d.ownerId,
      ...(d.authorId ? { authorId: d.authorId } : {}),
      openedAt: d.openedAt,
      claim: null,
      decision: null,
    };
  }
  if (state.status === 'none') return state;
  switch (event.type) {
    case 'ReviewClaimed':
      return { ...state, claim: { reviewerId: event.data.reviewerId, claimedAt: event.data.claimedAt } };
    case 'ReviewReleased':
      return { ...state, claim: null };
    case 'ReviewApproved':
    case 'ReviewRejected': {
      const d = event.data;
      return {
        ...state,
        status: event.type === 'ReviewApproved' ? 'approved' : 'rejected',
        decision: { reviewerId: d.reviewerId, comment: d.comment, decidedAt: d.decidedAt },
      };
    }
    case 'ReviewWithdrawn':
      return { ...state, status: 'withdrawn', claim: null };
  }
}

export const reviewDecider: Decider<ReviewState, ReviewCommand, ReviewEvent> = {
  initialState,
  decide,
  evolve,
};

/** The binding the command handler uses: stream `review-{reviewId}`, short-lived (no snapshots). */
export const reviewAggregate: Aggregate<ReviewState, ReviewCommand, ReviewEvent> = {
  name: 'review',
  streamName: reviewStream,
  decider: reviewDecider,
  events: reviewEvents,
};

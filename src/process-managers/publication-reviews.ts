import type { EventStore, RecordedEvent } from '../event-store/port.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { handle } from '../write-model/core/command-handler.js';
import type { EventIdSource } from '../write-model/core/event-ids.js';
import type { RequestedPublication } from '../write-model/publication/state.js';
import { reviewAggregate } from '../write-model/review/decider.js';
import { MAX_REVIEW_HITS, MAX_REVIEW_TITLE, reviewEvents, type ReviewHit } from '../write-model/review/events.js';
import { truncateCharacters } from '../write-model/core/characters.js';

/**
 * The publications process manager's side of the review aggregate
 * (`review-{reviewId}`): opening a flagged publication's human review,
 * withdrawing it when the publication is cancelled, and reading a
 * reviewer's decision back.
 */

export const REVIEW_DECISION_EVENT_TYPES = ['ReviewApproved', 'ReviewRejected'] as const;

export interface ReviewDecision {
  publicationId: string;
  reviewId: string;
  decision: 'approved' | 'rejected';
  reviewerId: string;
  comment: string | null;
  decidedAt: string;
}

/** A ReviewApproved / ReviewRejected of a publication as the publication records it; null for any other event. */
export function decisionOfReviewEvent(event: RecordedEvent): ReviewDecision | null {
  if (!reviewEvents.owns(event.type)) return null;
  const decoded = reviewEvents.decode(event);
  if (decoded.type !== 'ReviewApproved' && decoded.type !== 'ReviewRejected') return null;
  const d = decoded.data;
  // an SMS batch's review is pm-sms-batches' business
  if (d.subject === 'sms_batch') return null;
  return {
    publicationId: d.publicationId,
    reviewId: d.reviewId,
    decision: decoded.type === 'ReviewApproved' ? 'approved' : 'rejected',
    reviewerId: d.reviewerId,
    comment: d.comment,
    decidedAt: d.decidedAt,
  };
}

/** Opens the human review of a flagged publication, with the pre-review's hits and the content reviewed (a repeat is the review's no-op). */
export async function openHumanReview(
  store: EventStore,
  p: RequestedPublication,
  reviewId: string,
  hits: readonly unknown[],
  options: { context: CommandContext; eventIds: EventIdSource },
): Promise<void> {
  await handle(
    store,
    reviewAggregate,
    reviewId,
    {
      type: 'OpenReview',
      reviewId,
      publicationId: p.publicationId,
      articleId: p.articleId,
      articleVersion: p.articleVersion,
      ownerId: p.ownerId,
      authorId: p.authorId,
      platform: p.platform,
      region: p.region,
      title: truncateCharacters(p.content.title, MAX_REVIEW_TITLE),
      hits: (hits as ReviewHit[]).slice(0, MAX_REVIEW_HITS),
      content: { summary: p.content.summary, body: p.content.body, tags: p.content.tags },
      now: new Date().toISOString(),
    },
    options,
  );
}

/** Withdraws a cancelled publication's open review (withdrawn or decided already: the review's no-op). */
export async function closeHumanReview(store: EventStore, reviewId: string, options: { context: CommandContext; eventIds: EventIdSource }): Promise<void> {
  await handle(store, reviewAggregate, reviewId, { type: 'WithdrawReview', reviewId, now: new Date().toISOString() }, options);
}

import { StreamNotFoundError } from '../../event-store/errors.js';
import type { EventStore } from '../../event-store/port.js';
import type { CommandContext } from '../../write-model/core/command-context.js';
import { handle, type HandleResult } from '../../write-model/core/command-handler.js';
import { reviewAggregate, reviewStream } from '../../write-model/review/decider.js';
import type { OpenReview } from '../../write-model/review/commands.js';
import { reviewEvents, type ReviewEvent, type ReviewOpenedData } from '../../write-model/review/events.js';
import type { ReviewState } from '../../write-model/review/state.js';
import { DomainError } from '../../write-model/core/domain-error.js';
import { isPlatformDecider, mayDecideReview, type Actor } from './policy.js';

/**
 * The human review queue's commands (POST /api/v1/reviews/{id}/claim,
 * release, approve, reject): the policy first — platform reviewers and
 * admins (platform.reviews.approve) any review, an organization's reviewers
 * (publishing.reviews.approve) those of content in their data scope, a
 * review outside it is not found — then the review aggregate (the author
 * never reviews their own content, only the claimer decides, a rejection
 * says why).
 */

export interface ReviewCall {
  store: EventStore;
  actor: Actor;
  context: CommandContext;
  now: Date;
  /** REVIEW_CLAIM_TTL_MINUTES */
  claimTtlMinutes: number;
}

type Result = HandleResult<ReviewState, ReviewEvent>;

/** NOT_FOUND for a review outside the actor's reach (as for any resource outside one's data scope); an unknown one is the aggregate's NOT_FOUND. */
async function requireDecidable(call: ReviewCall, reviewId: string): Promise<void> {
  if (isPlatformDecider(call.actor)) return;
  const opening = await reviewOpening(call.store, reviewId);
  if (opening && !mayDecideReview(call.actor, opening.ownerId)) throw new DomainError('NOT_FOUND', `review ${reviewId} not found`, { reviewId });
}

export async function claimReview(call: ReviewCall, reviewId: string): Promise<Result> {
  await requireDecidable(call, reviewId);
  return handle(
    call.store,
    reviewAggregate,
    reviewId,
    { type: 'ClaimReview', reviewId, reviewerId: call.actor.userId, claimTtlMinutes: call.claimTtlMinutes, now: call.now.toISOString() },
    { context: call.context },
  );
}

export async function releaseReview(call: ReviewCall, reviewId: string): Promise<Result> {
  await requireDecidable(call, reviewId);
  return handle(
    call.store,
    reviewAggregate,
    reviewId,
    { type: 'ReleaseReview', reviewId, reviewerId: call.actor.userId, now: call.now.toISOString() },
    { context: call.context },
  );
}

export async function approveReview(call: ReviewCall, reviewId: string, comment: string | null): Promise<Result> {
  await requireDecidable(call, reviewId);
  return handle(
    call.store,
    reviewAggregate,
    reviewId,
    { type: 'ApproveReview', reviewId, reviewerId: call.actor.userId, comment, now: call.now.toISOString() },
    { context: call.context },
  );
}

export async function rejectReview(call: ReviewCall, reviewId: string, comment: string): Promise<Result> {
  await requireDecidable(call, reviewId);
  return handle(
    call.store,
    reviewAggregate,
    reviewId,
    { type: 'RejectReview', reviewId, reviewerId: call.actor.userId, comment, now: call.now.toISOString() },
    { context: call.context },
  );
}

/** Opens a review (the publications process manager's step for flagged content); a repeat is a no-op. */
export function openReview(
  store: EventStore,
  command: Omit<OpenReview, 'type'>,
  options: { context: CommandContext; eventIds?: Parameters<typeof handle>[4]['eventIds'] },
): Promise<Result> {
  return handle(store, reviewAggregate, command.reviewId, { type: 'OpenReview', ...command }, options);
}

/** What a review was opened on (its first event): the title and platform a notification names; null for an unknown review. */
export async function reviewOpening(store: EventStore, reviewId: string): Promise<ReviewOpenedData | null> {
  try {
    const [first] = await store.readStream(reviewStream(reviewId), { maxCount: 1 });
    if (!first) return null;
    const event = reviewEvents.decode(first);
    return event.type === 'ReviewOpened' ? event.data : null;
  } catch (error) {
    if (error instanceof StreamNotFoundError) return null;
    throw error;
  }
}

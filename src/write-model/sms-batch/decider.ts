import type { Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, optionalText, requireOneOf, requireText } from '../core/validate.js';
import { MAX_REVIEW_COMMENT } from '../review/events.js';
import { smsTextProblem } from '../sms-message/decider.js';
import { E164, MAX_SMS_TEXT } from '../sms-message/events.js';
import { countSegments } from '../sms-message/segments.js';
import type {
  CancelSmsBatch,
  CreateSmsBatch,
  RecordSmsBatchPreReview,
  RecordSmsBatchReviewDecision,
  SmsBatchCommand,
  StartSmsBatchSending,
} from './commands.js';
import { MAX_BATCH_RECIPIENTS, MAX_SCHEDULE_AHEAD_DAYS, RECIPIENTS_PER_EVENT, smsBatchEvents, type SmsBatchEvent } from './events.js';
import { senderIdProblem } from './sender-id.js';
import { initialState, type CreatedSmsBatch, type SmsBatchState } from './state.js';
import { characterCount } from '../core/characters.js';

/**
 * One SMS batch: stream `sms_batch-{batchId}`.
 *
 * Rules (tests/unit/sms-batch.spec.test.ts):
 * - CreateSmsBatch: text as for one SMS (1..MAX_SMS_TEXT, not blank, no
 *   NUL), a sender id (sender-id.ts), 1..MAX_BATCH_RECIPIENTS distinct
 *   numbers in E.164, scheduledAt (if any) after now and at most
 *   MAX_SCHEDULE_AHEAD_DAYS ahead. Emits SmsBatchCreated and the numbers in
 *   SmsBatchRecipientsAdded chunks of RECIPIENTS_PER_EVENT. The same batch
 *   again is a no-op; another under the same id CONFLICT.
 * - RecordSmsBatchPreReview: pending review → passed (approved) or flagged
 *   (in review, the review named); the same verdict again a no-op; a
 *   cancelled batch: a no-op; otherwise CONFLICT.
 * - RecordSmsBatchReviewDecision: in review under that review → approved or
 *   rejected (a rejection needs a comment); the same decision again and a
 *   cancelled batch: a no-op; otherwise CONFLICT.
 * - StartSmsBatchSending: approved and due (now ≥ scheduledAt, else
 *   CONFLICT reason not_due) → sending; sending already: a no-op; still in
 *   review, rejected or cancelled: a no-op (the deadline may fire before the
 *   decision; the decision starts it then).
 * - CancelSmsBatch: pending review, in review or approved → cancelled (its
 *   open review named, to be withdrawn); cancelled already: a no-op;
 *   sending or rejected: CONFLICT (details.reason the status).
 */
export function smsBatchStream(batchId: string): string {
  return `sms_batch-${batchId}`;
}

type Event = SmsBatchEvent;
type State = SmsBatchState;

function created(state: State, batchId: unknown): CreatedSmsBatch {
  const id = requireText(batchId, 'batchId');
  if (state.status === 'none') throw new DomainError('NOT_FOUND', `sms batch ${id} not found`, { batchId: id });
  return state;
}

function conflict(batch: CreatedSmsBatch, doing: string): DomainError {
  return new DomainError('CONFLICT', `sms batch ${batch.batchId} is ${batch.status.replace('_', ' ')}: cannot ${doing}`, {
    reason: batch.status,
    status: batch.status,
    batchId: batch.batchId,
  });
}

function create(command: CreateSmsBatch, state: State): Event[] {
  const batchId = requireText(command.batchId, 'batchId');
  const ownerId = requireText(command.ownerId, 'ownerId');
  const organizationId = optionalText(command.organizationId, 'organizationId');
  const problem = smsTextProblem(command.text);
  if (problem) throw invalid(problem, { field: 'text', max: MAX_SMS_TEXT });
  const senderProblem = senderIdProblem(command.senderId);
  if (senderProblem) throw invalid(senderProblem, { field: 'sender_id' });
  const recipients = command.recipients;
  if (!Array.isArray(recipients) || recipients.length === 0 || recipients.length > MAX_BATCH_RECIPIENTS)
    throw invalid(`recipients must hold 1-${MAX_BATCH_RECIPIENTS} numbers`, { field: 'recipients', max: MAX_BATCH_RECIPIENTS });
  const seen = new Set<string>();
  recipients.forEach((to, i) => {
    if (typeof to !== 'string' || !E164.test(to)) throw invalid(`recipients[${i}] must be a number in E.164`, { field: `recipients.${i}` });
    if (seen.has(to)) throw invalid(`recipients[${i}] repeats ${to}`, { field: `recipients.${i}` });
    seen.add(to);
  });
  for (const field of ['invalidSkipped', 'duplicatesRemoved'] as const) {
    if (!Number.isSafeInteger(command[field]) || command[field] < 0) throw invalid(`${field} must be a non-negative integer`, { field });
  }
  const now = instant(command.now, 'now');
  const scheduledAt = command.scheduledAt ?? null;
  if (scheduledAt !== null) {
    const at = instant(scheduledAt, 'scheduled_at');
    if (at <= now) throw invalid('scheduled_at must be in the future', { field: 'scheduled_at' });
    if (at > now + MAX_SCHEDULE_AHEAD_DAYS * 86_400_000)
      throw invalid(`scheduled_at must be at most ${MAX_SCHEDULE_AHEAD_DAYS} days ahead`, { field: 'scheduled_at', max_days: MAX_SCHEDULE_AHEAD_DAYS });
  }
  if (state.status !== 'none') {
    if (state.ownerId === ownerId && state.text === command.text && state.recipientCount === recipients.length) return [];
    throw new DomainError('CONFLICT', `sms batch ${batchId} was created with other content`, { batchId });
  }
  const { encoding, segments } = countSegments(command.text);
  const chunkCount = Math.ceil(recipients.length / RECIPIENTS_PER_EVENT);
  const events: Event[] = [
    {
      type: 'SmsBatchCreated',
      data: {
        batchId,
        ownerId,
        organizationId,
        text: command.text,
        senderId: command.senderId,
        encoding,
        segments,
        recipientCount: recipients.length,
        chunkCount,
        invalidSkipped: command.invalidSkipped,
        duplicatesRemoved: command.duplicatesRemoved,
        scheduledAt: scheduledAt === null ? null : new Date(instant(scheduledAt, 'scheduled_at')).toISOString(),
        createdAt: command.now,
      },
    },
  ];
  for (let chunk = 0; chunk < chunkCount; chunk++) {
    const offset = chunk * RECIPIENTS_PER_EVENT;
    events.push({ type: 'SmsBatchRecipientsAdded', data: { batchId, chunk, offset, recipients: recipients.slice(offset, offset + RECIPIENTS_PER_EVENT) } });
  }
  return events;
}

function preReview(command: RecordSmsBatchPreReview, state: State): Event[] {
  const batch = created(state, command.batchId);
  const verdict = requireOneOf(command.verdict, ['pass', 'flag'] as const, 'verdict');
  if (!Number.isSafeInteger(command.hitCount) || command.hitCount < 0) throw invalid('hitCount must be a non-negative integer', { field: 'hitCount' });
  const reviewId = verdict === 'flag' ? requireText(command.reviewId, 'reviewId') : null;
  instant(command.now, 'now');
  if (batch.status === 'cancelled') return [];
  if (batch.status !== 'pending_review') {
    if (verdict === 'flag' ? batch.reviewId === reviewId : batch.reviewId === null) return [];
    throw conflict(batch, 'record a pre-review');
  }
  const ref = { batchId: batch.batchId, ownerId: batch.ownerId };
  return verdict === 'pass'
    ? [{ type: 'SmsBatchPreReviewPassed', data: { ...ref, scheduledAt: batch.scheduledAt, passedAt: command.now } }]
    : [{ type: 'SmsBatchPreReviewFlagged', data: { ...ref, hitCount: command.hitCount, reviewId: reviewId!, flaggedAt: command.now } }];
}

function reviewDecision(command: RecordSmsBatchReviewDecision, state: State): Event[] {
  const batch = created(state, command.batchId);
  const reviewId = requireText(command.reviewId, 'reviewId');
  const decision = requireOneOf(command.decision, ['approved', 'rejected'] as const, 'decision');
  const reviewerId = requireText(command.reviewerId, 'reviewerId');
  const comment = decision === 'rejected' ? requireText(command.comment, 'comment') : optionalText(command.comment, 'comment');
  if (comment !== null && characterCount(comment) > MAX_REVIEW_COMMENT)
    throw invalid(`comment must be at most ${MAX_REVIEW_COMMENT} characters`, { field: 'comment', max: MAX_REVIEW_COMMENT });
  instant(command.now, 'now');
  if (batch.status === 'cancelled') return [];
  if (batch.reviewId !== reviewId) throw new DomainError('CONFLICT', `sms batch ${batch.batchId} is not under review ${reviewId}`, { reason: 'other_review' });
  if (batch.status !== 'in_review') {
    if (batch.decision?.reviewerId === reviewerId && (decision === 'rejected') === (batch.status === 'rejected')) return [];
    throw conflict(batch, 'record a review decision');
  }
  const data = {
    batchId: batch.batchId,
    ownerId: batch.ownerId,
    reviewId,
    reviewerId,
    comment,
    scheduledAt: batch.scheduledAt,
    decidedAt: command.now,
  };
  return [decision === 'approved' ? { type: 'SmsBatchApproved', data } : { type: 'SmsBatchRejected', data }];
}

function startSending(command: StartSmsBatchSending, state: State): Event[] {
  const batch = created(state, command.batchId);
  const now = instant(command.now, 'now');
  if (batch.status !== 'approved') return [];
  if (batch.scheduledAt !== null && now < Date.parse(batch.scheduledAt))
    throw new DomainError('CONFLICT', `sms batch ${batch.batchId} is scheduled for ${batch.scheduledAt}`, {
      reason: 'not_due',
      scheduledAt: batch.scheduledAt,
    });
  return [
    {
      type: 'SmsBatchSendingStarted',
      data: {
        batchId: batch.batchId,
        ownerId: batch.ownerId,
        organizationId: batch.organizationId,
        recipientCount: batch.recipientCount,
        startedAt: command.now,
      },
    },
  ];
}

function cancel(command: CancelSmsBatch, state: State): Event[] {
  const batch = created(state, command.batchId);
  const by = requireText(command.by, 'by');
  instant(command.now, 'now');
  if (batch.status === 'cancelled') return [];
  if (batch.status === 'sending' || batch.status === 'rejected') throw conflict(batch, 'cancel it');
  return [
    {
      type: 'SmsBatchCancelled',
      data: {
        batchId: batch.batchId,
        ownerId: batch.ownerId,
        by,
        reviewId: batch.status === 'in_review' ? batch.reviewId : null,
        cancelledAt: command.now,
      },
    },
  ];
}

function decide(command: SmsBatchCommand, state: State): Event[] {
  switch (command.type) {
    case 'CreateSmsBatch':
      return create(command, state);
    case 'RecordSmsBatchPreReview':
      return preReview(command, state);
    case 'RecordSmsBatchReviewDecision':
      return reviewDecision(command, state);
    case 'StartSmsBatchSending':
      return startSending(command, state);
    case 'CancelSmsBatch':
      return cancel(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

/** O(1) per event (a chunk changes nothing a decision needs); only SmsBatchCreated can come first. */
function evolve(state: State, event: Event): State {
  if (event.type === 'SmsBatchCreated') {
    const d = event.data;
    return {
      status: 'pending_review',
      batchId: d.batchId,
      ownerId: d.ownerId,
      organizationId: d.organizationId,
      text: d.text,
      senderId: d.senderId,
      recipientCount: d.recipientCount,
      scheduledAt: d.scheduledAt,
      createdAt: d.createdAt,
      reviewId: null,
      decision: null,
    };
  }
  if (state.status === 'none') return state;
  switch (event.type) {
    case 'SmsBatchRecipientsAdded':
      return state;
    case 'SmsBatchPreReviewPassed':
      return { ...state, status: 'approved' };
    case 'SmsBatchPreReviewFlagged':
      return { ...state, status: 'in_review', reviewId: event.data.reviewId };
    case 'SmsBatchApproved':
    case 'SmsBatchRejected':
      return {
        ...state,
        status: event.type === 'SmsBatchApproved' ? 'approved' : 'rejected',
        decision: { reviewerId: event.data.reviewerId, comment: event.data.comment },
      };
    case 'SmsBatchSendingStarted':
      return { ...state, status: 'sending' };
    case 'SmsBatchCancelled':
      return { ...state, status: 'cancelled' };
  }
}

export const smsBatchDecider: Decider<SmsBatchState, SmsBatchCommand, SmsBatchEvent> = {
  initialState,
  decide,
  evolve,
};

/** The binding the command handler uses: stream `sms_batch-{batchId}`, short-lived (no snapshots). */
export const smsBatchAggregate: Aggregate<SmsBatchState, SmsBatchCommand, SmsBatchEvent> = {
  name: 'sms_batch',
  streamName: smsBatchStream,
  decider: smsBatchDecider,
  events: smsBatchEvents,
};

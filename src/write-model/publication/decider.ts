import type { Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, optionalText, requireOneOf, requireText } from '../core/validate.js';
import type {
  CancelPublication,
  FailPublication,
  PublicationCommand,
  RecordPreReview,
  RecordPublicationMetrics,
  RecordPublished,
  RecordPublishAttemptFailed,
  RecordReviewDecision,
  RecordUnpublished,
  RecordUnpublishFailed,
  ReleaseScheduledPublication,
  RequestPublication,
  RequestUnpublish,
  StartPublishAttempt,
} from './commands.js';
import {
  MAX_METRICS_READINGS,
  MAX_SCHEDULE_AHEAD_DAYS,
  PUBLICATION_FAILURE_CODES,
  publicationEvents,
  type PublicationContent,
  type PublicationEvent,
  type PublicationRef,
} from './events.js';
import { initialState, type PublicationState, type RequestedPublication } from './state.js';
import { characterCount } from '../core/characters.js';

/**
 * One article version published to one platform account: stream
 * `publication-{publicationId}` (events.ts says what it holds).
 *
 * Rules (tests/unit/publication.spec.test.ts):
 * - RequestPublication: the content snapshot (a title, a body, tags and
 *   media ids as strings); scheduledAt null (due now) or after `now` and at
 *   most MAX_SCHEDULE_AHEAD_DAYS ahead (→ `scheduled`). A repeat of the same
 *   request (owner, article version, account, schedule) is a no-op; another
 *   request under the same id is CONFLICT. The client token is derived from
 *   the id.
 * - ReleaseScheduledPublication: `scheduled` → PublicationDue; anything
 *   else a no-op (released already, or cancelled).
 * - RecordPreReview: only for a due one (`scheduled` → CONFLICT); pass →
 *   PreReviewPassed + PublicationQueued, flag (with a review id) →
 *   PreReviewFlagged; once past pending_review a no-op (a repeat, or
 *   cancelled meanwhile).
 * - RecordReviewDecision: `in_review` under that review: approved →
 *   PublicationReviewApproved + PublicationQueued, rejected →
 *   PublicationReviewRejected + PublicationFailed `review_rejected`; another
 *   review id → CONFLICT; any other status a no-op.
 * - StartPublishAttempt: `queued` or `publishing`, attempt above the last
 *   started (an attempt already started: a no-op); before it is queued, or
 *   once it ended (published, failed, cancelled, unpublished) → CONFLICT,
 *   which tells the job to stop.
 * - RecordPublishAttemptFailed: `publishing`, for an attempt started and not
 *   recorded failed before; anything else a no-op.
 * - RecordPublished: `queued`/`publishing` → PublicationPublished; already
 *   published (or unpublished since) a no-op; failed or cancelled →
 *   CONFLICT; before it is queued → CONFLICT.
 * - FailPublication: any status before the end → PublicationFailed; ended
 *   already a no-op (a late failure never undoes a publish).
 * - CancelPublication: the owner's (NOT_FOUND for anyone else); scheduled,
 *   pending_review, in_review or queued → PublicationCancelled (with the
 *   open review, to withdraw); cancelled a no-op; once publishing started
 *   or it ended → CONFLICT (details.reason).
 * - RequestUnpublish: the owner's; `published` on a platform that can take
 *   posts down → PublicationUnpublishRequested; asked already, or
 *   unpublished, a no-op; the platform cannot (`platform_cannot_unpublish`)
 *   or not published (`not_published`) → CONFLICT.
 * - RecordUnpublished / RecordUnpublishFailed: for an asked unpublish; else
 *   a no-op (RecordUnpublished on one never asked: CONFLICT).
 * - RecordPublicationMetrics: published (or unpublished); counts are
 *   whole numbers ≥ 0 or null; the same as the last reading, or after
 *   MAX_METRICS_READINGS readings, a no-op (the stream stays bounded).
 */
export function publicationStream(publicationId: string): string {
  return `publication-${publicationId}`;
}

/** What the platform gets as the post's client token (and how a retry recognises its post): the id without dashes. */
export function clientTokenFor(publicationId: string): string {
  return `pub${publicationId.replaceAll('-', '')}`;
}

type Event = PublicationEvent;
type State = PublicationState;

export const MAX_PUBLICATION_REASON = 500;
const DAY_MS = 86_400_000;

function requested(state: State, publicationId: unknown): RequestedPublication {
  const id = requireText(publicationId, 'publicationId');
  if (state.status === 'none') throw new DomainError('NOT_FOUND', `publication ${id} not found`, { publicationId: id });
  return state;
}

function refOf(p: RequestedPublication): PublicationRef {
  return { publicationId: p.publicationId, ownerId: p.ownerId, articleId: p.articleId, accountId: p.accountId, platform: p.platform };
}

function reasonOf(value: unknown): string {
  const reason = requireText(value, 'reason');
  if (characterCount(reason) > MAX_PUBLICATION_REASON)
    throw invalid(`reason must be at most ${MAX_PUBLICATION_REASON} characters`, { field: 'reason', max: MAX_PUBLICATION_REASON });
  return reason;
}

function wholeOrNull(value: unknown, field: string): number | null {
  if (value === null) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw invalid(`${field} must be a whole number ≥ 0 or null`, { field, got: value });
  return value;
}

function stringList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw invalid(`${field} must be a list of strings`, { field });
  return [...value];
}

function contentOf(value: unknown): PublicationContent {
  const c = (typeof value === 'object' && value !== null ? value : {}) as Partial<PublicationContent>;
  if (typeof c.body !== 'string') throw invalid('content.body must be a string', { field: 'content.body' });
  return {
    title: requireText(c.title, 'content.title'),
    body: c.body,
    summary: optionalText(c.summary, 'content.summary'),
    tags: stringList(c.tags, 'content.tags'),
    coverMediaId: optionalText(c.coverMediaId, 'content.coverMediaId'),
    imageMediaIds: stringList(c.imageMediaIds, 'content.imageMediaIds'),
  };
}

const sameContent = (a: PublicationContent, b: PublicationContent) => JSON.stringify(a) === JSON.stringify(b);

function request(command: RequestPublication, state: State): Event[] {
  const publicationId = requireText(command.publicationId, 'publicationId');
  const ownerId = requireText(command.ownerId, 'ownerId');
  const articleId = requireText(command.articleId, 'articleId');
  const accountId = requireText(command.accountId, 'accountId');
  const platform = requireText(command.platform, 'platform');
  const region = requireText(command.region, 'region');
  if (!Number.isSafeInteger(command.articleVersion) || command.articleVersion < 1)
    throw invalid('articleVersion must be a whole number ≥ 1', { field: 'articleVersion' });
  const content = contentOf(command.content);
  const now = instant(command.now, 'now');
  if (state.status !== 'none') {
    const same =
      state.ownerId === ownerId &&
      state.articleId === articleId &&
      state.articleVersion === command.articleVersion &&
      state.accountId === accountId &&
      state.scheduledAt === command.scheduledAt &&
      sameContent(state.content, content);
    if (same) return [];
    throw new DomainError('CONFLICT', `publication ${publicationId} was requested with other terms`, { publicationId });
  }
  if (command.scheduledAt !== null) {
    const at = instant(command.scheduledAt, 'scheduledAt');
    if (at <= now) throw invalid('scheduledAt must be in the future', { field: 'scheduledAt' });
    if (at > now + MAX_SCHEDULE_AHEAD_DAYS * DAY_MS)
      throw invalid(`scheduledAt must be at most ${MAX_SCHEDULE_AHEAD_DAYS} days ahead`, { field: 'scheduledAt', maxDays: MAX_SCHEDULE_AHEAD_DAYS });
  }
  return [
    {
      type: 'PublicationRequested',
      data: {
        publicationId,
        ownerId,
        articleId,
        accountId,
        platform,
        articleVersion: command.articleVersion,
        region,
        content,
        scheduledAt: command.scheduledAt,
        clientToken: clientTokenFor(publicationId),
        status: command.scheduledAt === null ? 'pending_review' : 'scheduled',
        requestedAt: command.now,
        ...(command.authorId && command.authorId !== ownerId ? { authorId: requireText(command.authorId, 'authorId') } : {}),
      },
    },
  ];
}

function release(command: ReleaseScheduledPublication, state: State): Event[] {
  const p = requested(state, command.publicationId);
  instant(command.now, 'now');
  if (p.status !== 'scheduled' || p.scheduledAt === null) return [];
  return [{ type: 'PublicationDue', data: { ...refOf(p), scheduledAt: p.scheduledAt, dueAt: command.now } }];
}

function preReview(command: RecordPreReview, state: State): Event[] {
  const p = requested(state, command.publicationId);
  const verdict = requireOneOf(command.verdict, ['pass', 'flag'] as const, 'verdict');
  const hitCount = wholeOrNull(command.hitCount, 'hitCount') ?? 0;
  const reviewId = verdict === 'flag' ? requireText(command.reviewId, 'reviewId') : null;
  instant(command.now, 'now');
  if (p.status === 'scheduled') throw new DomainError('CONFLICT', `publication ${p.publicationId} is not due yet`, { status: p.status, reason: 'not_due' });
  if (p.status !== 'pending_review') return [];
  if (verdict === 'pass') {
    return [
      { type: 'PreReviewPassed', data: { ...refOf(p), hitCount, reviewedAt: command.now } },
      { type: 'PublicationQueued', data: { ...refOf(p), queuedAt: command.now } },
    ];
  }
  return [{ type: 'PreReviewFlagged', data: { ...refOf(p), reviewId: reviewId!, hitCount, flaggedAt: command.now } }];
}

function reviewDecision(command: RecordReviewDecision, state: State): Event[] {
  const p = requested(state, command.publicationId);
  const reviewId = requireText(command.reviewId, 'reviewId');
  const decision = requireOneOf(command.decision, ['approved', 'rejected'] as const, 'decision');
  const reviewerId = requireText(command.reviewerId, 'reviewerId');
  const comment = optionalText(command.comment, 'comment');
  instant(command.now, 'now');
  if (p.reviewId !== null && p.reviewId !== reviewId)
    throw new DomainError('CONFLICT', `publication ${p.publicationId} waits for another review`, { reviewId: p.reviewId });
  if (p.status !== 'in_review') return [];
  const data = { ...refOf(p), reviewId, reviewerId, comment, decidedAt: command.now };
  if (decision === 'approved') {
    return [
      { type: 'PublicationReviewApproved', data },
      { type: 'PublicationQueued', data: { ...refOf(p), queuedAt: command.now } },
    ];
  }
  return [
    { type: 'PublicationReviewRejected', data },
    {
      type: 'PublicationFailed',
      data: {
        ...refOf(p),
        code: 'review_rejected',
        reason: comment ? `rejected in review: ${comment}`.slice(0, 300) : 'rejected in review',
        failedAt: command.now,
      },
    },
  ];
}

const ENDED = new Set(['published', 'failed', 'cancelled', 'unpublished']);

function startAttempt(command: StartPublishAttempt, state: State): Event[] {
  const p = requested(state, command.publicationId);
  if (!Number.isSafeInteger(command.attempt) || command.attempt < 1) throw invalid('attempt must be a whole number ≥ 1', { field: 'attempt' });
  instant(command.now, 'now');
  if (ENDED.has(p.status)) throw new DomainError('CONFLICT', `publication ${p.publicationId} is ${p.status}`, { status: p.status, reason: 'ended' });
  if (p.status !== 'queued' && p.status !== 'publishing')
    throw new DomainError('CONFLICT', `publication ${p.publicationId} is ${p.status}, not queued`, { status: p.status, reason: 'not_queued' });
  if (command.attempt <= p.attempts) return [];
  return [{ type: 'PublishAttemptStarted', data: { ...refOf(p), attempt: command.attempt, startedAt: command.now } }];
}

function attemptFailed(command: RecordPublishAttemptFailed, state: State): Event[] {
  const p = requested(state, command.publicationId);
  if (!Number.isSafeInteger(command.attempt) || command.attempt < 1) throw invalid('attempt must be a whole number ≥ 1', { field: 'attempt' });
  const reason = reasonOf(command.reason);
  if (command.nextAttemptAt !== null) instant(command.nextAttemptAt, 'nextAttemptAt');
  instant(command.now, 'now');
  if (p.status !== 'publishing' || command.attempt > p.attempts || command.attempt <= p.failedAttempts) return [];
  return [
    { type: 'PublishAttemptFailed', data: { ...refOf(p), attempt: command.attempt, reason, nextAttemptAt: command.nextAttemptAt, failedAt: command.now } },
  ];
}

function published(command: RecordPublished, state: State): Event[] {
  const p = requested(state, command.publicationId);
  const postId = requireText(command.postId, 'postId');
  const url = requireText(command.url, 'url');
  if (command.publishedAt !== null) instant(command.publishedAt, 'publishedAt');
  instant(command.now, 'now');
  if (typeof command.recovered !== 'boolean') throw invalid('recovered must be a boolean', { field: 'recovered' });
  if (p.status === 'published' || p.status === 'unpublished') return [];
  if (p.status !== 'queued' && p.status !== 'publishing')
    throw new DomainError('CONFLICT', `publication ${p.publicationId} is ${p.status}`, { status: p.status, failure: p.failure?.code ?? null });
  return [
    {
      type: 'PublicationPublished',
      data: { ...refOf(p), postId, url, publishedAt: command.publishedAt ?? command.now, recovered: command.recovered, recordedAt: command.now },
    },
  ];
}

function fail(command: FailPublication, state: State): Event[] {
  const p = requested(state, command.publicationId);
  const code = requireOneOf(command.code, PUBLICATION_FAILURE_CODES, 'code');
  const reason = reasonOf(command.reason);
  instant(command.now, 'now');
  if (ENDED.has(p.status)) return [];
  return [{ type: 'PublicationFailed', data: { ...refOf(p), code, reason, failedAt: command.now } }];
}

function ownersOnly(p: RequestedPublication, requestedBy: unknown): string {
  const by = requireText(requestedBy, 'requestedBy');
  if (by !== p.ownerId) throw new DomainError('NOT_FOUND', `publication ${p.publicationId} not found`, { publicationId: p.publicationId });
  return by;
}

function cancel(command: CancelPublication, state: State): Event[] {
  const p = requested(state, command.publicationId);
  const by = ownersOnly(p, command.requestedBy);
  instant(command.now, 'now');
  switch (p.status) {
    case 'cancelled':
      return [];
    case 'scheduled':
    case 'pending_review':
    case 'in_review':
    case 'queued':
      return [
        {
          type: 'PublicationCancelled',
          data: { ...refOf(p), cancelledBy: by, previousStatus: p.status, reviewId: p.status === 'in_review' ? p.reviewId : null, cancelledAt: command.now },
        },
      ];
    default:
      throw new DomainError('CONFLICT', `publication ${p.publicationId} is ${p.status}: only one not yet publishing can be cancelled`, {
        status: p.status,
        reason: p.status === 'publishing' || p.status === 'published' || p.status === 'unpublished' ? 'publishing_started' : 'ended',
      });
  }
}

function requestUnpublish(command: RequestUnpublish, state: State): Event[] {
  const p = requested(state, command.publicationId);
  const by = ownersOnly(p, command.requestedBy);
  if (typeof command.canUnpublish !== 'boolean') throw invalid('canUnpublish must be a boolean', { field: 'canUnpublish' });
  instant(command.now, 'now');
  if (p.status === 'unpublished' || (p.status === 'published' && p.unpublishRequested)) return [];
  if (p.status !== 'published' || p.post === null)
    throw new DomainError('CONFLICT', `publication ${p.publicationId} is ${p.status}, not published`, { status: p.status, reason: 'not_published' });
  if (!command.canUnpublish)
    throw new DomainError('CONFLICT', `posts on ${p.platform} cannot be taken down through the platform`, {
      status: p.status,
      reason: 'platform_cannot_unpublish',
      platform: p.platform,
    });
  return [{ type: 'PublicationUnpublishRequested', data: { ...refOf(p), postId: p.post.postId, requestedBy: by, requestedAt: command.now } }];
}

function unpublished(command: RecordUnpublished, state: State): Event[] {
  const p = requested(state, command.publicationId);
  instant(command.now, 'now');
  if (p.status === 'unpublished') return [];
  if (p.status !== 'published' || !p.unpublishRequested || p.post === null)
    throw new DomainError('CONFLICT', `publication ${p.publicationId} has no unpublish asked`, { status: p.status });
  return [{ type: 'PublicationUnpublished', data: { ...refOf(p), postId: p.post.postId, unpublishedAt: command.now } }];
}

function unpublishFailed(command: RecordUnpublishFailed, state: State): Event[] {
  const p = requested(state, command.publicationId);
  const reason = reasonOf(command.reason);
  instant(command.now, 'now');
  if (p.status !== 'published' || !p.unpublishRequested || p.post === null) return [];
  return [{ type: 'PublicationUnpublishFailed', data: { ...refOf(p), postId: p.post.postId, reason, failedAt: command.now } }];
}

function metrics(command: RecordPublicationMetrics, state: State): Event[] {
  const p = requested(state, command.publicationId);
  const views = wholeOrNull(command.views, 'views');
  const likes = wholeOrNull(command.likes, 'likes');
  const comments = wholeOrNull(command.comments, 'comments');
  const extra: Record<string, number> = {};
  for (const [key, value] of Object.entries(command.extra ?? {})) {
    const n = wholeOrNull(value, `extra.${key}`);
    if (n !== null) extra[key] = n;
  }
  instant(command.now, 'now');
  if (p.status !== 'published' && p.status !== 'unpublished')
    throw new DomainError('CONFLICT', `publication ${p.publicationId} is ${p.status}, not published`, { status: p.status, reason: 'not_published' });
  if (p.metricsReadings >= MAX_METRICS_READINGS) return [];
  const last = p.metrics;
  if (last && last.views === views && last.likes === likes && last.comments === comments && JSON.stringify(last.extra) === JSON.stringify(extra)) return [];
  return [{ type: 'PublicationMetricsRecorded', data: { ...refOf(p), views, likes, comments, extra, readAt: command.now } }];
}

function decide(command: PublicationCommand, state: State): Event[] {
  switch (command.type) {
    case 'RequestPublication':
      return request(command, state);
    case 'ReleaseScheduledPublication':
      return release(command, state);
    case 'RecordPreReview':
      return preReview(command, state);
    case 'RecordReviewDecision':
      return reviewDecision(command, state);
    case 'StartPublishAttempt':
      return startAttempt(command, state);
    case 'RecordPublishAttemptFailed':
      return attemptFailed(command, state);
    case 'RecordPublished':
      return published(command, state);
    case 'FailPublication':
      return fail(command, state);
    case 'CancelPublication':
      return cancel(command, state);
    case 'RequestUnpublish':
      return requestUnpublish(command, state);
    case 'RecordUnpublished':
      return unpublished(command, state);
    case 'RecordUnpublishFailed':
      return unpublishFailed(command, state);
    case 'RecordPublicationMetrics':
      return metrics(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

/** O(1) per event (the state is updated in place); only PublicationRequested can come first. */
function evolve(state: State, event: Event): State {
  if (event.type === 'PublicationRequested') {
    const d = event.data;
    return {
      status: d.status,
      publicationId: d.publicationId,
      ownerId: d.ownerId,
      articleId: d.articleId,
      articleVersion: d.articleVersion,
      accountId: d.accountId,
      platform: d.platform,
      region: d.region,
      content: d.content,
      scheduledAt: d.scheduledAt,
      clientToken: d.clientToken,
      requestedAt: d.requestedAt,
      authorId: d.authorId ?? null,
      reviewId: null,
      attempts: 0,
      failedAttempts: 0,
      post: null,
      failure: null,
      unpublishRequested: false,
      metrics: null,
      metricsReadings: 0,
    };
  }
  if (state.status === 'none') return state;
  const s = state;
  switch (event.type) {
    case 'PublicationDue':
      s.status = 'pending_review';
      break;
    case 'PreReviewPassed':
      // informational: the PublicationQueued that follows moves it on
      break;
    case 'PreReviewFlagged':
      s.status = 'in_review';
      s.reviewId = event.data.reviewId;
      break;
    case 'PublicationReviewApproved':
    case 'PublicationReviewRejected':
      // informational: PublicationQueued / PublicationFailed follow
      s.reviewId = event.data.reviewId;
      break;
    case 'PublicationQueued':
      s.status = 'queued';
      break;
    case 'PublishAttemptStarted':
      s.status = 'publishing';
      s.attempts = Math.max(s.attempts, event.data.attempt);
      break;
    case 'PublishAttemptFailed':
      s.failedAttempts = Math.max(s.failedAttempts, event.data.attempt);
      break;
    case 'PublicationPublished': {
      const d = event.data;
      s.status = 'published';
      s.post = { postId: d.postId, url: d.url, publishedAt: d.publishedAt, recovered: d.recovered };
      break;
    }
    case 'PublicationFailed':
      s.status = 'failed';
      s.failure = { code: event.data.code, reason: event.data.reason };
      break;
    case 'PublicationCancelled':
      s.status = 'cancelled';
      break;
    case 'PublicationUnpublishRequested':
      s.unpublishRequested = true;
      break;
    case 'PublicationUnpublished':
      s.status = 'unpublished';
      s.unpublishRequested = false;
      break;
    case 'PublicationUnpublishFailed':
      s.unpublishRequested = false;
      break;
    case 'PublicationMetricsRecorded': {
      const d = event.data;
      s.metrics = { views: d.views, likes: d.likes, comments: d.comments, extra: d.extra, readAt: d.readAt };
      s.metricsReadings += 1;
      break;
    }
  }
  return s;
}

export const publicationDecider: Decider<PublicationState, PublicationCommand, PublicationEvent> = {
  initialState,
  decide,
  evolve,
};

/** The binding the command handler uses: stream `publication-{publicationId}`, a few tens of events at most (no snapshots). */
export const publicationAggregate: Aggregate<PublicationState, PublicationCommand, PublicationEvent> = {
  name: 'publication',
  streamName: publicationStream,
  decider: publicationDecider,
  events: publicationEvents,
};

import type { Consumer } from '../consumers/consumer.js';
import { publicationEvents, type PublicationEvent } from '../write-model/publication/events.js';
import { patchRows, upsertRows, type Row } from './sql-batch.js';

/**
 * Read model of publications: `publications`, one row per
 * `publication-{id}` stream, and `publication_history`, one row per
 * lifecycle event (metrics readings only move the row's metrics).
 *
 * A batch is folded in memory and written with three statements: the
 * requests inserted (an existing row stays), the history rows inserted
 * (keyed by stream revision: a repeat inserts nothing), then one patch per
 * publication carrying what its later events set, guarded by the stream
 * revision (`last_revision`): every field a patch sets is absolute (no
 * increments), so a redelivered batch, or the same events split into other
 * batches, leaves the same rows.
 */
export const PUBLICATIONS_PROJECTION = 'publications-v1';

const PREFIX = 'publication-';

/** What the history shows of an event: its status after, its time and a few facts (never the content or a credential). */
function historyOf(event: PublicationEvent): { status: string; at: string; detail: Record<string, unknown> } | null {
  switch (event.type) {
    case 'PublicationRequested':
      return {
        status: event.data.status,
        at: event.data.requestedAt,
        detail: { scheduledAt: event.data.scheduledAt, articleVersion: event.data.articleVersion },
      };
    case 'PublicationDue':
      return { status: 'pending_review', at: event.data.dueAt, detail: {} };
    case 'PreReviewPassed':
      return { status: 'pending_review', at: event.data.reviewedAt, detail: { hitCount: event.data.hitCount } };
    case 'PreReviewFlagged':
      return { status: 'in_review', at: event.data.flaggedAt, detail: { hitCount: event.data.hitCount, reviewId: event.data.reviewId } };
    case 'PublicationReviewApproved':
      return { status: 'in_review', at: event.data.decidedAt, detail: { reviewId: event.data.reviewId, comment: event.data.comment } };
    case 'PublicationReviewRejected':
      return { status: 'in_review', at: event.data.decidedAt, detail: { reviewId: event.data.reviewId, comment: event.data.comment } };
    case 'PublicationQueued':
      return { status: 'queued', at: event.data.queuedAt, detail: {} };
    case 'PublishAttemptStarted':
      return { status: 'publishing', at: event.data.startedAt, detail: { attempt: event.data.attempt } };
    case 'PublishAttemptFailed':
      return {
        status: 'publishing',
        at: event.data.failedAt,
        detail: { attempt: event.data.attempt, reason: event.data.reason, nextAttemptAt: event.data.nextAttemptAt },
      };
    case 'PublicationPublished':
      return {
        status: 'published',
        at: event.data.recordedAt,
        detail: { postId: event.data.postId, url: event.data.url, publishedAt: event.data.publishedAt, recovered: event.data.recovered },
      };
    case 'PublicationFailed':
      return { status: 'failed', at: event.data.failedAt, detail: { code: event.data.code, reason: event.data.reason } };
    case 'PublicationCancelled':
      return { status: 'cancelled', at: event.data.cancelledAt, detail: { previousStatus: event.data.previousStatus } };
    case 'PublicationUnpublishRequested':
      return { status: 'published', at: event.data.requestedAt, detail: { postId: event.data.postId } };
    case 'PublicationUnpublished':
      return { status: 'unpublished', at: event.data.unpublishedAt, detail: { postId: event.data.postId } };
    case 'PublicationUnpublishFailed':
      return { status: 'published', at: event.data.failedAt, detail: { reason: event.data.reason } };
    case 'PublicationMetricsRecorded':
      return null;
  }
}

/** The row's fields an event (after the request) sets; each absolute. */
function patchOf(event: PublicationEvent): Row {
  switch (event.type) {
    case 'PublicationRequested':
      return {};
    case 'PublicationDue':
      return { status: 'pending_review', updated_at: event.data.dueAt };
    case 'PreReviewPassed':
      return { pre_review: 'passed', review_hits: event.data.hitCount, updated_at: event.data.reviewedAt };
    case 'PreReviewFlagged':
      return {
        status: 'in_review',
        pre_review: 'flagged',
        review_id: event.data.reviewId,
        review_status: 'pending',
        review_hits: event.data.hitCount,
        updated_at: event.data.flaggedAt,
      };
    case 'PublicationReviewApproved':
      return { review_status: 'approved', updated_at: event.data.decidedAt };
    case 'PublicationReviewRejected':
      return { review_status: 'rejected', updated_at: event.data.decidedAt };
    case 'PublicationQueued':
      return { status: 'queued', updated_at: event.data.queuedAt };
    case 'PublishAttemptStarted':
      return { status: 'publishing', attempts: event.data.attempt, next_attempt_at: null, updated_at: event.data.startedAt };
    case 'PublishAttemptFailed':
      return { last_error: event.data.reason, next_attempt_at: event.data.nextAttemptAt, updated_at: event.data.failedAt };
    case 'PublicationPublished': {
      const d = event.data;
      return {
        status: 'published',
        post_id: d.postId,
        post_url: d.url,
        published_at: d.publishedAt,
        recovered: d.recovered,
        next_attempt_at: null,
        updated_at: d.recordedAt,
      };
    }
    case 'PublicationFailed':
      return { status: 'failed', failure_code: event.data.code, failure_reason: event.data.reason, next_attempt_at: null, updated_at: event.data.failedAt };
    case 'PublicationCancelled':
      return { status: 'cancelled', ...(event.data.reviewId !== null ? { review_status: 'withdrawn' } : {}), updated_at: event.data.cancelledAt };
    case 'PublicationUnpublishRequested':
      return { unpublish_requested: true, updated_at: event.data.requestedAt };
    case 'PublicationUnpublished':
      return { status: 'unpublished', unpublish_requested: false, updated_at: event.data.unpublishedAt };
    case 'PublicationUnpublishFailed':
      return { unpublish_requested: false, last_error: event.data.reason, updated_at: event.data.failedAt };
    case 'PublicationMetricsRecorded': {
      const d = event.data;
      return { views: d.views, likes: d.likes, comments: d.comments, metrics_extra: d.extra, metrics_read_at: d.readAt, updated_at: d.readAt };
    }
  }
}

export function createPublicationsProjection(name: string = PUBLICATIONS_PROJECTION): Consumer {
  return {
    name,
    filter: { streamPrefixes: [PREFIX], eventTypes: [...publicationEvents.types] },
    async handle(events, { tx }) {
      const inserts = new Map<string, Row>();
      const history: Row[] = [];
      const patches = new Map<string, Row>();
      for (const recorded of events) {
        if (!recorded.streamName.startsWith(PREFIX) || !publicationEvents.owns(recorded.type)) continue;
        const event = publicationEvents.decode(recorded);
        const revision = recorded.revision.toString();
        const id = event.data.publicationId;
        const shown = historyOf(event);
        if (shown) history.push({ publication_id: id, revision, event: event.type, status: shown.status, at: shown.at, detail: shown.detail });
        if (event.type === 'PublicationRequested') {
          const d = event.data;
          if (!inserts.has(id)) {
            inserts.set(id, {
              id,
              owner_id: d.ownerId,
              article_id: d.articleId,
              article_version: d.articleVersion,
              account_id: d.accountId,
              platform: d.platform,
              region: d.region,
              title: d.content.title,
              status: d.status,
              scheduled_at: d.scheduledAt,
              attempts: 0,
              recovered: false,
              unpublish_requested: false,
              requested_at: d.requestedAt,
              updated_at: d.requestedAt,
              last_revision: revision,
            });
          }
          continue;
        }
        patches.set(id, { ...(patches.get(id) ?? { id }), ...patchOf(event), last_revision: revision });
      }
      await upsertRows(tx, 'publications', [...inserts.values()], { conflict: ['id'] });
      await upsertRows(tx, 'publication_history', history, { conflict: ['publication_id', 'revision'] });
      await patchRows(tx, 'publications', [...patches.values()], { key: ['id'], guard: 't.last_revision < n.last_revision' });
    },
  };
}

export const publicationsProjection: Consumer = createPublicationsProjection();

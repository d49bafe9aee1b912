import fc from 'fast-check';
import { PUBLICATION_FAILURE_CODES, publicationAggregate, type PublicationCommand } from '../../../src/write-model/publication/index.js';
import { historySource, sequence } from './harness.js';

const CONTENT = { title: '秋天的第一杯奶茶', body: '正文 ![](media:m2)', summary: null, tags: ['奶茶'], coverMediaId: 'm1', imageMediaIds: ['m2'] };

export const publicationHistories = historySource(
  publicationAggregate,
  sequence(
    fc.record({
      kind: fc.constantFrom(
        'request',
        'schedule',
        'release',
        'pass',
        'flag',
        'approve',
        'reject',
        'start',
        'attemptFailed',
        'published',
        'fail',
        'cancel',
        'unpublish',
        'unpublished',
        'unpublishFailed',
        'metrics',
      ),
      attempt: fc.integer({ min: 1, max: 3 }),
      code: fc.constantFrom(...PUBLICATION_FAILURE_CODES),
      views: fc.integer({ min: 0, max: 3 }),
      recovered: fc.boolean(),
      who: fc.constantFrom('u1', 'u2'),
    }),
    (c, now): PublicationCommand => {
      const id = { publicationId: 'p1' };
      const later = new Date(Date.parse(now) + 3_600_000).toISOString();
      switch (c.kind) {
        case 'request':
        case 'schedule':
          return {
            type: 'RequestPublication',
            ...id,
            ownerId: c.who,
            articleId: 'a1',
            articleVersion: 1,
            accountId: 'acc1',
            platform: 'xiaohongshu',
            region: 'CN',
            content: CONTENT,
            scheduledAt: c.kind === 'schedule' ? later : null,
            now,
          };
        case 'release':
          return { type: 'ReleaseScheduledPublication', ...id, now };
        case 'pass':
        case 'flag':
          return { type: 'RecordPreReview', ...id, verdict: c.kind, hitCount: c.kind === 'flag' ? 2 : 0, reviewId: c.kind === 'flag' ? 'r1' : null, now };
        case 'approve':
        case 'reject':
          return {
            type: 'RecordReviewDecision',
            ...id,
            reviewId: 'r1',
            decision: c.kind === 'approve' ? 'approved' : 'rejected',
            reviewerId: 'admin',
            comment: null,
            now,
          };
        case 'start':
          return { type: 'StartPublishAttempt', ...id, attempt: c.attempt, now };
        case 'attemptFailed':
          return { type: 'RecordPublishAttemptFailed', ...id, attempt: c.attempt, reason: 'timeout', nextAttemptAt: c.attempt < 3 ? later : null, now };
        case 'published':
          return { type: 'RecordPublished', ...id, postId: 'post1', url: 'https://example.test/p/1', publishedAt: now, recovered: c.recovered, now };
        case 'fail':
          return { type: 'FailPublication', ...id, code: c.code, reason: 'because', now };
        case 'cancel':
          return { type: 'CancelPublication', ...id, requestedBy: c.who, now };
        case 'unpublish':
          return { type: 'RequestUnpublish', ...id, requestedBy: c.who, canUnpublish: true, now };
        case 'unpublished':
          return { type: 'RecordUnpublished', ...id, now };
        case 'unpublishFailed':
          return { type: 'RecordUnpublishFailed', ...id, reason: 'down', now };
        case 'metrics':
          return { type: 'RecordPublicationMetrics', ...id, views: c.views, likes: 1, comments: null, now };
      }
    },
    30,
  ),
);

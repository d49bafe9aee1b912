import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { publicationsProjection } from '../../src/projections/publications.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { projectionSpec, recorded } from '../support/projection-spec.js';

describe('publications-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const T0 = '2026-12-09T10:00:00.000Z';
  const T1 = '2026-12-09T10:00:05.000Z';
  const T2 = '2026-12-09T10:01:00.000Z';
  const T3 = '2026-12-09T10:02:00.000Z';
  const CONTENT = { title: '秋天的第一杯奶茶', body: '很长的正文', summary: null, tags: ['奶茶'], coverMediaId: null, imageMediaIds: [] };

  function streamOf(id: string, owner = 'user-1') {
    const ref = { publicationId: id, ownerId: owner, articleId: 'article-1', accountId: 'account-1', platform: 'baidu' };
    const stream = `publication-${id}`;
    let revision = 0n;
    const at = (type: string, data: Record<string, unknown>) => recorded(stream, type, { ...ref, ...data }, { revision: revision++ });
    return { ref, at };
  }

  const COLUMNS = [
    'status',
    'title',
    'pre_review',
    'review_status',
    'review_hits',
    'attempts',
    'last_error',
    'post_id',
    'post_url',
    'recovered',
    'failure_code',
    'views',
    'likes',
    'unpublish_requested',
    'last_revision',
  ];

  it('follows a publication from request through a failed attempt to published with metrics, and keeps its history', async () => {
    const id = randomUUID();
    const s = streamOf(id);
    const events = [
      s.at('PublicationRequested', {
        articleVersion: 2,
        region: 'CN',
        content: CONTENT,
        scheduledAt: null,
        clientToken: 'pubx',
        status: 'pending_review',
        requestedAt: T0,
      }),
      s.at('PreReviewPassed', { hitCount: 0, reviewedAt: T1 }),
      s.at('PublicationQueued', { queuedAt: T1 }),
      s.at('PublishAttemptStarted', { attempt: 1, startedAt: T1 }),
      s.at('PublishAttemptFailed', { attempt: 1, reason: 'TransientPublishError: 503', nextAttemptAt: T2, failedAt: T1 }),
      s.at('PublishAttemptStarted', { attempt: 2, startedAt: T2 }),
      s.at('PublicationPublished', { postId: 'post-9', url: 'https://baidu.example/p/9', publishedAt: T2, recovered: true, recordedAt: T2 }),
      s.at('PublicationMetricsRecorded', { views: 120, likes: 7, comments: null, extra: { shares: 1 }, readAt: T3 }),
    ];
    await projectionSpec(knex, publicationsProjection)
      .given(events)
      .thenAll([
        {
          table: 'publications',
          query: { where: { id }, columns: COLUMNS },
          expected: [
            {
              status: 'published',
              title: '秋天的第一杯奶茶',
              pre_review: 'passed',
              review_status: null,
              review_hits: 0,
              attempts: 2,
              last_error: 'TransientPublishError: 503',
              post_id: 'post-9',
              post_url: 'https://baidu.example/p/9',
              recovered: true,
              failure_code: null,
              views: '120',
              likes: '7',
              unpublish_requested: false,
              last_revision: '7',
            },
          ],
        },
        {
          table: 'publication_history',
          query: { where: { publication_id: id }, columns: ['revision', 'event', 'status'], orderBy: ['revision'] },
          expected: [
            { revision: '0', event: 'PublicationRequested', status: 'pending_review' },
            { revision: '1', event: 'PreReviewPassed', status: 'pending_review' },
            { revision: '2', event: 'PublicationQueued', status: 'queued' },
            { revision: '3', event: 'PublishAttemptStarted', status: 'publishing' },
            { revision: '4', event: 'PublishAttemptFailed', status: 'publishing' },
            { revision: '5', event: 'PublishAttemptStarted', status: 'publishing' },
            { revision: '6', event: 'PublicationPublished', status: 'published' },
          ],
        },
      ]);
  });

  it('the same events split over batches give the same row', async () => {
    const id = randomUUID();
    const s = streamOf(id);
    const events = [
      s.at('PublicationRequested', {
        articleVersion: 1,
        region: 'CN',
        content: CONTENT,
        scheduledAt: T3,
        clientToken: 'p',
        status: 'scheduled',
        requestedAt: T0,
      }),
      s.at('PublicationDue', { scheduledAt: T3, dueAt: T3 }),
      s.at('PreReviewFlagged', { reviewId: 'review-1', hitCount: 3, flaggedAt: T3 }),
      s.at('PublicationReviewRejected', { reviewId: 'review-1', reviewerId: 'admin', comment: '违规', decidedAt: T3 }),
      s.at('PublicationFailed', { code: 'review_rejected', reason: 'rejected in review: 违规', failedAt: T3 }),
    ];
    const expected = [
      {
        status: 'failed',
        title: '秋天的第一杯奶茶',
        pre_review: 'flagged',
        review_status: 'rejected',
        review_hits: 3,
        attempts: 0,
        last_error: null,
        post_id: null,
        post_url: null,
        recovered: false,
        failure_code: 'review_rejected',
        views: null,
        likes: null,
        unpublish_requested: false,
        last_revision: '4',
      },
    ];
    await projectionSpec(knex, publicationsProjection).given(events).then('publications', { where: { id }, columns: COLUMNS }, expected);
    await projectionSpec(knex, publicationsProjection, { batchSize: 2 }).given(events).then('publications', { where: { id }, columns: COLUMNS }, expected);
  });

  it('a cancelled one in review shows its review withdrawn; an unpublished one its status', async () => {
    const a = randomUUID();
    const b = randomUUID();
    const sa = streamOf(a);
    const sb = streamOf(b);
    const requested = { articleVersion: 1, region: 'CN', content: CONTENT, scheduledAt: null, clientToken: 'p', status: 'pending_review', requestedAt: T0 };
    await projectionSpec(knex, publicationsProjection)
      .given([
        sa.at('PublicationRequested', requested),
        sa.at('PreReviewFlagged', { reviewId: 'review-2', hitCount: 1, flaggedAt: T1 }),
        sa.at('PublicationCancelled', { cancelledBy: 'user-1', previousStatus: 'in_review', reviewId: 'review-2', cancelledAt: T2 }),
        sb.at('PublicationRequested', requested),
        sb.at('PreReviewPassed', { hitCount: 0, reviewedAt: T1 }),
        sb.at('PublicationQueued', { queuedAt: T1 }),
        sb.at('PublishAttemptStarted', { attempt: 1, startedAt: T1 }),
        sb.at('PublicationPublished', { postId: 'p1', url: 'https://x.example/p1', publishedAt: T1, recovered: false, recordedAt: T1 }),
        sb.at('PublicationUnpublishRequested', { postId: 'p1', requestedBy: 'user-1', requestedAt: T2 }),
        sb.at('PublicationUnpublished', { postId: 'p1', unpublishedAt: T3 }),
      ])
      .then('publications', { where: { owner_id: 'user-1' }, columns: ['id', 'status', 'review_status', 'unpublish_requested'], orderBy: ['status'] }, [
        { id: a, status: 'cancelled', review_status: 'withdrawn', unpublish_requested: false },
        { id: b, status: 'unpublished', review_status: null, unpublish_requested: false },
      ]);
  });
});

import { expect } from 'chai';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  clientTokenFor,
  MAX_METRICS_READINGS,
  publicationDecider,
  publicationStream,
  type PublicationCommand,
  type PublicationEvent,
  type RequestPublication,
} from '../../src/write-model/publication/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(publicationDecider);
const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;
const reason = (r: string) => (e: DomainError) => e.code === 'CONFLICT' && e.details.reason === r;
const field = (f: string) => (e: DomainError) => e.code === 'VALIDATION_ERROR' && e.details.field === f;

const ID = '6f1c1d7e-2b1a-4c55-9a43-0c1b5d0f7a11';
const OWNER = 'user-1';
const T0 = '2026-12-09T10:00:00.000Z';
const T1 = '2026-12-09T10:00:05.000Z';
const T2 = '2026-12-09T10:01:00.000Z';
const LATER = '2026-12-10T08:00:00.000Z';
const ref = { publicationId: ID, ownerId: OWNER, articleId: 'article-1', accountId: 'account-1', platform: 'xiaohongshu' };
const CONTENT = { title: '秋天的第一杯奶茶', body: '好喝 ![](media:m2)', summary: '一句话', tags: ['奶茶', '秋天'], coverMediaId: 'm1', imageMediaIds: ['m2'] };

const requestCmd: RequestPublication = {
  type: 'RequestPublication',
  ...ref,
  articleVersion: 3,
  region: 'CN',
  content: CONTENT,
  scheduledAt: null,
  now: T0,
};
const requested: PublicationEvent = {
  type: 'PublicationRequested',
  data: {
    ...ref,
    articleVersion: 3,
    region: 'CN',
    content: CONTENT,
    scheduledAt: null,
    clientToken: clientTokenFor(ID),
    status: 'pending_review',
    requestedAt: T0,
  },
};
const scheduled: PublicationEvent = { type: 'PublicationRequested', data: { ...requested.data, scheduledAt: LATER, status: 'scheduled' } as never };
const passed: PublicationEvent[] = [
  { type: 'PreReviewPassed', data: { ...ref, hitCount: 0, reviewedAt: T1 } },
  { type: 'PublicationQueued', data: { ...ref, queuedAt: T1 } },
];
const flagged: PublicationEvent = { type: 'PreReviewFlagged', data: { ...ref, reviewId: 'review-1', hitCount: 2, flaggedAt: T1 } };
const started = (attempt: number): PublicationEvent => ({ type: 'PublishAttemptStarted', data: { ...ref, attempt, startedAt: T1 } });
const attemptFailed = (attempt: number): PublicationEvent => ({
  type: 'PublishAttemptFailed',
  data: { ...ref, attempt, reason: 'timeout', nextAttemptAt: T2, failedAt: T1 },
});
const publishedEvent: PublicationEvent = {
  type: 'PublicationPublished',
  data: { ...ref, postId: 'post-1', url: 'https://example.test/p/1', publishedAt: T1, recovered: false, recordedAt: T2 },
};
const failedEvent: PublicationEvent = { type: 'PublicationFailed', data: { ...ref, code: 'refused', reason: 'content rules', failedAt: T2 } };
const cancelled: PublicationEvent = {
  type: 'PublicationCancelled',
  data: { ...ref, cancelledBy: OWNER, previousStatus: 'queued', reviewId: null, cancelledAt: T2 },
};
const unpublishAsked: PublicationEvent = {
  type: 'PublicationUnpublishRequested',
  data: { ...ref, postId: 'post-1', requestedBy: OWNER, requestedAt: T2 },
};
const live = [requested, ...passed, started(1), publishedEvent];

describe('Publication decider', () => {
  it('names its stream publication-{id} and derives the client token from the id', () => {
    expect(publicationStream(ID)).to.equal(`publication-${ID}`);
    expect(clientTokenFor(ID)).to.equal(`pub${ID.replaceAll('-', '')}`);
  });

  describe('RequestPublication', () => {
    it('records the request with the content snapshot, due at once', () => spec.given([]).when(requestCmd).then([requested]));
    it('a future time makes it scheduled', () =>
      spec
        .given([])
        .when({ ...requestCmd, scheduledAt: LATER })
        .then([scheduled]));
    it('records who asked when the owner is their organization, not when the owner asked', () => {
      spec
        .given([])
        .when({ ...requestCmd, authorId: 'member-7' })
        .then([{ type: 'PublicationRequested', data: { ...requested.data, authorId: 'member-7' } } as never]);
      spec
        .given([])
        .when({ ...requestCmd, authorId: requestCmd.ownerId })
        .then([requested]);
    });
    it('a repeat of the same request is a no-op', () =>
      spec
        .given([requested])
        .when({ ...requestCmd, now: T2 })
        .then([]));
    it('another request under the same id is CONFLICT', () =>
      spec
        .given([requested])
        .when({ ...requestCmd, content: { ...CONTENT, title: '别的' } })
        .thenThrows(DomainError, code('CONFLICT')));
    it('refuses a time in the past', () =>
      spec
        .given([])
        .when({ ...requestCmd, scheduledAt: T0 })
        .thenThrows(DomainError, field('scheduledAt')));
    it('refuses a time over 90 days ahead', () =>
      spec
        .given([])
        .when({ ...requestCmd, scheduledAt: '2027-03-20T00:00:00.000Z' })
        .thenThrows(DomainError, field('scheduledAt')));
    it('refuses a content without a title, a bad version and a bad time', () => {
      spec
        .given([])
        .when({ ...requestCmd, content: { ...CONTENT, title: ' ' } })
        .thenThrows(DomainError, field('content.title'));
      spec
        .given([])
        .when({ ...requestCmd, content: { ...CONTENT, tags: [1] as never } })
        .thenThrows(DomainError, field('content.tags'));
      spec
        .given([])
        .when({ ...requestCmd, articleVersion: 0 })
        .thenThrows(DomainError, field('articleVersion'));
      spec
        .given([])
        .when({ ...requestCmd, now: 'yesterday' })
        .thenThrows(DomainError, field('now'));
    });
  });

  describe('ReleaseScheduledPublication', () => {
    const release: PublicationCommand = { type: 'ReleaseScheduledPublication', publicationId: ID, now: LATER };
    it('a scheduled one becomes due', () =>
      spec
        .given([scheduled])
        .when(release)
        .then([{ type: 'PublicationDue', data: { ...ref, scheduledAt: LATER, dueAt: LATER } }]));
    it('is a no-op once released or cancelled', () => {
      spec
        .given([scheduled, { type: 'PublicationDue', data: { ...ref, scheduledAt: LATER, dueAt: LATER } }])
        .when(release)
        .then([]);
      spec
        .given([scheduled, { ...cancelled, data: { ...cancelled.data, previousStatus: 'scheduled' } } as PublicationEvent])
        .when(release)
        .then([]);
    });
    it('an unknown publication is NOT_FOUND', () => spec.given([]).when(release).thenThrows(DomainError, code('NOT_FOUND')));
  });

  describe('RecordPreReview', () => {
    const pass: PublicationCommand = { type: 'RecordPreReview', publicationId: ID, verdict: 'pass', hitCount: 0, reviewId: null, now: T1 };
    const flag: PublicationCommand = { type: 'RecordPreReview', publicationId: ID, verdict: 'flag', hitCount: 2, reviewId: 'review-1', now: T1 };
    it('pass: passed and queued', () => spec.given([requested]).when(pass).then(passed));
    it('flag: waits for the human review', () => spec.given([requested]).when(flag).then([flagged]));
    it('a repeat, or one cancelled meanwhile, is a no-op', () => {
      spec
        .given([requested, ...passed])
        .when(pass)
        .then([]);
      spec.given([requested, flagged]).when(flag).then([]);
      spec.given([requested, cancelled]).when(pass).then([]);
    });
    it('a scheduled one is not due yet: CONFLICT', () => spec.given([scheduled]).when(pass).thenThrows(DomainError, reason('not_due')));
    it('a flag needs the review id', () =>
      spec
        .given([requested])
        .when({ ...flag, reviewId: null })
        .thenThrows(DomainError, field('reviewId')));
  });

  describe('RecordReviewDecision', () => {
    const decision = (d: 'approved' | 'rejected'): PublicationCommand => ({
      type: 'RecordReviewDecision',
      publicationId: ID,
      reviewId: 'review-1',
      decision: d,
      reviewerId: 'admin-1',
      comment: d === 'rejected' ? '含有违规词' : null,
      now: T2,
    });
    it('approved: queued', () =>
      spec
        .given([requested, flagged])
        .when(decision('approved'))
        .then([
          { type: 'PublicationReviewApproved', data: { ...ref, reviewId: 'review-1', reviewerId: 'admin-1', comment: null, decidedAt: T2 } },
          { type: 'PublicationQueued', data: { ...ref, queuedAt: T2 } },
        ]));
    it('rejected: failed review_rejected', () =>
      spec
        .given([requested, flagged])
        .when(decision('rejected'))
        .then([
          { type: 'PublicationReviewRejected', data: { ...ref, reviewId: 'review-1', reviewerId: 'admin-1', comment: '含有违规词', decidedAt: T2 } },
          { type: 'PublicationFailed', data: { ...ref, code: 'review_rejected', reason: 'rejected in review: 含有违规词', failedAt: T2 } },
        ]));
    it('a repeat or a cancelled one: no-op', () => {
      spec
        .given([
          requested,
          flagged,
          { type: 'PublicationReviewApproved', data: { ...ref, reviewId: 'review-1', reviewerId: 'admin-1', comment: null, decidedAt: T2 } },
          { type: 'PublicationQueued', data: { ...ref, queuedAt: T2 } },
        ])
        .when(decision('approved'))
        .then([]);
      spec
        .given([requested, flagged, { ...cancelled, data: { ...cancelled.data, previousStatus: 'in_review', reviewId: 'review-1' } } as PublicationEvent])
        .when(decision('rejected'))
        .then([]);
    });
    it('another review is CONFLICT', () =>
      spec
        .given([requested, flagged])
        .when({ ...decision('approved'), reviewId: 'review-2' } as PublicationCommand)
        .thenThrows(DomainError, code('CONFLICT')));
  });

  describe('StartPublishAttempt', () => {
    const start = (attempt: number): PublicationCommand => ({ type: 'StartPublishAttempt', publicationId: ID, attempt, now: T1 });
    it('a queued one starts publishing', () =>
      spec
        .given([requested, ...passed])
        .when(start(1))
        .then([started(1)]));
    it('a retry starts the next attempt; a repeat of an attempt is a no-op', () => {
      spec
        .given([requested, ...passed, started(1), attemptFailed(1)])
        .when(start(2))
        .then([started(2)]);
      spec
        .given([requested, ...passed, started(1)])
        .when(start(1))
        .then([]);
    });
    it('ended or not queued: CONFLICT', () => {
      spec
        .given([requested, ...passed, cancelled])
        .when(start(1))
        .thenThrows(DomainError, reason('ended'));
      spec.given(live).when(start(2)).thenThrows(DomainError, reason('ended'));
      spec.given([requested, flagged]).when(start(1)).thenThrows(DomainError, reason('not_queued'));
    });
  });

  describe('RecordPublishAttemptFailed', () => {
    const failedCmd = (attempt: number): PublicationCommand => ({
      type: 'RecordPublishAttemptFailed',
      publicationId: ID,
      attempt,
      reason: 'timeout',
      nextAttemptAt: T2,
      now: T1,
    });
    it('records the attempt failure', () =>
      spec
        .given([requested, ...passed, started(1)])
        .when(failedCmd(1))
        .then([attemptFailed(1)]));
    it('a repeat, an attempt never started or an ended one: no-op', () => {
      spec
        .given([requested, ...passed, started(1), attemptFailed(1)])
        .when(failedCmd(1))
        .then([]);
      spec
        .given([requested, ...passed, started(1)])
        .when(failedCmd(2))
        .then([]);
      spec.given(live).when(failedCmd(1)).then([]);
    });
    it('refuses a long reason', () =>
      spec
        .given([requested, ...passed, started(1)])
        .when({ ...failedCmd(1), reason: 'x'.repeat(501) } as PublicationCommand)
        .thenThrows(DomainError, field('reason')));
  });

  describe('RecordPublished', () => {
    const publish: PublicationCommand = {
      type: 'RecordPublished',
      publicationId: ID,
      postId: 'post-1',
      url: 'https://example.test/p/1',
      publishedAt: T1,
      recovered: false,
      now: T2,
    };
    it('records the post', () =>
      spec
        .given([requested, ...passed, started(1)])
        .when(publish)
        .then([publishedEvent]));
    it('without the platform time, now is the time', () =>
      spec
        .given([requested, ...passed, started(1)])
        .when({ ...publish, publishedAt: null, recovered: true } as PublicationCommand)
        .then([{ type: 'PublicationPublished', data: { ...publishedEvent.data, publishedAt: T2, recovered: true } as never }]));
    it('already published: no-op; failed or cancelled: CONFLICT', () => {
      spec.given(live).when(publish).then([]);
      spec
        .given([requested, ...passed, started(1), failedEvent])
        .when(publish)
        .thenThrows(DomainError, code('CONFLICT'));
      spec
        .given([requested, ...passed, cancelled])
        .when(publish)
        .thenThrows(DomainError, code('CONFLICT'));
    });
  });

  describe('FailPublication', () => {
    const failCmd: PublicationCommand = { type: 'FailPublication', publicationId: ID, code: 'refused', reason: 'content rules', now: T2 };
    it('fails one not ended', () =>
      spec
        .given([requested, ...passed, started(1)])
        .when(failCmd)
        .then([failedEvent]));
    it('a late failure never undoes a publish', () => spec.given(live).when(failCmd).then([]));
    it('refuses an unknown code', () =>
      spec
        .given([requested])
        .when({ ...failCmd, code: 'nope' } as never)
        .thenThrows(DomainError, field('code')));
  });

  describe('CancelPublication', () => {
    const cancelCmd: PublicationCommand = { type: 'CancelPublication', publicationId: ID, requestedBy: OWNER, now: T2 };
    it('cancels a queued one', () =>
      spec
        .given([requested, ...passed])
        .when(cancelCmd)
        .then([cancelled]));
    it('cancels one in review, naming the review to withdraw', () =>
      spec
        .given([requested, flagged])
        .when(cancelCmd)
        .then([{ type: 'PublicationCancelled', data: { ...cancelled.data, previousStatus: 'in_review', reviewId: 'review-1' } }]));
    it('a repeat is a no-op', () =>
      spec
        .given([requested, ...passed, cancelled])
        .when(cancelCmd)
        .then([]));
    it('once publishing started: CONFLICT publishing_started; failed: ended', () => {
      spec
        .given([requested, ...passed, started(1)])
        .when(cancelCmd)
        .thenThrows(DomainError, reason('publishing_started'));
      spec.given(live).when(cancelCmd).thenThrows(DomainError, reason('publishing_started'));
      spec.given([requested, failedEvent]).when(cancelCmd).thenThrows(DomainError, reason('ended'));
    });
    it("someone else's: NOT_FOUND", () =>
      spec
        .given([requested])
        .when({ ...cancelCmd, requestedBy: 'user-2' } as PublicationCommand)
        .thenThrows(DomainError, code('NOT_FOUND')));
  });

  describe('RequestUnpublish / RecordUnpublished / RecordUnpublishFailed', () => {
    const ask: PublicationCommand = { type: 'RequestUnpublish', publicationId: ID, requestedBy: OWNER, canUnpublish: true, now: T2 };
    const done: PublicationCommand = { type: 'RecordUnpublished', publicationId: ID, now: T2 };
    it('asks a published post down, then records it down', () => {
      spec.given(live).when(ask).then([unpublishAsked]);
      spec
        .given([...live, unpublishAsked])
        .when(done)
        .then([{ type: 'PublicationUnpublished', data: { ...ref, postId: 'post-1', unpublishedAt: T2 } }]);
    });
    it('repeats are no-ops', () => {
      spec
        .given([...live, unpublishAsked])
        .when(ask)
        .then([]);
      spec
        .given([...live, unpublishAsked, { type: 'PublicationUnpublished', data: { ...ref, postId: 'post-1', unpublishedAt: T2 } }])
        .when(done)
        .then([]);
    });
    it('a platform that cannot, or not published: CONFLICT', () => {
      spec
        .given(live)
        .when({ ...ask, canUnpublish: false } as PublicationCommand)
        .thenThrows(DomainError, reason('platform_cannot_unpublish'));
      spec
        .given([requested, ...passed])
        .when(ask)
        .thenThrows(DomainError, reason('not_published'));
      spec.given(live).when(done).thenThrows(DomainError, code('CONFLICT'));
    });
    it('a failed unpublish leaves it published (asked again later)', () => {
      spec
        .given([...live, unpublishAsked])
        .when({ type: 'RecordUnpublishFailed', publicationId: ID, reason: 'gone wrong', now: T2 })
        .then([{ type: 'PublicationUnpublishFailed', data: { ...ref, postId: 'post-1', reason: 'gone wrong', failedAt: T2 } }]);
      spec.given(live).when({ type: 'RecordUnpublishFailed', publicationId: ID, reason: 'x', now: T2 }).then([]);
    });
  });

  describe('RecordPublicationMetrics', () => {
    const read = (views: number): PublicationCommand => ({ type: 'RecordPublicationMetrics', publicationId: ID, views, likes: 2, comments: null, now: T2 });
    const recorded = (views: number): PublicationEvent => ({
      type: 'PublicationMetricsRecorded',
      data: { ...ref, views, likes: 2, comments: null, extra: {}, readAt: T2 },
    });
    it('records a reading that changed, and only then', () => {
      spec
        .given(live)
        .when(read(10))
        .then([recorded(10)]);
      spec
        .given([...live, recorded(10)])
        .when(read(10))
        .then([]);
      spec
        .given([...live, recorded(10)])
        .when(read(11))
        .then([recorded(11)]);
    });
    it(`keeps at most ${MAX_METRICS_READINGS} readings`, () => {
      const many = Array.from({ length: MAX_METRICS_READINGS }, (_, i) => recorded(i));
      spec
        .given([...live, ...many])
        .when(read(999))
        .then([]);
    });
    it('not published: CONFLICT; a negative count: VALIDATION_ERROR', () => {
      spec.given([requested]).when(read(1)).thenThrows(DomainError, reason('not_published'));
      spec.given(live).when(read(-1)).thenThrows(DomainError, field('views'));
    });
  });
});

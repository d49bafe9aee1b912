import { expect } from 'chai';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  MAX_REVIEW_HITS,
  reviewDecider,
  reviewStream,
  type ApproveReview,
  type ClaimReview,
  type OpenReview,
  type RejectReview,
  type ReleaseReview,
  type ReviewEvent,
  type ReviewHit,
  type WithdrawReview,
} from '../../src/write-model/review/index.js';
import { userDecider } from '../../src/write-model/user/decider.js';
import { USER_ROLES } from '../../src/write-model/user/events.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(reviewDecider);
const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;
const reason = (c: DomainError['code'], r: string) => (e: DomainError) => e.code === c && e.details.reason === r;

const R = 'rv-1';
const OWNER = 'author-1';
const ALICE = 'reviewer-alice';
const BOB = 'reviewer-bob';
const T0 = '2026-12-09T08:00:00.000Z';
const T1 = '2026-12-09T08:05:00.000Z';
const T2 = '2026-12-09T08:10:30.000Z';
const T_LATE = '2026-12-09T08:40:00.000Z';

const hit: ReviewHit = { ruleId: 'r1', ruleName: 'ads', kind: 'contact', category: null, field: 'body', start: 4, end: 15, match: '13812345678' };

const openCmd: OpenReview = {
  type: 'OpenReview',
  reviewId: R,
  publicationId: 'pub-1',
  articleId: 'art-1',
  articleVersion: 2,
  ownerId: OWNER,
  platform: 'xiaohongshu',
  region: 'CN',
  title: '露营装备清单',
  hits: [hit],
  now: T0,
};
const opened: ReviewEvent = {
  type: 'ReviewOpened',
  data: {
    reviewId: R,
    publicationId: 'pub-1',
    articleId: 'art-1',
    articleVersion: 2,
    ownerId: OWNER,
    platform: 'xiaohongshu',
    region: 'CN',
    title: '露营装备清单',
    hits: [hit],
    content: null,
    openedAt: T0,
  },
};
const claimBy = (reviewerId: string, now = T1): ClaimReview => ({ type: 'ClaimReview', reviewId: R, reviewerId, claimTtlMinutes: 30, now });
const claimed = (reviewerId: string, at = T1, takenOverFrom: string | null = null): ReviewEvent => ({
  type: 'ReviewClaimed',
  data: { reviewId: R, reviewerId, takenOverFrom, claimedAt: at },
});
const approveBy = (reviewerId: string, comment: string | null = null): ApproveReview => ({ type: 'ApproveReview', reviewId: R, reviewerId, comment, now: T2 });
const rejectBy = (reviewerId: string, comment: string): RejectReview => ({ type: 'RejectReview', reviewId: R, reviewerId, comment, now: T2 });
const decided = { reviewId: R, publicationId: 'pub-1', ownerId: OWNER, reviewerId: ALICE, decidedAt: T2, waitedSeconds: 630 };

describe('review decider (stream review-{reviewId})', () => {
  it('names its stream', () => expect(reviewStream(R)).to.equal('review-rv-1'));

  describe('OpenReview', () => {
    it('opens the review with its hits', () => spec.given([]).when(openCmd).then([opened]));

    it('keeps the content when the opener passes it', () => {
      const content = { summary: null, body: '加我 13812345678', tags: ['露营'] };
      spec
        .given([])
        .when({ ...openCmd, content })
        .then([{ ...opened, data: { ...opened.data, content } } as ReviewEvent]);
    });

    it('is a no-op for the same publication, CONFLICT for another', () => {
      spec.given([opened]).when(openCmd).then([]);
      spec
        .given([opened])
        .when({ ...openCmd, publicationId: 'pub-2' })
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('refuses malformed hits, too many hits and a bad version', () => {
      spec
        .given([])
        .when({ ...openCmd, hits: [{ ...hit, field: 'footer' as 'body' }] })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      spec
        .given([])
        .when({ ...openCmd, hits: [{ ...hit, start: 9, end: 3 }] })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      spec
        .given([])
        .when({ ...openCmd, hits: Array.from({ length: MAX_REVIEW_HITS + 1 }, () => hit) })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      spec
        .given([])
        .when({ ...openCmd, articleVersion: 0 })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      spec
        .given([])
        .when({ ...openCmd, now: 'yesterday' })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('ClaimReview', () => {
    it('claims an open review', () =>
      spec
        .given([opened])
        .when(claimBy(ALICE))
        .then([claimed(ALICE)]));

    it('is a no-op for the reviewer who holds it', () =>
      spec
        .given([opened, claimed(ALICE)])
        .when(claimBy(ALICE, T2))
        .then([]));

    it("refuses another reviewer's live claim with who holds it and until when", () => {
      spec
        .given([opened, claimed(ALICE)])
        .when(claimBy(BOB, T2))
        .thenThrows<DomainError>(
          DomainError,
          (e) => e.code === 'CONFLICT' && e.details.claimedBy === ALICE && e.details.expiresAt === '2026-12-09T08:35:00.000Z',
        );
    });

    it('takes over a claim older than the TTL', () => {
      spec
        .given([opened, claimed(ALICE)])
        .when(claimBy(BOB, T_LATE))
        .then([claimed(BOB, T_LATE, ALICE)]);
    });

    it('refuses the author (own content), an unknown review and a decided one', () => {
      spec.given([opened]).when(claimBy(OWNER)).thenThrows<DomainError>(DomainError, reason('PERMISSION_DENIED', 'own_content'));
      spec.given([]).when(claimBy(ALICE)).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
      spec
        .given([opened, claimed(ALICE), { type: 'ReviewApproved', data: { ...decided, comment: null } }])
        .when(claimBy(BOB, T_LATE))
        .thenThrows<DomainError>(DomainError, reason('CONFLICT', 'approved'));
    });

    it("refuses the member who wrote an organization's content, as its owner would be", () => {
      const forOrganization = { ...openCmd, ownerId: 'org-1', authorId: OWNER };
      const openedForOrganization: ReviewEvent = { type: 'ReviewOpened', data: { ...opened.data, ownerId: 'org-1', authorId: OWNER } as never };
      spec.given([]).when(forOrganization).then([openedForOrganization]);
      spec.given([openedForOrganization]).when(claimBy(OWNER)).thenThrows<DomainError>(DomainError, reason('PERMISSION_DENIED', 'own_content'));
      spec
        .given([openedForOrganization, claimed(ALICE)])
        .when(approveBy(ALICE))
        .then([{ type: 'ReviewApproved', data: { ...decided, ownerId: 'org-1', comment: null } }]);
      // an author who is the owner is not recorded twice
      spec
        .given([])
        .when({ ...openCmd, authorId: OWNER })
        .then([opened]);
    });

    it('refuses a missing TTL', () => {
      spec
        .given([opened])
        .when({ ...claimBy(ALICE), claimTtlMinutes: 0 })
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('ReleaseReview', () => {
    const release = (reviewerId: string): ReleaseReview => ({ type: 'ReleaseReview', reviewId: R, reviewerId, now: T2 });

    it('gives the review back', () => {
      spec
        .given([opened, claimed(ALICE)])
        .when(release(ALICE))
        .then([{ type: 'ReviewReleased', data: { reviewId: R, reviewerId: ALICE, releasedAt: T2 } }]);
    });

    it('is a no-op when nobody holds it', () => spec.given([opened]).when(release(ALICE)).then([]));

    it("refuses someone else's claim and a decided review", () => {
      spec
        .given([opened, claimed(ALICE)])
        .when(release(BOB))
        .thenThrows<DomainError>(DomainError, reason('CONFLICT', 'claimed'));
      spec
        .given([opened, claimed(ALICE), { type: 'ReviewRejected', data: { ...decided, comment: 'no' } }])
        .when(release(ALICE))
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });
  });

  describe('ApproveReview', () => {
    it('approves for the claimer, with the time it waited', () => {
      spec
        .given([opened, claimed(ALICE)])
        .when(approveBy(ALICE, '  fine  '))
        .then([{ type: 'ReviewApproved', data: { ...decided, comment: 'fine' } }]);
    });

    it('takes a blank comment as none', () => {
      spec
        .given([opened, claimed(ALICE)])
        .when(approveBy(ALICE, '   '))
        .then([{ type: 'ReviewApproved', data: { ...decided, comment: null } }]);
    });

    it('is a no-op when the same reviewer approves again', () => {
      spec
        .given([opened, claimed(ALICE), { type: 'ReviewApproved', data: { ...decided, comment: null } }])
        .when(approveBy(ALICE))
        .then([]);
    });

    it('refuses an unclaimed review, a review another holds, the author and a rejected review', () => {
      spec.given([opened]).when(approveBy(ALICE)).thenThrows<DomainError>(DomainError, reason('CONFLICT', 'not_claimed'));
      spec
        .given([opened, claimed(ALICE)])
        .when(approveBy(BOB))
        .thenThrows<DomainError>(DomainError, reason('CONFLICT', 'claimed'));
      spec
        .given([opened, claimed(ALICE)])
        .when(approveBy(OWNER))
        .thenThrows<DomainError>(DomainError, reason('PERMISSION_DENIED', 'own_content'));
      spec
        .given([opened, claimed(ALICE), { type: 'ReviewRejected', data: { ...decided, comment: 'no' } }])
        .when(approveBy(ALICE))
        .thenThrows<DomainError>(DomainError, reason('CONFLICT', 'rejected'));
      spec
        .given([opened, claimed(ALICE)])
        .when(approveBy(ALICE, 'x'.repeat(2001)))
        .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('RejectReview', () => {
    it('rejects with the comment', () => {
      spec
        .given([opened, claimed(ALICE)])
        .when(rejectBy(ALICE, '含联系方式'))
        .then([{ type: 'ReviewRejected', data: { ...decided, comment: '含联系方式' } }]);
    });

    it('needs a comment', () => {
      spec
        .given([opened, claimed(ALICE)])
        .when(rejectBy(ALICE, ' '))
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'comment');
    });

    it('is a no-op repeated by the same reviewer; CONFLICT after an approval', () => {
      const rejected: ReviewEvent = { type: 'ReviewRejected', data: { ...decided, comment: 'no' } };
      spec
        .given([opened, claimed(ALICE), rejected])
        .when(rejectBy(ALICE, 'no'))
        .then([]);
      spec
        .given([opened, claimed(ALICE), { type: 'ReviewApproved', data: { ...decided, comment: null } }])
        .when(rejectBy(ALICE, 'no'))
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });
  });

  describe('WithdrawReview', () => {
    const withdraw: WithdrawReview = { type: 'WithdrawReview', reviewId: R, now: T2 };

    it('withdraws an open review (claimed or not)', () => {
      const withdrawn: ReviewEvent = { type: 'ReviewWithdrawn', data: { reviewId: R, publicationId: 'pub-1', ownerId: OWNER, withdrawnAt: T2 } };
      spec.given([opened]).when(withdraw).then([withdrawn]);
      spec
        .given([opened, claimed(ALICE)])
        .when(withdraw)
        .then([withdrawn]);
    });

    it('is a no-op once withdrawn or decided; NOT_FOUND for an unknown review', () => {
      spec
        .given([opened, { type: 'ReviewWithdrawn', data: { reviewId: R, publicationId: 'pub-1', ownerId: OWNER, withdrawnAt: T1 } }])
        .when(withdraw)
        .then([]);
      spec
        .given([opened, claimed(ALICE), { type: 'ReviewApproved', data: { ...decided, comment: null } }])
        .when(withdraw)
        .then([]);
      spec.given([]).when(withdraw).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
    });

    it('leaves a withdrawn review undecidable', () => {
      spec
        .given([opened, claimed(ALICE), { type: 'ReviewWithdrawn', data: { reviewId: R, publicationId: 'pub-1', ownerId: OWNER, withdrawnAt: T1 } }])
        .when(approveBy(ALICE))
        .thenThrows<DomainError>(DomainError, reason('CONFLICT', 'withdrawn'));
    });
  });
});

describe('the reviewer role', () => {
  it('is one of the user roles, and an admin can give it', () => {
    expect(USER_ROLES).to.include('reviewer');
    const registered = {
      type: 'UserRegistered' as const,
      data: { userId: 'u1', email: 'r@example.test', passwordHash: 'h', displayName: 'R', role: 'user' as const, registeredAt: T0 },
    };
    const events = userDecider.decide(
      { type: 'ChangeRole', userId: 'u1', role: 'reviewer', now: T1 },
      userDecider.evolve(userDecider.initialState(), registered),
    );
    expect(events).to.deep.equal([{ type: 'RoleChanged', data: { userId: 'u1', role: 'reviewer', previousRole: 'user', changedAt: T1 } }]);
  });
});

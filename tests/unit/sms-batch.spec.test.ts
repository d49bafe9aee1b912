import { expect } from 'chai';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { reviewDecider, type OpenReview, type ReviewEvent } from '../../src/write-model/review/index.js';
import { RECIPIENTS_PER_EVENT, senderIdProblem, smsBatchDecider, type CreateSmsBatch, type SmsBatchEvent } from '../../src/write-model/sms-batch/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(smsBatchDecider);
const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;
const field = (f: string) => (e: DomainError) => e.code === 'VALIDATION_ERROR' && e.details.field === f;
const reason = (r: string) => (e: DomainError) => e.code === 'CONFLICT' && e.details.reason === r;

const BATCH = '6f1c1b64-2f0e-4d3e-9a61-1c4d3b0e9a01';
const REVIEW = '7a2d2c75-3f1f-4e4f-8b72-2d5e4c1f0b12';
const OWNER = 'user-1';
const T0 = '2026-12-10T10:00:00.000Z';
const T1 = '2026-12-10T10:00:05.000Z';
const LATER = '2026-12-10T12:00:00.000Z';
const ref = { batchId: BATCH, ownerId: OWNER };

const createCmd: CreateSmsBatch = {
  type: 'CreateSmsBatch',
  ...ref,
  organizationId: 'org-1',
  text: 'Sale starts today',
  senderId: 'ACME',
  recipients: ['+8613800138000', '+8613900000000'],
  invalidSkipped: 1,
  duplicatesRemoved: 2,
  scheduledAt: null,
  now: T0,
};
const created: SmsBatchEvent = {
  type: 'SmsBatchCreated',
  data: {
    ...ref,
    organizationId: 'org-1',
    text: 'Sale starts today',
    senderId: 'ACME',
    encoding: 'GSM-7',
    segments: 1,
    recipientCount: 2,
    chunkCount: 1,
    invalidSkipped: 1,
    duplicatesRemoved: 2,
    scheduledAt: null,
    createdAt: T0,
  },
};
const chunk: SmsBatchEvent = {
  type: 'SmsBatchRecipientsAdded',
  data: { batchId: BATCH, chunk: 0, offset: 0, recipients: ['+8613800138000', '+8613900000000'] },
};
const flagged: SmsBatchEvent = { type: 'SmsBatchPreReviewFlagged', data: { ...ref, hitCount: 2, reviewId: REVIEW, flaggedAt: T1 } };
const passed: SmsBatchEvent = { type: 'SmsBatchPreReviewPassed', data: { ...ref, scheduledAt: null, passedAt: T1 } };
const approved: SmsBatchEvent = {
  type: 'SmsBatchApproved',
  data: { ...ref, reviewId: REVIEW, reviewerId: 'rev-1', comment: null, scheduledAt: null, decidedAt: T1 },
};
const started: SmsBatchEvent = {
  type: 'SmsBatchSendingStarted',
  data: { ...ref, organizationId: 'org-1', recipientCount: 2, startedAt: T1 },
};

describe('sms_batch decider', () => {
  describe('CreateSmsBatch', () => {
    it('creates the batch with its recipients in a chunk', () => {
      spec.given([]).when(createCmd).then([created, chunk]);
    });

    it('splits many recipients into chunks of RECIPIENTS_PER_EVENT, offsets in order', () => {
      const recipients = Array.from({ length: 2 * RECIPIENTS_PER_EVENT + 5 }, (_, i) => `+861380000${String(i).padStart(4, '0')}`);
      const events = smsBatchDecider.decide({ ...createCmd, recipients }, smsBatchDecider.initialState());
      expect(events.map((e) => e.type)).to.deep.equal(['SmsBatchCreated', 'SmsBatchRecipientsAdded', 'SmsBatchRecipientsAdded', 'SmsBatchRecipientsAdded']);
      const chunks = events.slice(1).map((e) => (e.type === 'SmsBatchRecipientsAdded' ? e.data : null)!);
      expect(chunks.map((c) => [c.chunk, c.offset, c.recipients.length])).to.deep.equal([
        [0, 0, RECIPIENTS_PER_EVENT],
        [1, RECIPIENTS_PER_EVENT, RECIPIENTS_PER_EVENT],
        [2, 2 * RECIPIENTS_PER_EVENT, 5],
      ]);
      expect(chunks.flatMap((c) => c.recipients)).to.deep.equal(recipients);
      expect(JSON.stringify(chunks[0]).length).to.be.below(32 * 1024);
    });

    it('is a no-op when repeated, CONFLICT with other content', () => {
      spec.given([created, chunk]).when(createCmd).then([]);
      spec
        .given([created, chunk])
        .when({ ...createCmd, text: 'other' })
        .thenThrows(DomainError, code('CONFLICT'));
    });

    it('refuses bad input with the field named', () => {
      spec
        .given([])
        .when({ ...createCmd, recipients: [] })
        .thenThrows(DomainError, field('recipients'));
      spec
        .given([])
        .when({ ...createCmd, recipients: Array.from({ length: 10_001 }, (_, i) => `+1202555${String(i).padStart(4, '0')}`) })
        .thenThrows(DomainError, field('recipients'));
      spec
        .given([])
        .when({ ...createCmd, recipients: ['+8613800138000', '13800138000'] })
        .thenThrows(DomainError, field('recipients.1'));
      spec
        .given([])
        .when({ ...createCmd, recipients: ['+8613800138000', '+8613800138000'] })
        .thenThrows(DomainError, field('recipients.1'));
      spec
        .given([])
        .when({ ...createCmd, text: '  ' })
        .thenThrows(DomainError, field('text'));
      spec
        .given([])
        .when({ ...createCmd, senderId: 'WAY TOO LONG SENDER' })
        .thenThrows(DomainError, field('sender_id'));
      spec
        .given([])
        .when({ ...createCmd, scheduledAt: '2026-12-10T09:00:00.000Z' })
        .thenThrows(DomainError, field('scheduled_at'));
      spec
        .given([])
        .when({ ...createCmd, scheduledAt: '2027-06-10T09:00:00.000Z' })
        .thenThrows(DomainError, field('scheduled_at'));
    });
  });

  describe('the review', () => {
    it('passes: approved', () => {
      spec
        .given([created, chunk])
        .when({ type: 'RecordSmsBatchPreReview', batchId: BATCH, verdict: 'pass', hitCount: 0, reviewId: null, now: T1 })
        .then([passed]);
    });

    it('flags into the named review; the same verdict again is a no-op', () => {
      const cmd = { type: 'RecordSmsBatchPreReview', batchId: BATCH, verdict: 'flag', hitCount: 2, reviewId: REVIEW, now: T1 } as const;
      spec.given([created, chunk]).when(cmd).then([flagged]);
      spec.given([created, chunk, flagged]).when(cmd).then([]);
      spec
        .given([created, chunk, flagged])
        .when({ ...cmd, verdict: 'pass', reviewId: null })
        .thenThrows(DomainError, reason('in_review'));
    });

    it("records the reviewer's decision; a rejection needs a comment", () => {
      const decision = {
        type: 'RecordSmsBatchReviewDecision',
        batchId: BATCH,
        reviewId: REVIEW,
        decision: 'approved',
        reviewerId: 'rev-1',
        comment: null,
        now: T1,
      } as const;
      spec.given([created, chunk, flagged]).when(decision).then([approved]);
      spec.given([created, chunk, flagged, approved]).when(decision).then([]);
      spec
        .given([created, chunk, flagged])
        .when({ ...decision, decision: 'rejected' })
        .thenThrows(DomainError, field('comment'));
      spec
        .given([created, chunk, flagged])
        .when({ ...decision, decision: 'rejected', comment: 'misleading' })
        .then([{ type: 'SmsBatchRejected', data: { ...approved.data, comment: 'misleading' } } as SmsBatchEvent]);
      spec
        .given([created, chunk, flagged])
        .when({ ...decision, reviewId: 'another' })
        .thenThrows(DomainError, reason('other_review'));
    });
  });

  describe('StartSmsBatchSending', () => {
    const start = { type: 'StartSmsBatchSending', batchId: BATCH, now: T1 } as const;
    it('starts an approved batch once due', () => {
      spec.given([created, chunk, passed]).when(start).then([started]);
      spec.given([created, chunk, passed, started]).when(start).then([]);
    });

    it('refuses one not due yet; leaves one in review or rejected alone', () => {
      const scheduled: SmsBatchEvent = { type: 'SmsBatchCreated', data: { ...(created.data as object), scheduledAt: LATER } as never };
      spec.given([scheduled, chunk, passed]).when(start).thenThrows(DomainError, reason('not_due'));
      spec
        .given([scheduled, chunk, passed])
        .when({ ...start, now: LATER })
        .then([{ ...started, data: { ...started.data, startedAt: LATER } } as SmsBatchEvent]);
      spec.given([created, chunk, flagged]).when(start).then([]);
    });
  });

  describe('CancelSmsBatch', () => {
    const cancel = { type: 'CancelSmsBatch', batchId: BATCH, by: OWNER, now: T1 } as const;
    it('cancels before sending, naming the open review to withdraw', () => {
      spec
        .given([created, chunk, flagged])
        .when(cancel)
        .then([{ type: 'SmsBatchCancelled', data: { ...ref, by: OWNER, reviewId: REVIEW, cancelledAt: T1 } }]);
      spec
        .given([created, chunk, passed])
        .when(cancel)
        .then([{ type: 'SmsBatchCancelled', data: { ...ref, by: OWNER, reviewId: null, cancelledAt: T1 } }]);
    });

    it('refuses a batch sending; a cancelled one is a no-op, and later verdicts change nothing', () => {
      spec.given([created, chunk, passed, started]).when(cancel).thenThrows(DomainError, reason('sending'));
      const cancelled: SmsBatchEvent = { type: 'SmsBatchCancelled', data: { ...ref, by: OWNER, reviewId: null, cancelledAt: T1 } };
      spec.given([created, chunk, cancelled]).when(cancel).then([]);
      spec
        .given([created, chunk, cancelled])
        .when({ type: 'RecordSmsBatchPreReview', batchId: BATCH, verdict: 'pass', hitCount: 0, reviewId: null, now: T1 })
        .then([]);
      spec.given([created, chunk, cancelled]).when({ type: 'StartSmsBatchSending', batchId: BATCH, now: T1 }).then([]);
    });

    it('NOT_FOUND for an unknown batch', () => {
      spec.given([]).when(cancel).thenThrows(DomainError, code('NOT_FOUND'));
    });
  });

  it('checks sender ids', () => {
    for (const ok of ['ACME', 'Shop 24', '+8610690000001', '10690']) expect(senderIdProblem(ok), ok).to.equal(null);
    for (const bad of ['', '123456789012345678', 'ACME!', '12', 'TWELVE CHARS', ' ACME']) expect(senderIdProblem(bad), bad).to.be.a('string');
  });
});

describe('review decider: an SMS batch as the subject', () => {
  const reviewSpec = deciderSpec(reviewDecider);
  const open: OpenReview = {
    type: 'OpenReview',
    reviewId: REVIEW,
    subject: 'sms_batch',
    publicationId: BATCH,
    articleId: BATCH,
    articleVersion: 1,
    ownerId: OWNER,
    platform: 'sms',
    region: null,
    title: 'SMS batch: 2 recipients, sender ACME',
    hits: [],
    content: { summary: null, body: 'Sale starts today', tags: [] },
    now: T0,
  };
  const opened: ReviewEvent = {
    type: 'ReviewOpened',
    data: {
      reviewId: REVIEW,
      subject: 'sms_batch',
      publicationId: BATCH,
      articleId: BATCH,
      articleVersion: 1,
      ownerId: OWNER,
      platform: 'sms',
      region: null,
      title: 'SMS batch: 2 recipients, sender ACME',
      hits: [],
      content: { summary: null, body: 'Sale starts today', tags: [] },
      openedAt: T0,
    },
  };
  const claimed: ReviewEvent = { type: 'ReviewClaimed', data: { reviewId: REVIEW, reviewerId: 'rev-1', takenOverFrom: null, claimedAt: T0 } };

  it('opens with the subject; the same again is a no-op, as a publication CONFLICT', () => {
    reviewSpec.given([]).when(open).then([opened]);
    reviewSpec.given([opened]).when(open).then([]);
    const { subject: _subject, ...asPublication } = open;
    reviewSpec.given([opened]).when(asPublication).thenThrows(DomainError, code('CONFLICT'));
  });

  it('names the subject in the decision and the withdrawal (pm-sms-batches reads it; pm-publications leaves it)', () => {
    reviewSpec
      .given([opened, claimed])
      .when({ type: 'RejectReview', reviewId: REVIEW, reviewerId: 'rev-1', comment: 'misleading', now: T1 })
      .then([
        {
          type: 'ReviewRejected',
          data: {
            reviewId: REVIEW,
            subject: 'sms_batch',
            publicationId: BATCH,
            ownerId: OWNER,
            reviewerId: 'rev-1',
            comment: 'misleading',
            decidedAt: T1,
            waitedSeconds: 5,
          },
        },
      ]);
    reviewSpec
      .given([opened])
      .when({ type: 'WithdrawReview', reviewId: REVIEW, now: T1 })
      .then([{ type: 'ReviewWithdrawn', data: { reviewId: REVIEW, subject: 'sms_batch', publicationId: BATCH, ownerId: OWNER, withdrawnAt: T1 } }]);
  });
});

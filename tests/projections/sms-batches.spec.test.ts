import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { smsBatchesProjection } from '../../src/projections/sms-batches.js';
import { smsProjection } from '../../src/projections/sms.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { projectionSpec, recorded } from '../support/projection-spec.js';

describe('sms-batches-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const T0 = '2026-12-10T10:00:00.000Z';
  const T1 = '2026-12-10T10:01:00.000Z';
  const created = (id: string, owner: string, scheduledAt: string | null = null) =>
    recorded(`sms_batch-${id}`, 'SmsBatchCreated', {
      batchId: id,
      ownerId: owner,
      organizationId: 'org-1',
      text: 'Sale today',
      senderId: 'ACME',
      encoding: 'GSM-7',
      segments: 1,
      recipientCount: 2,
      chunkCount: 1,
      invalidSkipped: 1,
      duplicatesRemoved: 0,
      scheduledAt,
      createdAt: T0,
    });
  const chunk = (id: string) =>
    recorded(`sms_batch-${id}`, 'SmsBatchRecipientsAdded', { batchId: id, chunk: 0, offset: 0, recipients: ['+8613800138000', '+8613900000000'] });

  it('follows a batch through the review to sending', async () => {
    const id = randomUUID();
    const owner = `u-${randomUUID()}`;
    const review = randomUUID();
    await projectionSpec(knex, smsBatchesProjection)
      .given([
        created(id, owner),
        chunk(id),
        recorded(`sms_batch-${id}`, 'SmsBatchPreReviewFlagged', { batchId: id, ownerId: owner, hitCount: 2, reviewId: review, flaggedAt: T0 }),
        recorded(`sms_batch-${id}`, 'SmsBatchApproved', {
          batchId: id,
          ownerId: owner,
          reviewId: review,
          reviewerId: 'rev-1',
          comment: 'fine',
          scheduledAt: null,
          decidedAt: T1,
        }),
        recorded(`sms_batch-${id}`, 'SmsBatchSendingStarted', { batchId: id, ownerId: owner, organizationId: 'org-1', recipientCount: 2, startedAt: T1 }),
      ])
      .then(
        'sms_batches',
        {
          where: { id },
          columns: [
            'owner_id',
            'organization_id',
            'status',
            'recipient_count',
            'invalid_skipped',
            'review_id',
            'hit_count',
            'reviewer_id',
            'review_comment',
            'started_at',
            'last_revision',
          ],
        },
        [
          {
            owner_id: owner,
            organization_id: 'org-1',
            status: 'sending',
            recipient_count: 2,
            invalid_skipped: 1,
            review_id: review,
            hit_count: 2,
            reviewer_id: 'rev-1',
            review_comment: 'fine',
            started_at: new Date(T1),
            last_revision: '4',
          },
        ],
      );
  });

  it('records a rejection with its comment, and a cancellation', async () => {
    const rejected = randomUUID();
    const cancelled = randomUUID();
    const owner = `u-${randomUUID()}`;
    await projectionSpec(knex, smsBatchesProjection)
      .given([
        created(rejected, owner),
        recorded(`sms_batch-${rejected}`, 'SmsBatchPreReviewFlagged', { batchId: rejected, ownerId: owner, hitCount: 1, reviewId: 'r1', flaggedAt: T0 }),
        recorded(`sms_batch-${rejected}`, 'SmsBatchRejected', {
          batchId: rejected,
          ownerId: owner,
          reviewId: 'r1',
          reviewerId: 'rev-1',
          comment: 'misleading',
          scheduledAt: null,
          decidedAt: T1,
        }),
        created(cancelled, owner, '2026-12-11T10:00:00.000Z'),
        recorded(`sms_batch-${cancelled}`, 'SmsBatchPreReviewPassed', {
          batchId: cancelled,
          ownerId: owner,
          scheduledAt: '2026-12-11T10:00:00.000Z',
          passedAt: T0,
        }),
        recorded(`sms_batch-${cancelled}`, 'SmsBatchCancelled', { batchId: cancelled, ownerId: owner, by: owner, reviewId: null, cancelledAt: T1 }),
      ])
      .then('sms_batches', { where: { owner_id: owner }, columns: ['id', 'status', 'review_comment', 'cancelled_by', 'scheduled_at'], orderBy: ['status'] }, [
        { id: cancelled, status: 'cancelled', review_comment: null, cancelled_by: owner, scheduled_at: new Date('2026-12-11T10:00:00.000Z') },
        { id: rejected, status: 'rejected', review_comment: 'misleading', cancelled_by: null, scheduled_at: null },
      ]);
  });

  it('keeps the last reservation of a keyword', async () => {
    const keyword = `K${randomUUID().replaceAll('-', '').slice(0, 12).toUpperCase()}`;
    await projectionSpec(knex, smsBatchesProjection)
      .given([
        recorded(`sms_keyword-${keyword}`, 'SmsKeywordReserved', { keyword, ownerId: 'u1', organizationId: 'org-1', reservedAt: T0 }),
        recorded(`sms_keyword-${keyword}`, 'SmsKeywordReleased', { keyword, ownerId: 'u1', organizationId: 'org-1', by: 'u2', releasedAt: T1 }),
        recorded(`sms_keyword-${keyword}`, 'SmsKeywordReserved', { keyword, ownerId: 'u9', organizationId: null, reservedAt: T1 }),
      ])
      .then('sms_keywords', { where: { keyword }, columns: ['owner_id', 'organization_id', 'released', 'last_revision'] }, [
        { owner_id: 'u9', organization_id: null, released: false, last_revision: '2' },
      ]);
  });

  it('a release keeps the time of the reservation it gives back, in one batch or the next', async () => {
    for (const batchSize of [500, 1]) {
      const keyword = `K${randomUUID().replaceAll('-', '').slice(0, 12).toUpperCase()}`;
      await projectionSpec(knex, smsBatchesProjection, { batchSize })
        .given([
          recorded(`sms_keyword-${keyword}`, 'SmsKeywordReserved', { keyword, ownerId: 'u1', organizationId: null, reservedAt: T0 }),
          recorded(`sms_keyword-${keyword}`, 'SmsKeywordReleased', { keyword, ownerId: 'u1', organizationId: null, by: 'u1', releasedAt: T1 }),
        ])
        .then('sms_keywords', { where: { keyword }, columns: ['released', 'reserved_at', 'released_at', 'last_revision'] }, [
          { released: true, reserved_at: new Date(T0), released_at: new Date(T1), last_revision: '1' },
        ]);
    }
  });

  it('sms-v1 keeps the batch and organization of a batch message, and the keyword of an inbound message', async () => {
    const id = randomUUID();
    const batch = randomUUID();
    const providerId = `IN${randomUUID().slice(0, 8)}`;
    await projectionSpec(knex, smsProjection)
      .given([
        recorded(`sms_message-${id}`, 'SmsRequested', {
          messageId: id,
          ownerId: 'u1',
          to: '+8613800138000',
          country: 'CN',
          callingCode: '86',
          text: 'hi',
          encoding: 'GSM-7',
          segments: 1,
          unitPriceFen: 5,
          priceFen: 5,
          requestedAt: T0,
          batchId: batch,
          organizationId: 'org-1',
        }),
        recorded(`sms_inbound-${providerId}`, 'SmsReceived', {
          providerMessageId: providerId,
          from: '+8613900000000',
          to: '+8610690000001',
          text: 'JOIN now',
          receivedAt: T1,
          ownerId: 'u1',
          route: 'keyword',
          replyTo: null,
          keyword: 'JOIN',
          organizationId: 'org-1',
          recordedAt: T1,
        }),
      ])
      .thenQuery(
        async (tx) => [
          await tx('sms_messages').where({ id }).first(['batch_id', 'organization_id']),
          await tx('sms_inbound').where({ provider_message_id: providerId }).first(['route', 'keyword', 'organization_id']),
        ],
        [
          { batch_id: batch, organization_id: 'org-1' },
          { route: 'keyword', keyword: 'JOIN', organization_id: 'org-1' },
        ],
      );
  });
});

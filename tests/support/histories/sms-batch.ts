import fc from 'fast-check';
import { smsBatchAggregate, type SmsBatchCommand } from '../../../src/write-model/sms-batch/index.js';
import { smsKeywordAggregate, type SmsKeywordCommand } from '../../../src/write-model/sms-keyword/decider.js';
import { historySource, sequence } from './harness.js';

export const smsBatchHistories = historySource(
  smsBatchAggregate,
  sequence(
    fc.record({
      kind: fc.constantFrom('create', 'pre-review', 'decision', 'send', 'cancel'),
      verdict: fc.constantFrom('pass' as const, 'flag' as const),
      decision: fc.constantFrom('approved' as const, 'rejected' as const),
      recipients: fc.constantFrom(
        ['+8613800138000'],
        ['+8613800138000', '+12025550123'],
        Array.from({ length: 1_500 }, (_, i) => `+1202555${String(i).padStart(4, '0')}`),
      ),
      scheduled: fc.boolean(),
      org: fc.constantFrom(null, 'o1'),
    }),
    (c, now): SmsBatchCommand =>
      c.kind === 'create'
        ? {
            type: 'CreateSmsBatch',
            batchId: 'b1',
            ownerId: 'u1',
            organizationId: c.org,
            text: '您的订单已发货',
            senderId: 'SHOP',
            recipients: c.recipients,
            invalidSkipped: 0,
            duplicatesRemoved: 0,
            scheduledAt: c.scheduled ? new Date(Date.parse(now) + 3_600_000).toISOString() : null,
            now,
          }
        : c.kind === 'pre-review'
          ? {
              type: 'RecordSmsBatchPreReview',
              batchId: 'b1',
              verdict: c.verdict,
              hitCount: c.verdict === 'flag' ? 1 : 0,
              reviewId: c.verdict === 'flag' ? 'r1' : null,
              now,
            }
          : c.kind === 'decision'
            ? {
                type: 'RecordSmsBatchReviewDecision',
                batchId: 'b1',
                reviewId: 'r1',
                decision: c.decision,
                reviewerId: 'rv',
                comment: c.decision === 'rejected' ? 'no' : null,
                now,
              }
            : c.kind === 'send'
              ? { type: 'StartSmsBatchSending', batchId: 'b1', now }
              : { type: 'CancelSmsBatch', batchId: 'b1', by: 'u1', now },
    12,
  ),
);

export const smsKeywordHistories = historySource(
  smsKeywordAggregate,
  sequence(
    fc.record({ reserve: fc.boolean(), who: fc.constantFrom('u1', 'u2'), org: fc.constantFrom(null, 'o1') }),
    (c, now): SmsKeywordCommand =>
      c.reserve
        ? { type: 'ReserveSmsKeyword', keyword: 'SHOP', ownerId: c.who, organizationId: c.org, now }
        : { type: 'ReleaseSmsKeyword', keyword: 'SHOP', by: c.who, organizationId: c.org, now },
    10,
  ),
);

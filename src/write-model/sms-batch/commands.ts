/** Commands of one SMS batch (stream `sms_batch-{batchId}`); all carry `now`. */

/** The API: the numbers already normalised to E.164 and de-duplicated by the application. */
export interface CreateSmsBatch {
  type: 'CreateSmsBatch';
  batchId: string;
  ownerId: string;
  organizationId: string | null;
  text: string;
  senderId: string;
  recipients: readonly string[];
  invalidSkipped: number;
  duplicatesRemoved: number;
  scheduledAt: string | null;
  now: string;
}

/** pm-sms-batches: the automatic pre-review's verdict (a flag names the human review opened for it). */
export interface RecordSmsBatchPreReview {
  type: 'RecordSmsBatchPreReview';
  batchId: string;
  verdict: 'pass' | 'flag';
  hitCount: number;
  reviewId: string | null;
  now: string;
}

/** pm-sms-batches: a reviewer's decision on the batch's human review. */
export interface RecordSmsBatchReviewDecision {
  type: 'RecordSmsBatchReviewDecision';
  batchId: string;
  reviewId: string;
  decision: 'approved' | 'rejected';
  reviewerId: string;
  comment: string | null;
  now: string;
}

/** pm-sms-batches (approved and due) or the `sms_batch.due` deadline: the messages go out. */
export interface StartSmsBatchSending {
  type: 'StartSmsBatchSending';
  batchId: string;
  now: string;
}

/** The owner (or a member of the organization allowed to): before it is sending. */
export interface CancelSmsBatch {
  type: 'CancelSmsBatch';
  batchId: string;
  by: string;
  now: string;
}

export type SmsBatchCommand = CreateSmsBatch | RecordSmsBatchPreReview | RecordSmsBatchReviewDecision | StartSmsBatchSending | CancelSmsBatch;

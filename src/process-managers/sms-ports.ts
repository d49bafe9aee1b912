/**
 * What the SMS process manager needs outside the event store: the
 * `sms-send` queue. The job payload is its contract with the worker
 * (src/worker/sms-send-job.ts); the adapter is src/adapters/queue/sms-send-queue.ts.
 */

/** One SMS to send (`sms_message-{messageId}`); the stream holds the rest. */
export interface SmsSendJobData {
  messageId: string;
  ownerId: string;
  /** a batch's message paced by its organization's send limit: the job waits this long before its first attempt */
  delayMs?: number;
}

/** The `sms-send` queue: job id = message id, so a repeat adds nothing. */
export interface SmsSendOutbox {
  enqueueSmsSends(jobs: readonly SmsSendJobData[]): Promise<void>;
}

import type { Queue } from 'bullmq';
import type { SmsSendJobData, SmsSendOutbox } from '../../process-managers/sms-ports.js';
import { jobOptionsFor, type RetryPolicy } from './queues.js';

/**
 * The `sms-send` queue's producer side: one job per SMS, job id = message
 * id, so a redelivered SmsRequested adds nothing (BullMQ ignores an add whose
 * id exists; finished jobs are kept a week). Attempts and back-off from
 * SMS_SEND_MAX_ATTEMPTS / SMS_SEND_BACKOFF_MS.
 */

export const SMS_SEND_JOB_NAME = 'sms-send';

export type { SmsSendJobData, SmsSendOutbox };

export function smsSendRetryPolicy(config: { SMS_SEND_MAX_ATTEMPTS: number; SMS_SEND_BACKOFF_MS: number }): RetryPolicy {
  return { attempts: config.SMS_SEND_MAX_ATTEMPTS, backoffMs: config.SMS_SEND_BACKOFF_MS, jitter: 0.2 };
}

/** The job id of a message's send: its id (':' is not allowed in BullMQ ids; a uuid has none). */
export function smsSendJobId(messageId: string): string {
  if (messageId === '' || messageId.includes(':')) throw new Error(`invalid message id for a job id: ${JSON.stringify(messageId)}`);
  return messageId;
}

export class BullMqSmsSendOutbox implements SmsSendOutbox {
  constructor(
    private readonly queue: Queue<SmsSendJobData>,
    private readonly retry: RetryPolicy,
  ) {}

  async enqueueSmsSends(jobs: readonly SmsSendJobData[]): Promise<void> {
    if (jobs.length === 0) return;
    const options = jobOptionsFor(this.retry);
    await this.queue.addBulk(
      jobs.map(({ delayMs, ...data }) => ({
        name: SMS_SEND_JOB_NAME as never,
        data: data as never,
        // a batch's message paced by its organization's limit waits its minute
        opts: { ...options, jobId: smsSendJobId(data.messageId), ...(delayMs ? { delay: delayMs } : {}) },
      })),
    );
  }
}

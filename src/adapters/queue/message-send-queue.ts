import type { Queue } from 'bullmq';
import { jobOptionsFor, type MessageSendJobData, type RetryPolicy } from './queues.js';

/**
 * The `message-send` queue's producer side: one job per outgoing message,
 * job id = message id, so a redelivered MessageSendRequested adds nothing
 * (BullMQ ignores an add whose id exists; finished jobs are kept a week).
 * Attempts and back-off from MESSAGE_SEND_MAX_ATTEMPTS / MESSAGE_SEND_BACKOFF_MS.
 */

export const MESSAGE_SEND_JOB_NAME = 'message-send';

export type { MessageSendOutbox } from '../../process-managers/ports.js';
import type { MessageSendOutbox } from '../../process-managers/ports.js';

export function messageSendRetryPolicy(config: { MESSAGE_SEND_MAX_ATTEMPTS: number; MESSAGE_SEND_BACKOFF_MS: number }): RetryPolicy {
  return { attempts: config.MESSAGE_SEND_MAX_ATTEMPTS, backoffMs: config.MESSAGE_SEND_BACKOFF_MS, jitter: 0.2 };
}

/** The job id of a message's send: its id (':' is not allowed in BullMQ ids; a uuid has none). */
export function messageSendJobId(messageId: string): string {
  if (messageId === '' || messageId.includes(':')) throw new Error(`invalid message id for a job id: ${JSON.stringify(messageId)}`);
  return messageId;
}

export class BullMqMessageSendOutbox implements MessageSendOutbox {
  constructor(
    private readonly queue: Queue<MessageSendJobData>,
    private readonly retry: RetryPolicy,
  ) {}

  async enqueueMessageSend(job: MessageSendJobData): Promise<void> {
    await this.queue.add(MESSAGE_SEND_JOB_NAME as never, job as never, { ...jobOptionsFor(this.retry), jobId: messageSendJobId(job.messageId) });
  }
}

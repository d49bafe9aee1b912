import type { Consumer } from '../consumers/consumer.js';
import { smsMessageEvents } from '../write-model/sms-message/events.js';
import { react, type ProcessManagerDeps } from './shared.js';
import type { SmsSendJobData, SmsSendOutbox } from './sms-ports.js';

export const SMS_MESSAGES = 'pm-sms-messages';

export interface SmsMessagesDeps extends ProcessManagerDeps {
  /** the `sms-send` queue; absent where SMS is not configured (a request then waits in its stream) or nothing is dispatched */
  outbox?: SmsSendOutbox;
}

/**
 * SmsRequested → one `sms-send` job (job id = message id), which the worker
 * sends through the provider (src/worker/sms-send-job.ts) and reports back
 * as SmsSent / SmsFailed; the provider's receipt then records the outcome.
 *
 * A batch's requests go to the queue in one bulk add. Idempotent: a
 * redelivered request adds nothing (the job id exists; finished jobs are
 * kept a week), and the worker skips a message that is no longer pending.
 * No command is issued here; queueing is a Redis write, outside the batch's
 * transaction.
 */
export function createSmsMessages(deps: SmsMessagesDeps, name = SMS_MESSAGES): Consumer {
  return {
    name,
    filter: { streamPrefixes: ['sms_message-'], eventTypes: ['SmsRequested'] },
    batchSize: 500,
    async handle(events) {
      const jobs: SmsSendJobData[] = [];
      for (const event of events) {
        if (event.type !== 'SmsRequested') continue;
        const decoded = smsMessageEvents.decode(event);
        if (decoded.type === 'SmsRequested') jobs.push({ messageId: decoded.data.messageId, ownerId: decoded.data.ownerId });
      }
      if (jobs.length === 0) return;
      await react(deps, name, events[events.length - 1]!, async () => {
        if (!deps.outbox) throw new Error(`${name}: no sms-send queue wired (SMS is not configured here)`);
        await deps.outbox.enqueueSmsSends(jobs);
      });
    },
  };
}

import type { MessageSendOutbox } from './ports.js';
import type { Consumer } from '../consumers/consumer.js';
import { outgoingMessageEvents } from '../write-model/outgoing-message/events.js';
import { react, type ProcessManagerDeps } from './shared.js';

export const OUTGOING_MESSAGES = 'pm-outgoing-messages';

export interface OutgoingMessagesDeps extends ProcessManagerDeps {
  /** the `message-send` queue; absent only where nothing is dispatched (the operator tooling lists consumers) */
  outbox?: MessageSendOutbox;
}

/**
 * MessageSendRequested → one `message-send` job (job id = message id), which
 * the worker sends (src/worker/message-send-job.ts) and reports back as
 * MessageSent / MessageSendFailed on the message's stream.
 *
 * Idempotent: a redelivered request adds nothing (the job id exists; finished
 * jobs are kept a week), and the worker skips a message that is no longer
 * pending. No command is issued here; queueing is a Redis write, outside the
 * batch's transaction.
 */
export function createOutgoingMessages(deps: OutgoingMessagesDeps, name = OUTGOING_MESSAGES): Consumer {
  return {
    name,
    filter: { streamPrefixes: ['outgoing_message-'], eventTypes: ['MessageSendRequested'] },
    batchSize: 100,
    async handle(events) {
      for (const event of events) {
        if (event.type !== 'MessageSendRequested') continue;
        await react(deps, name, event, async () => {
          const decoded = outgoingMessageEvents.decode(event);
          if (decoded.type !== 'MessageSendRequested') return;
          if (!deps.outbox) throw new Error(`${name}: no message-send queue wired`);
          const d = decoded.data;
          await deps.outbox.enqueueMessageSend({ messageId: d.messageId, ownerId: d.ownerId, platform: d.platform, platformAccountId: d.platformAccountId });
        });
      }
    },
  };
}

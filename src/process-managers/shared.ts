import type { EventStore, RecordedEvent } from '../event-store/port.js';
import type { Logger } from '../logger.js';
import { uuidFromName } from '../write-model/core/event-ids.js';

/** What every process manager is built with. */
export interface ProcessManagerDeps {
  store: EventStore;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

/**
 * The id of a user's subscription to a service: name-based, so whoever starts
 * the stream first (the free-plans PM, the payment PM, POST /subscriptions)
 * names it the same and a repeated start is the decider's no-op.
 */
export function subscriptionIdFor(userId: string, service: string): string {
  return uuidFromName(`subscription:${userId}:${service}`);
}

/**
 * Runs one reaction: a DomainError that `alreadyDone` recognises is swallowed
 * (logged at info), anything else is logged and rethrown, so the batch rolls
 * back and the runner retries it after a back-off.
 */
export async function react(
  deps: ProcessManagerDeps,
  name: string,
  event: RecordedEvent,
  action: () => Promise<void>,
  alreadyDone: (error: unknown) => boolean = () => false,
): Promise<void> {
  try {
    await action();
  } catch (error) {
    if (alreadyDone(error)) {
      deps.logger?.info({ processManager: name, eventId: event.id, err: error }, 'reaction already done');
      return;
    }
    deps.logger?.error({ processManager: name, eventId: event.id, eventType: event.type, err: error }, 'reaction failed');
    throw error;
  }
}

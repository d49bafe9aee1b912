import { StreamNotFoundError } from '../event-store/errors.js';
import type { RecordedEvent } from '../event-store/port.js';
import type { Consumer } from '../consumers/consumer.js';
import { contextFromEvent } from '../write-model/core/command-context.js';
import { handle } from '../write-model/core/command-handler.js';
import { DomainError } from '../write-model/core/domain-error.js';
import { eventIdsFrom } from '../write-model/core/event-ids.js';
import { platformAccountAggregate } from '../write-model/platform-account/decider.js';
import { platformAccountEvents } from '../write-model/platform-account/events.js';
import { healthAfter, type HealthSignal } from '../write-model/platform-account/health.js';
import { workflowExecutionStream } from '../write-model/workflow-execution/decider.js';
import { workflowExecutionEvents } from '../write-model/workflow-execution/events.js';
import { react, type ProcessManagerDeps } from './shared.js';

export const ACCOUNT_HEALTH = 'pm-account-health';

export const ACCOUNT_HEALTH_EVENT_TYPES = ['AccountVerified', 'AccountInvalidated', 'ExecutionCompleted', 'ExecutionFailed', 'ExecutionPaused'] as const;

/**
 * A platform account's health score follows its verifications and the runs
 * made through it (health.ts says by how much): AccountVerified and
 * AccountInvalidated on the account's stream; ExecutionCompleted,
 * ExecutionFailed and ExecutionPaused (captcha, rate limited) of an
 * execution that ran through an account (its ExecutionRequested, the first
 * event of the execution's stream, names it) → RecordAccountHealth.
 *
 * Idempotent: the command's event ids are named after the triggering event,
 * so a redelivered event appends nothing (the store recognises the ids
 * however far the account's stream has moved). An account disconnected or
 * gone meanwhile is skipped, as is an execution whose stream retention has
 * already removed.
 */
export function createAccountHealth(deps: ProcessManagerDeps, name = ACCOUNT_HEALTH): Consumer {
  async function accountOfExecution(executionId: string): Promise<string | null> {
    try {
      const [first] = await deps.store.readStream(workflowExecutionStream(executionId), { maxCount: 1 });
      if (!first) return null;
      const requested = workflowExecutionEvents.decode(first);
      return requested.type === 'ExecutionRequested' ? requested.data.platformAccountId : null;
    } catch (error) {
      if (error instanceof StreamNotFoundError) return null;
      throw error;
    }
  }

  /** The account and what happened to it, or null when the event says nothing about an account's health. */
  async function signalOf(event: RecordedEvent): Promise<{ accountId: string; signal: HealthSignal; at: string } | null> {
    if (platformAccountEvents.owns(event.type)) {
      const decoded = platformAccountEvents.decode(event);
      if (decoded.type === 'AccountVerified') return { accountId: decoded.data.accountId, signal: 'verified', at: decoded.data.verifiedAt };
      if (decoded.type === 'AccountInvalidated') return { accountId: decoded.data.accountId, signal: 'invalidated', at: decoded.data.invalidatedAt };
      return null;
    }
    const decoded = workflowExecutionEvents.decode(event);
    let signal: HealthSignal;
    let at: string;
    switch (decoded.type) {
      case 'ExecutionCompleted':
        [signal, at] = ['run_completed', decoded.data.completedAt];
        break;
      case 'ExecutionFailed':
        [signal, at] = ['run_failed', decoded.data.failedAt];
        break;
      case 'ExecutionPaused':
        if (decoded.data.reason !== 'captcha' && decoded.data.reason !== 'rate_limited') return null;
        [signal, at] = [decoded.data.reason, decoded.data.pausedAt];
        break;
      default:
        return null;
    }
    const accountId = await accountOfExecution(decoded.data.executionId);
    return accountId === null ? null : { accountId, signal, at };
  }

  const gone = (error: unknown) => error instanceof DomainError && (error.code === 'NOT_FOUND' || error.code === 'CONFLICT');

  return {
    name,
    filter: { eventTypes: [...ACCOUNT_HEALTH_EVENT_TYPES] },
    batchSize: 100,
    async handle(events) {
      for (const event of events) {
        await react(
          deps,
          name,
          event,
          async () => {
            const found = await signalOf(event);
            if (!found) return;
            await handle(
              deps.store,
              platformAccountAggregate,
              found.accountId,
              (state) => ({
                type: 'RecordAccountHealth' as const,
                accountId: found.accountId,
                score: healthAfter(state.status === 'none' ? 0 : state.healthScore, found.signal),
                now: found.at,
              }),
              { context: contextFromEvent(event, name), eventIds: eventIdsFrom(`${name}:${event.id}`) },
            );
          },
          gone,
        );
      }
    },
  };
}

import { StreamNotFoundError } from '../event-store/errors.js';
import type { RecordedEvent } from '../event-store/port.js';
import { currentPlan } from '../application/subscription-quotas.js';
import { platformModule } from '../platforms/registry.js';
import type { Consumer } from '../consumers/consumer.js';
import { workflowExecutionEvents } from '../write-model/workflow-execution/events.js';
import { react, type ProcessManagerDeps } from './shared.js';

export const EXECUTION_RETENTION = 'pm-execution-retention';

/** The events that end an execution (the decider accepts nothing after them). */
export const EXECUTION_END_EVENTS = ['ExecutionCompleted', 'ExecutionFailed', 'ExecutionCancelled', 'ExecutionRejected'] as const;

export interface ExecutionRetentionOptions {
  name?: string;
  /** seconds of maxAge per retention day; 86 400 in production, smaller in tests */
  secondsPerDay?: number;
}

/**
 * Collected items live in the ItemsCollected events of
 * `workflow_execution-{id}`. When an execution ends, this consumer sets the
 * stream's maxAge to the owner's data_retention_days (of the plan of the
 * execution's service at that moment), so each event of the stream stops
 * being readable that long after it was written: a batch collected on day D
 * goes on day D + retention, like its read-table rows. On Postgres the
 * scavenge (src/adapters/event-store/postgres/scavenge.ts) then deletes the
 * expired events from $all, all but the ExecutionRequested and the ending.
 *
 * - The first decision stands: a stream that already has a maxAge (a
 *   redelivery, an execution that ended twice, an operator's setting) is
 *   left alone, so a redelivery writes nothing. Other metadata is kept.
 * - The service comes from the stream's ExecutionRequested (its platform).
 *   When that event is no longer readable, a maxAge (or truncation) is
 *   already in force: nothing to do.
 * - No command is issued; the metadata's custom keys record the cause
 *   (`retentionSetBy`, `retentionCausationId`, `retentionPlan`).
 */
export function createExecutionRetention(deps: ProcessManagerDeps, options: ExecutionRetentionOptions = {}): Consumer {
  const name = options.name ?? EXECUTION_RETENTION;
  const secondsPerDay = options.secondsPerDay ?? 86_400;
  return {
    name,
    filter: { streamPrefixes: ['workflow_execution-'], eventTypes: [...EXECUTION_END_EVENTS] },
    async handle(events) {
      for (const event of events) {
        if (!(EXECUTION_END_EVENTS as readonly string[]).includes(event.type)) continue;
        await react(deps, name, event, () => setRetention(deps, name, secondsPerDay, event));
      }
    },
  };
}

async function setRetention(deps: ProcessManagerDeps, name: string, secondsPerDay: number, event: RecordedEvent): Promise<void> {
  const stream = event.streamName;
  const metadata = await deps.store.getStreamMetadata(stream);
  if (metadata.maxAge !== undefined) return;

  let first: RecordedEvent | undefined;
  try {
    [first] = await deps.store.readStream(stream, { maxCount: 1 });
  } catch (error) {
    if (error instanceof StreamNotFoundError) return; // deleted meanwhile: nothing left to expire
    throw error;
  }
  const opening = first ? workflowExecutionEvents.decode(first) : undefined;
  if (opening?.type !== 'ExecutionRequested') {
    deps.logger?.warn({ processManager: name, stream, eventId: event.id }, 'execution stream starts without ExecutionRequested: no maxAge set');
    return;
  }
  const request = opening.data;
  const service = platformModule(request.platform)?.service;
  if (!service) {
    deps.logger?.warn({ processManager: name, stream, platform: request.platform }, 'unknown platform: no maxAge set');
    return;
  }
  const plan = await currentPlan(deps.store, request.ownerId, service);
  const days = plan.features.data_retention_days;
  if (days < 0) return; // unlimited retention: nothing expires

  await deps.store.setStreamMetadata(stream, {
    ...metadata,
    maxAge: Math.max(1, Math.round(days * secondsPerDay)),
    custom: { ...metadata.custom, retentionSetBy: `pm:${name}`, retentionCausationId: event.id, retentionPlan: plan.id },
  });
}

import type { StoredEvent } from '../../src/write-model/core/event-codec.js';
import { workflowExecutionEvents, type WorkflowExecutionEvent } from '../../src/write-model/workflow-execution/events.js';

type Of<T extends WorkflowExecutionEvent['type']> = Extract<WorkflowExecutionEvent, { type: T }>;

/** An execution stream's events of one type, decoded by the aggregate's codec (what tests check). */
export function executionEventsOf<T extends WorkflowExecutionEvent['type']>(stored: readonly StoredEvent[], type: T): Of<T>[] {
  const isType = (event: WorkflowExecutionEvent): event is Of<T> => event.type === type;
  const events: Of<T>[] = [];
  for (const event of stored) {
    if (event.type !== type) continue;
    const decoded = workflowExecutionEvents.decode(event);
    if (isType(decoded)) events.push(decoded);
  }
  return events;
}

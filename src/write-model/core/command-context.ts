import type { EventMetadata, RecordedEvent } from '../../event-store/port.js';

/**
 * Who asked, and why: carried into every event's metadata so an audit can
 * follow a request or a chain of reactions across aggregates.
 */
export interface CommandContext {
  correlationId: string;
  /** the request id or the id of the event that triggered the command */
  causationId: string;
  /** a user id, or `pm:<name>` for a process manager */
  actor?: string;
  requestId?: string;
  /** the caller's own X-Correlation-Id, recorded as theirs: never the correlation itself */
  clientCorrelationId?: string;
}

/**
 * Context of a command sent over HTTP. The correlation is the server's own
 * (the request id when none is given): a caller's X-Correlation-Id is
 * recorded as `clientCorrelationId` and never becomes the correlation, so
 * nobody can put their events into another flow's timeline.
 */
export function contextFromRequest(request: { requestId: string; userId?: string; correlationId?: string; clientCorrelationId?: string }): CommandContext {
  return {
    correlationId: request.correlationId ?? request.requestId,
    causationId: request.requestId,
    actor: request.userId,
    requestId: request.requestId,
    ...(request.clientCorrelationId ? { clientCorrelationId: request.clientCorrelationId } : {}),
  };
}

/** Context of a command a process manager sends in reaction to an event. */
export function contextFromEvent(event: RecordedEvent, processManager: string): CommandContext {
  const metadata = event.metadata;
  return {
    correlationId: typeof metadata.$correlationId === 'string' ? metadata.$correlationId : event.id,
    causationId: event.id,
    actor: `pm:${processManager}`,
    requestId: typeof metadata.requestId === 'string' ? metadata.requestId : undefined,
  };
}

export function toMetadata(context: CommandContext): EventMetadata {
  const metadata: EventMetadata = { $correlationId: context.correlationId, $causationId: context.causationId };
  if (context.actor) metadata.userId = context.actor;
  if (context.requestId) metadata.requestId = context.requestId;
  if (context.clientCorrelationId) metadata.clientCorrelationId = context.clientCorrelationId;
  return metadata;
}

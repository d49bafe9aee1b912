import { StreamNotFoundError } from '../event-store/errors.js';
import type { EventStore } from '../event-store/port.js';
import type { CommandContext } from '../write-model/core/command-context.js';
import { type Decider, type DomainEvent, fold } from '../write-model/core/decider.js';
import type { EventCodec } from '../write-model/core/event-codec.js';

/** What a job works on: its stream's state, and the context the worker's commands on it carry. */
export interface JobSubject<State> {
  state: State;
  context: CommandContext;
  /** the stream's revision the state stands at (a command may decide on this read) */
  revision: bigint;
}

/**
 * Reads a job's stream (an execution, a message, a publication: short
 * streams, read whole) and folds it. The worker's commands continue the
 * request's correlation, caused by the stream's first event, and keep the
 * request id so what the worker did stays findable from the request.
 * Null when the stream does not exist (a job for something never recorded).
 */
export async function loadJobSubject<State, Event extends DomainEvent>(
  store: EventStore,
  stream: string,
  decider: Pick<Decider<State, unknown, Event>, 'initialState' | 'evolve'>,
  codec: EventCodec<Event>,
  actor: string,
): Promise<JobSubject<State> | null> {
  let recorded;
  try {
    recorded = await store.readStream(stream);
  } catch (error) {
    if (error instanceof StreamNotFoundError) return null;
    throw error;
  }
  const first = recorded[0];
  if (!first) return null;
  const state = fold(
    decider,
    recorded.map((e) => codec.decode(e)),
  );
  const correlation = first.metadata.$correlationId;
  const requestId = first.metadata.requestId;
  return {
    state,
    revision: recorded.at(-1)!.revision,
    context: {
      correlationId: typeof correlation === 'string' ? correlation : first.id,
      causationId: first.id,
      actor,
      ...(typeof requestId === 'string' ? { requestId } : {}),
    },
  };
}

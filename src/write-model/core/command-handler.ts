import { StreamNotFoundError, WrongExpectedVersionError } from '../../event-store/errors.js';
import type { EventStore, ExpectedRevision } from '../../event-store/port.js';
import type { Position } from '../../event-store/position.js';
import { toMetadata, type CommandContext } from './command-context.js';
import { fold, type Decider, type DomainEvent } from './decider.js';
import { randomEventIds, type EventIdSource } from './event-ids.js';

export interface RetryPolicy {
  /** attempts in all, the first included */
  maxAttempts: number;
  /** delay before the second attempt; doubles, with jitter */
  baseDelayMs: number;
}

/** Conflicts are retried on fresh state by default: the decision is taken again, so it stays right. */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 4, baseDelayMs: 5 };
export const NO_RETRY: RetryPolicy = { maxAttempts: 1, baseDelayMs: 0 };

export interface HandleOptions {
  context: CommandContext;
  /**
   * The revision the caller last saw (an HTTP If-Match). When given, a
   * conflict is the caller's to resolve and is never retried.
   */
  expectedRevision?: bigint | 'no_stream';
  retry?: RetryPolicy;
  /** ids for the new events; deterministic ones make a repeated reaction a no-op */
  eventIds?: EventIdSource;
}

export interface HandleResult<State, Event> {
  /** the events this command appended (empty when the decision was "nothing to do") */
  events: Event[];
  state: State;
  /** the stream's revision after the command; -1 when it still has no events */
  revision: bigint;
  /** where the last appended event stands in $all; undefined when nothing was appended */
  position: Position | undefined;
}

interface Loaded<State> {
  state: State;
  revision: bigint;
}

async function load<State, Event extends DomainEvent>(
  store: EventStore,
  streamName: string,
  decider: Decider<State, unknown, Event>,
): Promise<Loaded<State>> {
  try {
    const recorded = await store.readStream(streamName);
    const events = recorded.map((e) => ({ type: e.type, data: e.data }) as Event);
    const last = recorded.at(-1);
    return { state: fold(decider, events), revision: last ? last.revision : -1n };
  } catch (error) {
    if (error instanceof StreamNotFoundError) return { state: decider.initialState(), revision: -1n };
    throw error;
  }
}

/** Reads an aggregate's current state (for queries of the write side, e.g. the CLI). */
export async function loadState<State, Event extends DomainEvent>(
  store: EventStore,
  streamName: string,
  decider: Decider<State, unknown, Event>,
): Promise<Loaded<State>> {
  return load(store, streamName, decider);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Load → fold → decide → append with the revision just read. A concurrent
 * writer makes the append fail with WrongExpectedVersion; then the whole
 * cycle runs again on the new state, a bounded number of times.
 */
export async function handleCommand<State, Command, Event extends DomainEvent>(
  store: EventStore,
  streamName: string,
  decider: Decider<State, Command, Event>,
  command: Command,
  options: HandleOptions,
): Promise<HandleResult<State, Event>> {
  const retry = options.expectedRevision !== undefined ? NO_RETRY : (options.retry ?? DEFAULT_RETRY);
  const ids = options.eventIds ?? randomEventIds;
  const metadata = toMetadata(options.context);

  for (let attempt = 1; ; attempt++) {
    const { state, revision } = await load(store, streamName, decider as Decider<State, unknown, Event>);
    if (options.expectedRevision !== undefined) {
      const wanted = options.expectedRevision === 'no_stream' ? -1n : options.expectedRevision;
      if (wanted !== revision) {
        throw new WrongExpectedVersionError(streamName, options.expectedRevision, revision < 0n ? 'no_stream' : revision);
      }
    }
    const events = decider.decide(command, state);
    if (events.length === 0) return { events, state, revision, position: undefined };

    const expected: ExpectedRevision = revision < 0n ? 'no_stream' : revision;
    try {
      const result = await store.append(
        streamName,
        events.map((event, index) => ({ id: ids(index), type: event.type, data: event.data as never, metadata })),
        expected,
      );
      // the store answered a repeat of ids it already had: that earlier append was this decision
      if (result.nextExpectedRevision <= revision) return { events: [], state, revision, position: undefined };
      return { events, state: fold(decider, events, state), revision: result.nextExpectedRevision, position: result.position };
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError) || attempt >= retry.maxAttempts) throw error;
      await sleep(retry.baseDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random()));
    }
  }
}

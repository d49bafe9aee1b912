import { ConditionFailedError, StreamNotFoundError, WrongExpectedVersionError } from '../../event-store/errors.js';
import { DomainError } from './domain-error.js';
import type { AppendCondition, EventStore, ExpectedRevision, Json, RecordedEvent } from '../../event-store/port.js';
import type { Snapshot } from '../../event-store/snapshots.js';
import type { Aggregate } from './aggregate.js';
import { SCHEMA_VERSION } from './event-codec.js';
import type { Position } from '../../event-store/position.js';
import { toMetadata, type CommandContext } from './command-context.js';
import type { DomainEvent } from './decider.js';
import { randomEventIds, type EventIdSource } from './event-ids.js';
import { stateCacheOf, type CachedState } from './state-cache.js';

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
  /**
   * The state the caller has just read with load(): the first attempt decides
   * on it instead of reading the stream again (a conflict reads afresh).
   * handle takes it over: folds may update it in place.
   */
  loaded?: Loaded<unknown>;
  /**
   * Other streams the decision read, at the revisions read (decideOnKept, load):
   * the events land only while those streams are still there, else
   * ConditionFailedError, which this handler leaves to the caller (only it can
   * read them again).
   */
  conditions?: readonly AppendCondition[];
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

export interface Loaded<State> {
  state: State;
  /** the stream's revision the state stands at; -1 when it has no events */
  revision: bigint;
}

/**
 * The aggregate's state: its snapshot (when it has one of the current
 * version) and the events after it, decoded and folded. Writes a new
 * snapshot when the tail has grown past the aggregate's threshold.
 */
export async function load<State, Command, Event extends DomainEvent>(
  store: EventStore,
  aggregate: Aggregate<State, Command, Event>,
  id: string,
): Promise<Loaded<State>> {
  const streamName = aggregate.streamName(id);
  const { state, revision, base } = await loadFrom(store, aggregate, streamName);
  await maybeSnapshot(store, aggregate, streamName, state, revision, base);
  return { state, revision };
}

/** Reads of another aggregate a decision may take before it is given up on (the aggregate keeps changing). */
const KEPT_READS = 4;

/**
 * A decision about another stream that reads this aggregate too (a quota use
 * reads the subscription whose plan sets the limit): `decide` gets the state
 * this process keeps of it (a fresh read, then kept, when it keeps none) and
 * the condition its append must carry, so the append lands only while the
 * aggregate is still at the revision decided on. When it moved
 * (ConditionFailedError), or the decision was a refusal taken on a kept state
 * (which may be behind), the kept state is dropped and the decision taken
 * again on a fresh read. Only aggregates with a snapshot policy are kept;
 * others are read every time.
 */
export async function decideOnKept<State, Command, Event extends DomainEvent, Result>(
  store: EventStore,
  aggregate: Aggregate<State, Command, Event>,
  id: string,
  decide: (read: Loaded<State>, condition: AppendCondition) => Promise<Result>,
): Promise<Result> {
  const streamName = aggregate.streamName(id);
  const cache = aggregate.snapshot ? stateCacheOf(store) : undefined;
  for (let reads = 1; ; reads++) {
    let read: Loaded<State> | undefined = cache?.peek(aggregate, streamName);
    const wasKept = read !== undefined;
    if (!read) {
      const loaded = await loadFrom(store, aggregate, streamName);
      cache?.put(aggregate, streamName, { ...loaded, base: await maybeSnapshot(store, aggregate, streamName, loaded.state, loaded.revision, loaded.base) });
      read = { state: loaded.state, revision: loaded.revision };
    }
    try {
      return await decide(read, { streamName, revision: read.revision < 0n ? 'no_stream' : read.revision });
    } catch (error) {
      const stale = error instanceof ConditionFailedError || (wasKept && error instanceof DomainError);
      if (!stale || reads >= KEPT_READS) throw error;
      cache?.drop(streamName);
    }
  }
}

interface LoadedFrom<State> extends Loaded<State> {
  /** the revision of the snapshot the load started from; -1 without one */
  base: bigint;
}

async function loadFrom<State, Command, Event extends DomainEvent>(
  store: EventStore,
  aggregate: Aggregate<State, Command, Event>,
  streamName: string,
): Promise<LoadedFrom<State>> {
  const policy = aggregate.snapshot;
  let snapshot: Snapshot | undefined;
  let recorded: RecordedEvent[];
  try {
    if (policy) ({ snapshot, events: recorded } = await store.readStreamFromSnapshot(streamName, policy.version));
    else recorded = await store.readStream(streamName);
  } catch (error) {
    if (error instanceof StreamNotFoundError) return { state: aggregate.decider.initialState(), revision: -1n, base: -1n };
    throw error;
  }
  let state: State;
  if (snapshot) {
    const saved: unknown = snapshot.state;
    state = saved as State;
  } else {
    state = aggregate.decider.initialState();
  }
  for (const event of recorded) state = aggregate.decider.evolve(state, aggregate.events.decode(event));
  const revision = recorded.at(-1)?.revision ?? snapshot?.revision ?? -1n;
  return { state, revision, base: snapshot?.revision ?? -1n };
}

/** Writes a snapshot when the tail past `base` has grown long enough; returns the snapshot base after it. */
async function maybeSnapshot<State, Command, Event extends DomainEvent>(
  store: EventStore,
  aggregate: Aggregate<State, Command, Event>,
  streamName: string,
  state: State,
  revision: bigint,
  base: bigint,
): Promise<bigint> {
  const policy = aggregate.snapshot;
  if (!policy || revision - base < BigInt(policy.every)) return base;
  try {
    await store.snapshots.write({ streamName, revision, version: policy.version, state: JSON.parse(JSON.stringify(state)) as Json });
    return revision;
  } catch {
    // a snapshot only saves work: a failed write leaves the next load folding a little more
    return base;
  }
}

/** A command, or a function of the current state giving the commands to decide (none: nothing to do). */
export type Decision<State, Command> = Command | ((state: State) => Command | readonly Command[]);

function commandsFor<State, Command>(decision: Decision<State, Command>, state: State): readonly Command[] {
  const chosen = typeof decision === 'function' ? (decision as (state: State) => Command | readonly Command[])(state) : decision;
  return Array.isArray(chosen) ? (chosen as readonly Command[]) : [chosen as Command];
}

/**
 * Load → decide → append with the revision just read. The decision may be a
 * function of the state: it runs again on fresh state when a concurrent
 * writer made the append fail (WrongExpectedVersion), a bounded number of
 * times, so what it decides always stands on what it read. Several commands
 * are decided in order, each on the state the previous one left.
 */
export async function handle<State, Command, Event extends DomainEvent>(
  store: EventStore,
  aggregate: Aggregate<State, Command, Event>,
  id: string,
  decision: Decision<State, Command>,
  options: HandleOptions,
): Promise<HandleResult<State, Event>> {
  const streamName = aggregate.streamName(id);
  const retry = options.expectedRevision !== undefined ? NO_RETRY : (options.retry ?? DEFAULT_RETRY);
  const ids = options.eventIds ?? randomEventIds;
  const metadata = toMetadata(options.context);
  const { decider } = aggregate;
  // states left by earlier commands (state-cache.ts); never with name-based ids, whose repeat of an
  // append the cache did not see is recognised only against a fresh read
  const cache = aggregate.snapshot ? stateCacheOf(store) : undefined;
  let cached: CachedState<State> | undefined;
  if (options.eventIds === undefined && !options.loaded) {
    cached = cache?.take(aggregate, streamName);
    // a new stream is not read: the append's no_stream proves it new, and is checked like a kept state
    if (!cached && options.expectedRevision === 'no_stream') cached = { state: decider.initialState(), revision: -1n, base: -1n };
  }
  const keep = (state: State, revision: bigint, base: bigint) => cache?.put(aggregate, streamName, { state, revision, base });

  for (let attempt = 1; ; ) {
    const fromCache = cached !== undefined;
    const { state, revision, base } =
      cached ??
      (attempt === 1 && options.loaded
        ? // the caller's read: no snapshot is written from it (where its tail began is not known)
          { state: options.loaded.state as State, revision: options.loaded.revision, base: options.loaded.revision }
        : await loadFrom(store, aggregate, streamName));
    cached = undefined;
    // below, `continue` on a cached state decides again on a fresh read: only an append checks the cache was current
    if (options.expectedRevision !== undefined) {
      const wanted = options.expectedRevision === 'no_stream' ? -1n : options.expectedRevision;
      if (wanted !== revision) {
        if (fromCache) continue;
        throw new WrongExpectedVersionError(streamName, options.expectedRevision, revision < 0n ? 'no_stream' : revision);
      }
    }
    const events: Event[] = [];
    let next = state;
    try {
      for (const command of commandsFor(decision, state)) {
        const decided = decider.decide(command, next);
        for (const event of decided) next = decider.evolve(next, event);
        events.push(...decided);
      }
    } catch (error) {
      if (fromCache) continue;
      throw error;
    }
    if (events.length === 0) {
      if (fromCache) continue;
      keep(next, revision, await maybeSnapshot(store, aggregate, streamName, next, revision, base));
      return { events, state: next, revision, position: undefined };
    }

    const expected: ExpectedRevision = revision < 0n ? 'no_stream' : revision;
    try {
      const result = await store.append(
        streamName,
        events.map((event, index) => ({
          id: ids(index),
          type: event.type,
          data: event.data as Json,
          metadata: { ...metadata, [SCHEMA_VERSION]: aggregate.events.version(event.type) },
        })),
        expected,
        // ids named after a cause: the store must know a repeat however far the stream has moved
        { deterministicIds: options.eventIds !== undefined, ...(options.conditions ? { conditions: options.conditions } : {}) },
      );
      if (result.nextExpectedRevision <= revision) {
        // the store answered a repeat of ids it already had: that earlier append was this decision, and
        // the state read already holds it (read again: the fold above went on from it in place)
        const again = await loadFrom(store, aggregate, streamName);
        keep(again.state, again.revision, again.base);
        return { events: [], state: again.state, revision: again.revision, position: undefined };
      }
      keep(next, result.nextExpectedRevision, await maybeSnapshot(store, aggregate, streamName, next, result.nextExpectedRevision, base));
      return { events, state: next, revision: result.nextExpectedRevision, position: result.position };
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError)) throw error;
      if (fromCache) continue; // another process moved the stream on: read it, no attempt spent
      if (attempt >= retry.maxAttempts) throw error;
      await sleep(retry.baseDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random()));
      attempt++;
    }
  }
}

/** The stream's events as the aggregate's typed events (for a caller that needs the history, not the state). */
export async function readEvents<State, Command, Event extends DomainEvent>(
  store: EventStore,
  aggregate: Aggregate<State, Command, Event>,
  id: string,
): Promise<Event[]> {
  try {
    return (await store.readStream(aggregate.streamName(id))).map((event) => aggregate.events.decode(event));
  } catch (error) {
    if (error instanceof StreamNotFoundError) return [];
    throw error;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

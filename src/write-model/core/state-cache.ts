import type { EventStore } from '../../event-store/port.js';
import type { Aggregate } from './aggregate.js';
import type { DomainEvent } from './decider.js';

/** What a command found, kept for the next command on the same stream in this process. */
export interface CachedState<State> {
  state: State;
  /** the stream revision the state stands at */
  revision: bigint;
  /** the revision of the newest snapshot, as the load that produced the state knew it */
  base: bigint;
}

interface Entry {
  aggregate: unknown;
  cached: CachedState<unknown>;
}

/** streams kept per event store instance; the least recently used go first */
export const STATE_CACHE_ENTRIES = 5_000;

/**
 * The states the last commands of this process left, by stream. A command
 * decides on a cached state without reading its stream, and the append's
 * exact expected revision proves the state was current: when another
 * process moved the stream on, the append fails and the command reads the
 * stream afresh (the handler's usual retry). A decision the append does not
 * check (nothing to append, a refusal) is taken again on a fresh read.
 *
 * An entry is taken out while a command uses it (folds update state in
 * place) and put back as a copy of the state the command left, so nothing
 * handed to a caller is ever shared with the cache. Only aggregates with a
 * snapshot policy take part: their state is plain JSON by contract.
 */
export class StateCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly capacity = STATE_CACHE_ENTRIES) {}

  /** The cached state of `streamName`, taken out (a concurrent command on it reads the stream). */
  take<State, Command, Event extends DomainEvent>(aggregate: Aggregate<State, Command, Event>, streamName: string): CachedState<State> | undefined {
    const entry = this.entries.get(streamName);
    if (!entry) return undefined;
    this.entries.delete(streamName);
    return entry.aggregate === aggregate ? (entry.cached as CachedState<State>) : undefined;
  }

  /** A copy of the cached state of `streamName`, left in place (for a read). */
  peek<State, Command, Event extends DomainEvent>(aggregate: Aggregate<State, Command, Event>, streamName: string): CachedState<State> | undefined {
    const entry = this.entries.get(streamName);
    if (!entry || entry.aggregate !== aggregate) return undefined;
    this.entries.delete(streamName); // most recently used again
    this.entries.set(streamName, entry);
    return { ...(entry.cached as CachedState<State>), state: structuredClone(entry.cached.state as State) };
  }

  /** Keeps a copy of `state` at `revision`, unless a newer one is already there. */
  put<State, Command, Event extends DomainEvent>(aggregate: Aggregate<State, Command, Event>, streamName: string, cached: CachedState<State>): void {
    const present = this.entries.get(streamName);
    if (present && present.aggregate === aggregate && present.cached.revision >= cached.revision) return;
    this.entries.delete(streamName);
    if (this.capacity === 0) return;
    this.entries.set(streamName, { aggregate, cached: { ...cached, state: structuredClone(cached.state) } });
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Forgets `streamName` (a state the stream may no longer have). */
  drop(streamName: string): void {
    this.entries.delete(streamName);
  }
}

const caches = new WeakMap<EventStore, StateCache>();

/** The cache of commands handled through `store` (one per store instance: tests with their own store share nothing). */
export function stateCacheOf(store: EventStore): StateCache {
  let cache = caches.get(store);
  if (!cache) caches.set(store, (cache = new StateCache()));
  return cache;
}

/** Sets how many streams' states commands through `store` keep (0: none, every command reads its stream). */
export function useStateCache(store: EventStore, entries: number): void {
  caches.set(store, new StateCache(entries));
}

import type { Position } from './position.js';
import type { Snapshot, SnapshotStore } from './snapshots.js';

/** JSON that survives a round trip through the store. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Event metadata the platform always writes (EventStoreDB's names for correlation and causation). */
export interface EventMetadata {
  $correlationId?: string;
  $causationId?: string;
  /** who: a user id, or `pm:<name>` for a process manager */
  userId?: string;
  requestId?: string;
  /** a caller's X-Correlation-Id, kept as theirs (the correlation is always the server's) */
  clientCorrelationId?: string;
  [key: string]: Json | undefined;
}

export interface EventData {
  /** uuid; appending the same ids again is an idempotent no-op */
  id: string;
  type: string;
  data: Json;
  metadata?: EventMetadata;
}

export interface RecordedEvent {
  id: string;
  type: string;
  streamName: string;
  /** 0-based revision of the event in its stream */
  revision: bigint;
  position: Position;
  data: Json;
  metadata: EventMetadata;
  created: Date;
}

/** EventStoreDB's expected-revision vocabulary; a bigint is the exact revision of the last event. */
export type ExpectedRevision = 'no_stream' | 'stream_exists' | 'any' | bigint;

export interface StreamFromSnapshot {
  snapshot: Snapshot | undefined;
  /** the events after the snapshot's revision (all of them without a snapshot) */
  events: RecordedEvent[];
}

/** Another stream an append depends on: it must still be at this revision when the events land. */
export interface AppendCondition {
  streamName: string;
  /** the revision the decision read; 'no_stream' when it read no stream */
  revision: bigint | 'no_stream';
}

/** How an append is to be recognised when it comes again, and what else it depends on. */
export interface AppendOptions {
  /**
   * The event ids are derived from what caused the append (a process
   * manager's reaction, a job's step): a repeat must be recognised however
   * far the stream has moved since. Postgres recognises every repeat by id;
   * EventStoreDB does extra work for these appends (a marker stream, see
   * docs/event-store.md) and otherwise recognises a repeat only among the
   * stream's newest events.
   */
  deterministicIds?: boolean;
  /**
   * Streams the decision read besides its own (a quota use reads the
   * subscription whose plan sets the limit): the append lands only while each
   * is still at the revision given, else ConditionFailedError and nothing is
   * written. Postgres checks them in the statement that appends; EventStoreDB
   * has no such check, so its adapter reads them just before appending.
   */
  conditions?: readonly AppendCondition[];
}

export interface AppendResult {
  /** revision of the last event written: pass it as the next expected revision */
  nextExpectedRevision: bigint;
  /** global position of the last event written */
  position: Position;
}

export type Direction = 'forwards' | 'backwards';

export interface ReadStreamOptions {
  /** first revision to read (inclusive); default: start when forwards, end when backwards */
  fromRevision?: bigint | 'start' | 'end';
  direction?: Direction;
  /** default: all */
  maxCount?: number;
}

/**
 * Which events a $all read or subscription wants. Both lists are "any of";
 * given together, an event must match both. Events whose type starts with `$`
 * (store-internal) are never returned.
 */
export interface EventFilter {
  eventTypes?: readonly string[];
  streamPrefixes?: readonly string[];
}

export interface ReadAllOptions {
  /** exclusive when forwards (events after it); exclusive when backwards (events before it) */
  fromPosition?: Position | 'start' | 'end';
  direction?: Direction;
  maxCount?: number;
  filter?: EventFilter;
  /**
   * Inclusive bound in the read's direction: forwards, no event after it;
   * backwards, none before it. A filtered read stops scanning there (on
   * EventStoreDB a sparse filter would otherwise page on to the end of $all).
   */
  toPosition?: Position;
}

/** A count of $all events; `exact: false` when part of it was estimated. */
export interface EventCount {
  count: number;
  exact: boolean;
}

export interface StreamMetadata {
  /** seconds; older events are not returned by stream reads, and a scavenge deletes them from $all (docs/event-store.md) */
  maxAge?: number;
  /** only the newest maxCount events are returned by stream reads */
  maxCount?: number;
  /**
   * events with a lower revision are not returned by stream reads. Never
   * moves back: a write that leaves it out or names a lower one keeps the
   * current one (it also hides a deleted or recreated stream's old events)
   */
  truncateBefore?: bigint;
  /** anything else the application wants to keep beside the stream */
  custom?: { [key: string]: Json };
}

export interface SubscribeToAllOptions {
  /** exclusive: the subscription delivers events after it; default start */
  fromPosition?: Position | 'start' | 'end';
  filter?: EventFilter;
  /** most events per batch (default 500) */
  batchSize?: number;
}

/**
 * What a subscription hands its reader. `events` is in global order and may be
 * empty; `checkpoint` is the position the subscription has scanned up to (at
 * least the last event's) — resuming from it skips nothing and repeats nothing.
 */
export interface SubscriptionBatch {
  events: RecordedEvent[];
  checkpoint: Position;
  /** true once the batch reaches what was the end of $all when it was read */
  caughtUp: boolean;
}

/** Catch-up then live. Iterate to receive batches; `close()` ends the iteration. */
export interface AllSubscription extends AsyncIterable<SubscriptionBatch> {
  close(): Promise<void>;
}

export interface EventStore {
  /** 'postgres' | 'eventstoredb' */
  readonly kind: string;
  /** folded states kept beside long streams (see snapshots.ts); deleting a stream forgets its snapshot */
  readonly snapshots: SnapshotStore;
  append(streamName: string, events: readonly EventData[], expectedRevision?: ExpectedRevision, options?: AppendOptions): Promise<AppendResult>;
  /** throws StreamNotFoundError when the stream does not exist or was deleted */
  readStream(streamName: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /**
   * What loading an aggregate needs: the stream's snapshot of this version
   * (if any) and the events after it, forwards. Throws StreamNotFoundError
   * like readStream. One round trip on Postgres.
   */
  readStreamFromSnapshot(streamName: string, snapshotVersion: number): Promise<StreamFromSnapshot>;
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  subscribeToAll(options?: SubscribeToAllOptions): AllSubscription;
  /**
   * Events in $all after `after` up to and including `upTo` (those matching
   * `filter`, when given): for progress and lag figures, cheap enough to ask
   * on every poll. Postgres counts exactly; EventStoreDB, which can only
   * count by reading, reads a bounded page per call, remembers what it
   * counted and estimates the rest (`exact: false`).
   */
  countEvents(after: Position, upTo: Position, filter?: EventFilter): Promise<EventCount>;
  /** position of the newest event in $all, or START when empty */
  headPosition(): Promise<Position>;
  setStreamMetadata(streamName: string, metadata: StreamMetadata): Promise<void>;
  /** {} when none was set */
  getStreamMetadata(streamName: string): Promise<StreamMetadata>;
  /** soft delete: reads say not found; appending again recreates the stream, revisions continue */
  deleteStream(streamName: string, expectedRevision?: ExpectedRevision): Promise<void>;
  close(): Promise<void>;
}

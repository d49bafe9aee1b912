import {
  ANY,
  BACKWARDS,
  END,
  ErrorType,
  EventStoreDBClient,
  FORWARDS,
  jsonEvent,
  NO_STREAM,
  START as CLIENT_START,
  type AllStreamRecordedEvent,
  type AppendResult as ClientAppendResult,
  type ReadPosition,
} from '@eventstore/db-client';
import { ConditionFailedError, StreamNotFoundError, WrongExpectedVersionError } from '../../../event-store/errors.js';
import type {
  AllSubscription,
  AppendCondition,
  AppendOptions,
  AppendResult,
  EventCount,
  EventData,
  EventFilter,
  EventStore,
  ExpectedRevision,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamFromSnapshot,
  StreamMetadata,
  SubscribeToAllOptions,
} from '../../../event-store/port.js';
import { comparePositions, isAfter, START, type Position } from '../../../event-store/position.js';
import { EventStoreDbAllSubscription, type SubscriptionPlan } from './all-subscription.js';
import { findEarlierAppend, refuseRepeatedIds } from './earlier-append.js';
import { isClientError, isStreamGone, toPortReadError, toPortWriteError } from './errors.js';
import { matchesFilter, serverFilter } from './filters.js';
import {
  isSystemEvent,
  lastAppendedPosition,
  streamEventPosition,
  toClientDeleteRevision,
  toClientEvent,
  toClientExpectedRevision,
  toPosition,
  toRecordedEvent,
  type ClientRecordedEvent,
} from './mapping.js';
import { EventCounter, type ScanResult } from './event-counter.js';
import {
  earlierAppendAt,
  isPinned,
  MARKER_TYPE,
  markerData,
  markerStreamName,
  MARKERS_READ,
  parseMarker,
  slotOf,
  type PinnedRevision,
} from './reaction-markers.js';
import { fromClientStreamMetadata, metadataToWrite } from './stream-metadata.js';
import { validateAppend } from '../../../event-store/validate-append.js';
import { noSnapshots, type SnapshotStore } from '../../../event-store/snapshots.js';

export interface EventStoreDbEventStoreOptions {
  /**
   * How many of a stream's newest events an append compares its event ids
   * with before writing (see earlier-append.ts). Default: the batch's size
   * + 16. 0 skips that read and leaves deduplication to EventStoreDB alone.
   */
  idempotencyWindow?: number;
  /** where snapshots of long streams are kept (the composition root passes the Postgres table); default: none */
  snapshots?: SnapshotStore & { close?(): Promise<void> };
}

/** Slack beyond the batch itself, for a retry that lands after someone else's append. */
const IDEMPOTENCY_SLACK = 16;
/** an `any` append with deterministic ids is pinned to the revision read; losing that race this often gives up */
const PIN_ATTEMPTS = 20;
const METADATA_ATTEMPTS = 5;
/** $all has no server-side filter on reads in this client: filtered reads page through it. */
const MAX_READ_ALL_PAGE = 4096;
const HEAD_PAGE = 32;
const DELETE_ATTEMPTS = 3;

export class EventStoreDbEventStore implements EventStore {
  readonly kind = 'eventstoredb';
  readonly snapshots: SnapshotStore & { close?(): Promise<void> };
  private readonly subscriptions = new Set<EventStoreDbAllSubscription>();
  private readonly counter = new EventCounter((after, upTo, limit) => this.scanAll(after, upTo, limit));

  constructor(
    private readonly client: EventStoreDBClient,
    private readonly options: EventStoreDbEventStoreOptions = {},
  ) {
    this.snapshots = options.snapshots ?? noSnapshots;
  }

  async append(
    streamName: string,
    events: readonly EventData[],
    expectedRevision: ExpectedRevision = 'any',
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    validateAppend(streamName, events);
    refuseRepeatedIds(streamName, events);
    toClientExpectedRevision(expectedRevision); // refuses a negative revision before any round trip
    if (options.deterministicIds) {
      await this.checkConditions(options.conditions ?? []);
      return this.appendMarked(streamName, events, expectedRevision);
    }
    const earlier = await this.earlierAppend(streamName, events);
    // a repeat of an earlier append answers with that append's result, whatever the expected revision (as on Postgres)
    if (earlier) return { nextExpectedRevision: earlier.revision, position: streamEventPosition(earlier) };
    await this.checkConditions(options.conditions ?? []);
    return this.appendEvents(streamName, events, expectedRevision);
  }

  /**
   * The streams an append depends on, checked just before it: EventStoreDB
   * cannot make an append depend on another stream, so a change that lands
   * between this read and the append goes unseen (Postgres checks them in
   * the appending statement).
   */
  private async checkConditions(conditions: readonly AppendCondition[]): Promise<void> {
    for (const condition of conditions) {
      let actual: bigint | 'no_stream';
      try {
        const [last] = await this.readStream(condition.streamName, { direction: 'backwards', maxCount: 1 });
        actual = last ? last.revision : 'no_stream';
      } catch (error) {
        if (!(error instanceof StreamNotFoundError)) throw error;
        actual = 'no_stream';
      }
      if (actual !== condition.revision) throw new ConditionFailedError(condition.streamName, condition.revision, actual);
    }
  }

  /** The append itself, in the port's terms. */
  private async appendEvents(streamName: string, events: readonly EventData[], expectedRevision: ExpectedRevision): Promise<AppendResult> {
    const clientExpected = toClientExpectedRevision(expectedRevision);
    let result: ClientAppendResult;
    try {
      result = await this.client.appendToStream(streamName, events.map(toClientEvent), { expectedRevision: clientExpected });
    } catch (error) {
      throw toPortWriteError(error, streamName, expectedRevision);
    }
    if (!result.success) {
      // only with throwOnAppendFailure=false in the connection string: the client reports instead of throwing
      const actual = result.nextExpectedRevision;
      throw new WrongExpectedVersionError(streamName, expectedRevision, actual < 0n ? 'no_stream' : actual);
    }
    // servers leave the position out when they cannot tell it (e.g. some idempotent writes): read it back
    const position = result.position ? lastAppendedPosition(result.position) : await this.positionOf(streamName, result.nextExpectedRevision);
    return { nextExpectedRevision: result.nextExpectedRevision, position };
  }

  /**
   * An append with deterministic ids: marker first, then the events at an
   * exact revision (see reaction-markers.ts for why this order is safe).
   */
  private async appendMarked(streamName: string, events: readonly EventData[], expectedRevision: ExpectedRevision): Promise<AppendResult> {
    const ids = events.map((event) => event.id.toLowerCase());
    const markerStream = markerStreamName(ids[0]!);
    for (let attempt = 1; ; attempt++) {
      // the revision is read before the markers are: what the proof of "at most one lands" rests on
      const pinned = await this.pinRevision(streamName, expectedRevision);
      const earlier = await this.markedAppend(streamName, ids, markerStream);
      if (earlier) return { nextExpectedRevision: earlier.revision, position: streamEventPosition(earlier) };
      const slot = pinned === undefined ? undefined : slotOf(pinned);
      if (slot !== undefined) await this.writeMarker(markerStream, { stream: streamName, ids, slot });
      try {
        const result = await this.appendEvents(streamName, events, pinned ?? expectedRevision);
        // every event of the stream is hidden by its metadata: the slot is known only now (a crash before this marker
        // leaves the repeat to the markers' absence: the one case a far repeat is not recognised)
        if (slot === undefined) await this.writeMarker(markerStream, { stream: streamName, ids, slot: result.nextExpectedRevision - BigInt(ids.length) + 1n });
        return result;
      } catch (error) {
        // `any` was pinned to the revision just read: another writer got in first, read again
        if (error instanceof WrongExpectedVersionError && !isPinned(expectedRevision) && attempt < PIN_ATTEMPTS) continue;
        throw error;
      }
    }
  }

  /** The exact revision (or no_stream) an append expecting `expected` goes to; undefined when it cannot be told. */
  private async pinRevision(streamName: string, expected: ExpectedRevision): Promise<PinnedRevision | undefined> {
    if (isPinned(expected)) return expected;
    let newest: ClientRecordedEvent[];
    try {
      newest = await this.readStreamEvents(streamName, { direction: BACKWARDS, fromRevision: END, maxCount: 1 });
    } catch (error) {
      if (!(error instanceof StreamNotFoundError)) throw error;
      if (expected === 'stream_exists') throw new WrongExpectedVersionError(streamName, expected, 'no_stream');
      return 'no_stream';
    }
    return newest[0]?.revision;
  }

  /** The last event of an earlier landing of this append, found through its markers. */
  private async markedAppend(streamName: string, ids: readonly string[], markerStream: string): Promise<ClientRecordedEvent | undefined> {
    let markers: ClientRecordedEvent[];
    try {
      markers = await this.readStreamEvents(markerStream, { direction: BACKWARDS, fromRevision: END, maxCount: MARKERS_READ });
    } catch (error) {
      if (error instanceof StreamNotFoundError) return undefined;
      throw error;
    }
    const looked = new Set<string>();
    for (const event of markers) {
      const marker = parseMarker(event.type, event.data);
      if (!marker) continue;
      const key = `${marker.stream}@${String(marker.slot)}`;
      if (looked.has(key)) continue;
      looked.add(key);
      let atSlot: ClientRecordedEvent[];
      try {
        atSlot = await this.readStreamEvents(marker.stream, {
          direction: FORWARDS,
          fromRevision: marker.slot === 'first' ? CLIENT_START : marker.slot,
          maxCount: ids.length,
        });
      } catch (error) {
        if (error instanceof StreamNotFoundError) continue;
        throw error;
      }
      const earlier = earlierAppendAt(streamName, ids, marker, atSlot);
      if (earlier) return earlier;
    }
    return undefined;
  }

  private async writeMarker(markerStream: string, marker: Parameters<typeof markerData>[0]): Promise<void> {
    try {
      await this.client.appendToStream(markerStream, jsonEvent({ type: MARKER_TYPE, data: markerData(marker) }), { expectedRevision: ANY });
    } catch (error) {
      throw toPortWriteError(error, markerStream, 'any');
    }
  }

  async countEvents(after: Position, upTo: Position, filter?: EventFilter): Promise<EventCount> {
    return this.counter.count(after, upTo, filter);
  }

  /** One unfiltered page of $all after `after` (exclusive), up to `upTo` (inclusive). */
  private async scanAll(after: Position, upTo: Position, limit: number): Promise<ScanResult> {
    // the server's forwards start is inclusive: one more for the event at `after` itself
    const page = await this.readAllPage(comparePositions(after, START) <= 0 ? CLIENT_START : after, false, limit + 1);
    const events: ScanResult['events'] = [];
    let complete = page.length < limit + 1;
    for (const event of page) {
      const position = toPosition(event.position);
      if (!isAfter(position, after)) continue;
      if (isAfter(position, upTo) || events.length >= limit) {
        complete ||= isAfter(position, upTo);
        break;
      }
      events.push({ position, type: event.type, streamName: event.streamId });
    }
    return { events, complete };
  }

  async readStream(streamName: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const backwards = options.direction === 'backwards';
    // the client starts at START in both directions unless told otherwise; the port's backwards default is the end
    const from = options.fromRevision ?? (backwards ? 'end' : 'start');
    const requested = options.maxCount;
    const events = await this.readStreamEvents(streamName, {
      direction: backwards ? BACKWARDS : FORWARDS,
      fromRevision: from === 'start' ? CLIENT_START : from === 'end' ? END : from,
      // maxCount 0 still has to say whether the stream exists
      ...(requested !== undefined ? { maxCount: Math.max(requested, 1) } : {}),
    });
    if (requested !== undefined && requested <= 0) return [];
    return events.map((event) => toRecordedEvent(event, streamEventPosition(event)));
  }

  async readStreamFromSnapshot(streamName: string, snapshotVersion: number): Promise<StreamFromSnapshot> {
    const snapshot = await this.snapshots.read(streamName, snapshotVersion);
    const events = await this.readStream(streamName, snapshot ? { fromRevision: snapshot.revision + 1n } : {});
    return { snapshot, events };
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const backwards = options.direction === 'backwards';
    const from = options.fromPosition ?? (backwards ? 'end' : 'start');
    const maxCount = options.maxCount ?? Number.POSITIVE_INFINITY;
    if (maxCount <= 0) return [];
    if ((from === 'end' && !backwards) || (from === 'start' && backwards)) return [];
    if (typeof from === 'object' && backwards && comparePositions(from, START) <= 0) return [];

    // The port's fromPosition is exclusive. The server's is inclusive forwards
    // and exclusive backwards; dropping everything up to `bound` makes both
    // exclusive, whatever the server version, and also for positions that
    // fall between events (server checkpoints).
    let bound: Position | undefined = typeof from === 'object' ? from : undefined;
    let cursor: ReadPosition = from === 'start' || (bound && comparePositions(bound, START) <= 0) ? CLIENT_START : from === 'end' ? END : from;
    const filtered = Boolean(options.filter?.eventTypes?.length || options.filter?.streamPrefixes?.length);
    // unfiltered, a page needs only room for the bound event and interleaved system events
    const pageSize = Number.isFinite(maxCount) && !filtered ? Math.min(maxCount + HEAD_PAGE, MAX_READ_ALL_PAGE) : MAX_READ_ALL_PAGE;

    const out: RecordedEvent[] = [];
    const until = options.toPosition;
    for (;;) {
      const page = await this.readAllPage(cursor, backwards, pageSize);
      for (const event of page) {
        const position = toPosition(event.position);
        if (bound && (backwards ? comparePositions(position, bound) >= 0 : comparePositions(position, bound) <= 0)) continue;
        // past the caller's bound: a sparse filter stops scanning here instead of at the end of $all
        if (until && (backwards ? comparePositions(position, until) < 0 : comparePositions(position, until) > 0)) return out;
        if (!matchesFilter(event.type, event.streamId, options.filter)) continue;
        out.push(toRecordedEvent(event, position));
        if (out.length >= maxCount) return out;
      }
      const last = page.at(-1);
      if (!last || page.length < pageSize) return out;
      cursor = bound = toPosition(last.position);
    }
  }

  subscribeToAll(options: SubscribeToAllOptions = {}): AllSubscription {
    const from = options.fromPosition ?? 'start';
    const filter = options.filter;
    const subscription: EventStoreDbAllSubscription = new EventStoreDbAllSubscription(
      {
        plan: () => this.planSubscription(from),
        open: (plan, onCheckpoint) =>
          this.client.subscribeToAll({
            fromPosition: plan.from,
            filter: serverFilter(filter, (_subscription, position) => onCheckpoint(toPosition(position))),
          }),
      },
      filter,
      options.batchSize ?? 500,
      () => this.subscriptions.delete(subscription),
    );
    this.subscriptions.add(subscription);
    return subscription;
  }

  async headPosition(): Promise<Position> {
    // system events ($stats, $metadata, projections' links) sit at the end of $all too; look past them
    let cursor: ReadPosition = END;
    for (;;) {
      const page = await this.readAllPage(cursor, true, HEAD_PAGE);
      const newest = page.find((event) => !isSystemEvent(event.type, event.streamId));
      if (newest) return toPosition(newest.position);
      const last = page.at(-1);
      if (!last || page.length < HEAD_PAGE) return START;
      cursor = toPosition(last.position);
    }
  }

  /**
   * A metadata event replaces the previous one whole, as the Postgres
   * adapter's row does — except what the port does not own ($acl, the soft
   * delete's marker, a truncation that must not move back; see
   * stream-metadata.ts). Written at the metadata stream's revision just
   * read, so a delete landing in between is never overwritten.
   */
  async setStreamMetadata(streamName: string, metadata: StreamMetadata): Promise<void> {
    const metastream = `$$${streamName}`;
    for (let attempt = 1; ; attempt++) {
      let newest: ClientRecordedEvent[];
      try {
        newest = await this.readStreamEvents(metastream, { direction: BACKWARDS, fromRevision: END, maxCount: 1 });
      } catch (error) {
        if (!(error instanceof StreamNotFoundError)) throw error;
        newest = [];
      }
      const current = newest[0];
      const raw = current?.isJson && current.data !== null && typeof current.data === 'object' ? (current.data as Record<string, unknown>) : undefined;
      const body = metadataToWrite(streamName, raw, metadata);
      if (!body) return; // soft-deleted: the marker stays, and with it the delete
      try {
        await this.client.appendToStream(metastream, jsonEvent({ type: '$metadata', data: body }), {
          expectedRevision: current ? current.revision : NO_STREAM,
        });
        return;
      } catch (error) {
        if (isClientError(error, ErrorType.WRONG_EXPECTED_VERSION) && attempt < METADATA_ATTEMPTS) continue;
        throw toPortWriteError(error, streamName, 'any');
      }
    }
  }

  async getStreamMetadata(streamName: string): Promise<StreamMetadata> {
    try {
      // the client already answers "no metadata" for a stream without a metadata stream
      const result = await this.client.getStreamMetadata(streamName);
      return fromClientStreamMetadata(result.metadata);
    } catch (error) {
      if (isStreamGone(error)) return {};
      throw error;
    }
  }

  async deleteStream(streamName: string, expectedRevision: ExpectedRevision = 'any'): Promise<void> {
    await this.deleteEvents(streamName, expectedRevision);
    // revisions continue when the stream is recreated: its old snapshot must not stand for the new life
    await this.snapshots.delete(streamName);
  }

  private async deleteEvents(streamName: string, expectedRevision: ExpectedRevision): Promise<void> {
    if (expectedRevision === 'stream_exists') return this.deleteExistingStream(streamName);
    try {
      await this.client.deleteStream(streamName, { expectedRevision: toClientDeleteRevision(expectedRevision) });
    } catch (error) {
      if (isClientError(error, ErrorType.STREAM_NOT_FOUND)) {
        // nothing to delete: a no-op when the expectation allows "no stream", as on Postgres
        if (typeof expectedRevision === 'bigint') throw new WrongExpectedVersionError(streamName, expectedRevision, 'no_stream');
        return;
      }
      throw toPortWriteError(error, streamName, expectedRevision);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
    await this.client.dispose();
    await this.snapshots.close?.();
  }

  /**
   * This client cannot send `stream_exists` with a delete: pin the stream's
   * current revision instead, and try again if a writer moved it meanwhile.
   */
  private async deleteExistingStream(streamName: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let newest: ClientRecordedEvent[];
      try {
        newest = await this.readStreamEvents(streamName, { direction: BACKWARDS, fromRevision: END, maxCount: 1 });
      } catch (error) {
        if (error instanceof StreamNotFoundError) throw new WrongExpectedVersionError(streamName, 'stream_exists', 'no_stream');
        throw error;
      }
      // every event hidden by maxAge/truncateBefore: the stream exists, its revision is not ours to see
      const revision = newest[0]?.revision;
      try {
        await this.client.deleteStream(streamName, { expectedRevision: revision ?? 'any' });
        return;
      } catch (error) {
        if (isClientError(error, ErrorType.WRONG_EXPECTED_VERSION) && attempt < DELETE_ATTEMPTS) continue;
        throw toPortWriteError(error, streamName, 'stream_exists');
      }
    }
  }

  private async earlierAppend(streamName: string, events: readonly EventData[]): Promise<ClientRecordedEvent | undefined> {
    const window = this.options.idempotencyWindow ?? events.length + IDEMPOTENCY_SLACK;
    if (window <= 0) return undefined;
    let newestFirst: ClientRecordedEvent[];
    try {
      newestFirst = await this.readStreamEvents(streamName, { direction: BACKWARDS, fromRevision: END, maxCount: window });
    } catch (error) {
      if (error instanceof StreamNotFoundError) return undefined;
      throw error;
    }
    return findEarlierAppend(streamName, events, newestFirst);
  }

  private async positionOf(streamName: string, revision: bigint): Promise<Position> {
    const [event] = await this.readStreamEvents(streamName, { direction: FORWARDS, fromRevision: revision, maxCount: 1 });
    if (!event) throw new Error(`stream ${streamName}: revision ${revision} was just written but cannot be read back`);
    return streamEventPosition(event);
  }

  private async readStreamEvents(streamName: string, options: Parameters<EventStoreDBClient['readStream']>[1]): Promise<ClientRecordedEvent[]> {
    const events: ClientRecordedEvent[] = [];
    try {
      for await (const resolved of this.client.readStream(streamName, options)) {
        if (resolved.event) events.push(resolved.event);
      }
    } catch (error) {
      throw toPortReadError(error, streamName);
    }
    return events;
  }

  private async readAllPage(from: ReadPosition, backwards: boolean, maxCount: number): Promise<AllStreamRecordedEvent[]> {
    const events: AllStreamRecordedEvent[] = [];
    for await (const resolved of this.client.readAll({ fromPosition: from, direction: backwards ? BACKWARDS : FORWARDS, maxCount })) {
      if (resolved.event) events.push(resolved.event);
    }
    return events;
  }

  /**
   * Where the client subscription starts. The port's fromPosition is
   * exclusive; the server skips the first event at or after the position it
   * is given, which is the same thing only when that is an event's exact
   * position. So start from the event just before, and drop what is not after
   * the port's position: right for any position, including checkpoints that
   * fall between events.
   */
  private async planSubscription(from: Position | 'start' | 'end'): Promise<SubscriptionPlan> {
    const head = await this.headPosition();
    const at = from === 'end' ? head : from === 'start' ? START : from;
    if (comparePositions(at, START) <= 0) return { from: CLIENT_START, checkpoint: START, head };
    const before = (await this.readAllPage(at, true, 2)).find((event) => comparePositions(toPosition(event.position), at) < 0);
    return { from: before ? toPosition(before.position) : CLIENT_START, skipThrough: at, checkpoint: at, head };
  }
}

/**
 * `connectionString` as the client takes it: TLS is on unless it says
 * `tls=false`; a secured cluster's user and CA come with it (config.ts folds
 * EVENTSTORE_USERNAME / _PASSWORD / _TLS_CA_FILE in, see connection-string.ts).
 */
export function createEventStoreDbEventStore(connectionString: string, options: EventStoreDbEventStoreOptions = {}): EventStoreDbEventStore {
  return new EventStoreDbEventStore(EventStoreDBClient.connectionString(connectionString), options);
}

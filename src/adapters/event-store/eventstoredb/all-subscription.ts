import type { AllStreamResolvedEvent, AllStreamSubscription, ReadPosition } from '@eventstore/db-client';
import type { AllSubscription, EventFilter, RecordedEvent, SubscriptionBatch } from '../../../event-store/port.js';
import { comparePositions, isAfter, maxPosition, type Position } from '../../../event-store/position.js';
import { matchesFilter } from './filters.js';
import { toPosition, toRecordedEvent } from './mapping.js';

/** Where a subscription starts, worked out when its first batch is pulled. */
export interface SubscriptionPlan {
  /** the client subscription's start (exclusive) */
  from: ReadPosition;
  /** events at or before it are dropped: `from` may lie a little earlier than the port's start */
  skipThrough?: Position;
  /** what the first batch reports when nothing was seen yet */
  checkpoint: Position;
  /** the end of $all read before subscribing: getting there means caught up */
  head: Position;
}

export interface SubscriptionSource {
  plan(): Promise<SubscriptionPlan>;
  /** opens the client subscription; `onCheckpoint` must be the filter's checkpointReached */
  open(plan: SubscriptionPlan, onCheckpoint: (position: Position) => void): AllStreamSubscription;
}

interface Marker {
  /** how many events the client had pushed when the marker was raised */
  after: number;
  apply: () => void;
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * Wraps the client's push stream as the port's pull of batches. Events are
 * buffered as they arrive; a pull takes whatever is buffered, up to
 * batchSize. The client stream is paused while the buffer holds more than two
 * batches, and resumed once a pull drains it to one.
 */
export class EventStoreDbAllSubscription implements AllSubscription {
  private readonly highWater: number;
  private plan: SubscriptionPlan | undefined;
  private subscription: AllStreamSubscription | undefined;
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private iterated = false;
  private closed = false;
  private finished = false;
  private failure: { error: unknown } | undefined;
  private paused = false;

  private buffer: RecordedEvent[] = [];
  /** highest position known to be behind us: seen events, server checkpoints, the head once caught up */
  private scanned: Position | undefined;
  /** the checkpoint of the last batch handed out */
  private reported: Position | undefined;
  private live = false;
  private liveReported = false;

  private received = 0;
  private markers: Marker[] = [];
  private waiters: Array<() => void> = [];

  constructor(
    private readonly source: SubscriptionSource,
    private readonly filter: EventFilter | undefined,
    private readonly batchSize: number,
    private readonly onClosed: () => void = () => undefined,
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    this.highWater = batchSize * 2;
  }

  [Symbol.asyncIterator](): AsyncIterator<SubscriptionBatch> {
    // one client subscription, one reader: a second loop would silently split the batches
    if (this.iterated) throw new Error('an EventStoreDB $all subscription can be iterated only once');
    this.iterated = true;
    return {
      next: () => this.next(),
      return: async () => {
        await this.close();
        return DONE;
      },
    };
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      this.buffer = [];
      this.wake();
      this.closing = (async () => {
        await this.starting?.catch(() => undefined);
        await this.stop();
        this.onClosed();
      })();
    }
    return this.closing;
  }

  private async next(): Promise<IteratorResult<SubscriptionBatch>> {
    if (this.finished || this.closed) return DONE;
    try {
      await (this.starting ??= this.start());
    } catch (error) {
      this.finished = true;
      throw error;
    }
    for (;;) {
      if (this.closed) return DONE;
      const batch = this.cut();
      if (batch) return { done: false, value: batch };
      if (this.failure) {
        // what arrived before the failure was handed out first; now the reader hears of it, once
        const { error } = this.failure;
        this.failure = undefined;
        this.finished = true;
        void this.stop().then(this.onClosed);
        throw error;
      }
      if (this.finished) return DONE;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private async start(): Promise<void> {
    const plan = await this.source.plan();
    if (this.closed) return;
    this.plan = plan;
    this.scanned = this.reported = plan.checkpoint;
    this.live = comparePositions(plan.checkpoint, plan.head) >= 0;
    const subscription = this.source.open(plan, (position) => this.mark(() => this.advance(toPosition(position))));
    this.subscription = subscription;
    subscription.on('data', (resolved: AllStreamResolvedEvent) => this.onData(resolved));
    subscription.on('caughtUp', () =>
      this.mark(() => {
        // everything up to the head read before subscribing has been delivered by now
        this.advance(plan.head);
        this.live = true;
      }),
    );
    subscription.on('fellBehind', () =>
      this.mark(() => {
        this.live = false;
        this.liveReported = false;
      }),
    );
    subscription.on('error', (error: Error) => this.fail(error));
    subscription.on('end', () => this.fail(new Error('EventStoreDB ended the $all subscription')));
  }

  private onData(resolved: AllStreamResolvedEvent): void {
    if (this.closed || this.finished) return;
    this.received++;
    const event = resolved.event;
    const plan = this.plan!;
    if (event) {
      const position = toPosition(event.position);
      // the client's start may be just before the port's exclusive one
      if (!plan.skipThrough || isAfter(position, plan.skipThrough)) {
        if (matchesFilter(event.type, event.streamId, this.filter)) {
          this.buffer.push(toRecordedEvent(event, position));
          this.wake();
        }
        // filtered-out events advance the checkpoint too, reported with the next batch
        this.scanned = maxPosition(this.scanned!, position);
        if (!this.live && comparePositions(this.scanned, plan.head) >= 0) this.live = true;
      }
    }
    this.applyMarkers();
    if (!this.paused && this.buffer.length >= this.highWater) {
      this.paused = true;
      this.subscription?.pause();
    }
  }

  /**
   * Checkpoints and "caught up" are emitted while the client transforms the
   * server's messages, possibly ahead of events it has pushed but not yet
   * handed to us (paused, or queued in its readable buffer). A marker waits
   * until every event pushed before it has arrived here.
   */
  private mark(apply: () => void): void {
    if (this.closed || this.finished) return;
    const after = this.received + (this.subscription?.readableLength ?? 0);
    this.markers.push({ after, apply });
    this.applyMarkers();
  }

  private applyMarkers(): void {
    let applied = false;
    while (this.markers.length > 0 && this.markers[0]!.after <= this.received) {
      this.markers.shift()!.apply();
      applied = true;
    }
    if (applied) this.wake();
  }

  private advance(position: Position): void {
    this.scanned = maxPosition(this.scanned!, position);
    if (!this.live && comparePositions(this.scanned, this.plan!.head) >= 0) this.live = true;
  }

  /** The next batch, or undefined when there is nothing new to tell. */
  private cut(): SubscriptionBatch | undefined {
    if (this.scanned === undefined || this.reported === undefined) return undefined;
    let batch: SubscriptionBatch;
    if (this.buffer.length > 0) {
      const events = this.buffer.splice(0, this.batchSize);
      const rest = this.buffer.length;
      // the whole buffer taken: the batch also covers what was scanned past it
      const checkpoint = rest === 0 ? this.scanned : events.at(-1)!.position;
      batch = { events, checkpoint, caughtUp: this.live && rest === 0 };
    } else if (isAfter(this.scanned, this.reported) || (this.live && !this.liveReported)) {
      // an empty batch: a sparse filter's checkpoint moved, or the reader should learn it is caught up
      batch = { events: [], checkpoint: this.scanned, caughtUp: this.live };
    } else {
      return undefined;
    }
    this.reported = batch.checkpoint;
    if (batch.caughtUp) this.liveReported = true;
    if (this.paused && this.buffer.length <= this.batchSize) {
      this.paused = false;
      this.subscription?.resume();
    }
    return batch;
  }

  private fail(error: unknown): void {
    if (this.closed || this.finished || this.failure) return;
    this.failure = { error };
    this.wake();
  }

  private async stop(): Promise<void> {
    const subscription = this.subscription;
    this.subscription = undefined;
    if (!subscription) return;
    // the gRPC call may already be gone with the error that brought us here
    await subscription.unsubscribe().catch(() => undefined);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}

import type { EventFilter, RecordedEvent } from '../../../event-store/port.js';
import { comparePositions, type Position } from '../../../event-store/position.js';
import type { Window } from './all-subscription.js';
import type { WakeSignal } from './wake-signal.js';

export interface SharedTailOptions {
  /** most events kept in memory; the oldest go first (readers behind them read Postgres themselves) */
  maxEvents: number;
  /** events read per refresh */
  readSize: number;
  /** a refresh is due after this long even without a wake-up (a lost NOTIFY must not stall anyone) */
  maxAgeMs: number;
  /** and after this long while events wait behind a transaction in flight */
  blockedAgeMs: number;
}

export const DEFAULT_SHARED_TAIL: SharedTailOptions = { maxEvents: 4_000, readSize: 1_000, maxAgeMs: 250, blockedAgeMs: 5 };

/** Reads one unfiltered window of $all after a position: the subscription's window query with no filter. */
export type WindowReader = (after: Position, limit: number) => Promise<Window>;

/** The horizon as 'end' means it: the newest event below every transaction in flight. */
export type HorizonReader = () => Promise<Position>;

/**
 * The newest stretch of $all, read once for every live subscription of this
 * process. A projector runs twenty-odd consumers; each used to read its own
 * window on every wake-up, so one append cost twenty queries. Now the first
 * reader to find the tail stale refreshes it with one unfiltered query and
 * everybody filters in memory.
 *
 * The tail holds every event after `start` up to `head`, with no gap: it is
 * only ever extended by windows below the horizon (nothing can later be
 * inserted before their end), read contiguously from where the last one
 * ended. A reader whose checkpoint lies before `start` (catching up, or
 * fallen behind a trimmed tail) is told to read Postgres itself.
 */
export class SharedTail {
  private events: RecordedEvent[] = [];
  private start: Position | undefined;
  private head: Position | undefined;
  /** the last refresh filled its window: more is waiting in Postgres */
  private full = false;
  /** the last refresh saw events waiting behind a transaction in flight */
  private blocked = false;
  /** an append may have happened since the last refresh */
  private stale = true;
  private refreshedAt = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<void> | undefined;
  private readonly stopListening: () => void;

  constructor(
    signal: WakeSignal,
    private readonly readWindow: WindowReader,
    private readonly readHorizon: HorizonReader,
    private readonly options: SharedTailOptions = DEFAULT_SHARED_TAIL,
  ) {
    this.stopListening = signal.subscribe(() => {
      this.stale = true;
    });
  }

  close(): void {
    this.stopListening();
    this.events = [];
  }

  /**
   * The window a subscription would read after `after`, from memory; undefined
   * when the tail does not reach back that far (the caller reads Postgres).
   */
  async window(after: Position, filter: TailFilter, batchSize: number): Promise<Window | undefined> {
    if (this.start === undefined) await this.coalescedRefresh();
    if (comparePositions(after, this.start!) < 0) return undefined;
    if (comparePositions(after, this.head!) >= 0 && this.due()) await this.coalescedRefresh();
    // the reader read past the tail on its own (it caught up before the tail moved): not ours to answer
    if (comparePositions(after, this.start!) < 0 || comparePositions(after, this.head!) > 0) return undefined;
    return this.slice(after, filter, batchSize);
  }

  private slice(after: Position, filter: TailFilter, batchSize: number): Window {
    const head = this.head!;
    if (comparePositions(after, head) === 0) return { events: [], horizon: undefined, full: false, blocked: this.blocked };
    const events: RecordedEvent[] = [];
    for (let i = this.firstAfter(after); i < this.events.length; i++) {
      const event = this.events[i]!;
      if (!filter.matches(event)) continue;
      if (events.length === batchSize) {
        // more than a batch of this reader's events: it ends at its last one and reads on at once
        return { events, horizon: events.at(-1)!.position, full: true, blocked: this.blocked };
      }
      events.push(event);
    }
    return { events, horizon: head, full: this.full, blocked: this.blocked };
  }

  /** The index of the first event after `after` (binary search: the tail is in $all order). */
  private firstAfter(after: Position): number {
    let low = 0;
    let high = this.events.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (comparePositions(this.events[mid]!.position, after) <= 0) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  private due(): boolean {
    if (this.stale || this.full) return true;
    const age = performance.now() - this.refreshedAt;
    return age >= (this.blocked ? this.options.blockedAgeMs : this.options.maxAgeMs);
  }

  /** One refresh at a time; readers arriving meanwhile wait for it instead of querying too. */
  private coalescedRefresh(): Promise<void> {
    this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async refresh(): Promise<void> {
    this.stale = false;
    this.refreshedAt = performance.now();
    if (this.start === undefined || this.head === undefined) {
      const horizon = await this.readHorizon();
      this.start = this.head = horizon;
      return;
    }
    const window = await this.readWindow(this.head, this.options.readSize);
    this.full = window.full;
    this.blocked = window.blocked;
    if (!window.horizon) return;
    for (const event of window.events) this.events.push(event);
    this.head = window.horizon;
    const excess = this.events.length - this.options.maxEvents;
    if (excess > 0) {
      this.start = this.events[excess - 1]!.position;
      this.events = this.events.slice(excess);
    }
  }
}

/** A subscription's filter, matched in memory as the window query matches it in SQL. */
export class TailFilter {
  private readonly types: ReadonlySet<string> | undefined;
  private readonly prefixes: readonly string[];

  constructor(filter: EventFilter | undefined) {
    this.types = filter?.eventTypes?.length ? new Set(filter.eventTypes) : undefined;
    this.prefixes = filter?.streamPrefixes ?? [];
  }

  matches(event: RecordedEvent): boolean {
    if (this.types && !this.types.has(event.type)) return false;
    return this.prefixes.length === 0 || this.prefixes.some((prefix) => event.streamName.startsWith(prefix));
  }
}

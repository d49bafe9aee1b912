import type pg from 'pg';
import type { AllSubscription, EventFilter, RecordedEvent, SubscriptionBatch } from '../../../event-store/port.js';
import type { Position } from '../../../event-store/position.js';
import { EVENT_COLUMNS, likePrefix, toRecordedEvent, type EventRow } from './rows.js';
import type { SharedTail, TailFilter } from './shared-tail.js';
import type { WakeSignal } from './wake-signal.js';

export interface PollingOptions {
  /** first wait after an empty read; doubles up to maxPollIntervalMs */
  minPollIntervalMs: number;
  maxPollIntervalMs: number;
  /**
   * A live reader woken again within this many ms of its last read waits out
   * the rest: under a steady stream of appends every wake-up would otherwise
   * be a query per consumer (a projector runs twenty), each bringing one or
   * two events. Waiting gathers them into one read and one batch.
   */
  minReadGapMs: number;
  /**
   * The poll interval while events wait behind an append in flight: one
   * made outside the store (on a connection of its own) sends no NOTIFY
   * when it ends, so the reader looks again soon instead of backing off.
   * Only appends hold the horizon, and they are short: this costs little.
   */
  blockedPollIntervalMs: number;
}

/**
 * Reads a window of $all after `from`, but only below the oldest appending
 * transaction still in flight (es_horizon(): transactions that never append
 * do not count): everything there is committed for good, so the window can
 * never later gain an event before its end.
 *
 * `h` finds the window's end from the primary key alone; the events are then
 * read up to it, filtered, straight off the index (both bounds are index
 * conditions, so a sparse filter never scans past the window). The end comes
 * back as a last row of its own (`horizon`), so a filtered-out window still
 * advances the checkpoint; that row also says whether events this reader
 * wants wait at or above the horizon (`blocked`: a transaction in flight
 * holds them back). Only those make it poll fast: a reader of other events
 * sleeps until it is woken, as before.
 */
const WINDOW_QUERY = `
  WITH x AS MATERIALIZED (SELECT es_horizon() AS x),
  h AS MATERIALIZED (
    SELECT transaction_id, global_position, count(*) OVER () AS scanned FROM (
      SELECT transaction_id, global_position FROM es_events
       WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
         AND transaction_id < (SELECT x FROM x)
       ORDER BY transaction_id, global_position
       LIMIT $3) window_positions
    ORDER BY transaction_id DESC, global_position DESC
    LIMIT 1)
  (SELECT false AS horizon, NULL::bigint AS scanned, false AS blocked, ${EVENT_COLUMNS}
     FROM es_events
    WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
      AND (transaction_id, global_position) <= ((SELECT transaction_id FROM h), (SELECT global_position FROM h))
      AND (cardinality($4::text[]) = 0 OR event_type = ANY($4::text[]))
      AND (cardinality($5::text[]) = 0 OR stream_name LIKE ANY($5::text[]))
    ORDER BY transaction_id, global_position
    LIMIT $3)
  UNION ALL
  SELECT true, (SELECT scanned FROM h),
         -- newest first off the primary key, bounded by the horizon (an EXISTS here may be planned as a scan of the log)
         (SELECT true FROM es_events WHERE transaction_id >= (SELECT x FROM x)
             AND (cardinality($4::text[]) = 0 OR event_type = ANY($4::text[]))
             AND (cardinality($5::text[]) = 0 OR stream_name LIKE ANY($5::text[]))
           ORDER BY transaction_id DESC, global_position DESC LIMIT 1) IS NOT NULL,
         (SELECT transaction_id::text FROM h), (SELECT global_position::text FROM h), NULL, NULL, NULL, NULL, NULL, NULL, NULL`;

type WindowRow = EventRow & { horizon: boolean; scanned: string | null; blocked: boolean };

export interface Window {
  events: RecordedEvent[];
  /** the last position scanned; undefined when nothing was there */
  horizon: Position | undefined;
  /** the window was full: more is waiting */
  full: boolean;
  /** events wait at or above the horizon: a transaction in flight holds them back */
  blocked: boolean;
}

/** One window of $all after `after`, filtered (empty lists: everything), at most `limit` positions scanned. */
export async function readWindow(pool: pg.Pool, after: Position, limit: number, types: readonly string[], likePrefixes: readonly string[]): Promise<Window> {
  const { rows } = await pool.query<WindowRow>({
    name: 'es_window',
    text: WINDOW_QUERY,
    values: [after.commit.toString(), after.prepare.toString(), limit, types, likePrefixes],
  });
  const last = rows.at(-1)!;
  if (last.commit_position === null) return { events: [], horizon: undefined, full: false, blocked: last.blocked };
  return {
    events: rows.slice(0, -1).map(toRecordedEvent),
    horizon: { commit: BigInt(last.commit_position), prepare: BigInt(last.prepare_position) },
    full: Number(last.scanned) >= limit,
    blocked: last.blocked,
  };
}

/** The process's shared tail of $all, and this subscription's filter as the tail matches it. */
export interface TailAccess {
  tail: SharedTail;
  filter: TailFilter;
}

export class PostgresAllSubscription implements AllSubscription {
  private closed = false;
  private wake: (() => void) | undefined;
  private readonly types: readonly string[];
  private readonly prefixes: string[];

  constructor(
    private readonly pool: pg.Pool,
    private readonly signal: WakeSignal,
    private readonly from: Position,
    filter: EventFilter | undefined,
    private readonly batchSize: number,
    private readonly polling: PollingOptions,
    /** live windows come from memory while this subscription is within the tail */
    private readonly shared?: TailAccess,
  ) {
    this.types = filter?.eventTypes ?? [];
    this.prefixes = (filter?.streamPrefixes ?? []).map(likePrefix);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SubscriptionBatch> {
    let checkpoint = this.from;
    let pending = true; // something may be there: read before waiting
    let interval = this.polling.minPollIntervalMs;
    let prefetched: Promise<Window> | undefined;
    let caughtUp = false;
    let lastRead = Number.NEGATIVE_INFINITY;
    let blocked = false;
    const wanted = this.types.length > 0 ? new Set(this.types) : undefined;
    const stopListening = this.signal.subscribe((types) => {
      // appends of types this filter never wants leave it asleep (its idle polls still move its checkpoint)
      if (wanted && types && ![...types].some((type) => wanted.has(type))) return;
      pending = true;
      this.wake?.();
    });
    try {
      while (!this.closed) {
        if (!pending && !prefetched) {
          await this.sleep(blocked ? Math.min(interval, this.polling.blockedPollIntervalMs) : interval);
          interval = pending ? this.polling.minPollIntervalMs : Math.min(interval * 2, this.polling.maxPollIntervalMs);
          if (this.closed) break;
        }
        if (!prefetched) await this.gap(lastRead);
        if (this.closed) break;
        pending = false;
        lastRead = performance.now();
        const window = await (prefetched ?? this.read(checkpoint));
        prefetched = undefined;
        blocked = window.blocked;
        if (!window.horizon) {
          // nothing (yet) below the in-flight horizon; say once that the reader is live
          if (!caughtUp) yield { events: [], checkpoint, caughtUp: (caughtUp = true) };
          continue;
        }
        checkpoint = window.horizon;
        caughtUp = !window.full;
        interval = this.polling.minPollIntervalMs;
        if (window.full) {
          // catching up: the next window is read while the reader handles this one
          prefetched = this.read(checkpoint);
          prefetched.catch(() => undefined);
        }
        yield { events: window.events, checkpoint, caughtUp };
      }
    } finally {
      stopListening();
      await prefetched?.catch(() => undefined);
    }
  }

  private async read(after: Position): Promise<Window> {
    const fromTail = await this.shared?.tail.window(after, this.shared.filter, this.batchSize);
    return fromTail ?? readWindow(this.pool, after, this.batchSize, this.types, this.prefixes);
  }

  /** Waits until minReadGapMs have passed since `lastRead` (wake-ups meanwhile do not cut it short). */
  private async gap(lastRead: number): Promise<void> {
    for (;;) {
      const left = lastRead + this.polling.minReadGapMs - performance.now();
      if (left <= 0 || this.closed) return;
      await this.sleep(left);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }
}

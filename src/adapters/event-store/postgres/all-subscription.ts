import type pg from 'pg';
import type { AllSubscription, EventFilter, RecordedEvent, SubscriptionBatch } from '../../../event-store/port.js';
import type { Position } from '../../../event-store/position.js';
import { EVENT_COLUMNS, likePrefix, toRecordedEvent, type EventRow } from './rows.js';
import type { WakeSignal } from './wake-signal.js';

export interface PollingOptions {
  /** first wait after an empty read; doubles up to maxPollIntervalMs */
  minPollIntervalMs: number;
  maxPollIntervalMs: number;
}

/**
 * Reads a window of $all after `from`, but only below the oldest transaction
 * still in flight: everything there is committed for good, so the window can
 * never later gain an event before its end. The filter is applied to the
 * window, and the window's last position comes back as a row of its own
 * (`horizon`) so a sparse filter still advances the checkpoint.
 */
const WINDOW_QUERY = `
  WITH w AS (
    SELECT * FROM es_events
     WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
       AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY transaction_id, global_position
     LIMIT $3)
  (SELECT false AS horizon, NULL::bigint AS scanned, ${EVENT_COLUMNS}
     FROM w
    WHERE (cardinality($4::text[]) = 0 OR event_type = ANY($4::text[]))
      AND (cardinality($5::text[]) = 0 OR stream_name LIKE ANY($5::text[]))
    ORDER BY w.transaction_id, w.global_position)
  UNION ALL
  (SELECT true, count(*) OVER (), w.transaction_id::text, w.global_position::text,
          NULL, NULL, NULL, NULL, NULL, NULL, NULL
     FROM w ORDER BY w.transaction_id DESC, w.global_position DESC LIMIT 1)`;

type WindowRow = EventRow & { horizon: boolean; scanned: string | null };

interface Window {
  events: RecordedEvent[];
  /** the last position scanned; undefined when nothing was there */
  horizon: Position | undefined;
  /** the window was full: more is waiting */
  full: boolean;
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
    const stopListening = this.signal.subscribe(() => {
      pending = true;
      this.wake?.();
    });
    try {
      while (!this.closed) {
        if (!pending && !prefetched) {
          await this.sleep(interval);
          interval = pending ? this.polling.minPollIntervalMs : Math.min(interval * 2, this.polling.maxPollIntervalMs);
          if (this.closed) break;
        }
        pending = false;
        const window = await (prefetched ?? this.read(checkpoint));
        prefetched = undefined;
        if (!window.horizon) continue; // nothing committed below the in-flight horizon yet
        checkpoint = window.horizon;
        interval = this.polling.minPollIntervalMs;
        if (window.full) {
          // catching up: the next window is read while the reader handles this one
          prefetched = this.read(checkpoint);
          prefetched.catch(() => undefined);
        }
        yield { events: window.events, checkpoint, caughtUp: !window.full };
      }
    } finally {
      stopListening();
      await prefetched?.catch(() => undefined);
    }
  }

  private async read(after: Position): Promise<Window> {
    const { rows } = await this.pool.query<WindowRow>({
      name: 'es_window',
      text: WINDOW_QUERY,
      values: [after.commit.toString(), after.prepare.toString(), this.batchSize, this.types, this.prefixes],
    });
    const last = rows.at(-1);
    if (!last?.horizon) return { events: [], horizon: undefined, full: false };
    return {
      events: rows.slice(0, -1).map(toRecordedEvent),
      horizon: { commit: BigInt(last.commit_position), prepare: BigInt(last.prepare_position) },
      full: Number(last.scanned) >= this.batchSize,
    };
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

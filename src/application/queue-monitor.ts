import type { BlockageBoard, BlockageBoardState, BlockageView, QueueCounts, QueueStatsReader } from './ports/queue-monitoring.js';

/**
 * The live queue monitor: samples every queue once per interval (1 s) while
 * anyone watches, and hands each sample to its subscribers (the SSE route)
 * and to whoever asks for the latest (the JSON snapshot).
 *
 * - Counts (waiting, active, delayed, failed, paused) and the oldest waiting
 *   job come from the reader's sample; jobs in and out per second are the
 *   deltas of its running totals over the time between two samples (null
 *   on the first sample: there is nothing to compare with yet).
 * - The blocked queues come from the alert board the detector (one process,
 *   src/application/queue-blockage-watch.ts) publishes; `detector` says
 *   whether one has published lately.
 * - It samples only while there are subscribers or a snapshot was asked for
 *   in the last minute (then the reader closes its connections until the
 *   next sample); one sample at a time (a slow Redis skips ticks instead of
 *   piling them up). `close()` ends every subscription.
 */

export interface QueueStats {
  name: string;
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  paused: boolean;
  addedPerSecond: number | null;
  completedPerSecond: number | null;
  failedPerSecond: number | null;
  oldestWaitingSeconds: number | null;
  blocked: BlockageView | null;
}

export interface QueueStatsSnapshot {
  at: string;
  intervalMs: number;
  /** whether a blockage detector has published in the last few seconds, and its threshold */
  detector: { running: boolean; thresholdSeconds: number | null };
  queues: QueueStats[];
}

export type StatsListener = (snapshot: QueueStatsSnapshot) => void;

export interface QueueMonitorOptions {
  reader: QueueStatsReader;
  board?: BlockageBoard;
  intervalMs?: number;
  /** how long sampling goes on after the last snapshot request with nobody subscribed */
  idleMs?: number;
  onError?: (error: unknown) => void;
}

const round = (n: number) => Math.round(n * 100) / 100;

/** One sample's stats from the counts, the previous sample (for the rates) and the board. */
export function statsOf(
  sample: { at: number; queues: QueueCounts[] },
  previous: { at: number; queues: QueueCounts[] } | null,
  board: BlockageBoardState | null,
): QueueStats[] {
  const seconds = previous ? (sample.at - previous.at) / 1000 : 0;
  const before = new Map(previous?.queues.map((q) => [q.name, q]) ?? []);
  const blocked = new Map(board?.blocked.map((b) => [b.queue, b]) ?? []);
  return sample.queues.map((q) => {
    const prev = before.get(q.name);
    const rate = (key: keyof QueueCounts['totals']) => (prev && seconds > 0 ? round(Math.max(0, q.totals[key] - prev.totals[key]) / seconds) : null);
    return {
      name: q.name,
      waiting: q.waiting,
      active: q.active,
      delayed: q.delayed,
      failed: q.failed,
      paused: q.paused,
      addedPerSecond: rate('added'),
      completedPerSecond: rate('completed'),
      failedPerSecond: rate('failed'),
      oldestWaitingSeconds: q.oldestWaitingSince === null ? null : Math.max(0, Math.floor((sample.at - q.oldestWaitingSince) / 1000)),
      blocked: blocked.get(q.name) ?? null,
    };
  });
}

export class QueueMonitor {
  private readonly listeners = new Set<StatsListener>();
  private readonly closers = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;
  private previous: { at: number; queues: QueueCounts[] } | null = null;
  private last: QueueStatsSnapshot | null = null;
  private wantedUntil = 0;
  private closed = false;
  readonly intervalMs: number;

  constructor(private readonly options: QueueMonitorOptions) {
    this.intervalMs = options.intervalMs ?? 1000;
  }

  /** Every sample from now on, until the returned function is called (or the monitor closes: `onClose`). */
  subscribe(listener: StatsListener, onClose?: () => void): () => void {
    if (this.closed) throw new Error('the queue monitor is closed');
    this.listeners.add(listener);
    if (onClose) this.closers.add(onClose);
    this.ensureRunning();
    // a new subscriber gets the latest sample at once, if it is fresh
    if (this.last && Date.now() - Date.parse(this.last.at) < this.intervalMs * 2) listener(this.last);
    return () => {
      this.listeners.delete(listener);
      if (onClose) this.closers.delete(onClose);
    };
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  /** The latest sample (taken now if there is no fresh one); keeps sampling for a while so the next ask has rates. */
  async snapshot(): Promise<QueueStatsSnapshot> {
    this.wantedUntil = Date.now() + (this.options.idleMs ?? 60_000);
    this.ensureRunning();
    if (this.last && Date.now() - Date.parse(this.last.at) < this.intervalMs * 2) return this.last;
    await this.tick();
    if (!this.last) throw new Error('no queue sample could be taken');
    return this.last;
  }

  /** Ends every subscription (their onClose runs) and stops sampling; the reader is the caller's to close. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    for (const close of [...this.closers]) close();
    this.closers.clear();
    this.listeners.clear();
    await this.sampling;
  }

  private ensureRunning(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => {
      if (this.listeners.size === 0 && Date.now() > this.wantedUntil) {
        clearInterval(this.timer);
        this.timer = undefined;
        this.previous = null;
        // nobody watches: the reader lets its event connections go (it opens them again at the next sample)
        void this.options.reader.close().catch((error: unknown) => this.options.onError?.(error));
        return;
      }
      void this.tick();
    }, this.intervalMs);
    this.timer.unref();
    if (this.listeners.size > 0) void this.tick();
  }

  private tick(): Promise<void> {
    // one sample at a time: a caller during a sample waits for that one
    this.sampling ??= this.sampleOnce().finally(() => {
      this.sampling = undefined;
    });
    return this.sampling;
  }

  private async sampleOnce(): Promise<void> {
    try {
      const [sample, board] = await Promise.all([this.options.reader.sample(), this.options.board?.read() ?? Promise.resolve(null)]);
      const snapshot: QueueStatsSnapshot = {
        at: new Date(sample.at).toISOString(),
        intervalMs: this.intervalMs,
        detector: { running: board !== null, thresholdSeconds: board?.thresholdSeconds ?? null },
        queues: statsOf(sample, this.previous, board),
      };
      this.previous = sample;
      this.last = snapshot;
      for (const listener of [...this.listeners]) {
        try {
          listener(snapshot);
        } catch (error) {
          this.options.onError?.(error);
        }
      }
    } catch (error) {
      this.options.onError?.(error);
    }
  }
}

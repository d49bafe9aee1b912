/**
 * What the queue monitor, the blockage detector and the interventions need
 * of the job queues (BullMQ: src/adapters/queue/queue-stats.ts,
 * queue-control.ts) and of the shared alert board (Redis:
 * src/adapters/queue/queue-alert-board.ts).
 */

/** One queue's counts at one moment, with its job flow counted since the reader started. */
export interface QueueCounts {
  name: string;
  /** jobs ready for a worker (waiting and prioritized) */
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  paused: boolean;
  /** when the oldest waiting job became ready (ms since the epoch); null when none waits */
  oldestWaitingSince: number | null;
  /** jobs added / completed / failed since the reader started (monotonic: rates are their deltas) */
  totals: { added: number; completed: number; failed: number };
}

export interface QueueStatsReader {
  /** the queues it reads */
  readonly names: readonly string[];
  /** every queue's counts now; `at` is when the sample was taken */
  sample(): Promise<{ at: number; queues: QueueCounts[] }>;
  close(): Promise<void>;
}

/** An open blockage episode as the detector publishes it. */
export interface BlockageView {
  queue: string;
  blockedSince: string;
  detectedAt: string;
  waiting: number;
  paused: boolean;
}

/** The detector's published view: which queues are blocked, refreshed every tick (it expires when no detector runs). */
export interface BlockageBoardState {
  updatedAt: string;
  thresholdSeconds: number;
  blocked: BlockageView[];
}

export interface BlockageBoard {
  publish(state: BlockageBoardState): Promise<void>;
  /** null when no detector has published lately */
  read(): Promise<BlockageBoardState | null>;
}

/** A job as an intervention sees it. */
export interface QueueJobView {
  id: string;
  name: string;
  /** waiting, prioritized, active, delayed, failed, completed, waiting-children, unknown */
  state: string;
}

/** The manual interventions on a queue (each refused with a QueueControlError when it does not apply). */
export interface QueueControl {
  readonly names: readonly string[];
  isPaused(queue: string): Promise<boolean>;
  pause(queue: string): Promise<void>;
  resume(queue: string): Promise<void>;
  /** how many failed jobs there are now */
  failedCount(queue: string): Promise<number>;
  /** moves the failed jobs back to waiting; how many were moved */
  retryFailed(queue: string): Promise<number>;
  job(queue: string, jobId: string): Promise<QueueJobView | null>;
  retryJob(queue: string, jobId: string): Promise<void>;
  promoteJob(queue: string, jobId: string): Promise<void>;
  removeJob(queue: string, jobId: string): Promise<void>;
  close(): Promise<void>;
}

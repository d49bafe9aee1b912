/**
 * The blockage detector's judgement, pure: given one queue's samples in
 * order, when is it blocked and when does it move again.
 *
 * A queue is still while it has waiting jobs and between two samples the
 * waiting count did not go down and no job finished (completed or failed:
 * a failure too means a worker took the job). It is blocked once it has
 * been still for the threshold (QUEUE_BLOCKAGE_SECONDS); `blockedSince` is
 * when it last moved (or when it was first seen still). It clears at the
 * first sample that moves (waiting went down, a job finished, or nothing
 * waits any more). Growth counts as still: jobs pile up and none leaves.
 */

export interface BlockageSample {
  /** ms since the epoch */
  at: number;
  waiting: number;
  /** jobs that finished (completed + failed) since the previous sample */
  finished: number;
  paused: boolean;
}

export interface QueueBlockageState {
  /** waiting at the previous sample; null before the first */
  lastWaiting: number | null;
  /** since when the queue has been still with jobs waiting; null while it moves or nothing waits */
  stillSince: number | null;
  /** the open episode, if any */
  blocked: { blockedSince: number; detectedAt: number } | null;
}

export type BlockageChange =
  | { type: 'detected'; blockedSince: number; at: number; waiting: number; paused: boolean }
  | { type: 'cleared'; blockedSince: number; at: number; waiting: number };

export function initialBlockageState(): QueueBlockageState {
  return { lastWaiting: null, stillSince: null, blocked: null };
}

/** The state after one more sample, and what changed (null: nothing to record). */
export function observeQueue(
  state: QueueBlockageState,
  sample: BlockageSample,
  thresholdMs: number,
): { state: QueueBlockageState; change: BlockageChange | null } {
  const shrank = state.lastWaiting !== null && sample.waiting < state.lastWaiting;
  const moving = sample.waiting === 0 || shrank || sample.finished > 0;
  const next: QueueBlockageState = {
    lastWaiting: sample.waiting,
    // a move restarts the clock; the first still sample starts it
    stillSince: sample.waiting === 0 ? null : moving ? sample.at : (state.stillSince ?? sample.at),
    blocked: state.blocked,
  };
  if (state.blocked && moving) {
    next.blocked = null;
    return { state: next, change: { type: 'cleared', blockedSince: state.blocked.blockedSince, at: sample.at, waiting: sample.waiting } };
  }
  if (!state.blocked && !moving && next.stillSince !== null && sample.at - next.stillSince >= thresholdMs) {
    next.blocked = { blockedSince: next.stillSince, detectedAt: sample.at };
    return { state: next, change: { type: 'detected', blockedSince: next.stillSince, at: sample.at, waiting: sample.waiting, paused: sample.paused } };
  }
  return { state: next, change: null };
}

import { randomUUID } from 'node:crypto';
import type { EventStore } from '../event-store/port.js';
import type { Logger } from '../logger.js';
import { handle, load } from '../write-model/core/command-handler.js';
import { eventIdsFrom } from '../write-model/core/event-ids.js';
import { queueAlertAggregate, queueAlertDayId } from '../write-model/queue-alert/decider.js';
import type { BlockageBoard, BlockageView, QueueStatsReader } from './ports/queue-monitoring.js';
import { initialBlockageState, observeQueue, type QueueBlockageState } from './queue-blockage.js';

/**
 * The blockage detector at work: once a second it samples every queue,
 * judges each with observeQueue (queue-blockage.ts) and records what
 * changed on the queue's alert day stream (`queue_alert-{queue}_{YYYYMMDD}`):
 * QueueBlockageDetected once per episode, QueueBlockageCleared when the
 * queue moves again (to the stream of the day the episode was detected).
 * pm-queue-alerts turns each detection into a `queue_blocked` notification
 * for every admin. After every tick it publishes the open episodes on the
 * alert board, which the api's monitor shows beside the live stats.
 *
 * It must run in exactly one process (src/main/queue-blockage.ts holds an
 * advisory lock for it); on start it takes over the episodes a predecessor
 * left open (the last RECOVER_DAYS days' streams), so a restart neither
 * repeats a detection nor loses a clearing.
 */

export const BLOCKAGE_DETECTOR_ACTOR = 'queue-blockage-detector';
/** how many days back a starting detector looks for episodes still open */
export const RECOVER_DAYS = 7;

export interface QueueBlockageWatchOptions {
  store: EventStore;
  reader: QueueStatsReader;
  board: BlockageBoard;
  /** QUEUE_BLOCKAGE_SECONDS */
  thresholdSeconds: number;
  intervalMs?: number;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
}

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10).replaceAll('-', '');
const iso = (ms: number) => new Date(ms).toISOString();

export class QueueBlockageWatch {
  private readonly states = new Map<string, QueueBlockageState>();
  private readonly extra = new Map<string, { paused: boolean; waiting: number }>();
  private finishedBefore = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(private readonly options: QueueBlockageWatchOptions) {}

  /** Takes over open episodes, then judges every interval until stop(). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.recover();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** The open episodes as recorded so far. */
  blocked(): BlockageView[] {
    const views: BlockageView[] = [];
    for (const [queue, state] of this.states) {
      if (!state.blocked) continue;
      const extra = this.extra.get(queue);
      views.push({
        queue,
        blockedSince: iso(state.blocked.blockedSince),
        detectedAt: iso(state.blocked.detectedAt),
        waiting: extra?.waiting ?? state.lastWaiting ?? 0,
        paused: extra?.paused ?? false,
      });
    }
    return views;
  }

  /** Episodes left open by an earlier detector: today's stream and the RECOVER_DAYS - 1 days before. */
  async recover(now = Date.now()): Promise<void> {
    for (const queue of this.options.reader.names) {
      for (let back = 0; back < RECOVER_DAYS; back++) {
        const { state } = await load(this.options.store, queueAlertAggregate, queueAlertDayId(queue, utcDay(now - back * 86_400_000)));
        if (!state.open) continue;
        this.states.set(queue, {
          ...initialBlockageState(),
          blocked: { blockedSince: Date.parse(state.open.blockedSince), detectedAt: Date.parse(state.open.detectedAt) },
        });
        break;
      }
    }
  }

  /** One sample judged and recorded, and the board published. */
  async tick(): Promise<void> {
    const { reader, thresholdSeconds } = this.options;
    const sample = await reader.sample();
    const finishedNow = new Map<string, number>();
    for (const q of sample.queues) {
      const finished = q.totals.completed + q.totals.failed;
      finishedNow.set(q.name, finished);
      const before = this.finishedBefore.get(q.name);
      const state = this.states.get(q.name) ?? initialBlockageState();
      const { state: next, change } = observeQueue(
        state,
        { at: sample.at, waiting: q.waiting, finished: before === undefined ? 0 : finished - before, paused: q.paused },
        thresholdSeconds * 1000,
      );
      if (change) {
        try {
          await this.record(q.name, change, state, q.oldestWaitingSince === null ? null : Math.max(0, Math.floor((sample.at - q.oldestWaitingSince) / 1000)));
        } catch (error) {
          // judged again at the next tick
          this.options.logger.error({ err: error, queue: q.name, change: change.type }, 'could not record a queue blockage change');
          continue;
        }
      }
      this.states.set(q.name, next);
      this.extra.set(q.name, { paused: q.paused, waiting: q.waiting });
    }
    this.finishedBefore = finishedNow;
    await this.options.board.publish({ updatedAt: iso(sample.at), thresholdSeconds, blocked: this.blocked() });
  }

  private async record(queue: string, change: NonNullable<ReturnType<typeof observeQueue>['change']>, before: QueueBlockageState, oldest: number | null) {
    const { store, thresholdSeconds, logger } = this.options;
    const since = iso(change.blockedSince);
    const context = { correlationId: randomUUID(), causationId: randomUUID(), actor: BLOCKAGE_DETECTOR_ACTOR };
    if (change.type === 'detected') {
      const day = utcDay(change.at);
      await handle(
        store,
        queueAlertAggregate,
        queueAlertDayId(queue, day),
        {
          type: 'RecordQueueBlockage',
          queue,
          day,
          blockedSince: since,
          waiting: change.waiting,
          paused: change.paused,
          oldestWaitingSeconds: oldest,
          thresholdSeconds,
          now: iso(change.at),
        },
        // named after the episode: a retried append after a lost answer is recognised
        { context, eventIds: eventIdsFrom(`queue-blockage:${queue}:${since}:detected`) },
      );
      logger.warn({ queue, blockedSince: since, waiting: change.waiting, paused: change.paused }, 'queue blocked');
      return;
    }
    const day = utcDay(before.blocked?.detectedAt ?? change.at);
    await handle(
      store,
      queueAlertAggregate,
      queueAlertDayId(queue, day),
      { type: 'ClearQueueBlockage', queue, day, waiting: change.waiting, now: iso(change.at) },
      { context, eventIds: eventIdsFrom(`queue-blockage:${queue}:${since}:cleared`) },
    );
    logger.info({ queue, blockedSince: since, waiting: change.waiting }, 'queue moving again');
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick()
        .catch((error: unknown) => this.options.logger.error({ err: error }, 'queue blockage check failed'))
        .finally(() => this.schedule());
    }, this.options.intervalMs ?? 1000);
    this.timer.unref();
  }
}

import { SNAPSHOT_EVERY, type Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { instant, invalid, requireText } from '../core/validate.js';
import type { ClearQueueBlockage, QueueAlertCommand, RecordQueueBlockage } from './commands.js';
import { queueAlertEvents, type QueueAlertEvent } from './events.js';
import { initialState, type QueueAlertDayState } from './state.js';

/**
 * A queue's blockage episodes detected on one UTC day (stream
 * `queue_alert-{queue}_{YYYYMMDD}`). At most one episode per
 * QUEUE_BLOCKAGE_SECONDS of stillness, so a day holds at most
 * 2 · 86400 / threshold events (576 at the 300 s default), usually none.
 *
 * Rules (tests/unit/queue-alert.spec.test.ts):
 * - RecordQueueBlockage opens an episode: QueueBlockageDetected. While one
 *   is open, another is a repeat: [] (once per episode).
 * - ClearQueueBlockage closes the open episode: QueueBlockageCleared, with
 *   how long it was blocked. Nothing open: [] (a repeat, or nothing to end).
 * - The detection's time falls on the stream's day; blockedSince is not
 *   after it; a clearing is not before the detection. Counts are whole
 *   numbers of at least 0; the queue name is a BullMQ name.
 */

export function queueAlertDayId(queue: string, day: string): string {
  return `${queue}_${day}`;
}

/** `queue_alert-{queue}_{YYYYMMDD}`; the id is queueAlertDayId(queue, day). */
export function queueAlertStream(dayId: string): string {
  return `queue_alert-${dayId}`;
}

type Event = QueueAlertEvent;
type State = QueueAlertDayState;

const DAY = /^\d{8}$/;
/** BullMQ queue names as the platform names them (':' would break its keys) */
export const QUEUE_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10).replaceAll('-', '');

function requireQueue(value: unknown): string {
  const queue = requireText(value, 'queue');
  if (!QUEUE_NAME.test(queue)) throw invalid('queue must be a queue name (lower-case letters, digits, - and _)', { field: 'queue', got: queue });
  return queue;
}

function requireDay(value: unknown): string {
  if (typeof value !== 'string' || !DAY.test(value)) throw invalid('day must be YYYYMMDD', { field: 'day', got: value });
  return value;
}

function requireCount(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw invalid(`${field} must be a whole number of at least 0`, { field, got: value });
  return value;
}

function record(command: RecordQueueBlockage, state: State): Event[] {
  const queue = requireQueue(command.queue);
  const day = requireDay(command.day);
  const now = instant(command.now, 'now');
  const since = instant(command.blockedSince, 'blockedSince');
  if (utcDay(now) !== day) throw invalid('now must fall on the stream day (UTC)', { field: 'now', day });
  if (since > now) throw invalid('blockedSince must not be after now', { field: 'blockedSince' });
  const waiting = requireCount(command.waiting, 'waiting');
  const thresholdSeconds = requireCount(command.thresholdSeconds, 'thresholdSeconds');
  const oldest = command.oldestWaitingSeconds === null ? null : requireCount(command.oldestWaitingSeconds, 'oldestWaitingSeconds');
  if (typeof command.paused !== 'boolean') throw invalid('paused must be a boolean', { field: 'paused' });
  if (state.open) return [];
  return [
    {
      type: 'QueueBlockageDetected',
      data: {
        queue,
        day,
        blockedSince: command.blockedSince,
        waiting,
        paused: command.paused,
        oldestWaitingSeconds: oldest,
        thresholdSeconds,
        detectedAt: command.now,
      },
    },
  ];
}

function clear(command: ClearQueueBlockage, state: State): Event[] {
  const queue = requireQueue(command.queue);
  const day = requireDay(command.day);
  const now = instant(command.now, 'now');
  const waiting = requireCount(command.waiting, 'waiting');
  const open = state.open;
  if (!open) return [];
  if (now < Date.parse(open.detectedAt)) throw invalid('a blockage cannot clear before it was detected', { field: 'now', detectedAt: open.detectedAt });
  return [
    {
      type: 'QueueBlockageCleared',
      data: {
        queue,
        day,
        blockedSince: open.blockedSince,
        detectedAt: open.detectedAt,
        waiting,
        blockedSeconds: Math.max(0, Math.floor((now - Date.parse(open.blockedSince)) / 1000)),
        clearedAt: command.now,
      },
    },
  ];
}

function decide(command: QueueAlertCommand, state: State): Event[] {
  switch (command.type) {
    case 'RecordQueueBlockage':
      return record(command, state);
    case 'ClearQueueBlockage':
      return clear(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

function evolve(state: State, event: Event): State {
  switch (event.type) {
    case 'QueueBlockageDetected':
      state.open = { blockedSince: event.data.blockedSince, detectedAt: event.data.detectedAt };
      state.episodes += 1;
      return state;
    case 'QueueBlockageCleared':
      state.open = null;
      return state;
  }
}

export const queueAlertDecider: Decider<QueueAlertDayState, QueueAlertCommand, QueueAlertEvent> = { initialState, decide, evolve };

/** Stream `queue_alert-{queue}_{YYYYMMDD}`; snapshots as a busy short-lived stream (a flapping queue writes hundreds a day). */
export const queueAlertAggregate: Aggregate<QueueAlertDayState, QueueAlertCommand, QueueAlertEvent> = {
  name: 'queue_alert',
  streamName: queueAlertStream,
  decider: queueAlertDecider,
  events: queueAlertEvents,
  snapshot: { version: 1, every: SNAPSHOT_EVERY.busy },
};

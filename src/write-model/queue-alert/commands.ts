/** Commands of a queue's alert day stream (`queue_alert-{queue}_{YYYYMMDD}`); both carry `now`. */

/** The detector saw the queue's waiting jobs not move for the threshold. */
export interface RecordQueueBlockage {
  type: 'RecordQueueBlockage';
  queue: string;
  /** YYYYMMDD (UTC) of `now` */
  day: string;
  blockedSince: string;
  waiting: number;
  paused: boolean;
  oldestWaitingSeconds: number | null;
  thresholdSeconds: number;
  now: string;
}

/** The detector saw the blocked queue move again (sent to the day stream the episode was detected in). */
export interface ClearQueueBlockage {
  type: 'ClearQueueBlockage';
  queue: string;
  day: string;
  waiting: number;
  now: string;
}

export type QueueAlertCommand = RecordQueueBlockage | ClearQueueBlockage;

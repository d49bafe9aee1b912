/**
 * Commands of a queue's intervention day stream
 * (`queue_intervention-{queue}_{YYYYMMDD}`): one per operator action, sent
 * by src/application/queue-interventions.ts once it has checked the action
 * applies (the queue and job exist, in the right state). All carry `now`.
 */

interface Base {
  queue: string;
  /** YYYYMMDD (UTC) of `now` */
  day: string;
  /** a user id, or `cli:<os user>` */
  operator: string;
  now: string;
}

export interface RecordQueuePaused extends Base {
  type: 'RecordQueuePaused';
}
export interface RecordQueueResumed extends Base {
  type: 'RecordQueueResumed';
}
export interface RecordFailedJobsRetried extends Base {
  type: 'RecordFailedJobsRetried';
  count: number;
}
export interface RecordJobRemoved extends Base {
  type: 'RecordJobRemoved';
  jobId: string;
  state: string;
}
export interface RecordJobPromoted extends Base {
  type: 'RecordJobPromoted';
  jobId: string;
}
export interface RecordJobRetried extends Base {
  type: 'RecordJobRetried';
  jobId: string;
}

export type QueueInterventionCommand =
  | RecordQueuePaused
  | RecordQueueResumed
  | RecordFailedJobsRetried
  | RecordJobRemoved
  | RecordJobPromoted
  | RecordJobRetried;

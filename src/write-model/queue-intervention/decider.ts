import { SNAPSHOT_EVERY, type Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { instant, invalid, requireText } from '../core/validate.js';
import { characterCount } from '../core/characters.js';
import { QUEUE_NAME } from '../queue-alert/decider.js';
import type { QueueInterventionCommand } from './commands.js';
import { queueInterventionEvents, type QueueInterventionEvent } from './events.js';
import { initialState, type QueueInterventionDayState } from './state.js';

/**
 * Operators' interventions on one queue on one UTC day (stream
 * `queue_intervention-{queue}_{YYYYMMDD}`): an audit log, written by hand,
 * so tens of events a day at most.
 *
 * Rules (tests/unit/queue-intervention.spec.test.ts):
 * - Every command records its event: the caller (the application service)
 *   has already checked that the action applies and carried it out; an
 *   action that changed nothing (pausing a paused queue, retrying no failed
 *   job) is not sent at all.
 * - The queue is a BullMQ queue name; the operator is named; `now` falls on
 *   the stream's day; a job id is 1–200 characters without ':' (BullMQ's
 *   key separator); a retried count is a whole number of at least 1.
 */

export function queueInterventionDayId(queue: string, day: string): string {
  return `${queue}_${day}`;
}

/** `queue_intervention-{queue}_{YYYYMMDD}`; the id is queueInterventionDayId(queue, day). */
export function queueInterventionStream(dayId: string): string {
  return `queue_intervention-${dayId}`;
}

type Event = QueueInterventionEvent;
type State = QueueInterventionDayState;

const DAY = /^\d{8}$/;

function requireJobId(value: unknown): string {
  const jobId = requireText(value, 'jobId');
  if (characterCount(jobId) > 200 || jobId.includes(':')) throw invalid('jobId must be 1-200 characters without ":"', { field: 'jobId' });
  return jobId;
}

function decide(command: QueueInterventionCommand, _state: State): Event[] {
  const queue = requireText(command.queue, 'queue');
  if (!QUEUE_NAME.test(queue)) throw invalid('queue must be a queue name (lower-case letters, digits, - and _)', { field: 'queue', got: queue });
  const day = command.day;
  if (typeof day !== 'string' || !DAY.test(day)) throw invalid('day must be YYYYMMDD', { field: 'day', got: day });
  const now = instant(command.now, 'now');
  if (new Date(now).toISOString().slice(0, 10).replaceAll('-', '') !== day) throw invalid('now must fall on the stream day (UTC)', { field: 'now', day });
  const operator = requireText(command.operator, 'operator');
  if (characterCount(operator) > 200) throw invalid('operator must be at most 200 characters', { field: 'operator' });
  const base = { queue, day, operator, at: command.now };
  switch (command.type) {
    case 'RecordQueuePaused':
      return [{ type: 'QueuePaused', data: base }];
    case 'RecordQueueResumed':
      return [{ type: 'QueueResumed', data: base }];
    case 'RecordFailedJobsRetried': {
      const count = command.count;
      if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 1)
        throw invalid('count must be a whole number of at least 1', { field: 'count' });
      return [{ type: 'FailedJobsRetried', data: { ...base, count } }];
    }
    case 'RecordJobRemoved':
      return [{ type: 'JobRemoved', data: { ...base, jobId: requireJobId(command.jobId), state: requireText(command.state, 'state') } }];
    case 'RecordJobPromoted':
      return [{ type: 'JobPromoted', data: { ...base, jobId: requireJobId(command.jobId) } }];
    case 'RecordJobRetried':
      return [{ type: 'JobRetried', data: { ...base, jobId: requireJobId(command.jobId) } }];
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

/** Every event is one more intervention of the day. */
function evolve(state: State, _event: Event): State {
  state.interventions += 1;
  return state;
}

export const queueInterventionDecider: Decider<QueueInterventionDayState, QueueInterventionCommand, QueueInterventionEvent> = { initialState, decide, evolve };

/** Stream `queue_intervention-{queue}_{YYYYMMDD}`; snapshots in case a script drives the admin API all day. */
export const queueInterventionAggregate: Aggregate<QueueInterventionDayState, QueueInterventionCommand, QueueInterventionEvent> = {
  name: 'queue_intervention',
  streamName: queueInterventionStream,
  decider: queueInterventionDecider,
  events: queueInterventionEvents,
  snapshot: { version: 1, every: SNAPSHOT_EVERY.busy },
};

import fc from 'fast-check';
import type { QueueAlertCommand } from '../../../src/write-model/queue-alert/index.js';
import { queueAlertAggregate } from '../../../src/write-model/queue-alert/index.js';
import type { QueueInterventionCommand } from '../../../src/write-model/queue-intervention/index.js';
import { queueInterventionAggregate } from '../../../src/write-model/queue-intervention/index.js';
import { historySource, sequence } from './harness.js';

const dayOf = (now: string) => now.slice(0, 10).replaceAll('-', '');

/**
 * One queue's alert day stream (`queue_alert-scrape_…`): blockages recorded
 * (and repeated while open) and cleared (and cleared again: a no-op), with
 * now and then a detection whose day is not its time's (refused) or whose
 * blockedSince is after it (refused). The day follows each command's time,
 * so a long history writes what several days' streams would, in one: the
 * decider's rules are the same on every day.
 */
export const queueAlertHistories = historySource(
  queueAlertAggregate,
  sequence(
    fc.record({
      kind: fc.constantFrom('record', 'record', 'clear', 'clear'),
      waiting: fc.integer({ min: 0, max: 500 }),
      paused: fc.boolean(),
      oldest: fc.option(fc.integer({ min: 0, max: 10_000 }), { nil: null }),
      wrongDay: fc.oneof({ arbitrary: fc.constant(false), weight: 12 }, { arbitrary: fc.constant(true), weight: 1 }),
      sinceAfter: fc.oneof({ arbitrary: fc.constant(false), weight: 12 }, { arbitrary: fc.constant(true), weight: 1 }),
    }),
    (c, now): QueueAlertCommand => {
      const day = c.wrongDay ? '19990101' : dayOf(now);
      if (c.kind === 'clear') return { type: 'ClearQueueBlockage', queue: 'scrape', day, waiting: c.waiting, now };
      const since = new Date(Date.parse(now) + (c.sinceAfter ? 60_000 : -300_000)).toISOString();
      return {
        type: 'RecordQueueBlockage',
        queue: 'scrape',
        day,
        blockedSince: since,
        waiting: c.waiting,
        paused: c.paused,
        oldestWaitingSeconds: c.oldest,
        thresholdSeconds: 300,
        now,
      };
    },
  ),
);

/** One queue's intervention day stream: every kind of intervention, now and then a bad one (no operator, a job id with ':', a count of 0). */
export const queueInterventionHistories = historySource(
  queueInterventionAggregate,
  sequence(
    fc.record({
      kind: fc.constantFrom('pause', 'resume', 'retry_failed', 'remove', 'promote', 'retry'),
      operator: fc.oneof({ arbitrary: fc.constantFrom('u-admin', 'cli:ops'), weight: 12 }, { arbitrary: fc.constant(' '), weight: 1 }),
      jobId: fc.oneof({ arbitrary: fc.constantFrom('job-1', 'e1.2'), weight: 12 }, { arbitrary: fc.constant('bad:id'), weight: 1 }),
      count: fc.integer({ min: 0, max: 50 }),
      state: fc.constantFrom('failed', 'waiting', 'delayed'),
    }),
    (c, now): QueueInterventionCommand => {
      const base = { queue: 'mail', day: dayOf(now), operator: c.operator, now };
      switch (c.kind) {
        case 'pause':
          return { type: 'RecordQueuePaused', ...base };
        case 'resume':
          return { type: 'RecordQueueResumed', ...base };
        case 'retry_failed':
          return { type: 'RecordFailedJobsRetried', ...base, count: c.count };
        case 'remove':
          return { type: 'RecordJobRemoved', ...base, jobId: c.jobId, state: c.state };
        case 'promote':
          return { type: 'RecordJobPromoted', ...base, jobId: c.jobId };
        case 'retry':
          return { type: 'RecordJobRetried', ...base, jobId: c.jobId };
      }
    },
  ),
);

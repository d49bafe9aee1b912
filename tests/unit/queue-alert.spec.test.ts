import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  queueAlertDayId,
  queueAlertDecider,
  queueAlertStream,
  type QueueAlertEvent,
  type RecordQueueBlockage,
} from '../../src/write-model/queue-alert/index.js';
import { expect } from 'chai';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(queueAlertDecider);
const field = (f: string) => (e: DomainError) => e.code === 'VALIDATION_ERROR' && e.details.field === f;

const DAY = '20261205';
const SINCE = '2026-12-05T09:55:00.000Z';
const AT = '2026-12-05T10:00:00.000Z';
const LATER = '2026-12-06T01:30:00.000Z';

const record = (extra: Partial<RecordQueueBlockage> = {}): RecordQueueBlockage => ({
  type: 'RecordQueueBlockage',
  queue: 'workflow-tick',
  day: DAY,
  blockedSince: SINCE,
  waiting: 12,
  paused: false,
  oldestWaitingSeconds: 420,
  thresholdSeconds: 300,
  now: AT,
  ...extra,
});

const detected: QueueAlertEvent = {
  type: 'QueueBlockageDetected',
  data: { queue: 'workflow-tick', day: DAY, blockedSince: SINCE, waiting: 12, paused: false, oldestWaitingSeconds: 420, thresholdSeconds: 300, detectedAt: AT },
};
const cleared: QueueAlertEvent = {
  type: 'QueueBlockageCleared',
  data: { queue: 'workflow-tick', day: DAY, blockedSince: SINCE, detectedAt: AT, waiting: 3, blockedSeconds: 56_100, clearedAt: LATER },
};

describe('queue alert (decider)', () => {
  it('names its day stream queue_alert-{queue}_{YYYYMMDD}', () => {
    expect(queueAlertStream(queueAlertDayId('workflow-tick', DAY))).to.equal('queue_alert-workflow-tick_20261205');
  });

  describe('RecordQueueBlockage', () => {
    it('opens an episode', () => spec.given([]).when(record()).then([detected]));
    it('once per episode: a repeat while it is open records nothing', () =>
      spec
        .given([detected])
        .when(record({ waiting: 40, now: '2026-12-05T11:00:00.000Z' }))
        .then([]));
    it('a new episode after the last one cleared', () =>
      spec
        .given([detected, { ...cleared, data: { ...cleared.data, clearedAt: '2026-12-05T10:10:00.000Z', blockedSeconds: 900 } }])
        .when(record({ blockedSince: '2026-12-05T10:20:00.000Z', now: '2026-12-05T10:25:00.000Z' }))
        .then([
          { type: 'QueueBlockageDetected', data: { ...detected.data, blockedSince: '2026-12-05T10:20:00.000Z', detectedAt: '2026-12-05T10:25:00.000Z' } },
        ]));
    it('keeps the paused flag and an unknown oldest job', () =>
      spec
        .given([])
        .when(record({ paused: true, oldestWaitingSeconds: null }))
        .then([{ type: 'QueueBlockageDetected', data: { ...detected.data, paused: true, oldestWaitingSeconds: null } }]));
    it('refuses a time off the stream day', () =>
      spec
        .given([])
        .when(record({ day: '20261204' }))
        .thenThrows(DomainError, field('now')));
    it('refuses blockedSince after now', () =>
      spec
        .given([])
        .when(record({ blockedSince: '2026-12-05T10:00:01.000Z' }))
        .thenThrows(DomainError, field('blockedSince')));
    it('refuses a negative count', () =>
      spec
        .given([])
        .when(record({ waiting: -1 }))
        .thenThrows(DomainError, field('waiting')));
    it('refuses a name BullMQ keys cannot hold', () =>
      spec
        .given([])
        .when(record({ queue: 'bad:name' }))
        .thenThrows(DomainError, field('queue')));
    it('refuses a malformed day', () =>
      spec
        .given([])
        .when(record({ day: '2026-12-05' }))
        .thenThrows(DomainError, field('day')));
  });

  describe('ClearQueueBlockage', () => {
    const clear = { type: 'ClearQueueBlockage' as const, queue: 'workflow-tick', day: DAY, waiting: 3, now: LATER };
    it('closes the open episode (on a later day too), with how long it was blocked', () => spec.given([detected]).when(clear).then([cleared]));
    it('nothing open: nothing to record', () => spec.given([]).when(clear).then([]));
    it('a repeat after it cleared records nothing', () => spec.given([detected, cleared]).when(clear).then([]));
    it('refuses a clearing before the detection', () =>
      spec
        .given([detected])
        .when({ ...clear, now: '2026-12-05T09:59:00.000Z' })
        .thenThrows(DomainError, field('now')));
    it('counts the day’s episodes', () => spec.given([detected]).when(clear).thenState({ open: null, episodes: 1 }));
  });
});

import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  queueInterventionDayId,
  queueInterventionDecider,
  queueInterventionStream,
  type QueueInterventionCommand,
} from '../../src/write-model/queue-intervention/index.js';
import { expect } from 'chai';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(queueInterventionDecider);
const field = (f: string) => (e: DomainError) => e.code === 'VALIDATION_ERROR' && e.details.field === f;

const base = { queue: 'mail', day: '20261205', operator: 'u-admin', now: '2026-12-05T10:00:00.000Z' };
const data = { queue: 'mail', day: '20261205', operator: 'u-admin', at: '2026-12-05T10:00:00.000Z' };
const paused = { type: 'QueuePaused' as const, data };

describe('queue intervention (decider)', () => {
  it('names its day stream queue_intervention-{queue}_{YYYYMMDD}', () => {
    expect(queueInterventionStream(queueInterventionDayId('mail', '20261205'))).to.equal('queue_intervention-mail_20261205');
  });

  describe('records every checked intervention with its operator', () => {
    it('QueuePaused', () =>
      spec
        .given([])
        .when({ type: 'RecordQueuePaused', ...base })
        .then([paused]));
    it('QueueResumed (after a pause of the same day)', () =>
      spec
        .given([paused])
        .when({ type: 'RecordQueueResumed', ...base })
        .then([{ type: 'QueueResumed', data }]));
    it('FailedJobsRetried with the count', () =>
      spec
        .given([])
        .when({ type: 'RecordFailedJobsRetried', ...base, count: 7 })
        .then([{ type: 'FailedJobsRetried', data: { ...data, count: 7 } }]));
    it('JobRemoved with the state it was in', () =>
      spec
        .given([])
        .when({ type: 'RecordJobRemoved', ...base, jobId: 'e1.2', state: 'waiting' })
        .then([{ type: 'JobRemoved', data: { ...data, jobId: 'e1.2', state: 'waiting' } }]));
    it('JobPromoted', () =>
      spec
        .given([])
        .when({ type: 'RecordJobPromoted', ...base, jobId: 'j-9' })
        .then([{ type: 'JobPromoted', data: { ...data, jobId: 'j-9' } }]));
    it('JobRetried', () =>
      spec
        .given([])
        .when({ type: 'RecordJobRetried', ...base, jobId: 'j-9' })
        .then([{ type: 'JobRetried', data: { ...data, jobId: 'j-9' } }]));
    it('counts an operator and a job id in characters (code points): 200 outside the BMP fit', () =>
      spec
        .given([])
        .when({ type: 'RecordJobRetried', ...base, operator: '😀'.repeat(200), jobId: '𝌆'.repeat(200) })
        .then([{ type: 'JobRetried', data: { ...data, operator: '😀'.repeat(200), jobId: '𝌆'.repeat(200) } }]));
    it('counts the day’s interventions', () =>
      spec
        .given([paused])
        .when({ type: 'RecordQueueResumed', ...base })
        .thenState({ interventions: 2 }));
  });

  describe('refuses', () => {
    const cases: Array<[string, QueueInterventionCommand, string]> = [
      ['no operator', { type: 'RecordQueuePaused', ...base, operator: ' ' }, 'operator'],
      ['a time off the stream day', { type: 'RecordQueuePaused', ...base, day: '20261204' }, 'now'],
      ['a queue name with ":"', { type: 'RecordQueuePaused', ...base, queue: 'mail:x' }, 'queue'],
      ['a job id with ":"', { type: 'RecordJobRetried', ...base, jobId: 'a:b' }, 'jobId'],
      ['an empty job id', { type: 'RecordJobPromoted', ...base, jobId: '' }, 'jobId'],
      ['a job id of 201 characters', { type: 'RecordJobPromoted', ...base, jobId: '𝌆'.repeat(201) }, 'jobId'],
      ['an operator of 201 characters', { type: 'RecordQueuePaused', ...base, operator: '😀'.repeat(201) }, 'operator'],
      ['a retry of no failed job', { type: 'RecordFailedJobsRetried', ...base, count: 0 }, 'count'],
      ['a removal without the state', { type: 'RecordJobRemoved', ...base, jobId: 'j', state: '' }, 'state'],
    ];
    for (const [what, command, f] of cases) it(what, () => spec.given([]).when(command).thenThrows(DomainError, field(f)));
  });
});

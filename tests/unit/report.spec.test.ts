import { expect } from 'chai';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  latestSlot,
  nextSlotAfter,
  reportDecider,
  reportStream,
  type ChangeReport,
  type DefineReport,
  type ReportEvent,
  type ReportSchedule,
} from '../../src/write-model/report/index.js';
import { reportRunDecider, reportRunStream, type RecordReportGenerated, type ReportRunEvent } from '../../src/write-model/report-run/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;
const field = (f: string) => (e: DomainError) => e.code === 'VALIDATION_ERROR' && e.details.field === f;

const T0 = '2026-12-01T10:00:00.000Z';
const T1 = '2026-12-02T10:00:00.000Z';
const T2 = '2026-12-03T10:00:00.000Z';
const OWNER = 'user-1';
const weekly: ReportSchedule = { frequency: 'weekly', hour: 8, weekday: 1, dayOfMonth: null, timeZone: 'Asia/Shanghai' };
const settings = { name: '起点周报', service: 'qidian' as const, kind: 'qidian.market' as const, format: 'pdf' as const, days: 7, schedule: weekly };

describe('Report', () => {
  const spec = deciderSpec(reportDecider);
  const defineCmd: DefineReport = { type: 'DefineReport', reportId: 'r1', userId: OWNER, ...settings, now: T0 };
  const defined: ReportEvent = { type: 'ReportDefined', data: { reportId: 'r1', userId: OWNER, ...settings, definedAt: T0 } };

  it('lives in report-{id} and starts with none', () => {
    expect(reportStream('r1')).to.equal('report-r1');
    expect(reportDecider.initialState()).to.deep.equal({ status: 'none' });
  });

  it('defines a report once', () => {
    spec.given([]).when(defineCmd).then([defined]);
    spec.given([defined]).when(defineCmd).thenThrows(DomainError, code('CONFLICT'));
  });

  it('validates name, kind of the service, format, days and the schedule', () => {
    spec
      .given([])
      .when({ ...defineCmd, name: ' ' })
      .thenThrows(DomainError, field('name'));
    spec
      .given([])
      .when({ ...defineCmd, kind: 'xiaohongshu.analytics' })
      .thenThrows(DomainError, field('kind'));
    spec
      .given([])
      .when({ ...defineCmd, format: 'csv' as never })
      .thenThrows(DomainError, field('format'));
    spec
      .given([])
      .when({ ...defineCmd, days: 0 })
      .thenThrows(DomainError, field('days'));
    spec
      .given([])
      .when({ ...defineCmd, days: 366 })
      .thenThrows(DomainError, field('days'));
    spec
      .given([])
      .when({ ...defineCmd, schedule: { ...weekly, hour: 24 } })
      .thenThrows(DomainError, field('schedule.hour'));
    spec
      .given([])
      .when({ ...defineCmd, schedule: { ...weekly, weekday: null } })
      .thenThrows(DomainError, field('schedule.weekday'));
    spec
      .given([])
      .when({ ...defineCmd, schedule: { ...weekly, frequency: 'monthly', weekday: null, dayOfMonth: 29 } })
      .thenThrows(DomainError, field('schedule.dayOfMonth'));
    spec
      .given([])
      .when({ ...defineCmd, schedule: { ...weekly, frequency: 'daily' } })
      .thenThrows(DomainError, field('schedule.weekday'));
    spec
      .given([])
      .when({ ...defineCmd, schedule: { ...weekly, timeZone: 'Mars/Olympus' } })
      .thenThrows(DomainError, field('schedule.timeZone'));
    spec
      .given([])
      .when({ ...defineCmd, now: 'later' })
      .thenThrows(DomainError, code('VALIDATION_ERROR'));
  });

  it('changes what is named; the same settings are a no-op; the service stays', () => {
    const change: ChangeReport = { type: 'ChangeReport', reportId: 'r1', requestedBy: OWNER, format: 'xlsx', now: T1 };
    spec
      .given([defined])
      .when(change)
      .then([{ type: 'ReportChanged', data: { reportId: 'r1', userId: OWNER, ...settings, format: 'xlsx', changedAt: T1 } }]);
    spec
      .given([defined])
      .when({ ...change, format: 'pdf', name: '起点周报' })
      .then([]);
    spec
      .given([defined])
      .when({ ...change, kind: 'xiaohongshu.analytics' })
      .thenThrows(DomainError, field('kind'));
    spec
      .given([defined])
      .when({ ...change, kind: 'qidian.tracked_novels' })
      .then([{ type: 'ReportChanged', data: { reportId: 'r1', userId: OWNER, ...settings, kind: 'qidian.tracked_novels', format: 'xlsx', changedAt: T1 } }]);
  });

  it("is the owner's: another user is refused; unknown is NOT_FOUND", () => {
    spec
      .given([defined])
      .when({ type: 'ChangeReport', reportId: 'r1', requestedBy: 'user-2', name: 'x', now: T1 })
      .thenThrows(DomainError, code('PERMISSION_DENIED'));
    spec.given([defined]).when({ type: 'DeleteReport', reportId: 'r1', requestedBy: 'user-2', now: T1 }).thenThrows(DomainError, code('PERMISSION_DENIED'));
    spec.given([]).when({ type: 'DeleteReport', reportId: 'r1', requestedBy: OWNER, now: T1 }).thenThrows(DomainError, code('NOT_FOUND'));
  });

  it('deletes once; a deleted report takes no change', () => {
    const deleted: ReportEvent = { type: 'ReportDeleted', data: { reportId: 'r1', userId: OWNER, deletedAt: T2 } };
    spec.given([defined]).when({ type: 'DeleteReport', reportId: 'r1', requestedBy: OWNER, now: T2 }).then([deleted]);
    spec.given([defined, deleted]).when({ type: 'DeleteReport', reportId: 'r1', requestedBy: OWNER, now: T2 }).then([]);
    spec
      .given([defined, deleted])
      .when({ type: 'ChangeReport', reportId: 'r1', requestedBy: OWNER, name: 'x', now: T2 })
      .thenThrows(DomainError, code('NOT_FOUND'));
  });
});

describe('Report schedule slots', () => {
  it('daily, weekly and monthly at an hour of the zone', () => {
    // 2026-12-01 is a Tuesday; 08:00 in Shanghai is 00:00Z
    const daily: ReportSchedule = { frequency: 'daily', hour: 8, weekday: null, dayOfMonth: null, timeZone: 'Asia/Shanghai' };
    expect(nextSlotAfter(daily, new Date('2026-12-01T00:00:00.000Z')).toISOString()).to.equal('2026-12-02T00:00:00.000Z');
    expect(nextSlotAfter(daily, new Date('2026-11-30T23:59:00.000Z')).toISOString()).to.equal('2026-12-01T00:00:00.000Z');
    expect(nextSlotAfter(weekly, new Date(T0)).toISOString()).to.equal('2026-12-07T00:00:00.000Z');
    const monthly: ReportSchedule = { frequency: 'monthly', hour: 0, weekday: null, dayOfMonth: 1, timeZone: 'Asia/Shanghai' };
    expect(nextSlotAfter(monthly, new Date(T0)).toISOString()).to.equal('2026-12-31T16:00:00.000Z');
    // a zone with summer time: 9:00 in New York, before and after the change
    const ny: ReportSchedule = { frequency: 'daily', hour: 9, weekday: null, dayOfMonth: null, timeZone: 'America/New_York' };
    expect(nextSlotAfter(ny, new Date('2026-03-07T15:00:00.000Z')).toISOString()).to.equal('2026-03-08T13:00:00.000Z');
    expect(nextSlotAfter(ny, new Date('2026-03-06T15:00:00.000Z')).toISOString()).to.equal('2026-03-07T14:00:00.000Z');
  });

  it('the latest due slot: missed slots collapse into the latest', () => {
    const daily: ReportSchedule = { frequency: 'daily', hour: 8, weekday: null, dayOfMonth: null, timeZone: 'Asia/Shanghai' };
    const first = new Date('2026-12-01T00:00:00.000Z');
    expect(latestSlot(daily, first, new Date('2026-12-04T01:00:00.000Z'))?.toISOString()).to.equal('2026-12-04T00:00:00.000Z');
    expect(latestSlot(daily, first, new Date('2026-11-30T01:00:00.000Z'))).to.equal(undefined);
  });
});

describe('ReportRun', () => {
  const spec = deciderSpec(reportRunDecider);
  const ref = { runId: 'run-1', reportId: 'r1', userId: OWNER };
  const generate: RecordReportGenerated = {
    type: 'RecordReportGenerated',
    ...ref,
    trigger: 'schedule',
    slot: T0,
    format: 'pdf',
    fileName: 'r.pdf',
    contentType: 'application/pdf',
    bytes: 10,
    periodFrom: '2026-11-25',
    periodTo: '2026-12-01',
    expiresAt: T2,
    now: T1,
  };
  const generated: ReportRunEvent = {
    type: 'ReportGenerated',
    data: {
      ...ref,
      trigger: 'schedule',
      slot: T0,
      format: 'pdf',
      fileName: 'r.pdf',
      contentType: 'application/pdf',
      bytes: 10,
      periodFrom: '2026-11-25',
      periodTo: '2026-12-01',
      generatedAt: T1,
      expiresAt: T2,
    },
  };
  const skipped: ReportRunEvent = { type: 'ReportRunSkipped', data: { ...ref, trigger: 'schedule', slot: T0, reason: 'plan:custom_reports', skippedAt: T1 } };

  it('lives in report_run-{id}', () => expect(reportRunStream('x')).to.equal('report_run-x'));

  it('records one outcome: generated or skipped; a repeat is a no-op', () => {
    spec.given([]).when(generate).then([generated]);
    spec.given([generated]).when(generate).then([]);
    spec
      .given([])
      .when({ type: 'RecordReportRunSkipped', ...ref, trigger: 'schedule', slot: T0, reason: 'plan:custom_reports', now: T1 })
      .then([skipped]);
    spec.given([skipped]).when(generate).then([]);
    spec
      .given([generated])
      .when({ type: 'RecordReportRunSkipped', ...ref, trigger: 'schedule', slot: T0, reason: 'x', now: T1 })
      .then([]);
  });

  it('a scheduled run names its slot, a manual one none', () => {
    spec
      .given([])
      .when({ ...generate, slot: null })
      .thenThrows(DomainError, code('VALIDATION_ERROR'));
    spec
      .given([])
      .when({ ...generate, trigger: 'manual' })
      .thenThrows(DomainError, field('slot'));
  });

  it('mails a generated run once; a skipped or unknown run has nothing to mail', () => {
    const mail = { type: 'RecordReportMailed' as const, runId: 'run-1', messageId: 'm@x', now: T2 };
    const mailed: ReportRunEvent = { type: 'ReportMailed', data: { ...ref, messageId: 'm@x', mailedAt: T2 } };
    spec.given([generated]).when(mail).then([mailed]);
    spec.given([generated, mailed]).when(mail).then([]);
    spec.given([skipped]).when(mail).thenThrows(DomainError, code('CONFLICT'));
    spec.given([]).when(mail).thenThrows(DomainError, code('NOT_FOUND'));
  });
});

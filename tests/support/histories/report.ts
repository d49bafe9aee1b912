import fc from 'fast-check';
import { REPORT_FREQUENCIES, reportAggregate, type ReportCommand, type ReportSchedule } from '../../../src/write-model/report/index.js';
import { reportRunAggregate, type ReportRunCommand } from '../../../src/write-model/report-run/index.js';
import { historySource, sequence } from './harness.js';

const schedule = (frequency: (typeof REPORT_FREQUENCIES)[number], hour: number): ReportSchedule => ({
  frequency,
  hour,
  weekday: frequency === 'weekly' ? 1 : null,
  dayOfMonth: frequency === 'monthly' ? 15 : null,
  timeZone: 'Asia/Shanghai',
});

export const reportHistories = historySource(
  reportAggregate,
  sequence(
    fc.record({
      kind: fc.constantFrom('define', 'change', 'delete'),
      who: fc.constantFrom('u1', 'u2'),
      frequency: fc.constantFrom(...REPORT_FREQUENCIES),
      hour: fc.integer({ min: 0, max: 23 }),
      format: fc.constantFrom('xlsx' as const, 'pdf' as const),
      days: fc.integer({ min: 1, max: 30 }),
    }),
    (c, now): ReportCommand =>
      c.kind === 'define'
        ? {
            type: 'DefineReport',
            reportId: 'r1',
            userId: c.who,
            name: '周报',
            service: 'qidian',
            kind: 'qidian.market',
            format: c.format,
            days: c.days,
            schedule: schedule(c.frequency, c.hour),
            now,
          }
        : c.kind === 'change'
          ? { type: 'ChangeReport', reportId: 'r1', requestedBy: c.who, format: c.format, days: c.days, schedule: schedule(c.frequency, c.hour), now }
          : { type: 'DeleteReport', reportId: 'r1', requestedBy: c.who, now },
  ),
);

export const reportRunHistories = historySource(
  reportRunAggregate,
  sequence(
    fc.record({ kind: fc.constantFrom('generated', 'skipped', 'mailed') }),
    (c, now): ReportRunCommand =>
      c.kind === 'generated'
        ? {
            type: 'RecordReportGenerated',
            runId: 'run1',
            reportId: 'r1',
            userId: 'u1',
            trigger: 'schedule',
            slot: now,
            format: 'pdf',
            fileName: 'report.pdf',
            contentType: 'application/pdf',
            bytes: 100,
            periodFrom: '2026-12-01',
            periodTo: '2026-12-07',
            expiresAt: now,
            now,
          }
        : c.kind === 'skipped'
          ? { type: 'RecordReportRunSkipped', runId: 'run1', reportId: 'r1', userId: 'u1', trigger: 'manual', slot: null, reason: 'plan:custom_reports', now }
          : { type: 'RecordReportMailed', runId: 'run1', messageId: 'm1@localhost', now },
  ),
);

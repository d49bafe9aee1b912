import fc from 'fast-check';
import { statisticsExportAggregate, type StatisticsExportCommand } from '../../../src/write-model/statistics-export/index.js';
import { historySource, sequence } from './harness.js';

export const statisticsExportHistories = historySource(
  statisticsExportAggregate,
  sequence(
    fc.record({ kind: fc.constantFrom('request', 'generated', 'failed'), format: fc.constantFrom('xlsx' as const, 'csv' as const) }),
    (c, now): StatisticsExportCommand =>
      c.kind === 'request'
        ? {
            type: 'RequestStatisticsExport',
            exportId: 'e1',
            userId: 'u1',
            ownerIds: ['u1', 'u2'],
            query: { from: '2026-11-01', to: '2026-11-30', metrics: ['sms_sent'], groupBy: ['day', 'country'], granularity: 'week' },
            format: c.format,
            now,
          }
        : c.kind === 'generated'
          ? {
              type: 'RecordStatisticsExportGenerated',
              exportId: 'e1',
              fileName: `statistics.${c.format}`,
              contentType: 'text/csv',
              bytes: 10,
              rows: 1,
              expiresAt: now,
              now,
            }
          : { type: 'RecordStatisticsExportFailed', exportId: 'e1', reason: 'too_many_rows', message: 'too many', now },
  ),
);

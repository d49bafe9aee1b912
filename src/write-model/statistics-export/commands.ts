import type { StatisticsExportFormat, StatisticsQuery } from './catalogue.js';
import type { StatisticsExportFailure } from './events.js';

/** Commands of the StatisticsExport aggregate (stream `statistics_export-{id}`). */

export interface RequestStatisticsExport {
  type: 'RequestStatisticsExport';
  exportId: string;
  userId: string;
  ownerIds: readonly string[];
  query: StatisticsQuery;
  format: StatisticsExportFormat;
  now: string;
}

export interface RecordStatisticsExportGenerated {
  type: 'RecordStatisticsExportGenerated';
  exportId: string;
  fileName: string;
  contentType: string;
  bytes: number;
  rows: number;
  expiresAt: string;
  now: string;
}

export interface RecordStatisticsExportFailed {
  type: 'RecordStatisticsExportFailed';
  exportId: string;
  reason: StatisticsExportFailure;
  message: string;
  now: string;
}

export type StatisticsExportCommand = RequestStatisticsExport | RecordStatisticsExportGenerated | RecordStatisticsExportFailed;

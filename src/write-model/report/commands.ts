import type { ReportFileFormat, ReportKind, ReportService } from './events.js';
import type { ReportSchedule } from './schedule.js';

/**
 * Commands of the Report aggregate (stream `report-{reportId}`). The plan
 * checks (custom_reports, the format in export_formats, the kind's own
 * feature) and the verified email are the application layer's
 * (src/application/reports.ts).
 */

export interface DefineReport {
  type: 'DefineReport';
  reportId: string;
  userId: string;
  name: string;
  service: ReportService;
  kind: ReportKind;
  format: ReportFileFormat;
  days: number;
  schedule: ReportSchedule;
  now: string;
}

/** Absent fields stay as they are; the service cannot change (the kind must be of it). */
export interface ChangeReport {
  type: 'ChangeReport';
  reportId: string;
  requestedBy: string;
  name?: string;
  kind?: ReportKind;
  format?: ReportFileFormat;
  days?: number;
  schedule?: ReportSchedule;
  now: string;
}

export interface DeleteReport {
  type: 'DeleteReport';
  reportId: string;
  requestedBy: string;
  now: string;
}

export type ReportCommand = DefineReport | ChangeReport | DeleteReport;

import type { ReportFileFormat } from '../report/events.js';
import type { ReportRunTrigger } from './events.js';

/** Commands of the ReportRun aggregate (stream `report_run-{runId}`). */

export interface RecordReportGenerated {
  type: 'RecordReportGenerated';
  runId: string;
  reportId: string;
  userId: string;
  trigger: ReportRunTrigger;
  slot: string | null;
  format: ReportFileFormat;
  fileName: string;
  contentType: string;
  bytes: number;
  periodFrom: string;
  periodTo: string;
  expiresAt: string;
  now: string;
}

export interface RecordReportRunSkipped {
  type: 'RecordReportRunSkipped';
  runId: string;
  reportId: string;
  userId: string;
  trigger: ReportRunTrigger;
  slot: string | null;
  reason: string;
  now: string;
}

export interface RecordReportMailed {
  type: 'RecordReportMailed';
  runId: string;
  messageId: string;
  now: string;
}

export type ReportRunCommand = RecordReportGenerated | RecordReportRunSkipped | RecordReportMailed;

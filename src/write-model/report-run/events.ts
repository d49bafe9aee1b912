import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';
import { REPORT_FILE_FORMATS, type ReportFileFormat } from '../report/events.js';

/**
 * The ReportRun aggregate's events, stream `report_run-{runId}`: one run of
 * a scheduled report — at most one outcome (generated, or skipped with a
 * reason) and at most one mailing. A short stream per run: a report's
 * history of runs never piles up in one stream. A scheduled run's id is
 * named after its report and slot, so a slot runs once.
 */

export const REPORT_RUN_TRIGGERS = ['schedule', 'manual'] as const;
export type ReportRunTrigger = (typeof REPORT_RUN_TRIGGERS)[number];

export interface ReportRunRef {
  runId: string;
  reportId: string;
  userId: string;
}

export interface ReportGeneratedData extends ReportRunRef {
  trigger: ReportRunTrigger;
  /** the schedule's slot (ISO instant) a scheduled run is for; null for a manual one */
  slot: string | null;
  format: ReportFileFormat;
  fileName: string;
  contentType: string;
  bytes: number;
  /** the period covered, YYYY-MM-DD, both included */
  periodFrom: string;
  periodTo: string;
  generatedAt: string;
  /** the file can be downloaded until then */
  expiresAt: string;
}

export interface ReportRunSkippedData extends ReportRunRef {
  trigger: ReportRunTrigger;
  slot: string | null;
  /** e.g. `plan:custom_reports`, `plan:export_formats`, `plan:data_analytics` */
  reason: string;
  skippedAt: string;
}

export interface ReportMailedData extends ReportRunRef {
  /** the Message-ID the relay accepted */
  messageId: string;
  mailedAt: string;
}

export type ReportRunEvent =
  | DomainEvent<'ReportGenerated', ReportGeneratedData>
  | DomainEvent<'ReportRunSkipped', ReportRunSkippedData>
  | DomainEvent<'ReportMailed', ReportMailedData>;

const ref = { runId: z.string(), reportId: z.string(), userId: z.string() };
const run = { trigger: z.enum(REPORT_RUN_TRIGGERS), slot: z.string().nullable() };

export const reportRunEvents = eventCodec<ReportRunEvent>({
  ReportGenerated: {
    schema: z.object({
      ...ref,
      ...run,
      format: z.enum(REPORT_FILE_FORMATS),
      fileName: z.string(),
      contentType: z.string(),
      bytes: z.number().int(),
      periodFrom: z.string(),
      periodTo: z.string(),
      generatedAt: z.string(),
      expiresAt: z.string(),
    }),
  },
  ReportRunSkipped: { schema: z.object({ ...ref, ...run, reason: z.string(), skippedAt: z.string() }) },
  ReportMailed: { schema: z.object({ ...ref, messageId: z.string(), mailedAt: z.string() }) },
});

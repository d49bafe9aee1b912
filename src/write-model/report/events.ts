import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';
import { REPORT_FREQUENCIES, type ReportSchedule } from './schedule.js';

/**
 * The Report aggregate's events, stream `report-{reportId}`: one scheduled
 * report definition of a user (plan feature custom_reports). Lifecycle only:
 * defined, changed, deleted. What each run produced and mailed lives in the
 * run's own stream (`report_run-{runId}`, src/write-model/report-run), so
 * this stream does not grow with use.
 */

/** What a report contains: the Xiaohongshu analytics report, the Qidian market, the Qidian tracked novels. */
export const REPORT_KINDS = ['xiaohongshu.analytics', 'qidian.market', 'qidian.tracked_novels'] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];
export const REPORT_SERVICES = ['xiaohongshu', 'qidian'] as const;
export type ReportService = (typeof REPORT_SERVICES)[number];
export const REPORT_FILE_FORMATS = ['xlsx', 'pdf'] as const;
export type ReportFileFormat = (typeof REPORT_FILE_FORMATS)[number];

export function serviceOfKind(kind: ReportKind): ReportService {
  return kind.startsWith('xiaohongshu.') ? 'xiaohongshu' : 'qidian';
}

export interface ReportSettings {
  name: string;
  service: ReportService;
  kind: ReportKind;
  format: ReportFileFormat;
  /** the period a report covers: the last `days` days up to the run's day */
  days: number;
  schedule: ReportSchedule;
}

export interface ReportDefinedData extends ReportSettings {
  reportId: string;
  userId: string;
  definedAt: string;
}

/** The settings after the change. */
export interface ReportChangedData extends ReportSettings {
  reportId: string;
  userId: string;
  changedAt: string;
}

/** Final. */
export interface ReportDeletedData {
  reportId: string;
  userId: string;
  deletedAt: string;
}

export type ReportEvent =
  | DomainEvent<'ReportDefined', ReportDefinedData>
  | DomainEvent<'ReportChanged', ReportChangedData>
  | DomainEvent<'ReportDeleted', ReportDeletedData>;

export const REPORT_EVENT_TYPES = ['ReportDefined', 'ReportChanged', 'ReportDeleted'] as const satisfies readonly ReportEvent['type'][];

const schedule = z.object({
  frequency: z.enum(REPORT_FREQUENCIES),
  hour: z.number().int(),
  weekday: z.number().int().nullable(),
  dayOfMonth: z.number().int().nullable(),
  timeZone: z.string(),
});
const settings = {
  name: z.string(),
  service: z.enum(REPORT_SERVICES),
  kind: z.enum(REPORT_KINDS),
  format: z.enum(REPORT_FILE_FORMATS),
  days: z.number().int(),
  schedule,
};
const ref = { reportId: z.string(), userId: z.string() };

/** The decode boundary of this aggregate's stored events. */
export const reportEvents = eventCodec<ReportEvent>({
  ReportDefined: { schema: z.object({ ...ref, ...settings, definedAt: z.string() }) },
  ReportChanged: { schema: z.object({ ...ref, ...settings, changedAt: z.string() }) },
  ReportDeleted: { schema: z.object({ ...ref, deletedAt: z.string() }) },
});

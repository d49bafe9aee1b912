import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';
import {
  STATISTICS_DIMENSIONS,
  STATISTICS_EXPORT_FORMATS,
  STATISTICS_GRANULARITIES,
  STATISTICS_METRICS,
  type StatisticsExportFormat,
  type StatisticsQuery,
} from './catalogue.js';

/**
 * The StatisticsExport aggregate's events, stream `statistics_export-{id}`:
 * one file of usage statistics asked for over HTTP and made by the reports
 * worker — requested, then one outcome (generated or failed). At most two
 * events: a short stream per export, so nothing grows with how many a user
 * asks for. Times are ISO-8601 strings.
 */

export const STATISTICS_EXPORT_FAILURES = ['too_many_rows', 'generation_failed'] as const;
export type StatisticsExportFailure = (typeof STATISTICS_EXPORT_FAILURES)[number];

export interface StatisticsExportRequestedData {
  exportId: string;
  /** who asked: the export is theirs alone */
  userId: string;
  /** the owners whose statistics it covers: the requester's data scope when asked (their own id at least) */
  ownerIds: string[];
  query: StatisticsQuery;
  format: StatisticsExportFormat;
  requestedAt: string;
}

export interface StatisticsExportGeneratedData {
  exportId: string;
  userId: string;
  fileName: string;
  contentType: string;
  bytes: number;
  /** data rows in the file (the header not counted) */
  rows: number;
  generatedAt: string;
  /** the file can be downloaded until then */
  expiresAt: string;
}

export interface StatisticsExportFailedData {
  exportId: string;
  userId: string;
  reason: StatisticsExportFailure;
  /** short, for the requester */
  message: string;
  failedAt: string;
}

export type StatisticsExportEvent =
  | DomainEvent<'StatisticsExportRequested', StatisticsExportRequestedData>
  | DomainEvent<'StatisticsExportGenerated', StatisticsExportGeneratedData>
  | DomainEvent<'StatisticsExportFailed', StatisticsExportFailedData>;

const ref = { exportId: z.string(), userId: z.string() };

export const statisticsExportEvents = eventCodec<StatisticsExportEvent>({
  StatisticsExportRequested: {
    schema: z.object({
      ...ref,
      ownerIds: z.array(z.string()),
      query: z.object({
        from: z.string(),
        to: z.string(),
        metrics: z.array(z.enum(STATISTICS_METRICS)),
        groupBy: z.array(z.enum(STATISTICS_DIMENSIONS)),
        granularity: z.enum(STATISTICS_GRANULARITIES),
      }),
      format: z.enum(STATISTICS_EXPORT_FORMATS),
      requestedAt: z.string(),
    }),
  },
  StatisticsExportGenerated: {
    schema: z.object({
      ...ref,
      fileName: z.string(),
      contentType: z.string(),
      bytes: z.number().int(),
      rows: z.number().int(),
      generatedAt: z.string(),
      expiresAt: z.string(),
    }),
  },
  StatisticsExportFailed: {
    schema: z.object({ ...ref, reason: z.enum(STATISTICS_EXPORT_FAILURES), message: z.string(), failedAt: z.string() }),
  },
});

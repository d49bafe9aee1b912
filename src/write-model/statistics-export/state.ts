import type { StatisticsExportFormat, StatisticsQuery } from './catalogue.js';

/** What the decisions need: whether it was asked for, whose it is and what it covers, and whether it has its outcome. */
export type StatisticsExportState =
  | { status: 'none' }
  | {
      status: 'requested' | 'generated' | 'failed';
      exportId: string;
      userId: string;
      ownerIds: string[];
      query: StatisticsQuery;
      format: StatisticsExportFormat;
      requestedAt: string;
    };

export function initialState(): StatisticsExportState {
  return { status: 'none' };
}

import type { ReportSettings } from './events.js';

export interface NoReport {
  status: 'none';
}

export interface KnownReport extends ReportSettings {
  /** `deleted` is final */
  status: 'active' | 'deleted';
  reportId: string;
  userId: string;
  createdAt: string;
  updatedAt: string;
}

export type ReportState = NoReport | KnownReport;

export function initialState(): ReportState {
  return { status: 'none' };
}

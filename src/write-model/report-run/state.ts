export type ReportRunState =
  | { status: 'none' }
  | { status: 'generated'; runId: string; reportId: string; userId: string; mailed: boolean }
  | { status: 'skipped'; runId: string; reportId: string; userId: string };

export function initialState(): ReportRunState {
  return { status: 'none' };
}

import type { Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, requireOneOf, requireText } from '../core/validate.js';
import { STATISTICS_EXPORT_FORMATS, statisticsQueryProblems } from './catalogue.js';
import type { RecordStatisticsExportFailed, RecordStatisticsExportGenerated, RequestStatisticsExport, StatisticsExportCommand } from './commands.js';
import { STATISTICS_EXPORT_FAILURES, statisticsExportEvents, type StatisticsExportEvent } from './events.js';
import { initialState, type StatisticsExportState } from './state.js';

/**
 * The StatisticsExport aggregate: one file of usage statistics.
 *
 * Rules (tests/unit/statistics-export.spec.test.ts):
 * - Requested once, with a query the statistics can answer (calendar days,
 *   from ≤ to, at most MAX_STATISTICS_SPAN_DAYS, known metrics and
 *   dimensions) and owners that include the requester; a second request on
 *   the same id is a CONFLICT.
 * - One outcome: the first of generated / failed stands, recording either
 *   again is a no-op (a redelivered job, the sweep and the job on the same
 *   export). An outcome of an export never requested is NOT_FOUND.
 */

export function statisticsExportStream(exportId: string): string {
  return `statistics_export-${exportId}`;
}

type Event = StatisticsExportEvent;
type State = StatisticsExportState;

/** Owners an export may cover at most (an organization's members). */
export const MAX_EXPORT_OWNERS = 10_000;

function requested(command: RequestStatisticsExport, state: State): Event[] {
  const exportId = requireText(command.exportId, 'exportId');
  const userId = requireText(command.userId, 'userId');
  const format = requireOneOf(command.format, STATISTICS_EXPORT_FORMATS, 'format');
  instant(command.now, 'now');
  const q = command.query;
  const problem = statisticsQueryProblems({ from: q?.from, to: q?.to, metrics: q?.metrics ?? [], groupBy: q?.groupBy ?? [], granularity: q?.granularity })[0];
  if (problem) throw invalid(problem.message, { field: problem.field, ...(problem.allowed ? { allowed: problem.allowed } : {}) });
  const ownerIds = [...new Set(command.ownerIds)];
  if (!ownerIds.includes(userId)) throw invalid('the owners must include the requester', { field: 'ownerIds' });
  if (ownerIds.length > MAX_EXPORT_OWNERS) throw invalid(`at most ${MAX_EXPORT_OWNERS} owners`, { field: 'ownerIds' });
  if (ownerIds.some((o) => typeof o !== 'string' || o.trim() === '')) throw invalid('an owner id must not be empty', { field: 'ownerIds' });
  if (state.status !== 'none') throw new DomainError('CONFLICT', `statistics export ${exportId} exists already`, { exportId });
  return [
    {
      type: 'StatisticsExportRequested',
      data: {
        exportId,
        userId,
        ownerIds,
        query: { from: q.from, to: q.to, metrics: [...q.metrics], groupBy: [...q.groupBy], granularity: q.granularity },
        format,
        requestedAt: command.now,
      },
    },
  ];
}

function generated(command: RecordStatisticsExportGenerated, state: State): Event[] {
  const fileName = requireText(command.fileName, 'fileName');
  const contentType = requireText(command.contentType, 'contentType');
  for (const field of ['bytes', 'rows'] as const)
    if (!Number.isInteger(command[field]) || command[field] < 0) throw invalid(`${field} must be a whole number`, { field });
  instant(command.expiresAt, 'expiresAt');
  instant(command.now, 'now');
  if (state.status === 'none') throw new DomainError('NOT_FOUND', `statistics export ${command.exportId} was never requested`, { exportId: command.exportId });
  if (state.status !== 'requested') return [];
  const { bytes, rows, expiresAt } = command;
  return [
    {
      type: 'StatisticsExportGenerated',
      data: { exportId: state.exportId, userId: state.userId, fileName, contentType, bytes, rows, generatedAt: command.now, expiresAt },
    },
  ];
}

function failed(command: RecordStatisticsExportFailed, state: State): Event[] {
  const reason = requireOneOf(command.reason, STATISTICS_EXPORT_FAILURES, 'reason');
  const message = requireText(command.message, 'message');
  instant(command.now, 'now');
  if (state.status === 'none') throw new DomainError('NOT_FOUND', `statistics export ${command.exportId} was never requested`, { exportId: command.exportId });
  if (state.status !== 'requested') return [];
  return [{ type: 'StatisticsExportFailed', data: { exportId: state.exportId, userId: state.userId, reason, message, failedAt: command.now } }];
}

function decide(command: StatisticsExportCommand, state: State): Event[] {
  switch (command.type) {
    case 'RequestStatisticsExport':
      return requested(command, state);
    case 'RecordStatisticsExportGenerated':
      return generated(command, state);
    case 'RecordStatisticsExportFailed':
      return failed(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

function evolve(state: State, event: Event): State {
  switch (event.type) {
    case 'StatisticsExportRequested': {
      const d = event.data;
      return state.status === 'none'
        ? { status: 'requested', exportId: d.exportId, userId: d.userId, ownerIds: d.ownerIds, query: d.query, format: d.format, requestedAt: d.requestedAt }
        : state;
    }
    case 'StatisticsExportGenerated':
      return state.status === 'requested' ? { ...state, status: 'generated' } : state;
    case 'StatisticsExportFailed':
      return state.status === 'requested' ? { ...state, status: 'failed' } : state;
  }
}

export const statisticsExportDecider: Decider<StatisticsExportState, StatisticsExportCommand, StatisticsExportEvent> = {
  initialState,
  decide,
  evolve,
};

/** Stream `statistics_export-{id}`: at most two events. */
export const statisticsExportAggregate: Aggregate<StatisticsExportState, StatisticsExportCommand, StatisticsExportEvent> = {
  name: 'statistics_export',
  streamName: statisticsExportStream,
  decider: statisticsExportDecider,
  events: statisticsExportEvents,
};

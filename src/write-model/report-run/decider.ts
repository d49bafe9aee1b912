import type { Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, requireOneOf, requireText } from '../core/validate.js';
import { REPORT_FILE_FORMATS } from '../report/events.js';
import type { RecordReportGenerated, RecordReportMailed, RecordReportRunSkipped, ReportRunCommand } from './commands.js';
import { REPORT_RUN_TRIGGERS, reportRunEvents, type ReportRunEvent } from './events.js';
import { initialState, type ReportRunState } from './state.js';

/**
 * The ReportRun aggregate: one run of a scheduled report.
 *
 * Rules (tests/unit/report-run.spec.test.ts):
 * - One outcome: the first of generated / skipped stands; recording either
 *   again is a no-op (a redelivered job, a second worker on the same slot).
 * - A scheduled run names its slot (an ISO instant), a manual one none.
 * - Mailed only once generated (CONFLICT for a skipped run, NOT_FOUND for an
 *   unknown one); recording it again is a no-op.
 */

export function reportRunStream(runId: string): string {
  return `report_run-${runId}`;
}

type Event = ReportRunEvent;
type State = ReportRunState;

function slotFor(trigger: 'schedule' | 'manual', slot: unknown): string | null {
  if (trigger === 'manual') {
    if (slot !== null && slot !== undefined) throw invalid('a manual run has no slot', { field: 'slot' });
    return null;
  }
  instant(slot, 'slot');
  return slot as string;
}

function generated(command: RecordReportGenerated, state: State): Event[] {
  const runId = requireText(command.runId, 'runId');
  const reportId = requireText(command.reportId, 'reportId');
  const userId = requireText(command.userId, 'userId');
  const trigger = requireOneOf(command.trigger, REPORT_RUN_TRIGGERS, 'trigger');
  const slot = slotFor(trigger, command.slot);
  const format = requireOneOf(command.format, REPORT_FILE_FORMATS, 'format');
  const fileName = requireText(command.fileName, 'fileName');
  const contentType = requireText(command.contentType, 'contentType');
  if (!Number.isInteger(command.bytes) || command.bytes < 0) throw invalid('bytes must be a whole number', { field: 'bytes' });
  instant(command.expiresAt, 'expiresAt');
  instant(command.now, 'now');
  if (state.status !== 'none') return [];
  const { periodFrom, periodTo, expiresAt, bytes } = command;
  return [
    {
      type: 'ReportGenerated',
      data: { runId, reportId, userId, trigger, slot, format, fileName, contentType, bytes, periodFrom, periodTo, generatedAt: command.now, expiresAt },
    },
  ];
}

function skipped(command: RecordReportRunSkipped, state: State): Event[] {
  const runId = requireText(command.runId, 'runId');
  const reportId = requireText(command.reportId, 'reportId');
  const userId = requireText(command.userId, 'userId');
  const trigger = requireOneOf(command.trigger, REPORT_RUN_TRIGGERS, 'trigger');
  const slot = slotFor(trigger, command.slot);
  const reason = requireText(command.reason, 'reason');
  instant(command.now, 'now');
  if (state.status !== 'none') return [];
  return [{ type: 'ReportRunSkipped', data: { runId, reportId, userId, trigger, slot, reason, skippedAt: command.now } }];
}

function mailed(command: RecordReportMailed, state: State): Event[] {
  const messageId = requireText(command.messageId, 'messageId');
  instant(command.now, 'now');
  if (state.status === 'none') throw new DomainError('NOT_FOUND', `report run ${command.runId} does not exist`, { runId: command.runId });
  if (state.status === 'skipped') throw new DomainError('CONFLICT', `report run ${state.runId} was skipped: nothing to mail`, { runId: state.runId });
  if (state.mailed) return [];
  return [{ type: 'ReportMailed', data: { runId: state.runId, reportId: state.reportId, userId: state.userId, messageId, mailedAt: command.now } }];
}

function decide(command: ReportRunCommand, state: State): Event[] {
  switch (command.type) {
    case 'RecordReportGenerated':
      return generated(command, state);
    case 'RecordReportRunSkipped':
      return skipped(command, state);
    case 'RecordReportMailed':
      return mailed(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

function evolve(state: State, event: Event): State {
  switch (event.type) {
    case 'ReportGenerated':
      return state.status === 'none'
        ? { status: 'generated', runId: event.data.runId, reportId: event.data.reportId, userId: event.data.userId, mailed: false }
        : state;
    case 'ReportRunSkipped':
      return state.status === 'none' ? { status: 'skipped', runId: event.data.runId, reportId: event.data.reportId, userId: event.data.userId } : state;
    case 'ReportMailed':
      return state.status === 'generated' ? { ...state, mailed: true } : state;
  }
}

export const reportRunDecider: Decider<ReportRunState, ReportRunCommand, ReportRunEvent> = { initialState, decide, evolve };

/** Stream `report_run-{runId}`: at most three events. */
export const reportRunAggregate: Aggregate<ReportRunState, ReportRunCommand, ReportRunEvent> = {
  name: 'report_run',
  streamName: reportRunStream,
  decider: reportRunDecider,
  events: reportRunEvents,
};

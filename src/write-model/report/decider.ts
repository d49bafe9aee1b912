import type { Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, requireOneOf, requireText } from '../core/validate.js';
import type { ChangeReport, DefineReport, DeleteReport, ReportCommand } from './commands.js';
import {
  REPORT_FILE_FORMATS,
  REPORT_KINDS,
  REPORT_SERVICES,
  reportEvents,
  serviceOfKind,
  type ReportEvent,
  type ReportKind,
  type ReportService,
  type ReportSettings,
} from './events.js';
import { isTimeZone, REPORT_FREQUENCIES, type ReportSchedule } from './schedule.js';
import { initialState, type KnownReport, type ReportState } from './state.js';
import { characterCount } from '../core/characters.js';

/**
 * The Report aggregate: one scheduled report definition (plan feature
 * custom_reports).
 *
 * Rules (tests/unit/report.spec.test.ts):
 * - Define once (CONFLICT after); a name of 1–100 characters; a kind of the
 *   named service; xlsx or pdf; days 1–365; a schedule: daily, weekly (with
 *   an ISO weekday 1–7) or monthly (with a day 1–28), an hour 0–23 and a
 *   known IANA time zone (VALIDATION_ERROR naming the field otherwise).
 * - Owner only: change and delete name `requestedBy` (PERMISSION_DENIED;
 *   an unknown report NOT_FOUND first).
 * - A change names what changes; the same settings are a no-op; the service
 *   stays (a kind of another service is a VALIDATION_ERROR); a deleted
 *   report is NOT_FOUND to a change.
 * - Delete is final; again is a no-op.
 */

export function reportStream(reportId: string): string {
  return `report-${reportId}`;
}

type Event = ReportEvent;
type State = ReportState;

export const MAX_REPORT_NAME = 100;
export const MAX_REPORT_DAYS = 365;

function requireName(value: unknown): string {
  if (typeof value !== 'string' || value.trim().length === 0 || characterCount(value.trim()) > MAX_REPORT_NAME) {
    throw invalid(`name must be 1–${MAX_REPORT_NAME} characters`, { field: 'name' });
  }
  return value.trim();
}

function requireInt(value: unknown, min: number, max: number, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw invalid(`${field} must be a whole number from ${min} to ${max}`, { field, got: value });
  return value;
}

export function requireSchedule(value: unknown): ReportSchedule {
  if (typeof value !== 'object' || value === null) throw invalid('schedule is required', { field: 'schedule' });
  const s = value as Record<string, unknown>;
  const frequency = requireOneOf(s.frequency, REPORT_FREQUENCIES, 'schedule.frequency');
  const hour = requireInt(s.hour, 0, 23, 'schedule.hour');
  const weekday = frequency === 'weekly' ? requireInt(s.weekday, 1, 7, 'schedule.weekday') : null;
  const dayOfMonth = frequency === 'monthly' ? requireInt(s.dayOfMonth, 1, 28, 'schedule.dayOfMonth') : null;
  if (frequency !== 'weekly' && s.weekday != null) throw invalid('only a weekly schedule has a weekday', { field: 'schedule.weekday' });
  if (frequency !== 'monthly' && s.dayOfMonth != null) throw invalid('only a monthly schedule has a day of the month', { field: 'schedule.dayOfMonth' });
  if (!isTimeZone(s.timeZone)) throw invalid('schedule.timeZone must be an IANA time zone', { field: 'schedule.timeZone', got: s.timeZone });
  return { frequency, hour, weekday, dayOfMonth, timeZone: s.timeZone };
}

function requireKind(kind: unknown, service: ReportService): ReportKind {
  const k = requireOneOf(kind, REPORT_KINDS, 'kind');
  if (serviceOfKind(k) !== service) throw invalid(`a ${k} report is not of ${service}`, { field: 'kind', service });
  return k;
}

function existing(state: State, reportId: string): KnownReport {
  if (state.status === 'none') throw new DomainError('NOT_FOUND', `report ${reportId} does not exist`, { reportId });
  return state;
}

function authorize(r: KnownReport, requestedBy: unknown): void {
  if (typeof requestedBy !== 'string' || requestedBy !== r.userId)
    throw new DomainError('PERMISSION_DENIED', `report ${r.reportId} belongs to another user`, { reportId: r.reportId });
}

const settingsOf = (r: ReportSettings): ReportSettings => ({
  name: r.name,
  service: r.service,
  kind: r.kind,
  format: r.format,
  days: r.days,
  schedule: r.schedule,
});
const sameSchedule = (a: ReportSchedule, b: ReportSchedule) =>
  a.frequency === b.frequency && a.hour === b.hour && a.weekday === b.weekday && a.dayOfMonth === b.dayOfMonth && a.timeZone === b.timeZone;

function define(command: DefineReport, state: State): Event[] {
  const reportId = requireText(command.reportId, 'reportId');
  const userId = requireText(command.userId, 'userId');
  const name = requireName(command.name);
  const service = requireOneOf(command.service, REPORT_SERVICES, 'service');
  const kind = requireKind(command.kind, service);
  const format = requireOneOf(command.format, REPORT_FILE_FORMATS, 'format');
  const days = requireInt(command.days, 1, MAX_REPORT_DAYS, 'days');
  const schedule = requireSchedule(command.schedule);
  instant(command.now, 'now');
  if (state.status !== 'none') throw new DomainError('CONFLICT', `report ${state.reportId} exists`, { reportId: state.reportId });
  return [{ type: 'ReportDefined', data: { reportId, userId, name, service, kind, format, days, schedule, definedAt: command.now } }];
}

function change(command: ChangeReport, state: State): Event[] {
  const r = existing(state, command.reportId);
  authorize(r, command.requestedBy);
  instant(command.now, 'now');
  if (r.status === 'deleted') throw new DomainError('NOT_FOUND', `report ${r.reportId} was deleted`, { reportId: r.reportId });
  const next: ReportSettings = {
    name: command.name === undefined ? r.name : requireName(command.name),
    service: r.service,
    kind: command.kind === undefined ? r.kind : requireKind(command.kind, r.service),
    format: command.format === undefined ? r.format : requireOneOf(command.format, REPORT_FILE_FORMATS, 'format'),
    days: command.days === undefined ? r.days : requireInt(command.days, 1, MAX_REPORT_DAYS, 'days'),
    schedule: command.schedule === undefined ? r.schedule : requireSchedule(command.schedule),
  };
  if (next.name === r.name && next.kind === r.kind && next.format === r.format && next.days === r.days && sameSchedule(next.schedule, r.schedule)) return [];
  return [{ type: 'ReportChanged', data: { reportId: r.reportId, userId: r.userId, ...next, changedAt: command.now } }];
}

function remove(command: DeleteReport, state: State): Event[] {
  const r = existing(state, command.reportId);
  authorize(r, command.requestedBy);
  instant(command.now, 'now');
  if (r.status === 'deleted') return [];
  return [{ type: 'ReportDeleted', data: { reportId: r.reportId, userId: r.userId, deletedAt: command.now } }];
}

function decide(command: ReportCommand, state: State): Event[] {
  switch (command.type) {
    case 'DefineReport':
      return define(command, state);
    case 'ChangeReport':
      return change(command, state);
    case 'DeleteReport':
      return remove(command, state);
    default: {
      const unknown: never = command;
      throw invalid('unknown command', { type: (unknown as { type?: unknown }).type });
    }
  }
}

function evolve(state: State, event: Event): State {
  if (event.type === 'ReportDefined') {
    const d = event.data;
    return { status: 'active', reportId: d.reportId, userId: d.userId, ...settingsOf(d), createdAt: d.definedAt, updatedAt: d.definedAt };
  }
  if (state.status === 'none') return state;
  switch (event.type) {
    case 'ReportChanged':
      return { ...state, ...settingsOf(event.data), updatedAt: event.data.changedAt };
    case 'ReportDeleted':
      return { ...state, status: 'deleted', updatedAt: event.data.deletedAt };
  }
}

export const reportDecider: Decider<ReportState, ReportCommand, ReportEvent> = { initialState, decide, evolve };

/** The binding the command handler uses: stream `report-{reportId}`, short-lived (no snapshots). */
export const reportAggregate: Aggregate<ReportState, ReportCommand, ReportEvent> = {
  name: 'report',
  streamName: reportStream,
  decider: reportDecider,
  events: reportEvents,
};

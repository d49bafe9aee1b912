import { SNAPSHOT_EVERY, type Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { instant, invalid, optionalText, requireOneOf, requireText } from '../core/validate.js';
import type { CarriedCounters, ProxyHealthCommand, RecordProxyObservation } from './commands.js';
import { OBSERVATION_SOURCES, proxyHealthEvents, type ProxyHealthEvent } from './events.js';
import { initialState, type ProxyHealthDayState } from './state.js';

/**
 * A proxy's health observations of one UTC day (stream
 * `proxy_health-{proxyId}_{YYYYMMDD}`, about 290 events at a probe every
 * five minutes, then never written again).
 *
 * Rules (tests/unit/proxy-health.spec.test.ts):
 * - Each observation records the consecutive failures and successes after
 *   it: a failure adds to the failures and zeroes the successes, a success
 *   the other way round. Probes, job failures and explicit failed checks
 *   share the counters.
 * - Across the day boundary the counts go on: the first observation of a
 *   day starts from `carried`, what the latest earlier day ended with (the
 *   caller reads it). Without one (a proxy unobserved for longer than the
 *   caller looks back, or new) they start at zero.
 * - An observation whose time is not after the day's last one (or the
 *   carried one) is a repeat, or arrived late when newer evidence is in: [].
 * - A successful probe reports its latency; jobs and explicit checks report
 *   failures only, with a reason; the time must fall on the stream's day.
 * - Whether the proxy fails or recovers is decided on `proxy-{proxyId}` from
 *   these counters (proxy/decider.ts, JudgeProxyHealth).
 */

export function proxyHealthDayId(proxyId: string, day: string): string {
  return `${proxyId}_${day}`;
}

/** `proxy_health-{proxyId}_{YYYYMMDD}`; the id is proxyHealthDayId(proxyId, day). */
export function proxyHealthStream(dayId: string): string {
  return `proxy_health-${dayId}`;
}

/** The UTC day of an instant, YYYYMMDD. */
export function utcDay(at: Date | string): string {
  return new Date(at).toISOString().slice(0, 10).replaceAll('-', '');
}

type Event = ProxyHealthEvent;
type State = ProxyHealthDayState;

const DAY = /^\d{8}$/;
// platform codes as the services name them (xiaohongshu, qidian, …)
const PLATFORM = /^[a-z][a-z0-9_-]{0,63}$/;

function requireCount(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(`${field} must be a whole number of at least 0`, { field, got: value });
  }
  return value;
}

function optionalLatency(value: unknown): number | null {
  return value === undefined || value === null ? null : requireCount(value, 'latencyMs');
}

function optionalPlatform(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || !PLATFORM.test(value)) throw invalid('platform must be a lower-case platform code', { field: 'platform', got: value });
  return value;
}

function requireCarried(value: unknown): CarriedCounters | null {
  if (value === null) return null;
  if (typeof value !== 'object' || value === undefined) throw invalid('carried must be the counters of an earlier day, or null', { field: 'carried' });
  const c = value as CarriedCounters;
  return {
    consecutiveFailures: requireCount(c.consecutiveFailures, 'carried.consecutiveFailures'),
    consecutiveSuccesses: requireCount(c.consecutiveSuccesses, 'carried.consecutiveSuccesses'),
    checkedAt: new Date(instant(c.checkedAt, 'carried.checkedAt')).toISOString(),
  };
}

function record(command: RecordProxyObservation, state: State): Event[] {
  const proxyId = requireText(command.proxyId, 'proxyId');
  if (typeof command.day !== 'string' || !DAY.test(command.day)) throw invalid('day must be YYYYMMDD', { field: 'day', got: command.day });
  const source = requireOneOf(command.source, OBSERVATION_SOURCES, 'source');
  if (typeof command.ok !== 'boolean') throw invalid('ok must be true or false', { field: 'ok', got: command.ok });
  const latencyMs = optionalLatency(command.latencyMs);
  if (command.ok && source !== 'probe') throw invalid(`a ${source} observation reports a failure`, { field: 'ok', source });
  if (command.ok && latencyMs === null) throw invalid('a successful check must report its latency', { field: 'latencyMs' });
  const error = command.ok ? null : source === 'probe' ? optionalText(command.error, 'error') : requireText(command.error, 'error');
  const platform = source === 'job' ? optionalPlatform(command.platform) : null;
  const jobId = source === 'job' ? optionalText(command.jobId, 'jobId') : null;
  const carried = requireCarried(command.carried);
  const nowMs = instant(command.now, 'now');
  if (utcDay(command.now) !== command.day) throw invalid("now must fall on the stream's day (UTC)", { field: 'now', day: command.day, now: command.now });

  // what this observation goes on from: the day's last one, else the carried counters
  const last: CarriedCounters | null =
    state.lastCheckedAt !== null
      ? { consecutiveFailures: state.consecutiveFailures, consecutiveSuccesses: state.consecutiveSuccesses, checkedAt: state.lastCheckedAt }
      : carried;
  if (last && nowMs <= Date.parse(last.checkedAt)) return [];
  const failures = last?.consecutiveFailures ?? 0;
  const successes = last?.consecutiveSuccesses ?? 0;
  return [
    {
      type: 'ProxyHealthChecked',
      data: {
        proxyId,
        day: command.day,
        source,
        ok: command.ok,
        latencyMs,
        error,
        platform,
        jobId,
        consecutiveFailures: command.ok ? 0 : failures + 1,
        consecutiveSuccesses: command.ok ? successes + 1 : 0,
        checkedAt: command.now,
      },
    },
  ];
}

/** Every event moves the counters and the time of the last observation (in place: the fold owns its state). */
function evolve(state: State, event: Event): State {
  const d = event.data;
  state.lastCheckedAt = d.checkedAt;
  state.consecutiveFailures = d.consecutiveFailures;
  state.consecutiveSuccesses = d.consecutiveSuccesses;
  state.lastSource = d.source;
  state.lastError = d.error;
  return state;
}

export const proxyHealthDecider: Decider<ProxyHealthDayState, ProxyHealthCommand, ProxyHealthEvent> = {
  initialState,
  decide: (command, state) => record(command, state),
  evolve,
};

/**
 * The binding the command handler uses: the id is proxyHealthDayId(proxyId,
 * day). A day's stream closes at midnight but holds a probe every few
 * minutes until then: snapshots keep the last probes of a day as cheap as the first.
 */
export const proxyHealthAggregate: Aggregate<ProxyHealthDayState, ProxyHealthCommand, ProxyHealthEvent> = {
  name: 'proxy_health',
  streamName: proxyHealthStream,
  decider: proxyHealthDecider,
  events: proxyHealthEvents,
  snapshot: { version: 1, every: SNAPSHOT_EVERY.busy },
};

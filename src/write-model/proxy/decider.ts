import { requireSealed } from '../core/sealed-secret.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, optionalText, requireOneOf, requireText } from '../core/validate.js';
import type { BanProxy, FailProxy, ProxyCommand, RecordHealthCheck, RegisterProxy, ReportProxyFailure, RetireProxy, UnbanProxy } from './commands.js';
import {
  PROXY_PROTOCOLS,
  type ObservationSource,
  type ProxyEndpoint,
  type ProxyEvent,
  type ProxyHealthCheckedData,
  type SealedSecret,
} from './events.js';
import { initialState, isBannedFor, type ProxyState } from './state.js';

/**
 * The Proxy aggregate: one proxy of the pool, its health and its bans.
 *
 * Rules the decisions follow (see also the specs):
 * - Three kinds of observation, each recorded as ProxyHealthChecked (the
 *   measurement log): the scheduled probe (RecordHealthCheck) and a job that
 *   failed through the proxy (ReportProxyFailure) share one counter of
 *   consecutive failures and fail a healthy proxy when it reaches
 *   `failureThreshold`; an explicit failed check (FailProxy) fails it at once.
 *   Any successful probe resets the failure count.
 * - A failed proxy recovers after `recoveryThreshold` successful probes in a
 *   row; a failure in between starts the count again.
 * - An observation whose time is not after the last one recorded is a
 *   repeat (or arrived late, and newer evidence is already in): [].
 * - Bans are per platform: a repeat of an active ban with the same end is [];
 *   another end replaces it. Unbanning a platform that is not banned is [].
 * - Retired is final: every later command is a CONFLICT, except a repeated
 *   retirement or registration (both []).
 * - A repeated registration with the same endpoint is []; the sealed
 *   credentials are compared by presence only, since sealing the same
 *   secret twice never gives the same box. Anything else differing is a
 *   CONFLICT.
 */

export function proxyStream(proxyId: string): string {
  return `proxy-${proxyId}`;
}

type Event = ProxyEvent;

const COUNTRY = /^[A-Za-z]{2}$/;
// a host name or an IP address: no spaces, schemes or paths
const HOST = /^[A-Za-z0-9.:\-[\]_]{1,253}$/;
// platform codes as the services name them (xiaohongshu, qidian, …)
const PLATFORM = /^[a-z][a-z0-9_-]{0,63}$/;

function requireCount(value: unknown, field: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalid(`${field} must be a whole number of at least ${min}`, { field, got: value });
  }
  return value;
}

function optionalLatency(value: unknown): number | null {
  return value === undefined || value === null ? null : requireCount(value, 'latencyMs', 0);
}

function requirePlatform(value: unknown, field = 'platform'): string {
  if (typeof value !== 'string' || !PLATFORM.test(value)) {
    throw invalid(`${field} must be a lower-case platform code`, { field, got: value });
  }
  return value;
}

function sealed(value: unknown): SealedSecret | null {
  return value === null || value === undefined ? null : requireSealed(value);
}

function endpointOf(command: RegisterProxy): ProxyEndpoint {
  const proxyId = requireText(command.proxyId, 'proxyId');
  if (typeof command.host !== 'string' || !HOST.test(command.host)) {
    throw invalid('host must be a host name or an IP address', { field: 'host', got: command.host });
  }
  const port = requireCount(command.port, 'port', 1);
  if (port > 65535) throw invalid('port must be at most 65535', { field: 'port', got: port });
  const country = optionalText(command.country, 'country');
  if (country !== null && !COUNTRY.test(country)) {
    throw invalid('country must be an ISO 3166-1 alpha-2 code', { field: 'country', got: country });
  }
  return {
    proxyId,
    // host names are case-insensitive: one spelling, so a repeat compares equal
    host: command.host.toLowerCase(),
    port,
    protocol: requireOneOf(command.protocol, PROXY_PROTOCOLS, 'protocol'),
    credentials: sealed(command.credentials),
    country: country === null ? null : country.toUpperCase(),
    region: optionalText(command.region, 'region'),
    provider: optionalText(command.provider, 'provider'),
    registeredBy: requireText(command.registeredBy, 'registeredBy'),
  };
}

function sameEndpoint(a: ProxyEndpoint, b: ProxyEndpoint): boolean {
  return (
    a.host === b.host &&
    a.port === b.port &&
    a.protocol === b.protocol &&
    (a.credentials === null) === (b.credentials === null) &&
    a.country === b.country &&
    a.region === b.region &&
    a.provider === b.provider &&
    a.registeredBy === b.registeredBy
  );
}

/** The proxy exists and is not retired. */
function live(state: ProxyState, proxyId: string): ProxyEndpoint {
  if (state.status === 'none' || !state.endpoint) {
    throw new DomainError('NOT_FOUND', `proxy ${proxyId} does not exist`, { proxyId });
  }
  if (state.status === 'retired') {
    throw new DomainError('CONFLICT', `proxy ${proxyId} is retired`, { proxyId, status: state.status, retiredAt: state.retiredAt });
  }
  return state.endpoint;
}

/** Not after the latest observation: a repeat or a late arrival. */
function isStale(state: ProxyState, nowMs: number): boolean {
  return state.lastCheckedAt !== null && nowMs <= Date.parse(state.lastCheckedAt);
}

interface Observation {
  source: ObservationSource;
  ok: boolean;
  latencyMs: number | null;
  error: string | null;
  platform: string | null;
  jobId: string | null;
  now: string;
}

function checked(state: ProxyState, proxyId: string, o: Observation): ProxyHealthCheckedData {
  return {
    proxyId,
    source: o.source,
    ok: o.ok,
    latencyMs: o.latencyMs,
    error: o.error,
    platform: o.platform,
    jobId: o.jobId,
    consecutiveFailures: o.ok ? 0 : state.consecutiveFailures + 1,
    consecutiveSuccesses: o.ok ? state.consecutiveSuccesses + 1 : 0,
    checkedAt: o.now,
  };
}

/** The observation, and ProxyFailed when it makes a healthy proxy fail. */
function failure(state: ProxyState, proxyId: string, o: Observation, threshold: number): Event[] {
  const data = checked(state, proxyId, o);
  const events: Event[] = [{ type: 'ProxyHealthChecked', data }];
  if (state.status === 'healthy' && data.consecutiveFailures >= threshold) {
    events.push({
      type: 'ProxyFailed',
      data: { proxyId, source: o.source, reason: o.error ?? 'health check failed', consecutiveFailures: data.consecutiveFailures, failedAt: o.now },
    });
  }
  return events;
}

function register(command: RegisterProxy, state: ProxyState): Event[] {
  const endpoint = endpointOf(command);
  instant(command.now, 'now');
  if (state.endpoint) {
    // a retried request (its `now` and sealed box may differ) asks for what is already there
    if (sameEndpoint(state.endpoint, endpoint)) return [];
    throw new DomainError('CONFLICT', `proxy ${endpoint.proxyId} is already registered with other details`, {
      proxyId: endpoint.proxyId,
      status: state.status,
    });
  }
  return [{ type: 'ProxyRegistered', data: { ...endpoint, registeredAt: command.now } }];
}

function recordHealthCheck(command: RecordHealthCheck, state: ProxyState): Event[] {
  const { proxyId } = live(state, command.proxyId);
  const failureThreshold = requireCount(command.failureThreshold, 'failureThreshold', 1);
  const recoveryThreshold = requireCount(command.recoveryThreshold, 'recoveryThreshold', 1);
  if (typeof command.ok !== 'boolean') throw invalid('ok must be true or false', { field: 'ok', got: command.ok });
  const latencyMs = optionalLatency(command.latencyMs);
  if (command.ok && latencyMs === null) throw invalid('a successful check must report its latency', { field: 'latencyMs' });
  const nowMs = instant(command.now, 'now');
  if (isStale(state, nowMs)) return [];

  const o: Observation = {
    source: 'probe',
    ok: command.ok,
    latencyMs,
    error: command.ok ? null : optionalText(command.error, 'error'),
    platform: null,
    jobId: null,
    now: command.now,
  };
  if (!o.ok) return failure(state, proxyId, o, failureThreshold);

  const data = checked(state, proxyId, o);
  const events: Event[] = [{ type: 'ProxyHealthChecked', data }];
  if (state.status === 'failed' && data.consecutiveSuccesses >= recoveryThreshold) {
    events.push({ type: 'ProxyRecovered', data: { proxyId, consecutiveSuccesses: data.consecutiveSuccesses, recoveredAt: command.now } });
  }
  return events;
}

function reportFailure(command: ReportProxyFailure, state: ProxyState): Event[] {
  const { proxyId } = live(state, command.proxyId);
  const failureThreshold = requireCount(command.failureThreshold, 'failureThreshold', 1);
  const reason = requireText(command.reason, 'reason');
  const platform = command.platform === undefined || command.platform === null ? null : requirePlatform(command.platform);
  const jobId = optionalText(command.jobId, 'jobId');
  const nowMs = instant(command.now, 'now');
  if (isStale(state, nowMs)) return [];
  return failure(state, proxyId, { source: 'job', ok: false, latencyMs: null, error: reason, platform, jobId, now: command.now }, failureThreshold);
}

function fail(command: FailProxy, state: ProxyState): Event[] {
  const { proxyId } = live(state, command.proxyId);
  const reason = requireText(command.reason, 'reason');
  const latencyMs = optionalLatency(command.latencyMs);
  const nowMs = instant(command.now, 'now');
  if (isStale(state, nowMs)) return [];
  // a threshold of 1: whatever the count, this check fails a healthy proxy
  return failure(state, proxyId, { source: 'explicit', ok: false, latencyMs, error: reason, platform: null, jobId: null, now: command.now }, 1);
}

function ban(command: BanProxy, state: ProxyState): Event[] {
  const { proxyId } = live(state, command.proxyId);
  const platform = requirePlatform(command.platform);
  const reason = requireText(command.reason, 'reason');
  const nowMs = instant(command.now, 'now');
  const until = command.until === undefined || command.until === null ? null : command.until;
  if (until !== null && instant(until, 'until') <= nowMs) {
    throw invalid('until must be later than now', { field: 'until', until, now: command.now });
  }
  const current = state.bans[platform];
  if (current && isBannedFor(state, platform, nowMs)) {
    const sameEnd = current.until === null || until === null ? current.until === until : Date.parse(current.until) === Date.parse(until);
    if (sameEnd) return [];
  }
  return [{ type: 'ProxyBanned', data: { proxyId, platform, reason, until, bannedAt: command.now } }];
}

function unban(command: UnbanProxy, state: ProxyState): Event[] {
  const { proxyId } = live(state, command.proxyId);
  const platform = requirePlatform(command.platform);
  const unbannedBy = requireText(command.unbannedBy, 'unbannedBy');
  const nowMs = instant(command.now, 'now');
  if (!isBannedFor(state, platform, nowMs)) return [];
  return [{ type: 'ProxyUnbanned', data: { proxyId, platform, unbannedBy, unbannedAt: command.now } }];
}

function retire(command: RetireProxy, state: ProxyState): Event[] {
  if (state.status === 'none' || !state.endpoint) {
    throw new DomainError('NOT_FOUND', `proxy ${command.proxyId} does not exist`, { proxyId: command.proxyId });
  }
  const retiredBy = requireText(command.retiredBy, 'retiredBy');
  const reason = optionalText(command.reason, 'reason');
  instant(command.now, 'now');
  if (state.status === 'retired') return [];
  return [{ type: 'ProxyRetired', data: { proxyId: state.endpoint.proxyId, reason, retiredBy, retiredAt: command.now } }];
}

export const proxyDecider: Decider<ProxyState, ProxyCommand, ProxyEvent> = {
  initialState,
  decide(command, state) {
    switch (command.type) {
      case 'RegisterProxy':
        return register(command, state);
      case 'RecordHealthCheck':
        return recordHealthCheck(command, state);
      case 'ReportProxyFailure':
        return reportFailure(command, state);
      case 'FailProxy':
        return fail(command, state);
      case 'BanProxy':
        return ban(command, state);
      case 'UnbanProxy':
        return unban(command, state);
      case 'RetireProxy':
        return retire(command, state);
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'ProxyRegistered': {
        const { registeredAt: _registeredAt, ...endpoint } = event.data;
        return { ...state, status: 'healthy', endpoint };
      }
      case 'ProxyHealthChecked': {
        const d = event.data;
        // job successes are never reported, so job failures stay out of the success rate
        const isCheck = d.source !== 'job';
        return {
          ...state,
          consecutiveFailures: d.consecutiveFailures,
          consecutiveSuccesses: d.consecutiveSuccesses,
          totalChecks: state.totalChecks + (isCheck ? 1 : 0),
          successfulChecks: state.successfulChecks + (isCheck && d.ok ? 1 : 0),
          jobFailures: state.jobFailures + (isCheck ? 0 : 1),
          lastLatencyMs: d.latencyMs ?? state.lastLatencyMs,
          lastCheckedAt: d.checkedAt,
        };
      }
      case 'ProxyFailed':
        return { ...state, status: 'failed', failureReason: event.data.reason };
      case 'ProxyRecovered':
        return { ...state, status: 'healthy', failureReason: null };
      case 'ProxyBanned': {
        const { platform, reason, until, bannedAt } = event.data;
        return { ...state, bans: { ...state.bans, [platform]: { reason, until, bannedAt } } };
      }
      case 'ProxyUnbanned': {
        const { [event.data.platform]: _lifted, ...bans } = state.bans;
        return { ...state, bans };
      }
      case 'ProxyRetired':
        return { ...state, status: 'retired', retiredAt: event.data.retiredAt };
    }
  },
};

import { requireSealed } from '../core/sealed-secret.js';
import { SNAPSHOT_EVERY, type Aggregate } from '../core/aggregate.js';
import type { Decider } from '../core/decider.js';
import { DomainError } from '../core/domain-error.js';
import { instant, invalid, optionalText, requireOneOf, requireText } from '../core/validate.js';
import type { BanProxy, JudgeProxyHealth, ProxyCommand, RegisterProxy, RetireProxy, UnbanProxy } from './commands.js';
import { OBSERVATION_SOURCES, PROXY_PROTOCOLS, proxyEvents, type ProxyEndpoint, type ProxyEvent, type SealedSecret } from './events.js';
import { initialState, isBannedFor, type ProxyState } from './state.js';

/**
 * The Proxy aggregate: one proxy of the pool, its lifecycle and its bans.
 * The health observations are recorded in day streams (../proxy-health),
 * each with the consecutive counters after it; this aggregate judges them.
 *
 * Rules the decisions follow (see also the specs):
 * - JudgeProxyHealth: a healthy proxy fails (ProxyFailed) when the latest
 *   observation is a failure and the consecutive failures reach
 *   `failureThreshold` — probes and job failures share the count; an
 *   explicit failed check is judged with a threshold of 1, so it fails the
 *   proxy at once. A failed proxy recovers (ProxyRecovered) when the latest
 *   observation is a success and the consecutive successes reach
 *   `recoveryThreshold`. Anything else is [] — so a repeated judgement is.
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

function judge(command: JudgeProxyHealth, state: ProxyState): Event[] {
  const { proxyId } = live(state, command.proxyId);
  const source = requireOneOf(command.source, OBSERVATION_SOURCES, 'source');
  if (typeof command.ok !== 'boolean') throw invalid('ok must be true or false', { field: 'ok', got: command.ok });
  const failures = requireCount(command.consecutiveFailures, 'consecutiveFailures', 0);
  const successes = requireCount(command.consecutiveSuccesses, 'consecutiveSuccesses', 0);
  // an explicit failed check fails at once, whatever the configured threshold
  const failureThreshold = source === 'explicit' ? 1 : requireCount(command.failureThreshold, 'failureThreshold', 1);
  const recoveryThreshold = requireCount(command.recoveryThreshold, 'recoveryThreshold', 1);
  const error = optionalText(command.error, 'error');
  instant(command.now, 'now');
  if (!command.ok && state.status === 'healthy' && failures >= failureThreshold) {
    return [{ type: 'ProxyFailed', data: { proxyId, source, reason: error ?? 'health check failed', consecutiveFailures: failures, failedAt: command.now } }];
  }
  if (command.ok && state.status === 'failed' && successes >= recoveryThreshold) {
    return [{ type: 'ProxyRecovered', data: { proxyId, consecutiveSuccesses: successes, recoveredAt: command.now } }];
  }
  return [];
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
      case 'JudgeProxyHealth':
        return judge(command, state);
      case 'BanProxy':
        return ban(command, state);
      case 'UnbanProxy':
        return unban(command, state);
      case 'RetireProxy':
        return retire(command, state);
    }
  },
  // in place: the fold owns its state (the bans are never copied per event)
  evolve(state, event) {
    switch (event.type) {
      case 'ProxyRegistered': {
        const { registeredAt: _registeredAt, ...endpoint } = event.data;
        state.status = 'healthy';
        state.endpoint = endpoint;
        return state;
      }
      case 'ProxyFailed':
        state.status = 'failed';
        state.failureReason = event.data.reason;
        return state;
      case 'ProxyRecovered':
        state.status = 'healthy';
        state.failureReason = null;
        return state;
      case 'ProxyBanned': {
        const { platform, reason, until, bannedAt } = event.data;
        state.bans[platform] = { reason, until, bannedAt };
        return state;
      }
      case 'ProxyUnbanned':
        delete state.bans[event.data.platform];
        return state;
      case 'ProxyRetired':
        state.status = 'retired';
        state.retiredAt = event.data.retiredAt;
        return state;
    }
  },
};

/**
 * The binding the command handler uses: stream `proxy-{proxyId}`. Lifecycle
 * facts only, but a proxy serves for years (and fails and recovers many
 * times): snapshots keep loads short.
 */
export const proxyAggregate: Aggregate<ProxyState, ProxyCommand, ProxyEvent> = {
  name: 'proxy',
  streamName: proxyStream,
  decider: proxyDecider,
  events: proxyEvents,
  snapshot: { version: 1, every: SNAPSHOT_EVERY.lifecycle },
};

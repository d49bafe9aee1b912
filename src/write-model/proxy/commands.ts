import type { ObservationSource, ProxyProtocol, SealedSecret } from './events.js';

/**
 * Commands of the Proxy aggregate (stream `proxy-{proxyId}`). Every one
 * carries `now` (ISO-8601); for a health judgement it is the time of the
 * observation. Thresholds come from configuration and travel in the
 * command, so the decider needs no settings of its own.
 */

/** Add a proxy to the pool (an admin). Credentials arrive sealed. */
export interface RegisterProxy {
  type: 'RegisterProxy';
  proxyId: string;
  host: string;
  /** 1..65535 */
  port: number;
  protocol: ProxyProtocol;
  /** username and password sealed together; null for an open proxy */
  credentials: SealedSecret | null;
  /** ISO 3166-1 alpha-2 (either case; recorded upper case) */
  country: string | null;
  region: string | null;
  provider: string | null;
  registeredBy: string;
  now: string;
}

/**
 * What the latest health observation (`proxy_health-{proxyId}_{day}`) says
 * of the proxy: the consecutive counters after it. A healthy proxy fails
 * when the failures reach `failureThreshold` (1 for an explicit failed
 * check); a failed one recovers when the successes reach
 * `recoveryThreshold`. Anything else changes nothing, so sending the
 * counters again (a retry, or after a crash between the two appends) is
 * safe.
 */
export interface JudgeProxyHealth {
  type: 'JudgeProxyHealth';
  proxyId: string;
  source: ObservationSource;
  ok: boolean;
  /** the observation's error (the failure reason) */
  error: string | null;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  /** consecutive failures that fail a healthy proxy (integer ≥ 1) */
  failureThreshold: number;
  /** consecutive successes that recover a failed proxy (integer ≥ 1) */
  recoveryThreshold: number;
  /** the time of the observation */
  now: string;
}

/** The platform blocks this proxy. `until` null: until unbanned. */
export interface BanProxy {
  type: 'BanProxy';
  proxyId: string;
  platform: string;
  reason: string;
  until?: string | null;
  now: string;
}

/** Lift a platform's ban early. */
export interface UnbanProxy {
  type: 'UnbanProxy';
  proxyId: string;
  platform: string;
  unbannedBy: string;
  now: string;
}

/** Take the proxy out of the pool for good. */
export interface RetireProxy {
  type: 'RetireProxy';
  proxyId: string;
  reason?: string | null;
  retiredBy: string;
  now: string;
}

export type ProxyCommand = RegisterProxy | JudgeProxyHealth | BanProxy | UnbanProxy | RetireProxy;

import type { ProxyProtocol, SealedSecret } from './events.js';

/**
 * Commands of the Proxy aggregate (stream `proxy-{proxyId}`). Every one
 * carries `now` (ISO-8601); for an observation it is the time of the check.
 * Thresholds come from configuration and travel in the command, so the
 * decider needs no settings of its own.
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
 * The result of the scheduled health-check probe. Failures count towards
 * `failureThreshold` (a single probe from one vantage point is noisy, and
 * every ProxyFailed moves running executions); set the threshold to 1 to
 * fail on the first failed probe.
 */
export interface RecordHealthCheck {
  type: 'RecordHealthCheck';
  proxyId: string;
  ok: boolean;
  /** required when ok; null when the probe timed out */
  latencyMs: number | null;
  error?: string | null;
  /** consecutive failures that fail a healthy proxy (integer ≥ 1) */
  failureThreshold: number;
  /** consecutive successes that recover a failed proxy (integer ≥ 1) */
  recoveryThreshold: number;
  now: string;
}

/** A worker's job failed through this proxy: counts as a failure, with the same threshold as probes. */
export interface ReportProxyFailure {
  type: 'ReportProxyFailure';
  proxyId: string;
  reason: string;
  platform?: string | null;
  jobId?: string | null;
  failureThreshold: number;
  now: string;
}

/** An explicit check failed (an admin's "test this proxy", or the provider said it is gone): fails at once. */
export interface FailProxy {
  type: 'FailProxy';
  proxyId: string;
  reason: string;
  latencyMs?: number | null;
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

export type ProxyCommand = RegisterProxy | RecordHealthCheck | ReportProxyFailure | FailProxy | BanProxy | UnbanProxy | RetireProxy;

import type { SealedSecret } from '../core/sealed-secret.js';
import type { DomainEvent } from '../core/decider.js';

/**
 * The Proxy aggregate's events (DESIGN §5), stream `proxy-{proxyId}`.
 * Times are ISO-8601 strings. Every event names its proxy.
 */

export const PROXY_PROTOCOLS = ['http', 'https', 'socks5'] as const;
export type ProxyProtocol = (typeof PROXY_PROTOCOLS)[number];

/**
 * The proxy's username and password are sealed together (e.g. `user:password`,
 * see core/sealed-secret.ts): the username alone already identifies a paid
 * account at the provider.
 */
export type { SealedSecret };

/** Where and what the proxy is: fixed at registration. */
export interface ProxyEndpoint {
  proxyId: string;
  host: string;
  port: number;
  protocol: ProxyProtocol;
  /** null for a proxy without authentication */
  credentials: SealedSecret | null;
  /** ISO 3166-1 alpha-2, upper case */
  country: string | null;
  region: string | null;
  provider: string | null;
  /** the admin who registered it */
  registeredBy: string;
}

export interface ProxyRegisteredData extends ProxyEndpoint {
  registeredAt: string;
}

/**
 * Where an observation came from: `probe` the scheduled health check
 * (RecordHealthCheck), `job` a scrape job that failed through the proxy
 * (ReportProxyFailure), `explicit` an explicit check that failed (FailProxy).
 */
export const OBSERVATION_SOURCES = ['probe', 'job', 'explicit'] as const;
export type ObservationSource = (typeof OBSERVATION_SOURCES)[number];

/**
 * One observation of the proxy: the measurement log. Carries the counters
 * as they stand after it, so a read model needs no arithmetic of its own.
 */
export interface ProxyHealthCheckedData {
  proxyId: string;
  source: ObservationSource;
  ok: boolean;
  /** null when the check timed out or the observation is a job failure */
  latencyMs: number | null;
  /** null when ok */
  error: string | null;
  /** the platform a failed job was for (source `job`); otherwise null */
  platform: string | null;
  /** the failed job (source `job`); otherwise null */
  jobId: string | null;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  checkedAt: string;
}

/** The proxy stopped working: leases skip it; running executions move away (DESIGN §6). */
export interface ProxyFailedData {
  proxyId: string;
  source: ObservationSource;
  reason: string;
  consecutiveFailures: number;
  failedAt: string;
}

/** A failed proxy passed enough checks in a row to be leased again. */
export interface ProxyRecoveredData {
  proxyId: string;
  consecutiveSuccesses: number;
  recoveredAt: string;
}

/**
 * The platform blocks this proxy: leases for that platform skip it until
 * `until` (null: until unbanned). A later ban of the same platform replaces
 * the earlier one.
 */
export interface ProxyBannedData {
  proxyId: string;
  platform: string;
  reason: string;
  until: string | null;
  bannedAt: string;
}

/** An operator lifted a platform's ban before its end (or an open-ended one). */
export interface ProxyUnbannedData {
  proxyId: string;
  platform: string;
  unbannedBy: string;
  unbannedAt: string;
}

/** Taken out of the pool for good. Final. */
export interface ProxyRetiredData {
  proxyId: string;
  reason: string | null;
  retiredBy: string;
  retiredAt: string;
}

export type ProxyEvent =
  | DomainEvent<'ProxyRegistered', ProxyRegisteredData>
  | DomainEvent<'ProxyHealthChecked', ProxyHealthCheckedData>
  | DomainEvent<'ProxyFailed', ProxyFailedData>
  | DomainEvent<'ProxyRecovered', ProxyRecoveredData>
  | DomainEvent<'ProxyBanned', ProxyBannedData>
  | DomainEvent<'ProxyUnbanned', ProxyUnbannedData>
  | DomainEvent<'ProxyRetired', ProxyRetiredData>;

export type ProxyEventType = ProxyEvent['type'];

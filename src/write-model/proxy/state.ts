import type { ProxyEndpoint } from './events.js';

/**
 * `none`: no proxy in this stream. `healthy`: leasable. `failed`: skipped by
 * leases until it recovers. `retired`: out of the pool for good (final).
 */
export type ProxyStatus = 'none' | 'healthy' | 'failed' | 'retired';

export interface PlatformBan {
  reason: string;
  /** null: until unbanned */
  until: string | null;
  bannedAt: string;
}

export interface ProxyState {
  status: ProxyStatus;
  /** null while status is `none` */
  endpoint: ProxyEndpoint | null;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  /** probes and explicit checks (job failures are not checks: job successes are never reported) */
  totalChecks: number;
  successfulChecks: number;
  /** failures reported by jobs */
  jobFailures: number;
  lastLatencyMs: number | null;
  /** the time of the latest observation of any source; an older or equal one is a repeat */
  lastCheckedAt: string | null;
  /** set while failed */
  failureReason: string | null;
  /** platform → its ban; an entry whose `until` has passed no longer applies */
  bans: Record<string, PlatformBan>;
  retiredAt: string | null;
}

export function initialState(): ProxyState {
  return {
    status: 'none',
    endpoint: null,
    consecutiveFailures: 0,
    consecutiveSuccesses: 0,
    totalChecks: 0,
    successfulChecks: 0,
    jobFailures: 0,
    lastLatencyMs: null,
    lastCheckedAt: null,
    failureReason: null,
    bans: {},
    retiredAt: null,
  };
}

/** Whether the ban of `platform` applies at `nowMs`. */
export function isBannedFor(state: ProxyState, platform: string, nowMs: number): boolean {
  const ban = state.bans[platform];
  return ban !== undefined && (ban.until === null || Date.parse(ban.until) > nowMs);
}

/** The platforms the proxy is banned for at `nowMs` (what lease selection needs). */
export function bannedPlatforms(state: ProxyState, nowMs: number): string[] {
  return Object.keys(state.bans)
    .filter((platform) => isBannedFor(state, platform, nowMs))
    .sort();
}

/** Successful checks over all checks; null before the first check. */
export function successRate(state: ProxyState): number | null {
  return state.totalChecks === 0 ? null : state.successfulChecks / state.totalChecks;
}

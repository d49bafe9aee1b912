import type { ProxyEndpoint } from './events.js';

/**
 * Lifecycle only: the health counters are the day streams' (proxy-health).
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

import type { ProxyCandidate } from '../application/proxy-selection.js';
import type { ProxyLease, RedisProxyLeaseStore } from '../adapters/proxies/redis-lease-store.js';
import type { EventStore } from '../event-store/port.js';
import { load } from '../write-model/core/command-handler.js';
import { proxyAggregate } from '../write-model/proxy/decider.js';
import type { ProxyEndpoint } from '../write-model/proxy/events.js';
import { isBannedFor } from '../write-model/proxy/state.js';

/**
 * Leasing a proxy for one run of a scrape job.
 *
 * - The lease holder is the run (`holderId` starts with the execution id),
 *   so a lease left by an earlier run of the same execution (a crashed or
 *   released worker, or the process manager that leased it at dispatch,
 *   holding it under the execution id) is recognised and taken over at once
 *   instead of waiting for its TTL.
 * - The proxy the execution was assigned is preferred while it is free (or
 *   held by the execution itself); otherwise the best free candidate.
 * - Candidates come from the proxies read model, which may lag: each one is
 *   checked on the write side (healthy, not banned for the platform) before
 *   it is used; a proxy banned a moment ago is never taken again.
 */

export class NoProxyAvailableError extends Error {
  override readonly name = 'NoProxyAvailableError';
  constructor(platform: string) {
    super(`no healthy proxy free for ${platform}`);
  }
}

export interface LeaseDeps {
  store: EventStore;
  leases: RedisProxyLeaseStore;
  candidates: () => Promise<ProxyCandidate[]>;
  ttlMs: number;
  now: () => Date;
}

export interface LeaseFor {
  /** the run holding the lease; must start with the execution id */
  holderId: string;
  executionId: string;
  platform: string;
  /** the account whose traffic it carries; executions without one lease as `execution:{id}` */
  leaseAccount: string;
  /** the proxy the execution is assigned to, if any */
  preferred: string | null;
  /** the workflow's proxy region: only proxies of that region or country (the preferred one too) */
  region?: string | null;
  /**
   * proxies this job just failed through (unreachable): taken only when no
   * other proxy is free, the preferred one included
   */
  avoid?: readonly string[];
}

export interface LeasedProxy {
  lease: ProxyLease;
  endpoint: ProxyEndpoint;
}

/** The proxy's endpoint when it may carry a job for `platform` now (write side), else null. */
async function usableEndpoint(deps: LeaseDeps, proxyId: string, platform: string): Promise<ProxyEndpoint | null> {
  const { state } = await load(deps.store, proxyAggregate, proxyId);
  if (state.status !== 'healthy' || !state.endpoint) return null;
  return isBannedFor(state, platform, deps.now().getTime()) ? null : state.endpoint;
}

/** Gives back a lease an earlier run of this execution still holds on `proxyId`. */
async function reclaim(deps: LeaseDeps, want: LeaseFor, proxyId: string): Promise<void> {
  const held = await deps.leases.leasesOfAccount(want.leaseAccount);
  for (const lease of held) {
    if (lease.proxyId === proxyId && lease.jobId !== want.holderId && lease.jobId.startsWith(want.executionId)) await deps.leases.release(lease);
  }
}

export async function leaseProxy(deps: LeaseDeps, want: LeaseFor): Promise<LeasedProxy> {
  const avoid = want.avoid ?? [];
  if (avoid.length > 0) {
    try {
      return await leaseAmong(deps, { ...want, preferred: want.preferred !== null && avoid.includes(want.preferred) ? null : want.preferred }, avoid);
    } catch (error) {
      if (!(error instanceof NoProxyAvailableError)) throw error;
      // none other free: the avoided ones are better than none (one may be back)
    }
  }
  return leaseAmong(deps, want, []);
}

async function leaseAmong(deps: LeaseDeps, want: LeaseFor, avoid: readonly string[]): Promise<LeasedProxy> {
  const request = { jobId: want.holderId, platform: want.platform, platformAccountId: want.leaseAccount, region: want.region ?? null };
  const candidates = (await deps.candidates()).filter((c) => !avoid.includes(c.proxyId));
  const excluded = new Set<string>();

  const tryOne = async (pool: ProxyCandidate[]): Promise<LeasedProxy | null> => {
    const lease = await deps.leases.acquire(request, pool, deps.ttlMs);
    if (!lease) return null;
    const endpoint = await usableEndpoint(deps, lease.proxyId, want.platform);
    if (endpoint) return { lease, endpoint };
    excluded.add(lease.proxyId);
    await deps.leases.release(lease);
    return null;
  };

  if (want.preferred) {
    await reclaim(deps, want, want.preferred);
    // the assigned proxy is tried even when the read model does not list it yet
    const known = candidates.find((c) => c.proxyId === want.preferred);
    const preferred: ProxyCandidate = known ?? {
      proxyId: want.preferred,
      status: 'healthy',
      region: null,
      country: null,
      bannedPlatforms: [],
      successRate: null,
      avgLatencyMs: null,
      lastLeasedAt: null,
    };
    const got = await tryOne([preferred]);
    if (got) return got;
    excluded.add(want.preferred);
  }
  for (;;) {
    const pool = candidates.filter((c) => !excluded.has(c.proxyId));
    if (pool.length === 0) throw new NoProxyAvailableError(want.platform);
    const got = await tryOne(pool);
    if (got) return got;
    // acquire answered null (none free) or the proxy it took was unusable: in the first case stop
    if (pool.every((c) => !excluded.has(c.proxyId))) throw new NoProxyAvailableError(want.platform);
  }
}

/**
 * Renews the lease every third of its TTL while the run goes on; `onLost`
 * runs once when it could not be renewed (expired, or taken by another run).
 */
export function keepLeaseAlive(deps: Pick<LeaseDeps, 'leases' | 'ttlMs'>, lease: ProxyLease, onLost: (error: Error) => void): { stop(): void } {
  let stopped = false;
  const timer = setInterval(
    () => {
      void deps.leases.renew(lease, deps.ttlMs).then(
        (renewed) => {
          if (renewed === null && !stopped) {
            stopped = true;
            clearInterval(timer);
            onLost(new Error(`the lease on proxy ${lease.proxyId} was lost`));
          }
        },
        () => undefined, // Redis hiccup: the next tick tries again, well before the TTL
      );
    },
    Math.max(250, Math.floor(deps.ttlMs / 3)),
  );
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

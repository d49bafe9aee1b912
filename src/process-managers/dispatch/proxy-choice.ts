import type { Knex } from 'knex';
import { selectProxies, type LeaseHolder, type ProxyCandidate } from '../../application/proxy-selection.js';
import type { ProxyLeases } from '../ports.js';
import type { EventStore } from '../../event-store/port.js';
import { proxyCandidates } from '../../read-api/proxies.js';
import type { ExecutionRequestedData } from '../../write-model/workflow-execution/events.js';

/** The proxies to choose from and who holds them: read once per batch, not per request. */
export interface ProxyPool {
  candidates: ProxyCandidate[];
  holders: Map<string, LeaseHolder>;
}

export async function readProxyPool(knex: Knex, leases: ProxyLeases | undefined, now: Date): Promise<ProxyPool> {
  let candidates: ProxyCandidate[] = await proxyCandidates(knex, now);
  const holders = new Map<string, LeaseHolder>();
  if (leases && candidates.length > 0) {
    for (const lease of await leases.activeLeases()) holders.set(lease.proxyId, { platformAccountId: lease.platformAccountId, platform: lease.platform });
    const last = await leases.lastLeasedAt(candidates.map((c) => c.proxyId));
    candidates = candidates.map((c) => ({ ...c, lastLeasedAt: last.get(c.proxyId) ?? c.lastLeasedAt }));
  }
  return { candidates, holders };
}

/**
 * The best healthy proxy for the execution, by the lease rules
 * (proxy-selection.ts), or null. `exclude` drops proxies known to be bad
 * (the read model may not show a failure yet); `picked` are choices made
 * earlier in the same batch, treated as busy, and the choice is added to it.
 */
export async function chooseProxy(
  knex: Knex,
  deps: { store: EventStore; leases?: ProxyLeases | undefined },
  request: ExecutionRequestedData,
  now: Date,
  picked: Map<string, LeaseHolder>,
  exclude: readonly string[] = [],
  pool?: ProxyPool,
): Promise<string | null> {
  return pickProxy(pool ?? (await readProxyPool(knex, deps.leases, now)), request, picked, exclude);
}

/** chooseProxy on a pool already read. */
export function pickProxy(pool: ProxyPool, request: ExecutionRequestedData, picked: Map<string, LeaseHolder>, exclude: readonly string[] = []): string | null {
  const candidates = exclude.length === 0 ? pool.candidates : pool.candidates.filter((c) => !exclude.includes(c.proxyId));
  if (candidates.length === 0) return null;
  const holders = new Map(pool.holders);
  for (const [proxyId, holder] of picked) if (!holders.has(proxyId)) holders.set(proxyId, holder);
  const account = request.platformAccountId ?? `execution:${request.executionId}`;
  // a workflow's proxy region (ExecutionRequested.proxyRegion) narrows the pool: none there, none chosen
  const best = selectProxies(candidates, { platform: request.platform, platformAccountId: account, region: request.proxyRegion ?? null }, holders)[0];
  if (!best) return null;
  picked.set(best.candidate.proxyId, { platformAccountId: account, platform: request.platform });
  return best.candidate.proxyId;
}

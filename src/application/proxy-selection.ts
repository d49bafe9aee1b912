/**
 * Which proxies may serve a job, best first. Pure: the lease store feeds it
 * the candidates (from the proxies read model), the current leases and the
 * last lease times it keeps in Redis.
 *
 * Rules:
 * - only healthy proxies, not banned for the job's platform;
 * - when the request names a region, the proxy's region or country must be
 *   it (case-insensitive), so a job can ask for `guangdong` or for `CN`;
 * - free proxies first. A busy proxy is offered only when no free one is
 *   left: first those leased to other accounts, last those the same account
 *   already uses (two jobs of one account through one address is what a
 *   platform's rate limits see first);
 * - within each group: never leased, then least recently leased; then the
 *   best success rate; then the lowest latency; then the id (a stable order).
 *   Unknown success rate or latency (no check yet) ranks after any known one.
 */

export interface ProxyCandidate {
  proxyId: string;
  /** the Proxy aggregate's status; only `healthy` is eligible */
  status: string;
  region: string | null;
  country: string | null;
  /** platforms the proxy is banned for now */
  bannedPlatforms: readonly string[];
  /** 0..1; null before the first check */
  successRate: number | null;
  avgLatencyMs: number | null;
  /** ISO-8601; null when never leased */
  lastLeasedAt: string | null;
}

export interface LeaseRequest {
  platform: string;
  platformAccountId: string;
  region?: string | null;
}

/** Who holds a proxy now. */
export interface LeaseHolder {
  platformAccountId: string;
  platform: string;
}

/** free: nobody holds it; other_account / same_account: held by a job of another / the same account. */
export type LeaseAvailability = 'free' | 'other_account' | 'same_account';

export interface EligibleProxy {
  candidate: ProxyCandidate;
  availability: LeaseAvailability;
}

const GROUP_ORDER: Record<LeaseAvailability, number> = { free: 0, other_account: 1, same_account: 2 };

function matchesRegion(candidate: ProxyCandidate, region: string | null | undefined): boolean {
  if (region === undefined || region === null || region === '') return true;
  const wanted = region.toLowerCase();
  return candidate.region?.toLowerCase() === wanted || candidate.country?.toLowerCase() === wanted;
}

// nulls last for "higher is better" and "lower is better" alike
function byKnown(a: number | null, b: number | null, better: 'higher' | 'lower'): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return better === 'higher' ? b - a : a - b;
}

function byLastLeased(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return Date.parse(a) - Date.parse(b);
}

function compare(a: EligibleProxy, b: EligibleProxy): number {
  const x = a.candidate;
  const y = b.candidate;
  return (
    GROUP_ORDER[a.availability] - GROUP_ORDER[b.availability] ||
    byLastLeased(x.lastLeasedAt, y.lastLeasedAt) ||
    byKnown(x.successRate, y.successRate, 'higher') ||
    byKnown(x.avgLatencyMs, y.avgLatencyMs, 'lower') ||
    (x.proxyId < y.proxyId ? -1 : x.proxyId > y.proxyId ? 1 : 0)
  );
}

export function selectProxies(candidates: readonly ProxyCandidate[], request: LeaseRequest, leases: ReadonlyMap<string, LeaseHolder>): EligibleProxy[] {
  const eligible: EligibleProxy[] = [];
  for (const candidate of candidates) {
    if (candidate.status !== 'healthy') continue;
    if (candidate.bannedPlatforms.includes(request.platform)) continue;
    if (!matchesRegion(candidate, request.region)) continue;
    const holder = leases.get(candidate.proxyId);
    const availability: LeaseAvailability =
      holder === undefined ? 'free' : holder.platformAccountId === request.platformAccountId ? 'same_account' : 'other_account';
    eligible.push({ candidate, availability });
  }
  eligible.sort(compare);
  // busy proxies are a fallback only: with a free one left, offer free ones alone
  return eligible.some((e) => e.availability === 'free') ? eligible.filter((e) => e.availability === 'free') : eligible;
}

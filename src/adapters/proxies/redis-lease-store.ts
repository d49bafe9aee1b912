import type { Redis } from '../redis/redis.js';
import { selectProxies, type LeaseHolder, type LeaseRequest, type ProxyCandidate } from '../../application/proxy-selection.js';

/**
 * Proxy leases in Redis, shared by every worker process.
 *
 * A lease is one key, `proxy_lease:{proxyId}`, set with NX and a TTL: the
 * key's existence is the truth, so a crashed worker's lease simply expires.
 * Leases are exclusive (one job per proxy), so only free proxies are
 * claimed; with none free, acquire answers null and the caller retries
 * later. Beside the keys, two sets index the leases (all of them, and per
 * platform account) so they can be listed without SCAN; a member whose
 * key is gone is dropped when the set is read. A hash keeps the last lease
 * time of each proxy, so "least recently used" holds across processes.
 *
 * The scripts touch keys they build from the prefix: fine on one Redis,
 * not on a cluster.
 */

export interface AcquireRequest extends LeaseRequest {
  jobId: string;
}

export type { ProxyLease } from '../../process-managers/ports.js';
import type { ProxyLease, ProxyLeases } from '../../process-managers/ports.js';

export interface RedisLeaseStoreOptions {
  /** put before every key, so tests (or two platforms on one Redis) stay apart */
  prefix?: string;
  clock?: () => Date;
}

/** The JSON stored under a lease key. */
interface LeaseValue {
  jobId: string;
  platformAccountId: string;
  platform: string;
  leasedAt: string;
}

// KEYS: lease, all-leases set, account set, last-leased hash
// ARGV: value, ttlMs, proxyId, leasedAt
const ACQUIRE = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[3])
if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[3], ARGV[2]) end
redis.call('HSET', KEYS[4], ARGV[3], ARGV[4])
return 1
`;

// KEYS: lease, account set; ARGV: jobId, ttlMs, proxyId
const RENEW = `
local value = redis.call('GET', KEYS[1])
if not value or cjson.decode(value).jobId ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return 1
`;

// KEYS: lease, all-leases set, account set; ARGV: jobId, proxyId
const RELEASE = `
local value = redis.call('GET', KEYS[1])
if not value or cjson.decode(value).jobId ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
redis.call('SREM', KEYS[3], ARGV[2])
return 1
`;

// KEYS: an index set; ARGV: lease key prefix, account ('' for any).
// Returns id, value, pttl triples; drops members whose lease is gone (or
// now belongs to another account) in the same atomic step, so a member
// added meanwhile by an acquire is never lost.
const LIST = `
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. id
  local value = redis.call('GET', key)
  if value and (ARGV[2] == '' or cjson.decode(value).platformAccountId == ARGV[2]) then
    table.insert(out, id)
    table.insert(out, value)
    table.insert(out, redis.call('PTTL', key))
  else
    redis.call('SREM', KEYS[1], id)
  end
end
return out
`;

function requireTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new RangeError(`ttlMs must be a positive whole number, got ${ttlMs}`);
}

function later(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return Date.parse(b) > Date.parse(a) ? b : a;
}

export class RedisProxyLeaseStore implements ProxyLeases {
  private readonly prefix: string;
  private readonly clock: () => Date;

  constructor(
    private readonly redis: Redis,
    options: RedisLeaseStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? '';
    this.clock = options.clock ?? (() => new Date());
  }

  /**
   * Claims the best free proxy among `candidates` for the job, or answers
   * null when none is free. Another process winning a proxy between the
   * look and the claim only moves this one on to the next.
   */
  async acquire(request: AcquireRequest, candidates: readonly ProxyCandidate[], ttlMs: number): Promise<ProxyLease | null> {
    requireTtl(ttlMs);
    if (candidates.length === 0) return null;
    const ids = candidates.map((c) => c.proxyId);
    const [values, lastLeased] = await Promise.all([this.redis.mget(ids.map((id) => this.leaseKey(id))), this.redis.hmget(this.lastLeasedKey(), ...ids)]);
    const leases = new Map<string, LeaseHolder>();
    values.forEach((raw, i) => {
      if (raw !== null) leases.set(ids[i]!, JSON.parse(raw) as LeaseValue);
    });
    // the read model may lag behind Redis on the last lease time: take the later
    const merged = candidates.map((c, i) => ({ ...c, lastLeasedAt: later(c.lastLeasedAt, lastLeased[i] ?? null) }));

    for (const { candidate, availability } of selectProxies(merged, request, leases)) {
      if (availability !== 'free') break; // exclusive leases: a busy proxy cannot be claimed
      const now = this.clock();
      const value: LeaseValue = {
        jobId: request.jobId,
        platformAccountId: request.platformAccountId,
        platform: request.platform,
        leasedAt: now.toISOString(),
      };
      const claimed = await this.redis.eval(
        ACQUIRE,
        4,
        this.leaseKey(candidate.proxyId),
        this.allKey(),
        this.accountKey(request.platformAccountId),
        this.lastLeasedKey(),
        JSON.stringify(value),
        String(ttlMs),
        candidate.proxyId,
        value.leasedAt,
      );
      if (claimed === 1) {
        return { proxyId: candidate.proxyId, ...value, expiresAt: new Date(now.getTime() + ttlMs).toISOString() };
      }
    }
    return null;
  }

  /** Extends a lease still held by its job; null when it was lost (expired, or taken since). */
  async renew(lease: ProxyLease, ttlMs: number): Promise<ProxyLease | null> {
    requireTtl(ttlMs);
    const now = this.clock();
    const renewed = await this.redis.eval(
      RENEW,
      2,
      this.leaseKey(lease.proxyId),
      this.accountKey(lease.platformAccountId),
      lease.jobId,
      String(ttlMs),
      lease.proxyId,
    );
    return renewed === 1 ? { ...lease, expiresAt: new Date(now.getTime() + ttlMs).toISOString() } : null;
  }

  /** Gives a lease back; only its own job can. Answers whether it was held. */
  async release(lease: ProxyLease): Promise<boolean> {
    const released = await this.redis.eval(
      RELEASE,
      3,
      this.leaseKey(lease.proxyId),
      this.allKey(),
      this.accountKey(lease.platformAccountId),
      lease.jobId,
      lease.proxyId,
    );
    return released === 1;
  }

  /** Every lease alive now. */
  async activeLeases(): Promise<ProxyLease[]> {
    return this.list(this.allKey(), '');
  }

  /** The leases a platform account's jobs hold now. */
  async leasesOfAccount(platformAccountId: string): Promise<ProxyLease[]> {
    return this.list(this.accountKey(platformAccountId), platformAccountId);
  }

  /** When each proxy was last leased (proxies never leased are absent). */
  async lastLeasedAt(proxyIds: readonly string[]): Promise<Map<string, string>> {
    const result = new Map<string, string>();
    if (proxyIds.length === 0) return result;
    const values = await this.redis.hmget(this.lastLeasedKey(), ...proxyIds);
    values.forEach((value, i) => {
      if (value !== null) result.set(proxyIds[i]!, value);
    });
    return result;
  }

  private async list(setKey: string, account: string): Promise<ProxyLease[]> {
    const now = this.clock().getTime();
    const flat = (await this.redis.eval(LIST, 1, setKey, this.leaseKey(''), account)) as (string | number)[];
    const leases: ProxyLease[] = [];
    for (let i = 0; i < flat.length; i += 3) {
      const value = JSON.parse(String(flat[i + 1])) as LeaseValue;
      const pttl = Number(flat[i + 2]);
      leases.push({ proxyId: String(flat[i]), ...value, expiresAt: new Date(now + Math.max(pttl, 0)).toISOString() });
    }
    return leases.sort((a, b) => (a.proxyId < b.proxyId ? -1 : a.proxyId > b.proxyId ? 1 : 0));
  }

  private leaseKey(proxyId: string): string {
    return `${this.prefix}proxy_lease:${proxyId}`;
  }

  private allKey(): string {
    return `${this.prefix}proxy_leases`;
  }

  private accountKey(platformAccountId: string): string {
    return `${this.prefix}proxy_leases_of_account:${platformAccountId}`;
  }

  private lastLeasedKey(): string {
    return `${this.prefix}proxy_last_leased`;
  }
}

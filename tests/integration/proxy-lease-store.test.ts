import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { ProxyCandidate } from '../../src/application/proxy-selection.js';
import { RedisProxyLeaseStore, type AcquireRequest } from '../../src/adapters/proxies/redis-lease-store.js';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/1';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const candidate = (proxyId: string): ProxyCandidate => ({
  proxyId,
  status: 'healthy',
  region: null,
  country: 'CN',
  bannedPlatforms: [],
  successRate: 1,
  avgLatencyMs: 100,
  lastLeasedAt: null,
});
const pool = (n: number) => Array.from({ length: n }, (_, i) => candidate(`px-${i + 1}`));
const job = (jobId: string, platformAccountId = 'acct-1'): AcquireRequest => ({ jobId, platform: 'xiaohongshu', platformAccountId });

describe('Redis proxy lease store', () => {
  const connections: Redis[] = [];
  let prefix: string;
  let store: RedisProxyLeaseStore;

  const connect = () => {
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    connections.push(redis);
    return redis;
  };

  beforeEach(() => {
    // a fresh prefix per test: nothing leaks between tests or from other runs
    prefix = `test:${randomUUID()}:`;
    store = new RedisProxyLeaseStore(connections[0] ?? connect(), { prefix });
  });

  afterEach(async () => {
    const redis = connections[0]!;
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  });

  after(async () => {
    await Promise.all(connections.map((c) => c.quit()));
  });

  it('claims a proxy under proxy_lease:{id} with the job, account, platform and time', async () => {
    const fixed = new Date('2025-03-01T10:00:00.000Z');
    const clocked = new RedisProxyLeaseStore(connections[0]!, { prefix, clock: () => fixed });
    const lease = await clocked.acquire(job('job-1'), pool(1), 60_000);
    expect(lease).to.deep.equal({
      proxyId: 'px-1',
      jobId: 'job-1',
      platform: 'xiaohongshu',
      platformAccountId: 'acct-1',
      leasedAt: '2025-03-01T10:00:00.000Z',
      expiresAt: '2025-03-01T10:01:00.000Z',
    });
    const raw = await connections[0]!.get(`${prefix}proxy_lease:px-1`);
    expect(JSON.parse(raw!)).to.deep.equal({ jobId: 'job-1', platformAccountId: 'acct-1', platform: 'xiaohongshu', leasedAt: '2025-03-01T10:00:00.000Z' });
    const pttl = await connections[0]!.pttl(`${prefix}proxy_lease:px-1`);
    expect(pttl).to.be.within(59_000, 60_000);
  });

  it('gives two concurrent jobs of one account different proxies', async () => {
    const [a, b] = await Promise.all([store.acquire(job('job-1'), pool(2), 10_000), store.acquire(job('job-2'), pool(2), 10_000)]);
    expect(a).to.not.equal(null);
    expect(b).to.not.equal(null);
    expect(new Set([a!.proxyId, b!.proxyId])).to.deep.equal(new Set(['px-1', 'px-2']));
    expect((await store.leasesOfAccount('acct-1')).map((l) => l.jobId).sort()).to.deep.equal(['job-1', 'job-2']);
    expect(await store.leasesOfAccount('acct-2')).to.deep.equal([]);
  });

  it('answers null when every proxy is leased', async () => {
    expect(await store.acquire(job('job-1'), pool(1), 10_000)).to.not.equal(null);
    expect(await store.acquire(job('job-2', 'acct-2'), pool(1), 10_000)).to.equal(null);
    expect(await store.acquire(job('job-3'), [], 10_000)).to.equal(null);
  });

  it('skips proxies that are not eligible', async () => {
    const candidates = [
      { ...candidate('px-1'), status: 'failed' },
      { ...candidate('px-2'), bannedPlatforms: ['xiaohongshu'] },
    ];
    expect(await store.acquire(job('job-1'), candidates, 10_000)).to.equal(null);
  });

  it('frees a proxy when its lease expires (a crashed worker)', async () => {
    expect(await store.acquire(job('job-1'), pool(1), 200)).to.not.equal(null);
    expect(await store.acquire(job('job-2'), pool(1), 200)).to.equal(null);
    await sleep(300);
    expect(await store.activeLeases()).to.deep.equal([]);
    const lease = await store.acquire(job('job-2'), pool(1), 200);
    expect(lease?.jobId).to.equal('job-2');
  });

  it('renews only a lease its job still holds', async () => {
    const lease = (await store.acquire(job('job-1'), pool(1), 200))!;
    const renewed = await store.renew(lease, 5_000);
    expect(renewed?.jobId).to.equal('job-1');
    expect(Date.parse(renewed!.expiresAt)).to.be.greaterThan(Date.parse(lease.expiresAt));
    await sleep(300);
    expect((await store.activeLeases()).map((l) => l.jobId)).to.deep.equal(['job-1']);

    expect(await store.renew({ ...lease, jobId: 'job-2' }, 60_000)).to.equal(null);
    expect(await connections[0]!.pttl(`${prefix}proxy_lease:px-1`)).to.be.at.most(5_000);
  });

  it('cannot renew a lease that expired and went to another job', async () => {
    const lease = (await store.acquire(job('job-1'), pool(1), 100))!;
    await sleep(200);
    expect(await store.acquire(job('job-2'), pool(1), 10_000)).to.not.equal(null);
    expect(await store.renew(lease, 10_000)).to.equal(null);
    expect(await store.release(lease)).to.equal(false);
    expect((await store.activeLeases()).map((l) => l.jobId)).to.deep.equal(['job-2']);
  });

  it('ignores a release by another job, and frees the proxy on its own job’s release', async () => {
    const lease = (await store.acquire(job('job-1'), pool(1), 10_000))!;
    expect(await store.release({ ...lease, jobId: 'job-2' })).to.equal(false);
    expect((await store.activeLeases()).map((l) => l.jobId)).to.deep.equal(['job-1']);
    expect(await store.acquire(job('job-2'), pool(1), 10_000)).to.equal(null);

    expect(await store.release(lease)).to.equal(true);
    expect(await store.release(lease)).to.equal(false);
    expect(await store.activeLeases()).to.deep.equal([]);
    expect(await store.leasesOfAccount('acct-1')).to.deep.equal([]);
    expect((await store.acquire(job('job-2'), pool(1), 10_000))?.jobId).to.equal('job-2');
  });

  it('never leases one proxy twice: 20 concurrent acquires over 5 proxies on 4 connections', async () => {
    const stores = [store, ...[1, 2, 3].map(() => new RedisProxyLeaseStore(connect(), { prefix }))];
    const leases = await Promise.all(
      Array.from({ length: 20 }, (_, i) => stores[i % stores.length]!.acquire(job(`job-${i}`, `acct-${i % 3}`), pool(5), 10_000)),
    );
    const won = leases.filter((l) => l !== null);
    expect(won).to.have.length(5);
    expect(new Set(won.map((l) => l!.proxyId)).size).to.equal(5);
    const active = await store.activeLeases();
    expect(active.map((l) => l.proxyId)).to.deep.equal(['px-1', 'px-2', 'px-3', 'px-4', 'px-5']);
    expect(active.map((l) => l.jobId).sort()).to.deep.equal(won.map((l) => l!.jobId).sort());
  });

  it('prefers the least recently leased proxy, across processes', async () => {
    const first = (await store.acquire(job('job-1'), pool(2), 10_000))!;
    await store.release(first);
    const other = new RedisProxyLeaseStore(connect(), { prefix });
    const second = (await other.acquire(job('job-2'), pool(2), 10_000))!;
    expect(second.proxyId).to.not.equal(first.proxyId);
    await other.release(second);
    // both used now: the one leased longer ago comes first
    expect((await store.acquire(job('job-3'), pool(2), 10_000))!.proxyId).to.equal(first.proxyId);
    expect([...(await store.lastLeasedAt(['px-1', 'px-2', 'px-9'])).keys()].sort()).to.deep.equal(['px-1', 'px-2']);
  });

  it('refuses a TTL that is not a positive whole number', async () => {
    for (const ttl of [0, -1, 1.5]) {
      let thrown: unknown;
      try {
        await store.acquire(job('job-1'), pool(1), ttl);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).to.be.instanceOf(RangeError);
    }
  });
});

import { expect } from 'chai';
import { selectProxies, type LeaseHolder, type ProxyCandidate } from '../../src/application/proxy-selection.js';

const proxy = (proxyId: string, over: Partial<ProxyCandidate> = {}): ProxyCandidate => ({
  proxyId,
  status: 'healthy',
  region: 'guangdong',
  country: 'CN',
  bannedPlatforms: [],
  successRate: 0.9,
  avgLatencyMs: 200,
  lastLeasedAt: '2025-03-01T10:00:00.000Z',
  ...over,
});

const request = { platform: 'xiaohongshu', platformAccountId: 'acct-1' };
const noLeases = new Map<string, LeaseHolder>();
const ids = (list: ReturnType<typeof selectProxies>) => list.map((e) => e.candidate.proxyId);

describe('proxy lease selection', () => {
  it('offers healthy proxies only', () => {
    const list = selectProxies(
      [proxy('a', { status: 'failed' }), proxy('b'), proxy('c', { status: 'retired' }), proxy('d', { status: 'none' })],
      request,
      noLeases,
    );
    expect(ids(list)).to.deep.equal(['b']);
  });

  it('skips proxies banned for the platform, not those banned for another', () => {
    const list = selectProxies([proxy('a', { bannedPlatforms: ['xiaohongshu'] }), proxy('b', { bannedPlatforms: ['qidian'] })], request, noLeases);
    expect(ids(list)).to.deep.equal(['b']);
  });

  it('matches a requested region against region or country, in any case', () => {
    const candidates = [
      proxy('gd'),
      proxy('bj', { region: 'beijing' }),
      proxy('us', { region: 'california', country: 'US' }),
      proxy('none', { region: null, country: null }),
    ];
    expect(ids(selectProxies(candidates, { ...request, region: 'Guangdong' }, noLeases))).to.deep.equal(['gd']);
    expect(ids(selectProxies(candidates, { ...request, region: 'cn' }, noLeases))).to.deep.equal(['bj', 'gd']);
    expect(ids(selectProxies(candidates, { ...request, region: 'US' }, noLeases))).to.deep.equal(['us']);
  });

  it('takes every region when none is asked', () => {
    const candidates = [proxy('a'), proxy('b', { region: null, country: null })];
    expect(ids(selectProxies(candidates, { ...request, region: null }, noLeases))).to.deep.equal(['a', 'b']);
    expect(ids(selectProxies(candidates, request, noLeases))).to.deep.equal(['a', 'b']);
  });

  it('offers free proxies only while one is free', () => {
    const leases = new Map<string, LeaseHolder>([
      ['a', { platformAccountId: 'acct-1', platform: 'xiaohongshu' }],
      ['b', { platformAccountId: 'acct-2', platform: 'xiaohongshu' }],
    ]);
    const list = selectProxies([proxy('a', { lastLeasedAt: null }), proxy('b', { lastLeasedAt: null }), proxy('c')], request, leases);
    expect(list).to.deep.equal([{ candidate: proxy('c'), availability: 'free' }]);
  });

  it('with nothing free, offers proxies of other accounts before those of the same account', () => {
    const leases = new Map<string, LeaseHolder>([
      ['a', { platformAccountId: 'acct-1', platform: 'xiaohongshu' }],
      ['b', { platformAccountId: 'acct-2', platform: 'qidian' }],
    ]);
    const list = selectProxies([proxy('a', { lastLeasedAt: null }), proxy('b')], request, leases);
    expect(list.map((e) => [e.candidate.proxyId, e.availability])).to.deep.equal([
      ['b', 'other_account'],
      ['a', 'same_account'],
    ]);
  });

  it('orders never leased first, then least recently leased', () => {
    const list = selectProxies(
      [
        proxy('recent', { lastLeasedAt: '2025-03-01T10:05:00.000Z' }),
        proxy('never', { lastLeasedAt: null, successRate: 0.1 }),
        proxy('old', { lastLeasedAt: '2025-03-01T09:00:00.000+00:00', successRate: 0.2 }),
        proxy('older', { lastLeasedAt: '2025-03-01T17:00:00.000+09:00', successRate: 0.2 }),
      ],
      request,
      noLeases,
    );
    expect(ids(list)).to.deep.equal(['never', 'older', 'old', 'recent']);
  });

  it('breaks a tie in last lease by success rate, unknown last', () => {
    const list = selectProxies(
      [proxy('mid', { successRate: 0.8 }), proxy('unknown', { successRate: null }), proxy('best', { successRate: 0.99 }), proxy('low', { successRate: 0.5 })],
      request,
      noLeases,
    );
    expect(ids(list)).to.deep.equal(['best', 'mid', 'low', 'unknown']);
  });

  it('breaks a tie in success rate by latency, unknown last, then by id', () => {
    const list = selectProxies(
      [
        proxy('slow', { avgLatencyMs: 900 }),
        proxy('unknown', { avgLatencyMs: null }),
        proxy('fast-b', { avgLatencyMs: 50 }),
        proxy('fast-a', { avgLatencyMs: 50 }),
      ],
      request,
      noLeases,
    );
    expect(ids(list)).to.deep.equal(['fast-a', 'fast-b', 'slow', 'unknown']);
  });

  it('returns nothing when nothing is eligible', () => {
    expect(selectProxies([proxy('a', { status: 'failed' })], request, noLeases)).to.deep.equal([]);
    expect(selectProxies([], request, noLeases)).to.deep.equal([]);
  });
});

import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { probe, probeAll, type ProbeProxy } from '../../src/adapters/proxies/prober.js';
import { healthCheckOf } from '../../src/application/proxy-health.js';
import { startEchoTarget, type EchoTarget } from '../support/echo-target.js';
import { LocalProxies, type LocalProxy } from '../support/local-proxies.js';

const asProbe = (p: LocalProxy, overrides: Partial<ProbeProxy> = {}): ProbeProxy => ({
  protocol: p.protocol,
  host: p.host,
  port: p.port,
  username: p.username ?? null,
  password: p.password ?? null,
  ...overrides,
});

describe('proxy prober (real local proxies)', () => {
  let target: EchoTarget;
  let open: LocalProxies[] = [];

  before(async () => {
    target = await startEchoTarget();
  });
  afterEach(async () => {
    await Promise.all(open.map((p) => p.stopAll()));
    open = [];
  });
  after(async () => {
    await target.close();
  });

  const start = async (count: number, options: Parameters<typeof LocalProxies.start>[1] = {}) => {
    const proxies = await LocalProxies.start(count, options);
    open.push(proxies);
    return proxies;
  };
  const probeUrl = () => `${target.origin}/probe?n=${randomUUID()}`;

  it('succeeds through an http proxy without auth, and the traffic went through that proxy only', async () => {
    const proxies = await start(2);
    const url = probeUrl();
    const result = await probe(asProbe(proxies.at(0)), url, 3000);
    expect(result.ok, result.error).to.equal(true);
    expect(result.status).to.equal(200);
    expect(result.latencyMs).to.be.a('number').and.to.be.at.least(0);
    // the proxy tunnelled to the target, the other proxy saw nothing, the target got the request
    expect(proxies.at(0).requests.map((r) => [r.method, r.hostname, r.port])).to.deep.equal([['CONNECT', '127.0.0.1', target.port]]);
    expect(proxies.at(1).requests).to.have.length(0);
    expect(proxies.usedFor('127.0.0.1', target.port)).to.deep.equal([proxies.at(0)]);
    expect(target.requests.map((r) => r.url)).to.include(new URL(url).pathname + new URL(url).search);
  });

  it('succeeds through an http proxy with username/password', async () => {
    const proxies = await start(1, { username: 'probe-user', password: 's3cret' });
    const result = await probe(asProbe(proxies.at(0)), probeUrl(), 3000);
    expect(result.ok, result.error).to.equal(true);
    expect(proxies.at(0).requests).to.have.length(1);
    expect(proxies.at(0).requests[0]!.username).to.equal('probe-user');
  });

  it('fails with a wrong password (407), and nothing is forwarded', async () => {
    const proxies = await start(1, { username: 'probe-user', password: 's3cret' });
    const before = target.requests.length;
    const result = await probe(asProbe(proxies.at(0), { password: 'wrong' }), probeUrl(), 3000);
    expect(result.ok).to.equal(false);
    expect(result.error).to.match(/407/);
    expect(result.latencyMs).to.be.a('number');
    expect(proxies.at(0).requests).to.have.length(0);
    expect(proxies.at(0).refused).to.equal(1);
    expect(target.requests.length).to.equal(before);
  });

  it('fails when the proxy is dead (killed)', async () => {
    const proxies = await start(2);
    await proxies.kill(1);
    const dead = await probe(asProbe(proxies.at(1)), probeUrl(), 3000);
    expect(dead.ok).to.equal(false);
    expect(dead.error).to.match(/unreachable|ECONNREFUSED/);
    const alive = await probe(asProbe(proxies.at(0)), probeUrl(), 3000);
    expect(alive.ok).to.equal(true);
  });

  it('reports a timeout with latencyMs null', async () => {
    const proxies = await start(1);
    const result = await probe(asProbe(proxies.at(0)), `${target.origin}/slow?delay=2000`, 300);
    expect(result).to.include({ ok: false, latencyMs: null });
    expect(result.error).to.match(/timed out/);
  });

  it('fails when the target answers an error status', async () => {
    const proxies = await start(1);
    const result = await probe(asProbe(proxies.at(0)), `${target.origin}/x?status=503`, 3000);
    expect(result.ok).to.equal(false);
    expect(result.status).to.equal(503);
  });

  it('speaks SOCKS5, with and without credentials, and fails on a wrong password', async () => {
    const plain = await start(1, { protocol: 'socks5' });
    const authed = await start(1, { protocol: 'socks5', username: 'u', password: 'p' });
    const a = await probe(asProbe(plain.at(0)), probeUrl(), 3000);
    expect(a.ok, a.error).to.equal(true);
    expect(plain.at(0).requests.map((r) => [r.hostname, r.port])).to.deep.equal([['127.0.0.1', target.port]]);
    const b = await probe(asProbe(authed.at(0)), probeUrl(), 3000);
    expect(b.ok, b.error).to.equal(true);
    expect(authed.at(0).requests[0]!.username).to.equal('u');
    const c = await probe(asProbe(authed.at(0), { password: 'nope' }), probeUrl(), 3000);
    expect(c.ok).to.equal(false);
    expect(c.error).to.match(/authentication failed/);
  });

  it('probeAll probes every proxy with bounded concurrency, in input order', async () => {
    const proxies = await start(5);
    await proxies.kill(2);
    const list = proxies.proxies.map((p, i) => ({ ...asProbe(p), id: `px-${i}` }));
    const results = await probeAll(list, probeUrl(), { concurrency: 2, timeoutMs: 3000 });
    expect(results.map((r) => [r.proxy.id, r.result.ok])).to.deep.equal([
      ['px-0', true],
      ['px-1', true],
      ['px-2', false],
      ['px-3', true],
      ['px-4', true],
    ]);
    for (const i of [0, 1, 3, 4]) expect(proxies.at(i).requests).to.have.length(1);
  });

  it('turns a result into the health check to record', () => {
    expect(healthCheckOf('px-1', { ok: true, latencyMs: 42, status: 200 })).to.deep.equal({ proxyId: 'px-1', ok: true, latencyMs: 42, error: null });
    expect(healthCheckOf('px-1', { ok: false, latencyMs: null, error: 'timed out' })).to.deep.equal({
      proxyId: 'px-1',
      ok: false,
      latencyMs: null,
      error: 'timed out',
    });
  });
});

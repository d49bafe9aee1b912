import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { startPlatform, type Platform } from '../support/platform.js';

/** POST /proxies/{id}/probe: a real request through the proxy, now, recorded like a scheduled health check. */
describe('proxy probe on demand (e2e)', function () {
  this.timeout(60_000);
  let platform: Platform;
  let admin: string;
  let proxyId: string;

  before(async () => {
    // threshold 2: two failed probes in a row fail the proxy, one success recovers it
    platform = await startPlatform({ proxies: 1, config: { PROXY_FAILURE_THRESHOLD: '2', PROXY_RECOVERY_THRESHOLD: '1' } });
    admin = await platform.adminToken();
    const p = platform.proxies.at(0);
    const r = await platform.call('POST', '/api/v1/proxies', {
      token: admin,
      body: { host: p.host, port: p.port, protocol: 'http', username: p.username, password: p.password },
    });
    expect(r.status, r.text).to.equal(201);
    proxyId = r.body.data.id;
  });
  after(async () => {
    await platform?.stop();
  });

  const probe = (id: string, token: string | undefined = admin) => platform.call('POST', `/api/v1/proxies/${id}/probe`, token ? { token } : {});

  it('goes through the proxy with its credentials and answers the result', async () => {
    const before = platform.proxies.at(0).requests.length;
    const r = await probe(proxyId);
    expect(r.status, r.text).to.equal(200);
    expect(r.body.data).to.include({ ok: true, error: null, failed: false, recovered: false });
    expect(r.body.data.latency_ms).to.be.a('number');
    expect(platform.proxies.at(0).requests.length, 'the request went through the proxy').to.be.greaterThan(before);
    expect(r.text).not.to.include(platform.proxies.at(0).password!);
  });

  it('fails the proxy after enough failed probes, and recovers it when it works again', async () => {
    const p = platform.proxies.at(0);
    await p.stop();
    const first = await probe(proxyId);
    expect(first.status).to.equal(200);
    expect(first.body.data).to.include({ ok: false, failed: false });
    expect(first.body.data.error).to.be.a('string').and.not.to.include(p.password!);
    const second = await probe(proxyId);
    expect(second.body.data).to.include({ ok: false, failed: true });
    const events = await platform.events(`proxy-${proxyId}`);
    expect(events.map((e) => e.type)).to.include('ProxyFailed');
  });

  it('is for admins only, and 404 for an unknown proxy', async () => {
    expect((await probe(proxyId, '')).status).to.equal(401);
    const user = await platform.signUp('curious');
    expect((await probe(proxyId, user.token)).status).to.equal(403);
    expect((await probe(randomUUID())).status).to.equal(404);
  });
});

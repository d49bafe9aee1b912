import { expect } from 'chai';
import type { Container } from 'inversify';
import { randomInt } from 'node:crypto';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { createApiApp } from '../../src/api-app.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import { TOKENS } from '../../src/tokens.js';
import { testConfig } from '../setup/test-env.js';
import { signedIn } from '../support/signed-in.js';

describe('the general API rate limit (e2e)', () => {
  let container: Container;
  let running: RunningServer;
  let deps: Parameters<typeof signedIn>[0];
  before(async () => {
    // per user 2/s with 2 s of burst (4 at once); per client IP 3/s with 2 s (6 at once); clients told apart behind a trusted proxy
    container = await buildContainer(
      testConfig({ API_RATE_LIMIT_PER_USER: '2', API_RATE_LIMIT_PER_IP: '3', API_RATE_LIMIT_BURST_SECONDS: '2', TRUST_PROXY: 'loopback' }),
    );
    deps = { store: container.get(TOKENS.EventStore), passwordHasher: container.get(TOKENS.PasswordHasher), accessTokens: container.get(TOKENS.AccessTokens) };
    running = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
  });
  after(async () => {
    if (running) await closeServer(running.server);
    if (container) await disposeContainer(container);
  });

  const freshIp = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
  const get = (path: string, headers: Record<string, string>) => fetch(`${running.url}${path}`, { headers });

  it('per user: a burst of four, then 429 RATE_LIMITED with Retry-After; RateLimit-* headers count down; another user is not held back; the bucket refills', async () => {
    const { token } = await signedIn(deps, 'user');
    const remaining: string[] = [];
    for (let i = 0; i < 4; i++) {
      // a new address each time: only the user's bucket is in play
      const res = await get('/api/v1/users/sessions', { Authorization: `Bearer ${token}`, 'X-Forwarded-For': freshIp() });
      expect(res.status, await res.text()).to.equal(200);
      expect(res.headers.get('ratelimit-limit')).to.equal('4');
      remaining.push(res.headers.get('ratelimit-remaining')!);
    }
    expect(remaining).to.deep.equal(['3', '2', '1', '0']);
    const refused = await get('/api/v1/users/sessions', { Authorization: `Bearer ${token}`, 'X-Forwarded-For': freshIp() });
    expect(refused.status).to.equal(429);
    const body = (await refused.json()) as { success: boolean; error: { code: string } };
    expect(body).to.deep.include({ success: false });
    expect(body.error.code).to.equal('RATE_LIMITED');
    expect(Number(refused.headers.get('retry-after'))).to.be.within(1, 2);

    const other = await signedIn(deps, 'user');
    expect((await get('/api/v1/users/sessions', { Authorization: `Bearer ${other.token}`, 'X-Forwarded-For': freshIp() })).status).to.equal(200);

    await new Promise((resolve) => setTimeout(resolve, 600)); // 2 per second: one token back
    expect((await get('/api/v1/users/sessions', { Authorization: `Bearer ${token}`, 'X-Forwarded-For': freshIp() })).status).to.equal(200);
  });

  it('per client IP on every /api/ route, signed in or not; /healthz and the payment callbacks are not limited', async () => {
    // the document is generated on its first request (a second or so with every route): done first, from another address,
    // so the burst below is not slowed down enough for the bucket to refill mid-way
    expect((await get('/api/v1/openapi.json', { 'X-Forwarded-For': freshIp() })).status).to.equal(200);
    const ip = freshIp();
    for (let i = 0; i < 6; i++) expect((await get('/api/v1/openapi.json', { 'X-Forwarded-For': ip })).status).to.equal(200);
    const refused = await get('/api/v1/openapi.json', { 'X-Forwarded-For': ip });
    expect(refused.status).to.equal(429);
    expect(refused.headers.get('retry-after')).to.match(/^\d+$/);
    expect((await get('/api/v1/openapi.json', { 'X-Forwarded-For': freshIp() })).status).to.equal(200);
    expect((await get('/healthz', { 'X-Forwarded-For': ip })).status).to.equal(200);
    const callback = await fetch(`${running.url}/api/v1/payments/callback/alipay`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Forwarded-For': ip },
      body: 'out_trade_no=x',
    });
    expect(callback.status, 'a provider notification is answered in its own format, never 429').to.equal(200);
  });
});

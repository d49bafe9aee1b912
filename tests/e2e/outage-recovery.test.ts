import { expect } from 'chai';
import type { Container } from 'inversify';
import type { Knex } from 'knex';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { createApiApp } from '../../src/api-app.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { ConfigVariable } from '../../src/config.js';
import { usersProjection } from '../../src/projections/users.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import { TOKENS } from '../../src/tokens.js';
import { testConfig, testDatabaseUrl } from '../setup/test-env.js';
import { freePort } from '../support/free-port.js';
import { signedIn } from '../support/signed-in.js';
import { waitFor } from '../support/wait-for.js';

/**
 * The API while Postgres or Redis goes away and comes back: what needs the
 * missing service answers 503 SERVICE_UNAVAILABLE with Retry-After (never a
 * 500), what does not keeps serving, and everything recovers by itself.
 * (A projector killed mid-batch is projector-failover.test.ts.)
 */
async function startApi(overrides: Partial<Record<ConfigVariable, string>> = {}) {
  const container: Container = await buildContainer(testConfig({ LOGIN_RATE_LIMIT_PER_IP: '100000', ...overrides }));
  const running: RunningServer = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
  return {
    container,
    url: running.url,
    async stop() {
      await closeServer(running.server);
      await disposeContainer(container);
    },
  };
}

describe('outages: Postgres connections dropped, Redis down and back (e2e)', function () {
  this.timeout(60_000);

  it('Postgres connections terminated mid-traffic: every answer is a success or a 503 with Retry-After; updates retried until they land leave the stream and the read table right', async () => {
    // the API's sessions carry a name of their own: only they are terminated, nothing else of the test run
    const appName = `outage-${process.pid}`;
    const api = await startApi({ DATABASE_URL: `${testDatabaseUrl}${testDatabaseUrl.includes('?') ? '&' : '?'}application_name=${appName}` });
    const knex: Knex = api.container.get(TOKENS.Knex);
    const store = api.container.get(TOKENS.EventStore);
    const runner = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl }, usersProjection, { idleCheckpointMs: 100, lockRetryMs: 100 });
    runner.start();
    const killer = (await import('pg')).default;
    const admin = new killer.Client({ connectionString: testDatabaseUrl });
    await admin.connect();
    try {
      const { userId, token } = await signedIn(
        { store, passwordHasher: api.container.get(TOKENS.PasswordHasher), accessTokens: api.container.get(TOKENS.AccessTokens) },
        'user',
      );
      const statuses = new Map<number, number>();
      let stopKilling = false;
      // what a Postgres restart does to every session, again and again: bursts of terminations (every 10 ms for 150 ms)
      // with 250 ms between them, in which a new connection (about 12 ms on a slow machine) can carry a request through
      const killing = (async () => {
        while (!stopKilling) {
          const burstEnd = Date.now() + 150;
          while (!stopKilling && Date.now() < burstEnd) {
            await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [appName]);
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      })();
      const names: string[] = [];
      try {
        for (let i = 0; i < 40; i++) {
          const name = `outage ${i}`;
          const deadline = Date.now() + 10_000;
          for (;;) {
            const res = await fetch(`${api.url}/api/v1/users/profile`, {
              method: 'PUT',
              headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
              body: JSON.stringify({ display_name: name }),
            });
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
            if (res.status === 503) expect(res.headers.get('retry-after')).to.equal('2');
            if (res.status === 200) break;
            expect([503, 401], `${res.status}: ${await res.text()}`).to.include(res.status);
            if (Date.now() > deadline) throw new Error(`update ${i} did not land within 10 s: ${res.status} ${JSON.stringify([...statuses])}`);
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
          names.push(name);
        }
      } finally {
        stopKilling = true;
        await killing;
      }
      expect(statuses.get(503) ?? 0, `the outage was seen: ${JSON.stringify([...statuses])}`).to.be.greaterThan(0);
      expect(
        [...statuses.keys()].filter((s) => s >= 500 && s !== 503),
        JSON.stringify([...statuses]),
      ).to.deep.equal([]);
      // each update once, in order: a retry of a landed one would have been a no-op, a lost one is missing
      const updates = (await store.readStream(`user-${userId}`))
        .filter((e) => e.type === 'ProfileUpdated')
        .map((e) => (e.data as { displayName?: string }).displayName);
      expect(updates).to.deep.equal(names);
      await waitFor('the read table to catch up', async () => (await knex('users').where({ id: userId }).first())?.display_name === names.at(-1), 10_000);
    } finally {
      await admin.end();
      await runner.stop();
      await api.stop();
    }
  });

  it('Redis down: login (its limits need Redis) answers 503 with Retry-After, other routes serve on; Redis back: logins work within 10 s', async () => {
    const port = await freePort();
    const api = await startApi({ REDIS_URL: `redis://127.0.0.1:${port}` });
    let redis: ChildProcess | undefined;
    try {
      const deps = {
        store: api.container.get(TOKENS.EventStore),
        passwordHasher: api.container.get(TOKENS.PasswordHasher),
        accessTokens: api.container.get(TOKENS.AccessTokens),
      };
      const { token } = await signedIn(deps, 'user');
      const login = () =>
        fetch(`${api.url}/api/v1/auth/login`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ email: 'nobody@example.test', password: 'wrong password' }),
        });

      const down = await login();
      expect(down.status).to.equal(503);
      expect(down.headers.get('retry-after')).to.equal('2');
      expect(((await down.json()) as { error: { code: string } }).error.code).to.equal('SERVICE_UNAVAILABLE');
      expect(
        (await fetch(`${api.url}/api/v1/users/sessions`, { headers: { Authorization: `Bearer ${token}` } })).status,
        'the rate limit serves on without Redis',
      ).to.equal(200);
      expect((await fetch(`${api.url}/readyz`)).status).to.equal(503);

      redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      await waitFor('logins to work again', async () => (await login()).status === 401, 10_000, 200);
      expect((await fetch(`${api.url}/readyz`)).status).to.equal(200);
    } finally {
      await api.stop();
      redis?.kill('SIGTERM');
      if (redis) await once(redis, 'exit');
    }
  });
});

import { expect } from 'chai';
import { cliBinary, cliInProcess, type CliRun } from '../support/cli-in-process.js';
import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { closeServer, listen, type RunningServer } from '../../src/adapters/http/server.js';
import { LOGIN_IP_PREFIX } from '../../src/adapters/rate-limit/login-rate-limit.js';
import { createApiApp } from '../../src/api-app.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import type { Container } from 'inversify';
import { usersProjection } from '../../src/projections/users.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import { TOKENS } from '../../src/tokens.js';
import { testConfig, testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';
import { waitFor } from '../support/wait-for.js';

/** The real binary: `node --import tsx src/main/cli.ts …` against the test database. */
function cli(args: string[], stdin?: string): Promise<CliRun> {
  return cliBinary(args, { ...process.env, NODE_ENV: 'test', DATABASE_URL: testDatabaseUrl, REDIS_URL: testRedisUrl, LOG_LEVEL: 'silent' }, stdin);
}

const LOCAL_IP_KEYS = ['127.0.0.1', '::ffff:127.0.0.1', '::1'].map((ip) => `${LOGIN_IP_PREFIX}:${ip}`);

describe('cli: users create-admin (e2e, real binary)', function () {
  this.timeout(60_000);
  let container: Container;
  let running: RunningServer;
  let runner: ConsumerRunner;

  before(async () => {
    container = await buildContainer(testConfig({ LOGIN_RATE_LIMIT_PER_IP: '10000' }));
    runner = new ConsumerRunner({ store: container.get(TOKENS.EventStore), knex: container.get(TOKENS.Knex), databaseUrl: testDatabaseUrl }, usersProjection, {
      idleCheckpointMs: 100,
      lockRetryMs: 100,
    });
    runner.start();
    running = await listen(createApiApp(container).callback(), '127.0.0.1', 0);
  });
  after(async () => {
    if (running) await closeServer(running.server);
    await runner?.stop();
    if (container) {
      await container.get(TOKENS.Redis).del(...LOCAL_IP_KEYS);
      await disposeContainer(container);
    }
  });

  async function call(method: string, path: string, options: { body?: unknown; token?: string } = {}) {
    const headers: Record<string, string> = {};
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (options.token) headers.Authorization = `Bearer ${options.token}`;
    const res = await fetch(`${running.url}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
    const text = await res.text();
    return { res, text, body: JSON.parse(text) };
  }

  it('--help works at every level (the binary once, the program in process for the rest)', async () => {
    const binary = await cli(['--help']);
    expect(binary.code, binary.stderr).to.equal(0);
    expect(binary.stdout).to.include('Usage:');
    for (const args of [
      ['users', '--help'],
      ['users', 'create-admin', '--help'],
    ]) {
      const run = await cliInProcess(args);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.include('Usage:');
    }
    expect((await cliInProcess(['users', 'create-admin', '--help'])).stdout).to.include('--password-stdin');
  });

  it('creates an admin who logs in with role admin; the same email again exits 1; the password is never printed', async () => {
    const email = `admin-${randomUUID()}@example.test`;
    const password = `pw-${randomUUID()}`;
    const first = await cli(['users', 'create-admin', '--email', `  ${email.toUpperCase()} `, '--password-stdin', '--display-name', 'Root'], `${password}\n`);
    expect(first.code, first.stderr).to.equal(0);
    const match = /^admin (\S+) created \(user id ([0-9a-f-]{36})\)$/m.exec(first.stdout);
    expect(match, first.stdout).to.not.equal(null);
    expect(match![1]).to.equal(email);
    const userId = match![2];

    // logs in through the API with the stdin password (the trailing newline dropped)
    const loggedIn = await call('POST', '/api/v1/auth/login', { body: { email, password } });
    expect(loggedIn.res.status, loggedIn.text).to.equal(200);
    expect(loggedIn.body.data.user_id).to.equal(userId);
    expect(decodeJwt(loggedIn.body.data.access_token)).to.include({ sub: userId, role: 'admin' });
    let profile: any;
    await waitFor('admin profile projected', async () => {
      const read = await call('GET', '/api/v1/users/profile', { token: loggedIn.body.data.access_token });
      profile = read.body.data;
      return read.res.status === 200;
    });
    expect(profile).to.include({ id: userId, role: 'admin', display_name: 'Root' });

    const again = await cli(['users', 'create-admin', '--email', email, '--password', 'another password']);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.include('already registered');
    expect(again.stdout).to.not.include('created');

    for (const run of [first, again])
      expect(run.stdout + run.stderr)
        .to.not.include(password)
        .and.not.include('another password');
  });

  it('--json output; refuses a missing or short password and a bad email with exit 1 without echoing the password', async () => {
    const email = `admin-json-${randomUUID()}@example.test`;
    const json = await cli(['users', 'create-admin', '--email', email, '--password', 'json password', '--json']);
    expect(json.code, json.stderr).to.equal(0);
    const out = JSON.parse(json.stdout.trim());
    expect(out).to.include({ email, role: 'admin' });
    expect(out.user_id).to.match(/^[0-9a-f-]{36}$/);
    expect(json.stdout).to.not.include('json password');

    const missing = await cli(['users', 'create-admin', '--email', `m-${randomUUID()}@example.test`]);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.include('password is required');
    const short = await cli(['users', 'create-admin', '--email', `s-${randomUUID()}@example.test`, '--password', 'shrt']);
    expect(short.code).to.equal(1);
    expect(short.stderr).to.include('invalid input').and.not.include('shrt');
    const badEmail = await cli(['users', 'create-admin', '--email', 'not-an-email', '--password', 'long enough pw']);
    expect(badEmail.code).to.equal(1);
    expect(badEmail.stderr).to.include('invalid input');
  });
});

import { expect } from 'chai';
import { toPlain } from '../../src/operations/streams.js';
import { userStream } from '../../src/write-model/user/decider.js';
import { cliInProcess } from '../support/cli-in-process.js';
import { startPlatform, type Platform } from '../support/platform.js';
import { testRedisUrl } from '../setup/test-env.js';

/**
 * The operator views (admin stream routes, `streams …`, `audit export`)
 * on what a new user can do to them: sealed secrets and code hashes stay
 * hidden, a revision past the store's 64-bit range is a bad request, and
 * a time that is not ISO-8601 is refused.
 */
describe('operator views: secrets, revision bounds, times (e2e)', function () {
  this.timeout(120_000);
  let platform: Platform;
  let admin: string;
  let alice: { userId: string; token: string };
  let env: NodeJS.ProcessEnv;
  const TOTP_CIPHERTEXT = /"ciphertext"|"iv"|"tag"/;

  before(async () => {
    platform = await startPlatform({ proxies: 0 });
    admin = await platform.adminToken();
    alice = await platform.signUp('alice');
    const enrolled = await platform.call('POST', '/api/v1/users/mfa/totp', { token: alice.token });
    expect(enrolled.status, enrolled.text).to.equal(200);
    env = { ...process.env, NODE_ENV: 'test', DATABASE_URL: platform.config.DATABASE_URL, REDIS_URL: testRedisUrl, LOG_LEVEL: 'silent' };
  });
  after(async () => {
    await platform?.stop();
  });

  const get = (path: string) => platform.call('GET', `/api/v1/admin${path}`, { token: admin });

  it('redacts a sealed TOTP secret in a stream, its state and the audit export', async () => {
    const stream = userStream(alice.userId);
    const events = await get(`/streams/${stream}/events`);
    expect(events.status, events.text).to.equal(200);
    const started = events.body.data.find((e: any) => e.type === 'TotpEnrollmentStarted');
    expect(started, events.text).to.not.equal(undefined);
    expect(started.data.secret).to.equal('[redacted]');
    expect(events.text).to.not.match(TOTP_CIPHERTEXT);

    const state = await get(`/streams/${stream}/state`);
    expect(state.status, state.text).to.equal(200);
    expect(state.body.data.state.totp.secret).to.equal('[redacted]');
    expect(state.text).to.not.match(TOTP_CIPHERTEXT);

    const cli = await cliInProcess(['streams', 'show', stream, '--json'], env);
    expect(cli.code, cli.stderr).to.equal(0);
    expect(cli.stdout).to.not.match(TOTP_CIPHERTEXT);
    const audit = await cliInProcess(['audit', 'export', '--user', alice.userId, '--format', 'json'], env);
    expect(audit.code, audit.stderr).to.equal(0);
    expect(audit.stdout).to.include('TotpEnrollmentStarted').and.not.match(TOTP_CIPHERTEXT);
  });

  it('redacts API key secret hashes, code hashes and sealed boxes under any key; keeps reservation hashes', () => {
    const box = { keyId: 'k1', iv: 'aa', tag: 'bb', ciphertext: 'cc' };
    const shown = toPlain({
      secretHash: 'h1',
      codeHash: 'h2',
      recoveryCodeHashes: ['h3'],
      recoveryCodes: [{ hash: 'h4', used: false }],
      tokens: box,
      sealedText: box,
      emailHash: 'e1',
      usernameHash: 'u1',
    });
    expect(shown).to.deep.equal({
      secretHash: '[redacted]',
      codeHash: '[redacted]',
      recoveryCodeHashes: '[redacted]',
      recoveryCodes: [{ hash: '[redacted]', used: false }],
      tokens: '[redacted]',
      sealedText: '[redacted]',
      emailHash: 'e1',
      usernameHash: 'u1',
    });
  });

  it('answers a revision past 2^63 - 1 with 422 (HTTP) and a usage error (CLI), never a database error', async () => {
    const stream = userStream(alice.userId);
    for (const path of [
      `/streams/${stream}/events?from_revision=9999999999999999999`,
      `/streams/${stream}/state?at=9999999999999999999`,
      // not digits at all: the range check must not trip over them
      `/streams/${stream}/events?from_revision=null`,
      `/streams/${stream}/state?at=%20An`,
    ]) {
      const reply = await get(path);
      expect(reply.status, `${path}: ${reply.text}`).to.equal(422);
      expect(reply.body.error.code).to.equal('VALIDATION_ERROR');
    }
    // the largest revision is in range: the stream simply has no such revision
    expect((await get(`/streams/${stream}/events?from_revision=9223372036854775807`)).body.data).to.deep.equal([]);

    const tooBig = await cliInProcess(['streams', 'state', stream, '--at', '9999999999999999999'], env);
    expect(tooBig.code).to.equal(1);
    expect(tooBig.stderr)
      .to.match(/argument '9999999999999999999' is invalid/)
      .and.include('Usage: cli streams state');
    const largest = await cliInProcess(['streams', 'state', stream, '--at', '9223372036854775807'], env);
    expect(largest.code).to.equal(1);
    expect(largest.stderr).to.match(/^error: stream .* has revisions 0\.\.\d+, not 9223372036854775807$/);
  });

  it('refuses times that are not ISO-8601 calendar days (no silent year 2001 or March 2)', async () => {
    for (const bad of ['5', 'March 7', '2026-02-30']) {
      const run = await cliInProcess(['events', 'search', '--from', bad], env);
      expect(run.code, bad).to.equal(1);
      expect(run.stderr, bad).to.include(`argument '${bad}' is invalid`);
      const audit = await cliInProcess(['audit', 'export', '--user', alice.userId, '--to', bad], env);
      expect(audit.code, bad).to.equal(1);
    }
    const good = await cliInProcess(['events', 'search', '--from', '2020-01-31T08:00:00Z', '--user', alice.userId, '--json'], env);
    expect(good.code, good.stderr).to.equal(0);
    expect(JSON.parse(good.stdout).length).to.be.greaterThan(0);
  });
});

import { expect } from 'chai';
import { createHash } from 'node:crypto';
import knexFactory from 'knex';
import { parkEvent } from '../../src/consumers/dead-letters.js';
import { RebuildAbortedError, rebuildProjection } from '../../src/operations/projections.js';
import { userStream } from '../../src/write-model/user/decider.js';
import { testRedisUrl } from '../setup/test-env.js';
import { cliBinary, cliInProcess, type CliRun } from '../support/cli-in-process.js';
import { startPlatform, type Platform, type Reply } from '../support/platform.js';

/**
 * docs/operations.md, docs/event-store.md and the README's operator parts
 * read as an operator would, checked against the platform: the admin routes
 * over a real socket and the CLI on the same database, with a history
 * written through the API (sign-ups, a profile change, a proxy and a
 * platform account with credentials) and parked events.
 */
describe('operations review (e2e): the operator docs against the CLI and /api/v1/admin', function () {
  this.timeout(180_000);
  let platform: Platform;
  let admin: string;
  let alice: { userId: string; token: string };
  let env: NodeJS.ProcessEnv;
  const proxyPassword = 'px-SECRET-pass-4711';
  const cookieSecret = 'COOKIE-SECRET-0815';
  let refreshToken = '';
  /** every admin route called here, by its OpenAPI path, with the statuses it answered */
  const answered = new Map<string, Set<number>>();

  const record = (method: string, template: string, status: number) => {
    const key = `${method.toLowerCase()} /api/v1/admin${template}`;
    answered.set(key, (answered.get(key) ?? new Set()).add(status));
  };
  /** An admin route by its OpenAPI path (`/streams/{stream}/events`), its parameters filled in; the status is recorded. */
  async function adminCall(method: string, template: string, params: Record<string, string> = {}, query = '', token = admin): Promise<Reply> {
    const path = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name]!));
    const reply = await platform.call(method, `/api/v1/admin${path}${query}`, { token });
    record(method, template, reply.status);
    return reply;
  }
  const cli = (...args: string[]): Promise<CliRun> => cliInProcess(args, env);

  before(async () => {
    // statements give up after 2 s (as DB_STATEMENT_TIMEOUT_MS does in production after 5 min): a blocked one is a 503, not a hang
    platform = await startPlatform({ proxies: 0, config: { DB_STATEMENT_TIMEOUT_MS: '2000' } });
    admin = await platform.adminToken();
    alice = await platform.signUp('alice');
    env = {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATABASE_URL: platform.config.DATABASE_URL,
      REDIS_URL: testRedisUrl,
      QUEUE_PREFIX: platform.config.QUEUE_PREFIX,
    };
    const profile = await platform.call('PUT', '/api/v1/users/profile', { token: alice.token, body: { display_name: 'Alice A.' } });
    expect(profile.status, profile.text).to.equal(200);
    const proxy = await platform.call('POST', '/api/v1/proxies', {
      token: admin,
      body: { host: 'gw-review.example.test', port: 8000, protocol: 'http', username: 'px-user', password: proxyPassword, country: 'cn' },
    });
    expect(proxy.status, proxy.text).to.equal(201);
    const account = await platform.call('POST', '/api/v1/platform-accounts', {
      token: alice.token,
      body: {
        platform: 'xiaohongshu',
        credentials: { cookies: `a1=187d2defea8; webId=abc; gid=yYjK; web_session=040069b${cookieSecret}`, userAgent: 'Mozilla/5.0' },
        display_name: 'main',
      },
    });
    expect(account.status, account.text).to.equal(201);
    const email = (await platform.call('GET', '/api/v1/users/profile', { token: alice.token })).body.data.email as string;
    const login = await platform.call('POST', '/api/v1/auth/login', { body: { email, password: 'correct horse battery' } });
    expect(login.status, login.text).to.equal(200);
    refreshToken = login.body.data.refresh_token;
    // alice's registration, parked by users-v1 and by a version this code no longer has
    const [registered] = await platform.events(userStream(alice.userId));
    const now = new Date();
    for (const consumer of ['users-v1', 'users-v0'])
      await platform.knex.transaction((tx) =>
        parkEvent(tx, { consumer, event: registered!, error: new Error('projection bug'), attempts: 5, firstFailedAt: now, lastFailedAt: now }),
      );
  });
  after(async () => {
    await platform?.stop();
  });

  it('refuses an instant Postgres cannot hold, and a range that ends before it starts, with 422 (not 500)', async () => {
    for (const query of ['?to=0000-01-01T00:00:00Z', '?from=0001-01-01T00:00:00%2B05:00', '?from=9999-12-31T23:00:00-05:00']) {
      const reply = await adminCall('GET', '/events', {}, query);
      expect(reply.status, `${query}: ${reply.text}`).to.equal(422);
      expect(reply.body.error.code).to.equal('VALIDATION_ERROR');
      expect(reply.body.error.details.issues[0]).to.include({ in: 'query' });
    }
    const reversed = await adminCall('GET', '/events', {}, '?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z');
    expect(reversed.status, reversed.text).to.equal(422);
    expect(reversed.body.error.details.issues[0].path).to.deep.equal(['from']);
    // the edges themselves are times like any other
    const whole = await adminCall('GET', '/events', {}, '?from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z&type=UserRegistered');
    expect(whole.status, whole.text).to.equal(200);
    expect(whole.body.data.map((e: { type: string }) => e.type)).to.include('UserRegistered');

    const users = await adminCall('GET', '/users', {}, '?registered_from=0000-01-01T00:00:00Z');
    expect(users.status, users.text).to.equal(422);
    expect(users.body.error.details.issues[0].path).to.deep.equal(['registered_from']);
    expect((await adminCall('GET', '/users', {}, '?registered_to=0000-12-31T23:00:00Z')).status).to.equal(422);
    expect((await adminCall('GET', '/users', {}, '?registered_from=0001-01-01T00:00:00Z')).status).to.equal(200);
  });

  it('refuses a dead-letter consumer filter no one knows, as the CLI does, and keeps an old version reachable', async () => {
    const typo = await adminCall('GET', '/dead-letters', {}, '?consumer=user-v1');
    expect(typo.status, typo.text).to.equal(422);
    expect(typo.body.error.code).to.equal('VALIDATION_ERROR');
    const [issue] = typo.body.error.details.issues;
    expect(issue).to.include({ in: 'query', code: 'unknown_consumer' });
    expect(issue.path).to.deep.equal(['consumer']);
    expect(issue.message).to.contain('unknown consumer "user-v1"').and.contain('users-v1');
    const cliTypo = await cli('consumers', 'dead-letters', 'list', '--consumer', 'user-v1');
    expect(cliTypo.code).to.equal(1);
    expect(cliTypo.stderr).to.contain('error: unknown consumer "user-v1"');

    const old = await adminCall('GET', '/dead-letters', {}, '?consumer=users-v0');
    expect(old.status, old.text).to.equal(200);
    expect(old.body.data.map((l: { consumer: string }) => l.consumer)).to.deep.equal(['users-v0']);
    // a consumer of this code with nothing parked: an empty list, not an error
    const none = await adminCall('GET', '/dead-letters', {}, '?consumer=proxies-v1');
    expect(none.status, none.text).to.equal(200);
    expect(none.body.data).to.deep.equal([]);
  });

  it('takes a position as a wrong call when it is not <commit>-<prepare> within 64 bits, before touching anything', async () => {
    for (const args of [
      ['replay', '--consumer', 'users-v1', '--from', '1-99999999999999999999', '--dry-run'],
      ['replay', '--consumer', 'users-v1', '--from', 'garbage', '--dry-run'],
      ['events', 'tail', '--from', '18446744073709551616-0'],
      ['events', 'tail', '--from', 'garbage'],
    ]) {
      const run = await cli(...args);
      expect(run.code, args.join(' ')).to.equal(1);
      expect(run.stderr, args.join(' ')).to.match(/^error: option '--from <position>' argument '.+' is invalid\. a position is <commit>-<prepare>/);
      expect(run.stderr, args.join(' ')).to.contain('Usage:').and.not.contain('out of range').and.not.contain('tailing');
    }
    // the largest a position can be is one: ahead of the checkpoint, so the replay says why it refuses
    const ahead = await cli('replay', '--consumer', 'users-v1', '--from', '18446744073709551615-9223372036854775807', '--dry-run');
    expect(ahead.code).to.equal(1);
    expect(ahead.stderr).to.match(/^error: users-v1 is at \d+-\d+: from 18446744073709551615-9223372036854775807 would skip events, not replay them$/);
    const fromStart = await cli('replay', '--consumer', 'users-v1', '--from', 'start', '--dry-run', '--json');
    expect(fromStart.code, fromStart.stderr).to.equal(0);
    expect(JSON.parse(fromStart.stdout)).to.include({ consumer: 'users-v1', from: 'start', dryRun: true });
  });

  it('refuses a streams page larger than the 1000 its help promises, instead of cutting it quietly', async () => {
    const tooLarge = await cli('streams', 'list', '--per-page', '1001');
    expect(tooLarge.code).to.equal(1);
    expect(tooLarge.stderr).to.contain("argument '1001' is invalid. a whole number from 1 to 1000").and.contain('Usage:');
    const largest = await cli('streams', 'list', '--per-page', '1000', '--json');
    expect(largest.code, largest.stderr).to.equal(0);
    expect(JSON.parse(largest.stdout).items.length).to.be.above(0);
  });

  it('refuses an events search whose --from is after its --to, as GET /admin/events does, instead of finding nothing', async () => {
    const backwards = await cli('events', 'search', '--from', '2026-12-02T00:00:00Z', '--to', '2026-12-01T00:00:00Z');
    expect(backwards.code).to.equal(1);
    expect(backwards.stderr).to.contain('--from is after --to').and.contain('Usage:');
    const forwards = await cli('events', 'search', '--from', '2026-12-01T00:00:00Z', '--to', '2026-12-02T00:00:00Z', '--json');
    expect(forwards.code, forwards.stderr).to.equal(0);
  });

  it('prints ? for the total and the ETA of a long command that cannot know them (plain progress lines on stderr)', async () => {
    // the real binary: its stderr is a pipe, as in a script, so progress comes as plain lines
    const run = await cliBinary(['audit', 'export', '--user', alice.userId, '--format', 'json'], env);
    expect(run.code, run.stderr).to.equal(0);
    expect(JSON.parse(run.stdout).length).to.be.above(0);
    expect(run.stderr).to.match(new RegExp(`^audit ${alice.userId}: \\d+/\\? events, \\d+ ev/s, ETA \\?$`, 'm'));
    expect(run.stderr).to.match(new RegExp(`^audit ${alice.userId}: \\d+ events in \\d+\\.\\d s$`, 'm'));
  });

  it('keeps the tables in one column of `projections list` while a rebuild is not running', async () => {
    const ops = { store: platform.store, knex: platform.knex, databaseUrl: platform.config.DATABASE_URL, timeZone: platform.config.QUOTA_TIME_ZONE };
    const abort = new AbortController();
    // interrupted at its first report: its shadow schema stays, and nobody runs it
    await rebuildProjection(ops, 'proxies-v1', { signal: abort.signal, onProgress: () => abort.abort() }).then(
      () => expect.fail('the rebuild should have stopped'),
      (error: unknown) => expect(error).to.be.instanceOf(RebuildAbortedError),
    );
    const list = await cli('projections', 'list');
    expect(list.code, list.stderr).to.equal(0);
    const lines = list.stdout.split('\n');
    expect(lines.find((l) => l.startsWith('proxies-v1 '))).to.contain('rebuilding (not running)');
    const tablesAt = new Set(lines.map((line) => line.search(/ {2}[a-z_]+(, [a-z_]+)*$/)));
    expect([...tablesAt], list.stdout).to.have.length(1);
  });

  it('shows no secret in any event view, state, audit or dead letter: passwords, tokens, cookies, proxy credentials', async () => {
    const seen: string[] = [];
    const events = await adminCall('GET', '/events', {}, '?limit=1000');
    expect(events.status, events.text).to.equal(200);
    seen.push(events.text);
    const streams = await adminCall('GET', '/streams', {}, '?per_page=100');
    for (const { stream } of streams.body.data.items as { stream: string }[]) {
      seen.push((await adminCall('GET', '/streams/{stream}/events', { stream })).text);
      seen.push((await adminCall('GET', '/streams/{stream}/state', { stream })).text);
    }
    seen.push((await adminCall('GET', '/dead-letters', {}, '?status=all')).text);
    for (const args of [
      ['audit', 'export', '--user', alice.userId, '--format', 'json'],
      ['events', 'search', '--stream-prefix', 'proxy-', '--json'],
      ['streams', 'state', userStream(alice.userId), '--json'],
    ]) {
      const run = await cli(...args);
      expect(run.code, run.stderr).to.equal(0);
      seen.push(run.stdout);
    }
    const all = seen.join('\n');
    expect(all).to.contain('[redacted]');
    const refreshHash = createHash('sha256').update(refreshToken).digest('hex');
    for (const secret of [proxyPassword, cookieSecret, 'correct horse battery', '$argon2', admin, alice.token, refreshToken, refreshHash]) {
      expect(all.includes(secret), `an operator view shows ${secret.slice(0, 12)}…`).to.equal(false);
    }
  });

  it('answers 503 on the live queue stream while Postgres cannot answer, as its OpenAPI declaration says', async () => {
    const locker = knexFactory({ client: 'pg', connection: platform.config.DATABASE_URL, pool: { min: 0, max: 1 } });
    try {
      // the admin's session was checked moments ago: that answer is kept a second
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      await locker.transaction(async (tx) => {
        // nobody reads the event store meanwhile: the session's standing cannot be read within the statement timeout
        await tx.raw('LOCK TABLE es_events IN ACCESS EXCLUSIVE MODE');
        const res = await fetch(`${platform.url}/api/v1/admin/queues/live`, { headers: { Authorization: `Bearer ${admin}` } });
        record('GET', '/queues/live', res.status);
        const body = JSON.parse(await res.text());
        expect(res.status, JSON.stringify(body)).to.equal(503);
        expect(body.error.code).to.equal('SERVICE_UNAVAILABLE');
        expect(res.headers.get('retry-after')).to.equal('2');
      });
    } finally {
      await locker.destroy();
    }
    const doc = (await platform.call('GET', '/api/v1/openapi.json')).body;
    expect(Object.keys(doc.paths['/api/v1/admin/queues/live'].get.responses)).to.include('503');
    // and once it can, the stream flows
    const controller = new AbortController();
    const live = await fetch(`${platform.url}/api/v1/admin/queues/live`, { headers: { Authorization: `Bearer ${admin}` }, signal: controller.signal });
    record('GET', '/queues/live', live.status);
    expect(live.status).to.equal(200);
    controller.abort();
  });

  it('declares in the OpenAPI document every status the admin routes answered here, and none of them was a 500', async () => {
    const doc = (await platform.call('GET', '/api/v1/openapi.json')).body as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    expect(answered.size).to.be.above(5);
    for (const [key, statuses] of answered) {
      const [method, path] = key.split(' ') as [string, string];
      const declared = Object.keys(doc.paths[path]?.[method]?.responses ?? {}).map(Number);
      expect(declared, `${key} is in the document`).not.to.deep.equal([]);
      for (const status of statuses) {
        expect(status, key).not.to.equal(500);
        expect(declared, `${key} answered ${status}`).to.include(status);
      }
    }
  });
});

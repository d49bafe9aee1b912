import { expect } from 'chai';
import { testRedisUrl } from '../setup/test-env.js';
import { cliInProcess, type CliRun } from '../support/cli-in-process.js';
import { startPlatform, type Platform } from '../support/platform.js';

/**
 * docs/operations.md and the admin routes of docs/http-api.md read claim by
 * claim as a new operator would, with only the docs and the OpenAPI
 * document: bad input to the admin API and the CLI, refusals that must
 * write nothing, and what an admin listing must never show.
 */
describe('operations docs review (e2e): bad input to /api/v1/admin and the CLI', function () {
  this.timeout(60_000);
  let platform: Platform;
  let admin: string;
  let alice: { userId: string; token: string };
  let env: NodeJS.ProcessEnv;
  const cli = (...args: string[]): Promise<CliRun> => cliInProcess(args, env);
  const adminGet = (path: string, token = admin) => platform.call('GET', `/api/v1/admin${path}`, { token });

  before(async () => {
    platform = await startPlatform({ proxies: 0 });
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
  });
  after(async () => platform?.stop());

  it('refuses an audit export whose --from is after its --to as a wrong call, as events search does, instead of exporting nothing', async () => {
    const reversed = await cli('audit', 'export', '--user', alice.userId, '--from', '2026-02-01T00:00:00Z', '--to', '2026-01-01T00:00:00Z', '--format', 'csv');
    expect(reversed.code).to.equal(1);
    expect(reversed.stdout).to.equal('');
    expect(reversed.stderr).to.match(/^error: --from is after --to/);
    expect(reversed.stderr).to.include('Usage: cli audit export');
    // the same period the right way round exports alice's registration
    const period = await cli('audit', 'export', '--user', alice.userId, '--from', '2000-01-01T00:00:00Z', '--to', '2999-01-01T00:00:00Z', '--format', 'json');
    expect(period.code, period.stderr).to.equal(0);
    expect(JSON.parse(period.stdout).map((e: any) => e.type)).to.include('UserRegistered');
  });

  it('takes a dead-letter id that is not a row number as a wrong call (usage, exit 1), as the admin API answers 422, and an unknown number as not found', async () => {
    for (const command of ['retry', 'skip']) {
      const malformed = await cli('consumers', 'dead-letters', command, 'abc');
      expect(malformed.code, command).to.equal(1);
      expect(malformed.stderr, command).to.match(/^error: command-argument value 'abc' is invalid/);
      expect(malformed.stderr, command).to.include(`Usage: cli consumers dead-letters ${command}`);
      const unknown = await cli('consumers', 'dead-letters', command, '999999');
      expect(unknown.code, command).to.equal(1);
      expect(unknown.stderr, command).to.equal('error: no dead letter 999999');
      const api = await platform.call('POST', `/api/v1/admin/dead-letters/abc/${command}`, { token: admin });
      expect(api.status).to.equal(422);
    }
  });

  it('answers bad input to the admin routes with 422 naming the parameter, unknown names with 404, never 500', async () => {
    const u = alice.userId;
    const cases: [string, number, string?][] = [
      ['/users?role=bogus', 422, 'role'],
      ['/users?status=bogus', 422, 'status'],
      ['/users?email_verified=maybe', 422, 'email_verified'],
      ['/users?per_page=101', 422, 'per_page'],
      ['/users?page=0', 422, 'page'],
      ['/users?q=a%00b', 422, 'q'],
      ['/users?registered_from=99999-01-01T00:00:00Z', 422, 'registered_from'],
      ['/users/not-a-uuid', 422, 'id'],
      ['/users/00000000-0000-4000-8000-000000000000', 404],
      ['/streams?per_page=101', 422, 'per_page'],
      ['/streams?page=99999999999999999999', 422, 'page'],
      ['/streams?prefix=%00', 422, 'prefix'],
      [`/streams/user-${u}/events?from_revision=-1`, 422, 'from_revision'],
      [`/streams/user-${u}/events?from_revision=99999999999999999999999`, 422, 'from_revision'],
      [`/streams/user-${u}/events?limit=1.5`, 422, 'limit'],
      [`/streams/user-${u}/state?at=abc`, 422, 'at'],
      ['/streams/a%00b/state', 422, 'stream'],
      ['/correlations/x?from_position=1-', 422, 'from_position'],
      ['/events?type=%00', 422, 'type'],
      ['/events?from=2026-01-01', 422, 'from'],
      ['/projections/users', 404],
      ['/rebuilds/nope', 404],
      ['/dead-letters?status=bogus', 422, 'status'],
      ['/dead-letters/-1', 422, 'id'],
      ['/dead-letters/99999999999999999999', 422, 'id'],
    ];
    for (const [path, status, param] of cases) {
      const reply = await adminGet(path);
      expect(reply.status, `${path}: ${reply.text}`).to.equal(status);
      if (param) {
        expect(reply.body.error.code, path).to.equal('VALIDATION_ERROR');
        expect(
          reply.body.error.details.issues.map((i: any) => i.path[0]),
          path,
        ).to.include(param);
      } else expect(reply.body.error.code, path).to.equal('NOT_FOUND');
    }
    const state = await adminGet(`/streams/user-${u}/state?at=999`);
    expect(state.status).to.equal(404);
    expect(state.body.error.details).to.deep.equal({ last_revision: '0' });
    // a `prefix` is the start of a name, not a LIKE pattern: % and _ match only themselves
    for (const prefix of ['%25', '_']) {
      const reply = await adminGet(`/streams?prefix=${prefix}`);
      expect(reply.status).to.equal(200);
      expect(reply.body.data.pagination.total, prefix).to.equal(0);
    }
  });

  it('writes nothing for a refused change: a suspend without a valid reason, an unknown role, a non-admin pausing a queue', async () => {
    const stream = `user-${alice.userId}`;
    const before = (await platform.events(stream)).length;
    for (const body of [{}, { reason: 5 }, { reason: 'a\u0000b' }, { reason: 'x'.repeat(501) }]) {
      const reply = await platform.call('POST', `/api/v1/admin/users/${alice.userId}/suspend`, { token: admin, body });
      expect(reply.status, JSON.stringify(body)).to.equal(422);
      expect(reply.body.error.details.issues[0].path).to.deep.equal(['reason']);
    }
    const role = await platform.call('PUT', `/api/v1/admin/users/${alice.userId}/role`, { token: admin, body: { role: 'god' } });
    expect(role.status).to.equal(422);
    const unknown = await platform.call('POST', '/api/v1/admin/users/00000000-0000-4000-8000-000000000000/suspend', { token: admin, body: { reason: 'x' } });
    expect(unknown.status).to.equal(404);
    expect((await platform.events(stream)).length).to.equal(before);
    // alice can still act
    expect((await platform.call('GET', '/api/v1/users/profile', { token: alice.token })).status).to.equal(200);

    const pause = await platform.call('POST', '/api/v1/admin/queues/mail/pause', { token: alice.token });
    expect(pause.status).to.equal(403);
    expect(pause.body.error.code).to.equal('PERMISSION_DENIED');
    const queues = await adminGet('/queues');
    expect(queues.body.data.queues.find((q: any) => q.name === 'mail').paused).to.equal(false);
    const interventions = await platform.knex('es_events').where('stream_name', 'like', 'queue\\_intervention-%').count<{ count: string }[]>({ count: '*' });
    expect(Number(interventions[0]!.count)).to.equal(0);
    // an unknown queue is 404 naming the known ones; an object's own property names are not queues
    for (const name of ['nope', '__proto__', 'constructor']) {
      const reply = await platform.call('POST', `/api/v1/admin/queues/${name}/pause`, { token: admin });
      expect(reply.status, name).to.equal(404);
      expect(reply.body.error.details.queues, name).to.include('mail');
    }
  });

  it('shows no password hash or token in the admin user list or one user', async () => {
    const list = await adminGet(`/users?q=${encodeURIComponent('alice')}`);
    expect(list.status).to.equal(200);
    const one = await adminGet(`/users/${alice.userId}`);
    expect(one.status).to.equal(200);
    for (const text of [list.text, one.text]) {
      expect(text).not.to.match(/password|\$argon2|\$2[aby]\$|scrypt|token_hash|refresh/i);
      expect(text).not.to.include('correct horse battery');
    }
  });
});

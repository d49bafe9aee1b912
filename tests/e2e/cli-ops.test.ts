import { expect } from 'chai';
import { cliInProcess } from '../support/cli-in-process.js';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Container } from 'inversify';
import knexFactory from 'knex';
import { ensureDatabase } from '../../src/adapters/db/ensure-database.js';
import { runMigrations } from '../../src/adapters/db/migrate.js';
import { registerUser } from '../../src/application/register-user.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import { formatPosition } from '../../src/event-store/position.js';
import { createFreePlansOnRegistration, FREE_PLANS_ON_REGISTRATION } from '../../src/process-managers/index.js';
import { readCheckpoint } from '../../src/consumers/checkpoints.js';
import { TOKENS } from '../../src/tokens.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { subscriptionStream } from '../../src/write-model/subscription/decider.js';
import { userAggregate, userStream } from '../../src/write-model/user/decider.js';
import { testConfig, testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';
import { waitFor } from '../support/wait-for.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The operator commands through the real binary
 * (`node --import tsx src/main/cli.ts …`) against a database of their own,
 * seeded by the real code: a sign-up (src/application/register-user.ts) and
 * the free-plans process manager run to the head.
 */
describe('cli: streams, events, replay, audit (e2e, real binary)', function () {
  this.timeout(120_000);
  const id = randomUUID().replaceAll('-', '').slice(0, 10);
  const url = new URL(testDatabaseUrl);
  url.pathname = `/collector_ops_${id}`;
  const databaseUrl = url.toString();
  let container: Container;
  let userId: string;
  const requestId = randomUUID();

  function start(args: string[]): ChildProcessWithoutNullStreams {
    return spawn(process.execPath, ['--import', 'tsx', 'src/main/cli.ts', ...args], {
      cwd: process.cwd(),
      env: { ...process.env, NODE_ENV: 'test', DATABASE_URL: databaseUrl, REDIS_URL: testRedisUrl, LOG_LEVEL: 'silent' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  }
  function cli(args: string[]): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = start(args);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end();
    });
  }
  const json = async (args: string[]) => {
    const run = await cli([...args, '--json']);
    expect(run.code, run.stderr).to.equal(0);
    return JSON.parse(run.stdout);
  };

  before(async () => {
    await ensureDatabase(databaseUrl);
    const migrator = knexFactory({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 2 } });
    try {
      await runMigrations(migrator);
    } finally {
      await migrator.destroy();
    }
    container = await buildContainer(testConfig({ DATABASE_URL: databaseUrl }));
    const store = container.get(TOKENS.EventStore);
    const registered = await registerUser(
      { store, passwordHasher: container.get(TOKENS.PasswordHasher) },
      {
        email: `ops-${id}@example.test`,
        password: 'a good password',
        displayName: 'Ops',
        role: 'user',
        context: { correlationId: requestId, causationId: requestId, requestId },
      },
    );
    userId = registered.userId;
    await runConsumerToHead({ store, knex: container.get(TOKENS.Knex), databaseUrl }, createFreePlansOnRegistration({ store }));
  });
  after(async () => {
    if (container) await disposeContainer(container);
    const admin = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 1 } });
    try {
      await admin.raw(`DROP DATABASE IF EXISTS "collector_ops_${id}" WITH (FORCE)`);
    } finally {
      await admin.destroy();
    }
  });

  it('--help works for every command', async () => {
    const runs = await Promise.all(
      [
        ['streams', '--help'],
        ['streams', 'show', '--help'],
        ['streams', 'state', '--help'],
        ['events', 'tail', '--help'],
        ['events', 'search', '--help'],
        ['replay', '--help'],
        ['audit', 'export', '--help'],
      ].map((args) => cliInProcess(args)),
    );
    for (const run of runs) {
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.include('Usage:');
    }
    expect(runs[2]!.stdout).to.include('--at <revision>');
    expect(runs[5]!.stdout).to.include('--dry-run');
  });

  it('streams show: revision, type, time and metadata; streams state --at folds to that revision', async () => {
    const [text, events, user0, sub0, missing] = await Promise.all([
      cli(['streams', 'show', userStream(userId)]),
      json(['streams', 'show', userStream(userId)]),
      json(['streams', 'state', userStream(userId), '--at', '0']),
      json(['streams', 'state', subscriptionStream(userId, 'qidian'), '--at', '0']),
      cli(['streams', 'show', 'user-nobody']),
    ]);
    expect(text.code, text.stderr).to.equal(0);
    expect(text.stdout).to.match(/^#0 {2}UserRegistered {2}\d{4}-\d\d-\d\dT/m);
    expect(text.stdout).to.include(`"requestId":"${requestId}"`).and.include('"passwordHash":"[redacted]"');
    expect(events.map((e: any) => e.type)).to.deep.equal(['UserRegistered']);
    expect(events[0].metadata).to.deep.equal({ $correlationId: requestId, $causationId: requestId, requestId, userId, schemaVersion: 1 });
    expect(user0).to.include({ aggregate: 'user', revision: '0', events: 1 });
    expect(user0.state.account.profile.displayName).to.equal('Ops');
    expect(sub0).to.include({ aggregate: 'subscription', revision: '0' });
    expect(sub0.event.metadata).to.include({ userId: `pm:${FREE_PLANS_ON_REGISTRATION}`, $correlationId: requestId });
    expect(sub0.state).to.not.equal(null);
    expect(missing.code).to.equal(1);
    expect(missing.stderr).to.include('not found');
  });

  it('events search --correlation follows the request across aggregates; --user and --type too', async () => {
    const [byCorrelation, byUser, byType, none] = await Promise.all([
      json(['events', 'search', '--correlation', requestId]),
      cli(['events', 'search', '--user', `pm:${FREE_PLANS_ON_REGISTRATION}`]),
      json(['events', 'search', '--type', 'EmailReserved,UserRegistered', '--from', '2000-01-01', '--to', '2999-01-01']),
      cli(['events', 'search']),
    ]);
    expect(byCorrelation.map((e: any) => `${e.stream.split('-')[0]}:${e.type}`)).to.deep.equal([
      'user_email:EmailReserved',
      'user:UserRegistered',
      'subscription:SubscriptionStarted',
      'subscription:SubscriptionStarted',
    ]);
    expect(byUser.code, byUser.stderr).to.equal(0);
    expect(byUser.stdout).to.include('2 events').and.include(`why=${byCorrelation[1].id} request=${requestId}`);
    expect(byType.map((e: any) => e.type)).to.deep.equal(['EmailReserved', 'UserRegistered']);
    expect(none.code).to.equal(1);
    expect(none.stderr).to.include('at least one');
  });

  it('events tail prints an event appended while it runs, and stops on a signal', async () => {
    const child = start(['events', 'tail', '--type', 'ProfileUpdated', '--stream-prefix', 'user-']);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await waitFor('tail started', () => stderr.includes('tailing'), 30_000);
      await handle(
        container.get(TOKENS.EventStore),
        userAggregate,
        userId,
        { type: 'UpdateProfile', userId, displayName: 'Tailed', now: new Date().toISOString() },
        {
          context: { correlationId: 'req-tail', causationId: 'req-tail', actor: userId, requestId: 'req-tail' },
        },
      );
      await waitFor('the tailed event', () => stdout.includes('ProfileUpdated'), 15_000);
      expect(stdout).to.include(`${userStream(userId)}@1  ProfileUpdated  who=${userId} why=req-tail request=req-tail correlation=req-tail`);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await closed, stderr).to.equal(0);
  });

  it('replay --dry-run lists what would be re-delivered and changes nothing; without it the checkpoint moves back', async () => {
    const knex = container.get(TOKENS.Knex);
    const registered = (await container.get(TOKENS.EventStore).readStream(userStream(userId)))[0]!;
    const before = await readCheckpoint(knex, FREE_PLANS_ON_REGISTRATION);
    const from = formatPosition(registered.position);

    const dry = await cli(['replay', '--consumer', FREE_PLANS_ON_REGISTRATION, '--from', from, '--dry-run']);
    expect(dry.code, dry.stderr).to.equal(0);
    expect(dry.stdout).to.include('1 events would be re-delivered').and.include('UserRegistered').and.include('dry run: nothing changed');
    expect(await readCheckpoint(knex, FREE_PLANS_ON_REGISTRATION)).to.deep.equal(before);

    const real = await json(['replay', '--consumer', FREE_PLANS_ON_REGISTRATION, '--from', from]);
    expect(real).to.include({ dryRun: false, count: 1, checkpointBefore: formatPosition(before) });
    const after = await readCheckpoint(knex, FREE_PLANS_ON_REGISTRATION);
    expect(formatPosition(after)).to.equal(real.checkpointAfter);
    expect(after.commit < registered.position.commit || (after.commit === registered.position.commit && after.prepare < registered.position.prepare)).to.equal(
      true,
    );
    // the process manager re-driven: it handles the registration again and writes nothing new (idempotent)
    await runConsumerToHead(
      { store: container.get(TOKENS.EventStore), knex, databaseUrl },
      createFreePlansOnRegistration({ store: container.get(TOKENS.EventStore) }),
    );
    expect(await container.get(TOKENS.EventStore).readStream(subscriptionStream(userId, 'qidian'))).to.have.length(1);

    const [unknown, skipping] = await Promise.all([
      cli(['replay', '--consumer', 'nope', '--from', 'start', '--dry-run']),
      cli(['replay', '--consumer', 'users-v1', '--from', formatPosition(after), '--dry-run']),
    ]);
    expect(unknown.code).to.equal(1);
    expect(unknown.stderr).to.include('unknown consumer').and.include(FREE_PLANS_ON_REGISTRATION);
    expect(skipping.code).to.equal(1);
    expect(skipping.stderr).to.include('would skip events');
  });

  it('audit export --format csv and json: who, why, request, when', async () => {
    const file = join(tmpdir(), `audit-${id}.json`);
    const [csv, toFile] = await Promise.all([
      cli(['audit', 'export', '--user', userId, '--from', '2000-01-01', '--to', '2999-01-01', '--format', 'csv']),
      cli(['audit', 'export', '--user', userId, '--format', 'json', '--output', file]),
    ]);
    expect(csv.code, csv.stderr).to.equal(0);
    const lines = csv.stdout.trim().split('\n');
    expect(lines[0]).to.equal('when,position,stream,revision,type,event_id,who,relation,why,correlation_id,request_id,data');
    expect(lines.filter((l) => l.includes(',UserRegistered,'))[0]).to.include(`,${userId},both,${requestId},${requestId},${requestId},`);
    expect(lines.some((l) => l.includes(`,pm:${FREE_PLANS_ON_REGISTRATION},subject,`))).to.equal(true);
    expect(toFile.code, toFile.stderr).to.equal(0);
    expect(toFile.stderr).to.match(/\d+ events written to /);
    const rows = JSON.parse(await readFile(file, 'utf8'));
    await rm(file);
    expect(rows.map((r: any) => r.type)).to.include.members(['EmailReserved', 'UserRegistered', 'SubscriptionStarted', 'ProfileUpdated']);
    for (const row of rows)
      expect(row).to.have.keys('when', 'position', 'stream', 'revision', 'type', 'event_id', 'who', 'relation', 'why', 'correlation_id', 'request_id', 'data');
    const bad = await cli(['audit', 'export', '--user', userId, '--format', 'xml']);
    expect(bad.code).to.not.equal(0);
  });
});

import { expect } from 'chai';
import { cliBinary, cliInProcess, type CliRun } from '../support/cli-in-process.js';
import { randomUUID } from 'node:crypto';
import type { Container } from 'inversify';
import knexFactory from 'knex';
import { registerProxy } from '../../src/application/proxies.js';
import { buildContainer, disposeContainer } from '../../src/container.js';
import { comparePositions } from '../../src/event-store/position.js';
import { prepareDatabase } from '../../src/main/boot.js';
import { proxiesProjection } from '../../src/projections/proxies.js';
import { readCheckpoint } from '../../src/consumers/checkpoints.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import { parkEvent } from '../../src/consumers/dead-letters.js';
import { listDeadLetters } from '../../src/operations/dead-letters.js';
import type { Consumer } from '../../src/consumers/consumer.js';
import { LockKeeper } from '../../src/consumers/lock-keeper.js';
import { TOKENS } from '../../src/tokens.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { testConfig, testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';
import { waitFor } from '../support/wait-for.js';

/**
 * `consumers status` and `consumers dead-letters list | retry | skip`
 * through the CLI's own entry (runCli, in-process) on a database of their own:
 * the proxies projection, broken for two proxies' registrations, parks them
 * while it runs; the retry goes through the real proxies projection.
 */
describe('cli: consumers status, dead letters (e2e)', function () {
  this.timeout(120_000);
  const url = new URL(testDatabaseUrl);
  url.pathname = `/collector_consumers_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
  const databaseUrl = url.toString();
  const env = {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl,
    REDIS_URL: testRedisUrl,
    QUEUE_PREFIX: `test-cli-consumers-${randomUUID().slice(0, 8)}`,
  };
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  let container: Container;
  let runner: ConsumerRunner;
  let locks: LockKeeper;
  const broken = new Set<string>();
  const proxies: string[] = [];

  const cli = (...args: string[]) => cliInProcess(args, env);
  /** The real binary, logging as an operator's would (warnings): what reaches its stdout and stderr. */
  const binary = (...args: string[]): Promise<CliRun> => cliBinary(args, { ...process.env, ...env, LOG_LEVEL: 'warn' });

  before(async () => {
    const config = testConfig(env);
    container = await buildContainer(config);
    const knex = container.get(TOKENS.Knex);
    const store = container.get(TOKENS.EventStore);
    await prepareDatabase(config, knex, container.get(TOKENS.Logger));
    for (let i = 0; i < 5; i++) {
      const { proxyId } = await registerProxy(
        { store, context, secretBox: container.get(TOKENS.SecretBox) },
        { host: '127.0.0.1', port: 10_000 + i, protocol: 'http', registeredBy: 'test' },
      );
      proxies.push(proxyId);
    }
    broken.add(proxies[1]!).add(proxies[3]!);
    // the proxies projection with a bug for two of them
    const buggy: Consumer = {
      ...proxiesProjection,
      async handle(events, ctx) {
        const bad = events.find((e) => broken.has(e.streamName.slice('proxy-'.length)));
        if (bad) throw new Error(`bug on ${bad.streamName}`);
        await proxiesProjection.handle(events, ctx);
      },
    };
    locks = new LockKeeper(databaseUrl, { applicationName: 'cli-consumers-test' });
    runner = new ConsumerRunner({ store, knex, databaseUrl, locks }, buggy, {
      lockRetryMs: 50,
      minBackoffMs: 20,
      maxBackoffMs: 100,
      maxAttempts: 2,
      idleCheckpointMs: 20,
    });
    runner.start();
    const head = await store.headPosition();
    await waitFor('proxies-v1 at the head', async () => comparePositions(await readCheckpoint(knex, 'proxies-v1'), head) >= 0, 20_000);
  });
  after(async () => {
    await runner?.stop();
    await locks?.close();
    if (container) await disposeContainer(container);
    const admin = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 1 } });
    await admin.raw(`DROP DATABASE IF EXISTS "${url.pathname.slice(1)}" WITH (FORCE)`);
    await admin.destroy();
  });

  it('shows which process runs each consumer and what it parked', async () => {
    const { code, stdout } = await cli('consumers', 'status', '--json');
    expect(code).to.equal(0);
    const all = JSON.parse(stdout) as { name: string; kind: string; heldBy: { applicationName: string } | null; parked: number }[];
    const proxiesV1 = all.find((c) => c.name === 'proxies-v1')!;
    expect(proxiesV1).to.include({ kind: 'projection', parked: 2 });
    expect(proxiesV1.heldBy?.applicationName).to.equal('cli-consumers-test');
    expect(all.find((c) => c.name === 'users-v1')).to.include({ heldBy: null, parked: 0 });
    expect(all.some((c) => c.kind === 'process-manager')).to.equal(true);
    const text = await cli('consumers', 'status');
    expect(text.stdout).to.match(/proxies-v1\s+projection\s+checkpoint \S+\s+run by cli-consumers-test \(backend pid \d+\)\s+2 parked/);
  });

  it('lists, retries after the fix, refuses a second retry, skips', async () => {
    const knex = container.get(TOKENS.Knex);
    const listed = await cli('consumers', 'dead-letters', 'list', '--consumer', 'proxies-v1', '--json');
    expect(listed.code).to.equal(0);
    const letters = JSON.parse(listed.stdout) as { id: string; stream: string; status: string; attempts: number; error: string }[];
    expect(letters.map((l) => l.stream)).to.deep.equal([`proxy-${proxies[1]}`, `proxy-${proxies[3]}`]);
    expect(letters[0]).to.include({ status: 'parked', attempts: 2 });
    expect(letters[0]!.error).to.contain(`bug on proxy-${proxies[1]}`);
    expect((await cli('consumers', 'dead-letters', 'list')).stdout).to.contain(`#${letters[0]!.id}  proxies-v1  parked  ProxyRegistered proxy-${proxies[1]}@0`);
    // the rest went through
    expect(((await knex('proxies').select('id')) as { id: string }[]).map((r) => r.id).sort()).to.deep.equal([proxies[0], proxies[2], proxies[4]].sort());

    // the fix is deployed: the retry goes through the real projection (the CLI builds the projector's consumers)
    const retried = await cli('consumers', 'dead-letters', 'retry', letters[0]!.id, '--json');
    expect(retried.code, retried.stderr).to.equal(0);
    expect(JSON.parse(retried.stdout)).to.deep.include({ ok: true, error: null });
    expect(await knex('proxies').where({ id: proxies[1] }).first('id')).to.deep.equal({ id: proxies[1] });
    const again = await cli('consumers', 'dead-letters', 'retry', letters[0]!.id);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.contain('is retried, not parked');

    const skipped = await cli('consumers', 'dead-letters', 'skip', letters[1]!.id);
    expect(skipped.code).to.equal(0);
    expect(skipped.stdout).to.equal(`#${letters[1]!.id} proxies-v1: skipped`);
    const all = JSON.parse((await cli('consumers', 'dead-letters', 'list', '--status', 'all', '--json')).stdout) as { status: string }[];
    expect(all.map((l) => l.status)).to.deep.equal(['retried', 'skipped']);
    expect((await cli('consumers', 'dead-letters', 'list')).stdout).to.equal('no parked dead letters');
    const none = await cli('consumers', 'dead-letters', 'retry', '--consumer', 'proxies-v1', '--all');
    expect(none.code).to.equal(0);
    expect(none.stdout).to.equal('no parked dead letters of proxies-v1');
    expect((await cli('consumers', 'dead-letters', 'retry')).code).to.equal(1);
  });

  it('retry --all tries every parked event (one whose event is gone first), reports each and a summary, exits 1; stdout holds only its output', async () => {
    const knex = container.get(TOKENS.Knex);
    const store = container.get(TOKENS.EventStore);
    const more: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { proxyId } = await registerProxy(
        { store, context, secretBox: container.get(TOKENS.SecretBox) },
        { host: '127.0.0.1', port: 10_100 + i, protocol: 'http', registeredBy: 'test' },
      );
      broken.add(proxyId);
      more.push(proxyId);
    }
    // an event the real projection cannot decode either: it fails again on retry
    const undecodable = `proxy-${randomUUID()}`;
    await store.append(undecodable, [{ id: randomUUID(), type: 'ProxyRegistered', data: {} }]);
    await waitFor('three parked', async () => (await listDeadLetters(knex, { consumer: 'proxies-v1' })).length === 3, 20_000);
    // the oldest one's stream is deleted since: its event is gone
    await store.deleteStream(`proxy-${more[0]}`);

    const run = await binary('consumers', 'dead-letters', 'retry', '--consumer', 'proxies-v1', '--all', '--json');
    expect(run.code, run.stderr).to.equal(1);
    // one JSON document: the failed retry's warning (with its stack) is not logged beside it
    const report = {
      outcomes: JSON.parse(run.stdout) as { letter: { id: string; stream: string; status: string }; ok: boolean; tried: boolean; error: string | null }[],
    };
    expect(report.outcomes.map((o) => [o.letter.stream, o.ok, o.tried, o.letter.status])).to.deep.equal([
      [`proxy-${more[0]}`, false, false, 'parked'],
      [`proxy-${more[1]}`, true, true, 'retried'],
      [undecodable, false, true, 'parked'],
    ]);
    expect(report.outcomes[0]!.error).to.contain('is no longer in');
    expect(report.outcomes[2]!.error).to.contain('cannot decode ProxyRegistered');
    expect(run.stderr.trim()).to.equal(
      'error: 2 of 3 parked events of proxies-v1 were not retried: 1 failed again and stays parked, 1 could not be tried (see above)',
    );
    expect(await knex('proxies').where({ id: more[1] }).first('id')).to.deep.equal({ id: more[1] });

    const text = await cli('consumers', 'dead-letters', 'retry', '--consumer', 'proxies-v1', '--all');
    expect(text.code).to.equal(1);
    const [gone, failing] = report.outcomes.filter((o) => !o.ok).map((o) => o.letter.id);
    expect(text.stdout.split('\n')).to.have.length(2);
    expect(text.stdout)
      .to.contain(`#${gone} proxies-v1: not tried, stays parked: dead letter ${gone}: event`)
      .and.contain(`#${failing} proxies-v1: failed again, stays parked: cannot decode ProxyRegistered`);
    expect(text.stderr).to.equal(
      'error: 2 of 2 parked events of proxies-v1 were not retried: 1 failed again and stays parked, 1 could not be tried (see above)',
    );
    const one = await cli('consumers', 'dead-letters', 'retry', failing!);
    expect(one).to.include({ code: 1, stderr: `error: dead letter ${failing} failed again and stays parked` });

    // a list cut short says so on stderr; stdout keeps the letters (or the JSON array)
    const cut = await cli('consumers', 'dead-letters', 'list', '--consumer', 'proxies-v1', '--limit', '1', '--json');
    expect(cut.code).to.equal(0);
    expect((JSON.parse(cut.stdout) as { id: string }[]).map((l) => l.id)).to.deep.equal([gone]);
    expect(cut.stderr).to.equal('warning: more than 1 dead letters: only the first 1 are listed (raise --limit, or narrow by --consumer or --status)');
    expect((await cli('consumers', 'dead-letters', 'list', '--consumer', 'proxies-v1', '--limit', '2')).stderr).to.equal('');
  });

  it("keeps an old version's parked events reachable, refuses an unknown consumer and extra arguments", async () => {
    const knex = container.get(TOKENS.Knex);
    const store = container.get(TOKENS.EventStore);
    // proxies-v0: an old version that parked an event; it has no checkpoint any more
    const [event] = await store.readStream(`proxy-${proxies[0]}`);
    const old = await knex.transaction((tx) =>
      parkEvent(tx, { consumer: 'proxies-v0', event: event!, error: new Error('old bug'), attempts: 5, firstFailedAt: new Date(), lastFailedAt: new Date() }),
    );
    expect(await knex('consumer_checkpoints').where({ consumer: 'proxies-v0' }).first()).to.equal(undefined);

    const status = JSON.parse((await cli('consumers', 'status', '--json')).stdout) as {
      name: string;
      kind: string;
      checkpoint: string | null;
      parked: number;
    }[];
    expect(status.find((c) => c.name === 'proxies-v0')).to.deep.include({ kind: 'other', checkpoint: null, parked: 1 });
    expect((await cli('consumers', 'status')).stdout).to.match(/proxies-v0\s+other\s+checkpoint -\s+not running\s+1 parked/);

    const listed = await cli('consumers', 'dead-letters', 'list', '--consumer', 'proxies-v0', '--json');
    expect((JSON.parse(listed.stdout) as { id: string }[]).map((l) => l.id)).to.deep.equal([old]);
    const retried = await cli('consumers', 'dead-letters', 'retry', '--consumer', 'proxies-v0', '--all');
    expect(retried).to.include({ code: 1, stdout: '', stderr: 'error: no consumer proxies-v0 in this version of the code: skip its parked events' });

    for (const args of [
      ['consumers', 'dead-letters', 'list', '--consumer', 'nope-v9'],
      ['consumers', 'dead-letters', 'retry', '--consumer', 'nope-v9', '--all'],
    ]) {
      const refused = await cli(...args);
      expect(refused.code, args.join(' ')).to.equal(1);
      expect(refused.stdout).to.equal('');
      expect(refused.stderr).to.match(/^error: unknown consumer "nope-v9"; known: users-v1, .*proxies-v0/);
    }

    const twice = await cli('consumers', 'dead-letters', 'skip', old, old);
    expect(twice.code).to.equal(1);
    expect(twice.stderr).to.contain("error: too many arguments for 'skip'");
    expect(await knex('consumer_dead_letters').where({ id: old }).first('status')).to.deep.equal({ status: 'parked' });
    expect((await cli('consumers', 'dead-letters', 'skip', old)).code).to.equal(0);
  });
});

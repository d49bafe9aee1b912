import { expect } from 'chai';
import { cliInProcess } from '../support/cli-in-process.js';
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
});

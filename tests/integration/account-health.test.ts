import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { START } from '../../src/event-store/position.js';
import { createAccountHealth } from '../../src/process-managers/account-health.js';
import { resetCheckpoint } from '../../src/consumers/checkpoints.js';
import { handle, load } from '../../src/write-model/core/command-handler.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { healthAfter } from '../../src/write-model/platform-account/health.js';
import { platformAccountAggregate, platformAccountStream, type PlatformAccountCommand } from '../../src/write-model/platform-account/index.js';
import { workflowExecutionStream } from '../../src/write-model/workflow-execution/decider.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';

type Without<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const silent = { info() {}, warn() {}, error() {} };
const SEALED = () => ({ keyId: 'k1', iv: 'aXZpdml2aXZpdml2', tag: 'dGFndGFndGFndGFn', ciphertext: Buffer.from(randomUUID()).toString('base64') });

describe('health score: the arithmetic', () => {
  it('lifts a verified account to 80, drops an invalidated one to 0, and steps with runs, within 0..100', () => {
    expect(healthAfter(40, 'verified')).to.equal(80);
    expect(healthAfter(95, 'verified')).to.equal(95);
    expect(healthAfter(90, 'invalidated')).to.equal(0);
    expect(healthAfter(98, 'run_completed')).to.equal(100);
    expect(healthAfter(100, 'run_failed')).to.equal(90);
    expect(healthAfter(15, 'captcha')).to.equal(0);
    expect(healthAfter(50, 'rate_limited')).to.equal(40);
  });
});

describe('pm-account-health: the health score follows verifications and the runs through the account', function () {
  this.timeout(40_000);
  let knex: Knex;
  let store: PostgresEventStore;
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  const name = `pm-account-health-test-${randomUUID().slice(0, 8)}`;
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  const now = () => new Date().toISOString();

  before(async () => {
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 5 });
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 5 } });
  });
  after(async () => {
    await knex('consumer_checkpoints').where({ consumer: name }).delete();
    await store.close();
    await knex.destroy();
    await iso.drop();
  });

  const runToHead = () => runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, createAccountHealth({ store, logger: silent }, name));
  const account = (id: string, command: Without<PlatformAccountCommand, 'accountId' | 'now'>) =>
    handle(store, platformAccountAggregate, id, { accountId: id, now: now(), ...command } as PlatformAccountCommand, { context });
  const score = async (id: string) => (await load(store, platformAccountAggregate, id)).state;

  /** An execution's events as the worker leaves them: requested through `accountId`, then `ending`. */
  async function run(accountId: string | null, ending: { type: string; data: Record<string, unknown> }): Promise<void> {
    const executionId = randomUUID();
    const workflowId = randomUUID();
    const ref = { executionId, workflowId };
    await store.append(
      workflowExecutionStream(executionId),
      [
        {
          id: randomUUID(),
          type: 'ExecutionRequested',
          data: {
            ...ref,
            ownerId: 'o1',
            platform: 'xiaohongshu',
            type: 'xiaohongshu.notes',
            config: {},
            platformAccountId: accountId,
            trigger: 'manual',
            requestedBy: 'o1',
            requestedAt: now(),
          },
          metadata: {},
        },
        { id: randomUUID(), type: ending.type, data: { ...ref, ...ending.data } as never, metadata: {} },
      ],
      'no_stream',
    );
  }
  const completed = { type: 'ExecutionCompleted', data: { ownerId: 'o1', itemCount: 3, attempt: 1, proxy: null, completedAt: now() } };
  const failed = { type: 'ExecutionFailed', data: { ownerId: 'o1', reason: 'timeout', attempt: 3, itemCount: 0, proxy: null, failedAt: now() } };
  const captcha = { type: 'ExecutionPaused', data: { reason: 'captcha', attempt: 1, cursor: null, pausedAt: now() } };

  it('records each change once, and the level with it; runs without an account and other accounts are left alone', async () => {
    const id = randomUUID();
    const other = randomUUID();
    for (const acct of [id, other]) {
      await account(acct, {
        type: 'ConnectPlatformAccount',
        ownerId: 'o1',
        platform: 'xiaohongshu',
        platformUserId: null,
        displayName: '号',
        credentials: SEALED(),
      });
    }
    await run(id, failed); // 100 → 90
    await run(id, captcha); // → 70
    await run(id, failed); // → 60: degraded
    await run(null, failed);
    await run(other, completed); // 100: no change
    await runToHead();
    expect(await score(id)).to.include({ healthScore: 60, healthLevel: 'degraded' });
    expect(await score(other)).to.include({ healthScore: 100 });

    await account(id, { type: 'InvalidateAccount', requestedBy: null, reason: 'login_wall' });
    await runToHead();
    expect(await score(id)).to.include({ healthScore: 0, healthLevel: 'critical' });
    await account(id, { type: 'VerifyAccount', requestedBy: null, outcome: { ok: true, platformUserId: 'u1', nickname: 'n' } });
    await run(id, completed);
    await runToHead();
    expect(await score(id)).to.include({ healthScore: 85, healthLevel: 'healthy' });

    // redelivered from the start: nothing appended
    const before = (await store.readStream(platformAccountStream(id))).length;
    await resetCheckpoint(knex, name, START);
    await runToHead();
    expect((await store.readStream(platformAccountStream(id))).length).to.equal(before);
    const changes = (await store.readStream(platformAccountStream(id)))
      .filter((e) => e.type === 'AccountHealthChanged')
      .map((e) => (e.data as { score: number }).score);
    expect(changes).to.deep.equal([90, 70, 60, 0, 80, 85]);
  });

  it('skips a disconnected account', async () => {
    const id = randomUUID();
    await account(id, {
      type: 'ConnectPlatformAccount',
      ownerId: 'o1',
      platform: 'xiaohongshu',
      platformUserId: null,
      displayName: '号',
      credentials: SEALED(),
    });
    await account(id, { type: 'DisconnectPlatformAccount', requestedBy: 'o1' });
    await run(id, failed);
    await runToHead();
    expect((await store.readStream(platformAccountStream(id))).map((e) => e.type)).not.to.include('AccountHealthChanged');
  });
});

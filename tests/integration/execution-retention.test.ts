import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { START } from '../../src/event-store/position.js';
import { createExecutionRetention, EXECUTION_RETENTION, type ExecutionRetentionOptions } from '../../src/process-managers/execution-retention.js';
import { subscriptionIdFor } from '../../src/process-managers/shared.js';
import { resetCheckpoint } from '../../src/consumers/checkpoints.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { subscriptionAggregate, subscriptionKey } from '../../src/write-model/subscription/index.js';
import type { PlanCode, Service } from '../../src/write-model/subscription/plans.js';
import { workflowExecutionAggregate, type workflowExecutionDecider, workflowExecutionStream } from '../../src/write-model/workflow-execution/index.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';
import { waitFor } from '../support/wait-for.js';

const DAY_S = 86_400;

type Ending = 'complete' | 'fail' | 'cancel' | 'reject' | 'running';

describe(`${EXECUTION_RETENTION}: maxAge on finished executions' streams`, function () {
  this.timeout(30_000);
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  let store: PostgresEventStore;
  let knex: Knex;
  const names: string[] = [];
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(async () => {
    // a schema of its own: the consumer sees (and sets metadata on) only this test's streams
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 4 });
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 4 } });
  });
  after(async () => {
    await knex('consumer_checkpoints').whereIn('consumer', names).delete();
    await store.close();
    await knex.destroy();
    await iso.drop();
  });

  /** A consumer with a checkpoint of its own, run from the start of the isolated store to its head. */
  async function runPm(options: ExecutionRetentionOptions = {}, name = `${EXECUTION_RETENTION}-test-${randomUUID().slice(0, 8)}`): Promise<string> {
    if (!names.includes(name)) names.push(name);
    await resetCheckpoint(knex, name, START);
    await runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, createExecutionRetention({ store }, { ...options, name }));
    return name;
  }

  async function subscribe(userId: string, service: Service, plan: PlanCode): Promise<void> {
    const now = new Date();
    await handle(
      store,
      subscriptionAggregate,
      subscriptionKey(userId, service),
      {
        type: 'StartSubscription',
        subscriptionId: subscriptionIdFor(userId, service),
        userId,
        service,
        plan,
        periodEnd: plan === 'free' ? null : new Date(now.getTime() + 30 * DAY_S * 1000).toISOString(),
        now: now.toISOString(),
      },
      { context },
    );
  }

  /** An execution of `platform` for `ownerId` that collected one batch (unless rejected), ended as `ending`. */
  async function execution(ownerId: string, platform: Service, ending: Ending): Promise<string> {
    const executionId = randomUUID();
    const stream = workflowExecutionStream(executionId);
    const now = () => new Date().toISOString();
    const send = (command: Parameters<typeof workflowExecutionDecider.decide>[0]) =>
      handle(store, workflowExecutionAggregate, executionId, command, { context });
    await send({
      type: 'RequestExecution',
      executionId,
      workflowId: `wf-${randomUUID()}`,
      ownerId,
      platform,
      workflowType: platform === 'qidian' ? 'qidian.rankings' : 'xiaohongshu.notes',
      config: {},
      platformAccountId: null,
      trigger: 'manual',
      requestedBy: ownerId,
      now: now(),
    });
    if (ending === 'reject') {
      await send({ type: 'RejectExecution', executionId, reason: 'QUOTA_EXCEEDED', now: now() });
      return stream;
    }
    await send({ type: 'StartExecution', executionId, workerId: 'w1', now: now() });
    await send({
      type: 'CollectItems',
      executionId,
      batchId: 'b1',
      items: [{ platformContentId: 'i1', kind: `${platform}.x`, data: { v: 1 } }],
      cursor: null,
      now: now(),
    });
    if (ending === 'complete') await send({ type: 'CompleteExecution', executionId, now: now() });
    if (ending === 'fail') await send({ type: 'FailExecution', executionId, reason: 'boom', now: now() });
    if (ending === 'cancel') await send({ type: 'CancelExecution', executionId, requestedBy: ownerId, now: now() });
    return stream;
  }

  it("sets maxAge = the owner's plan's retention of the execution's service on every ending; keeps other metadata; first decision stands", async () => {
    const free = `user-${randomUUID()}`; // no subscription: free everywhere
    const pro = `user-${randomUUID()}`;
    await subscribe(pro, 'xiaohongshu', 'pro');
    await subscribe(pro, 'qidian', 'enterprise');

    const completed = await execution(free, 'xiaohongshu', 'complete');
    const failed = await execution(pro, 'xiaohongshu', 'fail');
    const cancelled = await execution(pro, 'qidian', 'cancel');
    const rejected = await execution(free, 'qidian', 'reject');
    const running = await execution(pro, 'xiaohongshu', 'running');
    await store.setStreamMetadata(failed, { maxCount: 1000, custom: { label: 'kept' } });

    const name = await runPm();
    expect(await store.getStreamMetadata(completed)).to.deep.include({ maxAge: 7 * DAY_S });
    expect((await store.getStreamMetadata(completed)).custom).to.include({ retentionPlan: 'xiaohongshu_free', retentionSetBy: `pm:${name}` });
    expect(await store.getStreamMetadata(failed)).to.deep.include({ maxAge: 90 * DAY_S, maxCount: 1000 });
    expect((await store.getStreamMetadata(failed)).custom).to.include({ label: 'kept', retentionPlan: 'xiaohongshu_pro' });
    expect(await store.getStreamMetadata(cancelled)).to.deep.include({ maxAge: 365 * DAY_S });
    expect(await store.getStreamMetadata(rejected)).to.deep.include({ maxAge: 7 * DAY_S });
    expect(await store.getStreamMetadata(running)).to.deep.equal({}); // not finished: nothing expires yet
    // within the week, the streams read as before
    expect((await store.readStream(completed)).map((e) => e.type)).to.deep.equal([
      'ExecutionRequested',
      'ExecutionStarted',
      'ItemsCollected',
      'ExecutionCompleted',
    ]);

    // redelivered after an upgrade: the first decision stands, nothing is written
    await subscribe(free, 'xiaohongshu', 'enterprise');
    const before = await store.getStreamMetadata(completed);
    await runPm({}, name);
    expect(await store.getStreamMetadata(completed)).to.deep.equal(before);
  });

  it("after the maxAge has passed, reading the stream returns no events (a longer plan's stream still reads whole)", async () => {
    const free = `user-${randomUUID()}`;
    const pro = `user-${randomUUID()}`;
    await subscribe(pro, 'xiaohongshu', 'pro');
    // 2/7 s per day: the free plan's 7 days become 2 s, pro's 90 days 26 s
    const options = { secondsPerDay: 2 / 7 };
    const short = await execution(free, 'xiaohongshu', 'complete');
    const long = await execution(pro, 'xiaohongshu', 'complete');
    await runPm(options);
    expect(await store.getStreamMetadata(short)).to.deep.include({ maxAge: 2 });
    expect(await store.getStreamMetadata(long)).to.deep.include({ maxAge: 26 });

    const events = await store.readStream(short);
    expect(events.map((e) => e.type)).to.include('ItemsCollected');
    const newest = Math.max(...events.map((e) => e.created.getTime()));

    await waitFor('the short stream to expire', async () => (await store.readStream(short)).length === 0, 5_000, 50);
    // not earlier than its age allows (same machine, same clock)
    expect(Date.now() - newest).to.be.at.least(2_000 - 50);
    // the stream still exists (an append would continue its revisions); only its events expired
    expect(await store.readStream(short)).to.deep.equal([]);
    expect((await store.readStream(long)).map((e) => e.type)).to.deep.equal(['ExecutionRequested', 'ExecutionStarted', 'ItemsCollected', 'ExecutionCompleted']);
  });
});

import { expect } from 'chai';
import { Command } from 'commander';
import knexFactory, { type Knex } from 'knex';
import { randomBytes, randomUUID } from 'node:crypto';
import { up as workflowsTables } from '../../migrations/20261123000800_workflows_read_model.js';
import { up as xiaohongshuTables } from '../../migrations/20261123000900_xiaohongshu_read_model.js';
import { up as scavengeQueue } from '../../migrations/20261205070000_es_scavenge_queue.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { runScavenge, type ScavengeRunReport } from '../../src/adapters/event-store/scavenge-run.js';
import { registerRetentionCommand } from '../../src/cli/retention.js';
import { WrongExpectedVersionError } from '../../src/event-store/errors.js';
import type { RecordedEvent } from '../../src/event-store/port.js';
import { START } from '../../src/event-store/position.js';
import type { XiaohongshuNote } from '../../src/platforms/xiaohongshu/items.js';
import { createExecutionRetention } from '../../src/process-managers/execution-retention.js';
import { subscriptionIdFor } from '../../src/process-managers/shared.js';
import { createWorkflowsProjection } from '../../src/projections/workflows.js';
import { createXiaohongshuContentProjection } from '../../src/projections/xiaohongshu-content.js';
import { resetCheckpoint } from '../../src/consumers/checkpoints.js';
import type { Consumer } from '../../src/consumers/consumer.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { subscriptionAggregate, subscriptionKey } from '../../src/write-model/subscription/index.js';
import {
  workflowExecutionAggregate,
  type workflowExecutionDecider,
  workflowExecutionStream,
  type CollectedItem,
} from '../../src/write-model/workflow-execution/index.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';
import { waitFor } from '../support/wait-for.js';

const hex24 = () => randomBytes(12).toString('hex');

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

function note(noteId: string): CollectedItem {
  const data: XiaohongshuNote = {
    noteId,
    type: 'normal',
    title: '周末咖啡店合集',
    text: '拿铁真的绝了',
    author: { id: hex24(), nickname: '小鹿' },
    publishedAt: '2026-03-01T02:00:00.000Z',
    likes: 1,
    comments: 2,
    shares: 3,
    collects: 4,
    images: [],
    tags: ['咖啡'],
    location: null,
    url: `https://www.xiaohongshu.com/explore/${noteId}`,
  };
  return { platformContentId: noteId, kind: 'xiaohongshu.note', data: data as unknown as Record<string, unknown> };
}

describe("scavenge: events past their stream's retention are deleted, so replays and rebuilds cannot bring them back", function () {
  this.timeout(60_000);
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  let store: PostgresEventStore;
  let knex: Knex;
  const consumers: string[] = [];
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(async () => {
    // an event store and read tables of their own (checkpoints stay in public): the scavenge and the replays see only this test's streams
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    const scoped = knexFactory({ client: 'pg', connection: testDatabaseUrl, searchPath: [iso.schema], pool: { min: 0, max: 1 } });
    try {
      await scavengeQueue(scoped);
      await workflowsTables(scoped);
      await xiaohongshuTables(scoped);
    } finally {
      await scoped.destroy();
    }
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 4 });
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, searchPath: [iso.schema, 'public'], pool: { min: 0, max: 4 } });
  });
  after(async () => {
    await knex('consumer_checkpoints').whereIn('consumer', consumers).delete();
    await store.close();
    await knex.destroy();
    await iso.drop();
  });

  const scavenge = (options: { dryRun?: boolean; all?: boolean } = {}): Promise<ScavengeRunReport> =>
    runScavenge({ knex, store, batchSize: 2, streamsPerPage: 2, ...options });

  /** A consumer from the start of the isolated store to its head, under a name of its own: a replay. */
  async function replay(make: (name: string) => Consumer): Promise<void> {
    const name = `scavenge-test-${randomUUID().slice(0, 8)}`;
    consumers.push(name);
    await resetCheckpoint(knex, name, START);
    await runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, make(name));
  }

  async function execution(ownerId: string, notes: string[][]): Promise<string> {
    const executionId = randomUUID();
    const now = () => new Date().toISOString();
    const send = (command: Parameters<typeof workflowExecutionDecider.decide>[0]) =>
      handle(store, workflowExecutionAggregate, executionId, command, { context });
    await send({
      type: 'RequestExecution',
      executionId,
      workflowId: `wf-${randomUUID()}`,
      ownerId,
      platform: 'xiaohongshu',
      workflowType: 'xiaohongshu.notes',
      config: {},
      platformAccountId: null,
      trigger: 'manual',
      requestedBy: ownerId,
      now: now(),
    });
    await send({ type: 'StartExecution', executionId, workerId: 'w1', now: now() });
    for (const [i, batch] of notes.entries())
      await send({ type: 'CollectItems', executionId, batchId: `b${i}`, items: batch.map(note), cursor: `c${i}`, now: now() });
    await send({ type: 'CompleteExecution', executionId, now: now() });
    return executionId;
  }

  const allOf = async (stream: string): Promise<RecordedEvent[]> =>
    (await store.readAll({ filter: { streamPrefixes: [stream] } })).filter((e) => e.streamName === stream);
  const queued = async (stream: string): Promise<Date | null> =>
    ((await knex('es_streams').where({ stream_name: stream }).first('scavenge_at')) as { scavenge_at: Date | null } | undefined)?.scavenge_at ?? null;

  it('an expired execution keeps its request and its ending; its items are gone from $all and from a rebuild; a second scavenge is a no-op', async () => {
    const free = `user-${randomUUID()}`; // no subscription: free plan, 7 days
    const enterprise = `user-${randomUUID()}`; // 365 days
    await handle(
      store,
      subscriptionAggregate,
      subscriptionKey(enterprise, 'xiaohongshu'),
      {
        type: 'StartSubscription',
        subscriptionId: subscriptionIdFor(enterprise, 'xiaohongshu'),
        userId: enterprise,
        service: 'xiaohongshu',
        plan: 'enterprise',
        periodEnd: new Date(Date.now() + 30 * 86_400_000).toISOString(),
        now: new Date().toISOString(),
      },
      { context },
    );
    const [a1, a2, a3, b1] = [hex24(), hex24(), hex24(), hex24()];
    const expiring = await execution(free, [[a1, a2], [a3]]);
    const kept = await execution(enterprise, [[b1]]);
    const expiringStream = workflowExecutionStream(expiring);
    const keptStream = workflowExecutionStream(kept);

    // the live read models, and the retention process manager at 1/7 s per day: free's 7 days become 1 s, enterprise's 365 days 52 s
    await replay((name) => createXiaohongshuContentProjection(name));
    expect(await knex('xiaohongshu_contents').where({ owner_id: free }).count({ n: '*' })).to.deep.equal([{ n: '3' }]);
    await replay((name) => createExecutionRetention({ store }, { name, secondsPerDay: 1 / 7 }));
    expect(await store.getStreamMetadata(expiringStream)).to.deep.include({ maxAge: 1 });
    expect(await queued(expiringStream), 'setting a maxAge queues the stream').to.be.an.instanceOf(Date);

    await waitFor('the free execution to expire', async () => (await store.readStream(expiringStream)).length === 0, 5_000, 50);
    const types = ['ExecutionRequested', 'ExecutionStarted', 'ItemsCollected', 'ItemsCollected', 'ExecutionCompleted'];
    expect(
      (await allOf(expiringStream)).map((e) => e.type),
      'hidden from reads, still in $all',
    ).to.deep.equal(types);

    // a dry run counts, deletes nothing
    const dry = await scavenge({ dryRun: true });
    expect(dry).to.deep.include({ dryRun: true, events: 3, scavengedStreams: 1, snapshots: 0 });
    expect((await allOf(expiringStream)).map((e) => e.type)).to.deep.equal(types);

    const report = await scavenge();
    expect(report).to.deep.include({ dryRun: false, events: 3, scavengedStreams: 1 });
    const left = await allOf(expiringStream);
    expect(left.map((e) => [e.type, e.revision])).to.deep.equal([
      ['ExecutionRequested', 0n],
      ['ExecutionCompleted', 4n],
    ]);
    expect(
      (await allOf(keptStream)).map((e) => e.type),
      'within its retention: untouched',
    ).to.deep.equal(types.slice(0, 3).concat('ExecutionCompleted'));
    expect(await queued(expiringStream), 'nothing left to expire: out of the queue').to.equal(null);
    const firstBetween = (await allOf(keptStream))[1]!.created.getTime();
    expect((await queued(keptStream))!.getTime(), 'queued again for when its oldest event between the first and the newest expires').to.be.closeTo(
      firstBetween + 52_000,
      1,
    );

    // a rebuild (a replay from the start into empty tables) does not bring the items back; the lifecycle is still there
    await knex.raw(
      'TRUNCATE xiaohongshu_contents, xiaohongshu_content_history, xiaohongshu_messages, xiaohongshu_processed_batches, workflow_executions, workflows',
    );
    await replay((name) => createXiaohongshuContentProjection(name));
    await replay((name) => createWorkflowsProjection(name));
    expect(await knex('xiaohongshu_contents').where({ owner_id: free }).count({ n: '*' })).to.deep.equal([{ n: '0' }]);
    expect(await knex('xiaohongshu_content_history').where({ owner_id: free }).count({ n: '*' })).to.deep.equal([{ n: '0' }]);
    expect((await knex('xiaohongshu_contents').where({ owner_id: enterprise }).select('note_id')).map((r: { note_id: string }) => r.note_id)).to.deep.equal([
      b1,
    ]);
    const rebuilt = (await knex('workflow_executions').where({ id: expiring }).first()) as Record<string, unknown> | undefined;
    expect(rebuilt, 'the execution itself survives a rebuild').to.include({ owner_id: free, status: 'completed', item_count: 3, last_revision: '4' });

    // the stream goes on from its revision: the command handler still sees a finished execution
    expect(await store.readStream(expiringStream, { direction: 'backwards', maxCount: 1 })).to.deep.equal([]);
    expect(await failure(store.append(expiringStream, [{ id: randomUUID(), type: 'Probe', data: {} }], 'no_stream'))).to.be.an.instanceOf(
      WrongExpectedVersionError,
    );

    // a second scavenge finds nothing due and deletes nothing; a sweep of every stream with a retention finds nothing either
    expect(await scavenge()).to.deep.include({ streams: 0, events: 0 });
    const sweep = await scavenge({ all: true, dryRun: true });
    expect(sweep.streams).to.be.at.least(2);
    expect(sweep.events).to.equal(0);
    expect((await allOf(expiringStream)).length).to.equal(2);
  });

  it('appends after a scavenge continue the revisions; the snapshot of a scavenged stream is dropped; maxCount and soft delete are scavenged too', async () => {
    const stream = `scavtest-${randomUUID()}`;
    const events = (n: number) => Array.from({ length: n }, (_, i) => ({ id: randomUUID(), type: 'Counted', data: { i } }));
    await store.append(stream, events(5), 'no_stream');
    await store.snapshots.write({ streamName: stream, revision: 3n, version: 1, state: { n: 4 } });
    await store.setStreamMetadata(stream, { maxAge: 1 });
    await waitFor('the stream to expire', async () => (await store.readStream(stream)).length === 0, 5_000, 50);

    const report = await scavenge();
    expect(report).to.deep.include({ events: 3, scavengedStreams: 1, snapshots: 1 });
    expect(await store.snapshots.read(stream, 1)).to.equal(undefined);
    expect((await allOf(stream)).map((e) => e.revision)).to.deep.equal([0n, 4n]);

    // exact expectation on the kept newest revision; a stale one (a deleted revision) is refused
    const next = await store.append(stream, events(1), 4n);
    expect(next.nextExpectedRevision).to.equal(5n);
    expect(await failure(store.append(stream, events(1), 2n))).to.be.an.instanceOf(WrongExpectedVersionError);
    // the kept first revision is stale too: its successor was scavenged, the append must not fill the gap
    expect(await failure(store.append(stream, events(1), 0n)), 'an expectation on the kept revision 0').to.be.an.instanceOf(WrongExpectedVersionError);
    expect((await store.append(stream, events(1), 'any')).nextExpectedRevision).to.equal(6n);
    expect(
      (await store.readStream(stream)).map((e) => e.revision),
      'the new events read within the maxAge',
    ).to.deep.equal([5n, 6n]);

    // maxCount: the newest 2 stay readable; the older ones go (revision 0 excepted)
    const counted = `scavtest-${randomUUID()}`;
    await store.append(counted, events(6), 'no_stream');
    await store.setStreamMetadata(counted, { maxCount: 2 });
    // soft delete: every event but the first and the newest goes; recreating continues after the newest
    const deleted = `scavtest-${randomUUID()}`;
    await store.append(deleted, events(4), 'no_stream');
    await store.deleteStream(deleted);
    expect(await queued(deleted), 'a soft delete queues the stream').to.be.an.instanceOf(Date);

    const second = await scavenge();
    expect(second).to.deep.include({ events: 3 + 2 });
    expect((await allOf(counted)).map((e) => e.revision)).to.deep.equal([0n, 4n, 5n]);
    expect((await store.readStream(counted)).map((e) => e.revision)).to.deep.equal([4n, 5n]);
    expect((await allOf(deleted)).map((e) => e.revision)).to.deep.equal([0n, 3n]);
    expect((await store.append(deleted, events(1), 'any')).nextExpectedRevision).to.equal(4n);
    expect((await store.readStream(deleted)).map((e) => e.revision)).to.deep.equal([4n]);
    expect(await scavenge()).to.deep.include({ events: 0 });
  });

  it('CLI: `retention scavenge --dry-run --json` prints the report; without --dry-run it deletes, with progress lines', async () => {
    const stream = `scavtest-${randomUUID()}`;
    await store.append(
      stream,
      Array.from({ length: 4 }, (_, i) => ({ id: randomUUID(), type: 'Counted', data: { i } })),
      'no_stream',
    );
    await store.setStreamMetadata(stream, { maxAge: 1 });
    await waitFor('the stream to expire', async () => (await store.readStream(stream)).length === 0, 5_000, 50);

    const out: string[] = [];
    const err: string[] = [];
    const program = () => {
      const p = new Command('cli').exitOverride();
      registerRetentionCommand(p, { out: (l) => out.push(l), err: (l) => err.push(l), withServices: (fn) => fn({ knex, store }) });
      return p;
    };
    await program().parseAsync(['node', 'cli', 'retention', 'scavenge', '--dry-run', '--json']);
    const dry = JSON.parse(out.at(-1)!);
    expect(dry).to.deep.include({ dryRun: true, events: 2, scavengedStreams: 1 });
    // ISO-8601, like `retention run`'s time
    expect(dry.asOf).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect((await allOf(stream)).length).to.equal(4);

    out.length = 0;
    await program().parseAsync(['node', 'cli', 'retention', 'scavenge', '--batch-size', '1']);
    expect(out.join('\n'))
      .to.match(/^scavenge as of \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/m)
      .and.match(/streams scavenged 1/)
      .and.match(/total: deleted 2 events/);
    expect(err.at(-1)).to.match(/^scavenge: \d+ streams visited, 2 events deleted$/);
    expect((await allOf(stream)).map((e) => e.revision)).to.deep.equal([0n, 3n]);
  });
});

import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { recordResults } from '../../src/application/workflows.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { workflowExecutionAggregate } from '../../src/write-model/workflow-execution/decider.js';
import { ITEM_BYTES_PER_EVENT } from '../../src/write-model/workflow-execution/item-chunks.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';

/** A parsed Xiaohongshu note with `bytes` of text. */
function note(bytes: number) {
  const noteId = randomBytes(12).toString('hex');
  return {
    noteId,
    type: 'normal',
    title: `note ${noteId.slice(0, 6)}`,
    text: '咖'.repeat(Math.ceil(bytes / 3)),
    author: { id: 'a1', nickname: 'Ada' },
    publishedAt: '2026-03-01T08:00:00.000Z',
    likes: 1,
    comments: 0,
    shares: 0,
    collects: 0,
    images: [],
    tags: [],
    url: `https://www.xiaohongshu.com/explore/${noteId}`,
  };
}

/**
 * A collector's batch larger than one append may carry (EventStoreDB takes
 * 1 MiB) is recorded as several ItemsCollected, each its own append, each
 * recognised again when the batch is re-sent.
 */
describe('recorded results: a large batch goes in chunks that each fit one append', function () {
  this.timeout(60_000);
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  let store: PostgresEventStore;
  const deps = () => ({ store, timeZone: 'Asia/Shanghai', now: () => new Date() });

  before(async () => {
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 2 });
  });
  after(async () => {
    await store?.close();
    await iso?.drop();
  });

  async function requested(): Promise<string> {
    const executionId = randomUUID();
    const ownerId = randomUUID();
    await handle(
      store,
      workflowExecutionAggregate,
      executionId,
      {
        type: 'RequestExecution',
        executionId,
        workflowId: `wf-${executionId}`,
        ownerId,
        platform: 'xiaohongshu',
        workflowType: 'xiaohongshu.notes',
        config: { mode: 'keyword', keyword: '咖啡', maxItems: 500 },
        platformAccountId: null,
        trigger: 'manual',
        requestedBy: ownerId,
        now: new Date().toISOString(),
      },
      { context },
    );
    return executionId;
  }

  const collected = async (executionId: string) =>
    (await store.readStream(workflowExecutionAggregate.streamName(executionId))).filter((e) => e.type === 'ItemsCollected');

  it('records every item once, in chunks under the byte budget, the cursor and the completion with the last; a re-sent batch adds nothing', async () => {
    const executionId = await requested();
    const items = Array.from({ length: 30 }, () => note(40_000)); // ~1.2 MB of JSON
    const batch = { workerId: 'w1', batchId: 'b-1', items, cursor: 'page-2', done: true };

    const outcome = await recordResults(deps(), context, executionId, batch);
    expect(outcome).to.include({ status: 'completed', accepted: 30, duplicates: 0, itemCount: 30 });

    const events = await collected(executionId);
    expect(events.length).to.be.at.least(3);
    for (const event of events) {
      const data = event.data as { items: unknown[] };
      expect(Buffer.byteLength(JSON.stringify(data.items))).to.be.at.most(ITEM_BYTES_PER_EVENT);
      expect(Buffer.byteLength(JSON.stringify(event.data))).to.be.below(1024 * 1024);
    }
    const datas = events.map((e) => e.data as { batchId: string; cursor: string | null; items: { platformContentId: string }[] });
    expect(datas.flatMap((d) => d.items.map((i) => i.platformContentId))).to.deep.equal(items.map((i) => i.noteId));
    expect(new Set(datas.map((d) => d.batchId)).size).to.equal(events.length);
    expect(datas.map((d) => d.cursor)).to.deep.equal([...Array.from({ length: events.length - 1 }, () => null), 'page-2']);
    const all = await store.readStream(workflowExecutionAggregate.streamName(executionId));
    expect(all.at(-1)!.type).to.equal('ExecutionCompleted');

    const again = await recordResults(deps(), context, executionId, batch);
    expect(again).to.include({ accepted: 0, duplicates: 30, itemCount: 30 });
    expect(await store.readStream(workflowExecutionAggregate.streamName(executionId))).to.have.length(all.length);
  });

  it('after a batch cut short between chunks, the same batch sent again records only the chunks that were missing', async () => {
    const executionId = await requested();
    const items = Array.from({ length: 30 }, () => note(40_000));
    const batch = { workerId: 'w1', batchId: 'b-1', items, cursor: 'page-2' };
    await recordResults(deps(), context, executionId, batch);
    const whole = await collected(executionId);

    // a second execution gets only the first chunk (as if the run stopped after its append), then the whole batch
    const cut = await requested();
    const firstChunk = (whole[0]!.data as { items: { data: unknown }[] }).items.map((i) => i.data);
    await recordResults(deps(), context, cut, { ...batch, items: firstChunk });
    const first = await collected(cut);
    expect(first).to.have.length(1);
    expect((first[0]!.data as { cursor: string | null }).cursor, 'the cut batch was the whole batch then').to.equal('page-2');

    const resent = await recordResults(deps(), context, cut, batch);
    expect(resent).to.include({ accepted: 30 - firstChunk.length, itemCount: 30 });
    const after = await collected(cut);
    expect(after.map((e) => (e.data as { batchId: string }).batchId)).to.deep.equal(whole.map((e) => (e.data as { batchId: string }).batchId));
  });
});

import { expect } from 'chai';
import { executionEventsOf } from '../support/execution-events.js';
import knexFactory, { type Knex } from 'knex';
import { randomBytes, randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import type { XiaohongshuMessage, XiaohongshuNote } from '../../src/platforms/xiaohongshu/items.js';
import { applyEvent, createXiaohongshuContentProjection, XIAOHONGSHU_CONTENT_PROJECTION } from '../../src/projections/xiaohongshu-content.js';
import { CONTENT_SORTS, contentPages, listContents, type Scope } from '../../src/read-api/xiaohongshu.js';
import { resetCheckpoint } from '../../src/consumers/checkpoints.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import {
  workflowExecutionAggregate,
  workflowExecutionEvents,
  type workflowExecutionDecider,
  type CollectedItem,
} from '../../src/write-model/workflow-execution/index.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';

const hex24 = () => randomBytes(12).toString('hex');

function note(noteId: string, over: Partial<XiaohongshuNote> = {}): XiaohongshuNote {
  return {
    noteId,
    type: 'normal',
    title: '上海周末咖啡店合集☕️',
    text: '这家店的拿铁真的绝了 #上海探店[话题]#',
    author: { id: hex24(), nickname: '小鹿爱喝咖啡' },
    publishedAt: '2026-03-01T02:00:00.000Z',
    likes: 4311,
    comments: 514,
    shares: 1147,
    collects: 3551,
    images: ['https://sns-webpic-qc.xhscdn.com/202603/abc.jpg'],
    tags: ['上海探店', '咖啡'],
    location: '上海',
    url: `https://www.xiaohongshu.com/explore/${noteId}`,
    ...over,
  };
}

const noteItem = (n: XiaohongshuNote): CollectedItem => ({
  platformContentId: n.noteId,
  kind: 'xiaohongshu.note',
  data: n as unknown as Record<string, unknown>,
});

describe('xiaohongshu-content-v1 projection', function () {
  this.timeout(60_000);
  let knex: Knex;
  let store: PostgresEventStore;
  let name: string;
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 5 } });
    store = createPostgresEventStore({ connectionString: testDatabaseUrl, poolSize: 5 });
  });
  after(async () => {
    await store.close();
    await knex.destroy();
  });
  beforeEach(async () => {
    // a checkpoint of its own, from the head: only this test's events
    name = `${XIAOHONGSHU_CONTENT_PROJECTION}-test-${randomUUID().slice(0, 8)}`;
    await resetCheckpoint(knex, name, await store.headPosition());
  });
  afterEach(async () => {
    await knex('consumer_checkpoints').where({ consumer: name }).delete();
  });

  const run = () => runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, createXiaohongshuContentProjection(name));

  /** One execution of `workflowId` that collects `batches` (each [items, time]). */
  async function execution(ownerId: string, workflowId: string, batches: [CollectedItem[], string][]): Promise<string> {
    const executionId = randomUUID();
    const send = (command: Parameters<typeof workflowExecutionDecider.decide>[0]) =>
      handle(store, workflowExecutionAggregate, executionId, command, { context });
    const first = batches[0]![1];
    await send({
      type: 'RequestExecution',
      executionId,
      workflowId,
      ownerId,
      platform: 'xiaohongshu',
      workflowType: 'xiaohongshu.notes',
      config: { mode: 'keyword', keyword: '咖啡', maxItems: 20 },
      platformAccountId: `acc-${ownerId}`,
      trigger: 'schedule',
      requestedBy: null,
      now: first,
    });
    await send({ type: 'StartExecution', executionId, workerId: 'w1', now: first });
    for (const [i, [items, now]] of batches.entries()) {
      await send({ type: 'CollectItems', executionId, batchId: `b${i}`, items, cursor: `c${i}`, now });
    }
    return executionId;
  }

  const row = (ownerId: string, noteId: string) => knex('xiaohongshu_contents').where({ owner_id: ownerId, note_id: noteId }).first();
  const history = (ownerId: string, noteId: string) =>
    knex('xiaohongshu_content_history').where({ owner_id: ownerId, note_id: noteId }).orderBy('collected_at');

  it('keeps one row per (owner, note): a later collection updates the counts, history grows, other kinds are ignored', async () => {
    const owner = `user-${randomUUID()}`;
    const other = `user-${randomUUID()}`;
    const wf1 = `wf-${randomUUID()}`;
    const wf2 = `wf-${randomUUID()}`;
    const a = hex24();
    const b = hex24();
    const message: XiaohongshuMessage = {
      conversationId: 'conv-1',
      messageId: 'msg-1',
      direction: 'received',
      from: { id: hex24(), nickname: '路人甲' },
      messageType: 'text',
      text: '请问这家店在哪里？',
      sentAt: '2026-03-01T03:00:00.000Z',
    };
    await execution(owner, wf1, [
      [
        [
          noteItem(note(a)),
          noteItem(note(b, { type: 'video', title: '法式装修灵感', likes: 10, tags: ['装修'] })),
          { platformContentId: 'conv-1:msg-1', kind: 'xiaohongshu.message', data: message as unknown as Record<string, unknown> },
          { platformContentId: 'book-1', kind: 'qidian.ranking_entry', data: { novelId: 'book-1' } },
          { platformContentId: 'bad', kind: 'xiaohongshu.note', data: { noteId: 'not-hex' } },
        ],
        '2026-03-01T04:00:00.000Z',
      ],
    ]);
    // the same note for another owner: a row of its own
    await execution(other, `wf-${randomUUID()}`, [[[noteItem(note(a, { likes: 1 }))], '2026-03-01T05:00:00.000Z']]);
    // collected again by a second workflow, with new counts
    await execution(owner, wf2, [
      [[noteItem(note(a, { likes: 5000, comments: 600, shares: 1200, collects: 4000, title: '上海周末咖啡店合集（更新）' }))], '2026-03-02T04:00:00.000Z'],
    ]);
    await run();

    const rowA = await row(owner, a);
    expect(rowA).to.include({
      content_type: 'note',
      like_count: 5000,
      comment_count: 600,
      share_count: 1200,
      collect_count: 4000,
      times_collected: 2,
      title: '上海周末咖啡店合集（更新）',
    });
    expect(rowA.first_collected_at.toISOString()).to.equal('2026-03-01T04:00:00.000Z');
    expect(rowA.last_collected_at.toISOString()).to.equal('2026-03-02T04:00:00.000Z');
    expect(rowA.workflow_ids).to.deep.equal([wf1, wf2]);
    expect(rowA.tags).to.deep.equal(['上海探店', '咖啡']);
    expect((await history(owner, a)).map((h) => h.like_count)).to.deep.equal([4311, 5000]);
    expect(await row(owner, b)).to.include({ content_type: 'video', like_count: 10, times_collected: 1 });
    expect(await row(other, a)).to.include({ like_count: 1 });
    expect(await knex('xiaohongshu_contents').where({ owner_id: owner }).count({ n: '*' })).to.deep.equal([{ n: '2' }]);

    const messages = await knex('xiaohongshu_messages').where({ owner_id: owner });
    expect(messages).to.have.length(1);
    expect(messages[0]).to.include({ conversation_id: 'conv-1', message_id: 'msg-1', direction: 'received', content: '请问这家店在哪里？', workflow_id: wf1 });
  });

  it('changes nothing when events are delivered again (replay from an earlier checkpoint, or the same event applied twice)', async () => {
    const owner = `user-${randomUUID()}`;
    const a = hex24();
    const from = await store.headPosition();
    await execution(owner, 'wf-1', [[[noteItem(note(a))], '2026-03-01T04:00:00.000Z']]);
    await execution(owner, 'wf-1', [[[noteItem(note(a, { likes: 9999 }))], '2026-03-02T04:00:00.000Z']]);
    await run();
    const before = await row(owner, a);

    await resetCheckpoint(knex, name, from);
    await run();
    expect(await row(owner, a)).to.deep.equal(before);
    expect(await history(owner, a)).to.have.length(2);

    // straight through applyEvent, twice
    const events = (await store.readAll({ fromPosition: from, filter: { eventTypes: ['ItemsCollected'] } })).filter(
      (e) => executionEventsOf([e], 'ItemsCollected')[0]?.data.ownerId === owner,
    );
    expect(events).to.have.length(2);
    await applyEvent(knex, events[0]!);
    await applyEvent(knex, events[0]!);
    expect(await row(owner, a)).to.deep.equal(before);
    // without the batch record, the history's key still stops it
    await knex('xiaohongshu_processed_batches')
      .where({ execution_id: workflowExecutionEvents.decode(events[1]!).data.executionId })
      .delete();
    await applyEvent(knex, events[1]!);
    expect(await row(owner, a)).to.deep.equal(before);
    expect(before.times_collected).to.equal(2);
  });

  it('export pages (keyset) give every row once, in the list order, for every sort, ties and missing publish times included', async () => {
    const owner = `user-${randomUUID()}`;
    const likes = [5, 5, 5, 9, 1, 9, 5];
    const notes = likes.map((l, i) =>
      note(hex24(), {
        likes: l,
        comments: i % 2,
        collects: 3,
        publishedAt: i % 3 === 0 ? null : `2026-03-0${1 + (i % 2)}T02:00:00.${i % 2 ? '000' : '123456'}Z`,
      }),
    );
    await execution(owner, 'wf-1', [
      [notes.slice(0, 4).map(noteItem), '2026-03-03T04:00:00.000Z'],
      [notes.slice(4).map(noteItem), '2026-03-03T04:00:00.000Z'],
    ]);
    await run();
    const scope: Scope = { ownerId: owner, cutoff: new Date('2026-01-01T00:00:00Z'), timeZone: 'Asia/Shanghai' };
    for (const sort of CONTENT_SORTS) {
      for (const order of ['asc', 'desc'] as const) {
        const listed = (await listContents(knex, scope, {}, { sort, order }, { page: 1, per_page: 100 })).items.map((r) => r.id);
        const paged: string[] = [];
        for await (const page of contentPages(knex, scope, {}, { sort, order }, 2)) paged.push(...page.map((r) => r.id));
        expect(paged, `${sort} ${order}`).to.deep.equal(listed);
        expect(new Set(paged).size).to.equal(notes.length);
      }
    }
    // and with a filter
    const nines: string[] = [];
    for await (const page of contentPages(knex, scope, { min_likes: 9 }, { sort: 'likes', order: 'desc' }, 1)) nines.push(...page.map((r) => r.id));
    expect(nines.sort()).to.deep.equal([notes[3]!.noteId, notes[5]!.noteId].sort());
  });

  it('a collection older than the row arrives late: counts stay, first_collected_at moves back, history gains it', async () => {
    const owner = `user-${randomUUID()}`;
    const a = hex24();
    await execution(owner, 'wf-new', [[[noteItem(note(a, { likes: 800 }))], '2026-03-05T04:00:00.000Z']]);
    await execution(owner, 'wf-old', [[[noteItem(note(a, { likes: 100, title: '旧标题' }))], '2026-03-01T04:00:00.000Z']]);
    await run();
    const r = await row(owner, a);
    expect(r).to.include({ like_count: 800, title: note(a).title, times_collected: 2, last_workflow_id: 'wf-new' });
    expect(r.first_collected_at.toISOString()).to.equal('2026-03-01T04:00:00.000Z');
    expect(r.last_collected_at.toISOString()).to.equal('2026-03-05T04:00:00.000Z');
    expect((await history(owner, a)).map((h) => h.like_count)).to.deep.equal([100, 800]);
  });
});

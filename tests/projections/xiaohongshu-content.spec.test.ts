import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomBytes, randomUUID } from 'node:crypto';
import type { RecordedEvent } from '../../src/event-store/port.js';
import { xiaohongshuContentProjection } from '../../src/projections/xiaohongshu-content.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { asRebuildReads, projectionSpec, recorded } from '../support/projection-spec.js';

/** One batch, every event alone, and pairs: a row's collections folded in one batch or split across batches leave the same row. */
const BATCH_SIZES = [500, 1, 2];

const hex24 = () => randomBytes(12).toString('hex');

describe('xiaohongshu-content-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const at = (hour: number) => new Date(Date.UTC(2026, 2, 1, hour)).toISOString();

  const note = (noteId: string, over: Record<string, unknown> = {}) => ({
    platformContentId: noteId,
    kind: 'xiaohongshu.note',
    data: {
      noteId,
      type: 'normal',
      title: '上海周末咖啡店合集',
      text: '这家店的拿铁真的绝了',
      author: { id: 'author-1', nickname: '小鹿爱喝咖啡' },
      publishedAt: '2026-02-28T02:00:00.000Z',
      likes: 100,
      comments: 10,
      shares: 5,
      collects: 50,
      images: ['https://sns-webpic-qc.xhscdn.com/a.jpg'],
      tags: ['上海探店', '咖啡'],
      location: '上海',
      url: `https://www.xiaohongshu.com/explore/${noteId}`,
      ...over,
    },
  });
  const message = (messageId: string, text: string) => ({
    platformContentId: `conv-1:${messageId}`,
    kind: 'xiaohongshu.message',
    data: { conversationId: 'conv-1', messageId, direction: 'received', from: { id: 'u-1', nickname: null }, messageType: 'text', text, sentAt: at(1) },
  });

  /** An ItemsCollected of one run (`executionId`) of `workflowId`. */
  const collected = (
    ownerId: string,
    run: { executionId: string; workflowId: string },
    batchId: string,
    items: Record<string, unknown>[],
    collectedAt: string,
  ): RecordedEvent =>
    recorded(`workflow_execution-${run.executionId}`, 'ItemsCollected', {
      ...run,
      ownerId,
      platform: 'xiaohongshu',
      type: 'xiaohongshu.notes',
      platformAccountId: `acc-${run.workflowId}`,
      batchId,
      attempt: 1,
      items,
      cursor: null,
      itemCount: items.length,
      collectedAt,
    });
  const run = (workflowId: string) => ({ executionId: randomUUID(), workflowId });

  const CONTENT_COLUMNS = [
    'content_type',
    'title',
    'like_count',
    'comment_count',
    'tags',
    'images',
    'location',
    'workflow_ids',
    'last_workflow_id',
    'last_execution_id',
    'platform_account_id',
    'times_collected',
    'first_collected_at',
    'last_collected_at',
  ];

  it("folds a note's collections into one row (the latest wins, a late earlier one only moves first_collected_at back), in one batch or split", async () => {
    const owner = randomUUID();
    const a = hex24();
    const [r1, r2, r3] = [run('wf-1'), run('wf-2'), run('wf-1')];
    const events = [
      collected(owner, r1, 'b0', [note(a)], at(4)),
      collected(owner, r2, 'b0', [note(a, { likes: 500, title: '更新', type: 'video', tags: ['咖啡'], location: null })], at(8)),
      // an older collection arriving late: its history row only
      collected(owner, r3, 'b0', [note(a, { likes: 1, title: '旧' })], at(2)),
    ];
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, xiaohongshuContentProjection, { batchSize })
        .given(events)
        .thenAll([
          {
            table: 'xiaohongshu_contents',
            query: { where: { owner_id: owner, note_id: a }, columns: CONTENT_COLUMNS },
            expected: [
              {
                content_type: 'video',
                title: '更新',
                like_count: 500,
                comment_count: 10,
                tags: ['咖啡'],
                images: ['https://sns-webpic-qc.xhscdn.com/a.jpg'],
                location: null,
                workflow_ids: ['wf-1', 'wf-2'],
                last_workflow_id: 'wf-2',
                last_execution_id: r2.executionId,
                platform_account_id: 'acc-wf-2',
                times_collected: 3,
                first_collected_at: at(2),
                last_collected_at: at(8),
              },
            ],
          },
          {
            table: 'xiaohongshu_content_history',
            query: { where: { owner_id: owner, note_id: a }, columns: ['collected_at', 'execution_id', 'workflow_id', 'like_count'] },
            expected: [
              { collected_at: at(2), execution_id: r3.executionId, workflow_id: 'wf-1', like_count: 1 },
              { collected_at: at(4), execution_id: r1.executionId, workflow_id: 'wf-1', like_count: 100 },
              { collected_at: at(8), execution_id: r2.executionId, workflow_id: 'wf-2', like_count: 500 },
            ],
          },
        ]);
    }
  });

  it('lets the later of two collections at the same time win, and adds the workflows in the order they first collected', async () => {
    const owner = randomUUID();
    const a = hex24();
    const [r1, r2, r3] = [run('wf-3'), run('wf-1'), run('wf-2')];
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, xiaohongshuContentProjection, { batchSize })
        .given([
          collected(owner, r1, 'b0', [note(a, { likes: 1 })], at(4)),
          collected(owner, r2, 'b0', [note(a, { likes: 2 })], at(4)),
          collected(owner, r3, 'b0', [note(a, { likes: 3 })], at(3)),
        ])
        .then(
          'xiaohongshu_contents',
          {
            where: { owner_id: owner },
            columns: ['like_count', 'workflow_ids', 'last_workflow_id', 'times_collected', 'first_collected_at', 'last_collected_at'],
          },
          [
            {
              like_count: 2,
              workflow_ids: ['wf-3', 'wf-1', 'wf-2'],
              last_workflow_id: 'wf-1',
              times_collected: 3,
              first_collected_at: at(3),
              last_collected_at: at(4),
            },
          ],
        );
    }
  });

  it('counts a batch delivered again once, and a note collected twice by one run once', async () => {
    const owner = randomUUID();
    const [a, b] = [hex24(), hex24()];
    const r1 = run('wf-1');
    const first = collected(owner, r1, 'b0', [note(a), note(b, { likes: 7 }), note(b, { likes: 8 })], at(4));
    // the same (execution, batch) again as another event: applied already
    const again = collected(owner, r1, 'b0', [note(a, { likes: 999 })], at(5));
    // the next batch of the same run carrying a note seen already: its history row is there, so it is not counted
    const next = collected(owner, r1, 'b1', [note(a, { likes: 555 })], at(6));
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, xiaohongshuContentProjection, { batchSize })
        .given([first, again, next, first])
        .thenAll([
          {
            table: 'xiaohongshu_contents',
            query: { where: { owner_id: owner }, columns: ['note_id', 'like_count', 'times_collected', 'last_collected_at'], orderBy: ['like_count'] },
            // within one event the last copy of a note wins
            expected: [
              { note_id: b, like_count: 8, times_collected: 1, last_collected_at: at(4) },
              { note_id: a, like_count: 100, times_collected: 1, last_collected_at: at(4) },
            ],
          },
          {
            table: 'xiaohongshu_processed_batches',
            query: { where: { execution_id: r1.executionId }, columns: ['batch_id'] },
            expected: [{ batch_id: 'b0' }, { batch_id: 'b1' }],
          },
          {
            table: 'xiaohongshu_content_history',
            query: { where: { owner_id: owner }, columns: ['like_count'] },
            expected: [{ like_count: 8 }, { like_count: 100 }],
          },
        ]);
    }
  });

  it('keeps the first copy of a message, ignores other kinds and items that do not fit, and claims no batch without Xiaohongshu items', async () => {
    const owner = randomUUID();
    const [r1, r2, r3] = [run('wf-1'), run('wf-1'), run('wf-1')];
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, xiaohongshuContentProjection, { batchSize })
        .given([
          collected(owner, r1, 'b0', [message('m1', '你好'), message('m1', '第二份'), message('m2', '在吗')], at(4)),
          collected(owner, r2, 'b0', [message('m1', '又一份')], at(5)),
          collected(
            owner,
            r3,
            'b0',
            [
              { platformContentId: 'x', kind: 'xiaohongshu.note', data: { noteId: 'not-hex' } },
              { platformContentId: '1', kind: 'qidian.ranking_entry', data: {} },
            ],
            at(6),
          ),
        ])
        .thenQuery(
          async (tx) => ({
            messages: await tx('xiaohongshu_messages')
              .where({ owner_id: owner })
              .orderBy('message_id')
              .select('message_id', 'content', 'direction', 'from_nickname', 'sent_at', 'execution_id', 'collected_at'),
            contents: await tx('xiaohongshu_contents').where({ owner_id: owner }).select('note_id'),
            claimed: await tx('xiaohongshu_processed_batches')
              .whereIn('execution_id', [r1.executionId, r2.executionId, r3.executionId])
              .orderBy('execution_id')
              .select('execution_id'),
          }),
          {
            messages: [
              {
                message_id: 'm1',
                content: '你好',
                direction: 'received',
                from_nickname: null,
                sent_at: at(1),
                execution_id: r1.executionId,
                collected_at: at(4),
              },
              {
                message_id: 'm2',
                content: '在吗',
                direction: 'received',
                from_nickname: null,
                sent_at: at(1),
                execution_id: r1.executionId,
                collected_at: at(4),
              },
            ],
            contents: [],
            claimed: [{ execution_id: r1.executionId }, { execution_id: r2.executionId }].sort((x, y) => (x.execution_id < y.execution_id ? -1 : 1)),
          },
        );
    }
  });

  it('makes the same rows from what a rebuild reads: the Xiaohongshu items alone, a batch of only those as stored', async () => {
    const owner = randomUUID();
    const [r1, r2, r3] = [run('wf-1'), run('wf-1'), run('wf-2')];
    const [a, b] = [hex24(), hex24()];
    const qidianItem = { platformContentId: '热销榜:1', kind: 'qidian.ranking_entry', data: { rank: 1 } };
    const events = [
      collected(owner, r1, 'b0', [note(a), qidianItem, message('m1', '你好')], at(4)),
      collected(owner, r2, 'b0', [qidianItem], at(5)),
      collected(owner, r3, 'b0', [note(a, { likes: 7 }), note(b)], at(6)),
    ];
    const read = await asRebuildReads(knex, xiaohongshuContentProjection, events);
    expect((read[0]!.data as { items: { kind: string }[] }).items.map((i) => i.kind)).to.deep.equal(['xiaohongshu.note', 'xiaohongshu.message']);
    expect(read[1]!.data).to.deep.equal({ ...(events[1]!.data as object), items: [] });
    expect(read[2]!.data).to.deep.equal(events[2]!.data);
    for (const given of [events, read]) {
      await projectionSpec(knex, xiaohongshuContentProjection)
        .given(given)
        .thenQuery(
          async (tx) => ({
            contents: await tx('xiaohongshu_contents')
              .where({ owner_id: owner })
              .orderBy('note_id')
              .select('note_id', 'like_count', 'times_collected', 'workflow_ids'),
            messages: await tx('xiaohongshu_messages').where({ owner_id: owner }).select('message_id'),
            claimed: await tx('xiaohongshu_processed_batches').whereIn('execution_id', [r1.executionId, r2.executionId, r3.executionId]).count({ n: '*' }),
          }),
          {
            contents: [
              { note_id: a, like_count: 7, times_collected: 2, workflow_ids: ['wf-1', 'wf-2'] },
              { note_id: b, like_count: 100, times_collected: 1, workflow_ids: ['wf-2'] },
            ].sort((x, y) => (x.note_id < y.note_id ? -1 : 1)),
            messages: [{ message_id: 'm1' }],
            claimed: [{ n: '2' }],
          },
        );
    }
  });

  it('keeps owners apart: the same note is a row per owner', async () => {
    const [o1, o2] = [randomUUID(), randomUUID()];
    const a = hex24();
    await projectionSpec(knex, xiaohongshuContentProjection)
      .given([collected(o1, run('wf-1'), 'b0', [note(a, { likes: 1 })], at(4)), collected(o2, run('wf-9'), 'b0', [note(a, { likes: 2 })], at(5))])
      .thenQuery(
        async (tx) =>
          tx('xiaohongshu_contents').where({ note_id: a }).whereIn('owner_id', [o1, o2]).orderBy('like_count').select('owner_id', 'like_count', 'workflow_ids'),
        [
          { owner_id: o1, like_count: 1, workflow_ids: ['wf-1'] },
          { owner_id: o2, like_count: 2, workflow_ids: ['wf-9'] },
        ],
      );
  });
});

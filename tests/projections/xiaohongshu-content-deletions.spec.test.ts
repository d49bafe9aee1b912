import knexFactory, { type Knex } from 'knex';
import { randomBytes, randomUUID } from 'node:crypto';
import { xiaohongshuContentId } from '../../src/application/xiaohongshu-contents.js';
import type { RecordedEvent } from '../../src/event-store/port.js';
import { xiaohongshuContentProjection } from '../../src/projections/xiaohongshu-content.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { projectionSpec, recorded } from '../support/projection-spec.js';

/** One batch, every event alone, and pairs. */
const BATCH_SIZES = [500, 1, 2];

const hex24 = () => randomBytes(12).toString('hex');

describe('xiaohongshu-content-v1 projection: deleted notes and message peers (given events, then rows)', () => {
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
      tags: ['上海探店'],
      location: '上海',
      url: `https://www.xiaohongshu.com/explore/${noteId}`,
      ...over,
    },
  });

  const collected = (ownerId: string, items: Record<string, unknown>[], collectedAt: string, workflowId = 'wf-1'): RecordedEvent => {
    const executionId = randomUUID();
    return recorded(`workflow_execution-${executionId}`, 'ItemsCollected', {
      executionId,
      workflowId,
      ownerId,
      platform: 'xiaohongshu',
      type: 'xiaohongshu.notes',
      platformAccountId: 'acc-1',
      batchId: 'b0',
      attempt: 1,
      items,
      cursor: null,
      itemCount: items.length,
      collectedAt,
    });
  };

  const deletion = (ownerId: string, noteId: string, deletedAt: string): RecordedEvent => {
    const contentId = xiaohongshuContentId(ownerId, noteId);
    return recorded(`xiaohongshu_content-${contentId}`, 'CollectedContentDeleted', { contentId, ownerId, noteId, deletedAt }, { revision: 0n });
  };

  it("removes a deleted note's row and history and keeps a tombstone; other notes and owners stay", async () => {
    const [owner, other] = [randomUUID(), randomUUID()];
    const [a, b] = [hex24(), hex24()];
    const events = [
      collected(owner, [note(a), note(b, { likes: 7 })], at(2)),
      collected(owner, [note(a, { likes: 300 })], at(3)),
      collected(other, [note(a, { likes: 9 })], at(3)),
      deletion(owner, a, at(5)),
    ];
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, xiaohongshuContentProjection, { batchSize })
        .given(events)
        .thenQuery(
          async (tx) => ({
            contents: await tx('xiaohongshu_contents').whereIn('owner_id', [owner, other]).orderBy('like_count').select('owner_id', 'note_id', 'like_count'),
            history: await tx('xiaohongshu_content_history')
              .whereIn('owner_id', [owner, other])
              .orderBy('like_count')
              .select('owner_id', 'note_id', 'like_count'),
            tombstones: await tx('xiaohongshu_deleted_contents').whereIn('owner_id', [owner, other]).select('owner_id', 'note_id', 'deleted_at'),
          }),
          {
            contents: [
              { owner_id: owner, note_id: b, like_count: 7 },
              { owner_id: other, note_id: a, like_count: 9 },
            ],
            history: [
              { owner_id: owner, note_id: b, like_count: 7 },
              { owner_id: other, note_id: a, like_count: 9 },
            ],
            tombstones: [{ owner_id: owner, note_id: a, deleted_at: at(5) }],
          },
        );
    }
  });

  it('does not bring a deleted note back: not by a later collection, not by an earlier one arriving late, not in the same batch', async () => {
    const owner = randomUUID();
    const [a, b] = [hex24(), hex24()];
    const events = [
      collected(owner, [note(a)], at(2)),
      deletion(owner, a, at(5)),
      // collected again after the deletion, with a new note beside it
      collected(owner, [note(a, { likes: 999 }), note(b, { likes: 1 })], at(8)),
      // a collection from before the deletion, delivered late
      collected(owner, [note(a, { likes: 50 })], at(1)),
    ];
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, xiaohongshuContentProjection, { batchSize })
        .given(events)
        .thenAll([
          {
            table: 'xiaohongshu_contents',
            query: { where: { owner_id: owner }, columns: ['note_id', 'like_count', 'times_collected'] },
            expected: [{ note_id: b, like_count: 1, times_collected: 1 }],
          },
          {
            table: 'xiaohongshu_content_history',
            query: { where: { owner_id: owner }, columns: ['note_id', 'like_count'] },
            expected: [{ note_id: b, like_count: 1 }],
          },
          {
            table: 'xiaohongshu_deleted_contents',
            query: { where: { owner_id: owner }, columns: ['note_id', 'deleted_at'] },
            expected: [{ note_id: a, deleted_at: at(5) }],
          },
        ]);
    }
  });

  it('a deletion delivered before any collection of the note still hides it', async () => {
    const owner = randomUUID();
    const a = hex24();
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, xiaohongshuContentProjection, { batchSize })
        .given([deletion(owner, a, at(5)), collected(owner, [note(a)], at(6))])
        .thenAll([
          { table: 'xiaohongshu_contents', query: { where: { owner_id: owner }, columns: ['note_id'] }, expected: [] },
          { table: 'xiaohongshu_content_history', query: { where: { owner_id: owner }, columns: ['note_id'] }, expected: [] },
        ]);
    }
  });

  it('records the peer of each message, and fills it in on an older copy collected without it', async () => {
    const owner = randomUUID();
    const msg = (messageId: string, over: Record<string, unknown> = {}) => ({
      platformContentId: `conv-1:${messageId}`,
      kind: 'xiaohongshu.message',
      data: {
        conversationId: 'conv-1',
        messageId,
        direction: 'sent',
        from: { id: 'self-1', nickname: null },
        messageType: 'text',
        text: '你好',
        sentAt: at(1),
        ...over,
      },
    });
    const peer = { id: 'peer-1', nickname: '小鹿' };
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, xiaohongshuContentProjection, { batchSize })
        .given([
          collected(owner, [msg('m1')], at(2), 'wf-m'),
          collected(owner, [msg('m1', { text: '后来的一份', peer }), msg('m2', { peer, direction: 'received', from: peer })], at(3), 'wf-m'),
          // a later copy without a peer changes nothing
          collected(owner, [msg('m2')], at(4), 'wf-m'),
        ])
        .then(
          'xiaohongshu_messages',
          { where: { owner_id: owner }, columns: ['message_id', 'content', 'direction', 'from_user_id', 'peer_user_id', 'peer_nickname', 'collected_at'] },
          [
            {
              message_id: 'm1',
              content: '你好',
              direction: 'sent',
              from_user_id: 'self-1',
              peer_user_id: 'peer-1',
              peer_nickname: '小鹿',
              collected_at: at(2),
            },
            {
              message_id: 'm2',
              content: '你好',
              direction: 'received',
              from_user_id: 'peer-1',
              peer_user_id: 'peer-1',
              peer_nickname: '小鹿',
              collected_at: at(3),
            },
          ],
        );
    }
  });
});

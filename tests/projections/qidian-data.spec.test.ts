import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { qidianDataProjection } from '../../src/projections/qidian-data.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { asRebuildReads, projectionSpec, recorded } from '../support/projection-spec.js';

/** One batch, every event alone, and pairs: a row's events folded in one batch or split across batches leave the same row. */
const BATCH_SIZES = [500, 1, 2];

describe('qidian-data-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const at = (hour: number, minute = 0) => new Date(Date.UTC(2026, 2, 1, hour, minute)).toISOString();
  const settings = { notifyOnUpdate: true, notifyOnCompletion: false, wordCountThreshold: null };

  const trackingEvents = (trackingId: string, userId: string) => {
    const ref = { trackingId, userId, novelId: '1010868264' };
    const e = (type: string, data: Record<string, unknown>) => recorded(`novel_tracking-${trackingId}`, type, { ...ref, ...data });
    return {
      tracked: e('NovelTracked', { title: null, settings, retracked: false, trackedAt: at(1) }),
      updated: e('NovelTrackingUpdated', { title: '诡秘', settings: { ...settings, wordCountThreshold: 5000 }, updatedAt: at(2) }),
      untracked: e('NovelUntracked', { untrackedAt: at(3) }),
      retracked: e('NovelTracked', { title: '诡秘之主', settings, retracked: true, trackedAt: at(4) }),
    };
  };
  const TRACKING_COLUMNS = ['user_id', 'novel_id', 'stream_name', 'title', 'settings', 'status', 'created_at', 'updated_at', 'untracked_at', 'last_revision'];

  it('applies every tracking event, in one batch or split across batches: a re-track revives the row', async () => {
    const id = randomUUID();
    const user = randomUUID();
    const t = trackingEvents(id, user);
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, qidianDataProjection, { batchSize })
        .given([t.tracked, t.updated, t.untracked, t.retracked])
        .then('qidian_trackings', { where: { id }, columns: TRACKING_COLUMNS }, [
          {
            user_id: user,
            novel_id: '1010868264',
            stream_name: `novel_tracking-${id}`,
            title: '诡秘之主',
            settings,
            status: 'tracking',
            created_at: at(4),
            updated_at: at(4),
            untracked_at: null,
            last_revision: '3',
          },
        ]);
    }
  });

  it('stops where the events stop, and older tracking events redelivered after later ones do not move the row back', async () => {
    const id = randomUUID();
    const t = trackingEvents(id, randomUUID());
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, qidianDataProjection, { batchSize })
        .given([t.tracked, t.updated, t.untracked, t.updated, t.tracked])
        .then('qidian_trackings', { where: { id }, columns: ['title', 'settings', 'status', 'created_at', 'updated_at', 'untracked_at', 'last_revision'] }, [
          {
            title: '诡秘',
            settings: { ...settings, wordCountThreshold: 5000 },
            status: 'untracked',
            created_at: at(1),
            updated_at: at(3),
            untracked_at: at(3),
            last_revision: '2',
          },
        ]);
    }
  });

  // ------------------------------------------------------------ collected items

  const collected = (ownerId: string, items: Record<string, unknown>[], collectedAt: string, executionId: string = randomUUID()) => {
    return recorded(
      `workflow_execution-${executionId}`,
      'ItemsCollected',
      {
        executionId,
        workflowId: 'wf-1',
        ownerId,
        platform: 'qidian',
        type: 'qidian.novels',
        platformAccountId: null,
        batchId: 'b0',
        attempt: 1,
        items,
        cursor: null,
        itemCount: items.length,
        collectedAt,
      },
      { revision: 3n },
    );
  };
  const snapshot = (novelId: string, capturedAt: string, over: Record<string, unknown> = {}) => ({
    platformContentId: novelId,
    kind: 'qidian.novel_snapshot',
    data: {
      novelId,
      title: '诡秘之主',
      author: '爱潜水的乌贼',
      category: '玄幻',
      wordCount: 4_465_000,
      chapters: 1430,
      status: 'serializing',
      stats: { clicks: null, recommendations: 2_500_000, collections: 1_200_000, monthlyTickets: 8800 },
      capturedAt,
      ...over,
    },
  });
  const entry = (rank: number, novelId: string, title: string, capturedAt: string, ranking = '热销榜') => ({
    platformContentId: `${ranking}:${novelId}`,
    kind: 'qidian.ranking_entry',
    data: {
      ranking,
      rank,
      novelId,
      title,
      author: '天蚕土豆',
      category: '玄幻',
      subCategory: '东方玄幻',
      status: 'serializing',
      score: 12000 - rank,
      scoreLabel: '月票',
      capturedAt,
    },
  });

  it('keeps every snapshot once and the latest capture per novel (several in one event, and a late earlier capture), in one batch or split', async () => {
    const owner = randomUUID();
    const [x0, x1] = [randomUUID(), randomUUID()];
    const events = [
      collected(
        owner,
        [snapshot('1', at(2)), snapshot('1', at(9), { wordCount: 4_470_000, status: 'completed' }), snapshot('2', at(2), { title: '宿命之环' })],
        at(9),
        x0,
      ),
      // the same capture again (first stays) and an earlier one arriving late (kept as history, does not overwrite the novel)
      collected(owner, [snapshot('1', at(9), { wordCount: 1 }), snapshot('1', at(5), { wordCount: 4_468_000 })], at(10), x1),
      // an equal capture time later in the log: the later event wins the novel row, the snapshot stays the first
      collected(owner, [snapshot('2', at(2), { title: '宿命之环（修订）' })], at(11)),
    ];
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, qidianDataProjection, { batchSize })
        .given(events)
        .thenAll([
          {
            table: 'qidian_novel_snapshots',
            query: {
              where: { owner_id: owner },
              columns: ['novel_id', 'captured_at', 'title', 'word_count', 'status', 'clicks', 'recommendations', 'execution_id'],
              orderBy: ['novel_id', 'captured_at'],
            },
            expected: [
              {
                novel_id: '1',
                captured_at: at(2),
                title: '诡秘之主',
                word_count: '4465000',
                status: 'serializing',
                clicks: null,
                recommendations: '2500000',
                execution_id: x0,
              },
              {
                novel_id: '1',
                captured_at: at(5),
                title: '诡秘之主',
                word_count: '4468000',
                status: 'serializing',
                clicks: null,
                recommendations: '2500000',
                execution_id: x1,
              },
              {
                novel_id: '1',
                captured_at: at(9),
                title: '诡秘之主',
                word_count: '4470000',
                status: 'completed',
                clicks: null,
                recommendations: '2500000',
                execution_id: x0,
              },
              {
                novel_id: '2',
                captured_at: at(2),
                title: '宿命之环',
                word_count: '4465000',
                status: 'serializing',
                clicks: null,
                recommendations: '2500000',
                execution_id: x0,
              },
            ],
          },
          {
            table: 'qidian_novels',
            query: { where: { owner_id: owner }, columns: ['novel_id', 'title', 'word_count', 'status', 'last_captured_at'] },
            expected: [
              { novel_id: '1', title: '诡秘之主', word_count: '1', status: 'serializing', last_captured_at: at(9) },
              { novel_id: '2', title: '宿命之环（修订）', word_count: '4465000', status: 'serializing', last_captured_at: at(2) },
            ],
          },
        ]);
    }
  });

  it('keeps one ranking row per place and China day: a later capture replaces it, an earlier or equal one does not (and so from what a rebuild reads)', async () => {
    const owner = randomUUID();
    const events = [
      collected(owner, [entry(1, '11', '斗破苍穹', at(2)), entry(2, '12', '武动乾坤', at(2)), entry(1, '21', '凡人修仙传', at(2), '推荐榜')], at(2)),
      // the same day (China), later: replaces place 1
      collected(owner, [entry(1, '13', '元尊', at(9))], at(9)),
      // earlier than the row, then equal to it: neither replaces
      collected(owner, [entry(1, '14', '大主宰', at(5)), entry(1, '15', '武神主宰', at(9))], at(10)),
      // 16:00 UTC is the next day in China
      collected(owner, [entry(1, '16', '遮天', at(16))], at(16)),
      // a bad entry and a foreign kind are skipped
      collected(
        owner,
        [
          { platformContentId: 'x', kind: 'qidian.ranking_entry', data: { rank: 0 } },
          { platformContentId: 'n', kind: 'xiaohongshu.note', data: {} },
        ],
        at(17),
      ),
    ];
    // a rebuild reads the Qidian items alone; a batch of only those as stored
    const read = await asRebuildReads(knex, qidianDataProjection, events);
    expect((read[4]!.data as { items: { kind: string }[] }).items.map((item) => item.kind)).to.deep.equal(['qidian.ranking_entry']);
    expect(read.slice(0, 4).map((e) => e.data)).to.deep.equal(events.slice(0, 4).map((e) => e.data));
    for (const [given, batchSize] of [events, read].flatMap((g) => BATCH_SIZES.map((size) => [g, size] as const))) {
      await projectionSpec(knex, qidianDataProjection, { batchSize })
        .given(given)
        .thenQuery(
          async (tx) =>
            tx('qidian_rankings')
              .where({ owner_id: owner })
              .orderByRaw('ranking COLLATE "C", day, rank')
              .select(
                'ranking',
                tx.raw(`to_char(day, 'YYYY-MM-DD') AS day`),
                'rank',
                'novel_id',
                'title',
                'sub_category',
                'status',
                'score',
                'score_label',
                'captured_at',
              ),
          [
            {
              ranking: '推荐榜',
              day: '2026-03-01',
              rank: 1,
              novel_id: '21',
              title: '凡人修仙传',
              sub_category: '东方玄幻',
              status: 'serializing',
              score: 11999,
              score_label: '月票',
              captured_at: at(2),
            },
            {
              ranking: '热销榜',
              day: '2026-03-01',
              rank: 1,
              novel_id: '13',
              title: '元尊',
              sub_category: '东方玄幻',
              status: 'serializing',
              score: 11999,
              score_label: '月票',
              captured_at: at(9),
            },
            {
              ranking: '热销榜',
              day: '2026-03-01',
              rank: 2,
              novel_id: '12',
              title: '武动乾坤',
              sub_category: '东方玄幻',
              status: 'serializing',
              score: 11998,
              score_label: '月票',
              captured_at: at(2),
            },
            {
              ranking: '热销榜',
              day: '2026-03-02',
              rank: 1,
              novel_id: '16',
              title: '遮天',
              sub_category: '东方玄幻',
              status: 'serializing',
              score: 11999,
              score_label: '月票',
              captured_at: at(16),
            },
          ],
        );
    }
  });

  it('keeps owners apart and takes trackings and items from one batch', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const id = randomUUID();
    const t = trackingEvents(id, a);
    await projectionSpec(knex, qidianDataProjection)
      .given([t.tracked, collected(a, [snapshot('1', at(2))], at(2)), collected(b, [snapshot('1', at(3), { chapters: 9 })], at(3)), t.updated])
      .thenAll([
        { table: 'qidian_trackings', query: { where: { id }, columns: ['title', 'last_revision'] }, expected: [{ title: '诡秘', last_revision: '1' }] },
        {
          table: 'qidian_novels',
          query: { where: { owner_id: a }, columns: ['chapters', 'last_captured_at'] },
          expected: [{ chapters: 1430, last_captured_at: at(2) }],
        },
        {
          table: 'qidian_novels',
          query: { where: { owner_id: b }, columns: ['chapters', 'last_captured_at'] },
          expected: [{ chapters: 9, last_captured_at: at(3) }],
        },
      ]);
  });
});

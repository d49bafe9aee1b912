import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import type { Position } from '../../src/event-store/position.js';
import { applyEvent, createQidianDataProjection, QIDIAN_DATA_PROJECTION, qidianDay } from '../../src/projections/qidian-data.js';
import { readCheckpoint, resetCheckpoint } from '../../src/consumers/checkpoints.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { novelTrackingAggregate, type NovelTrackingCommand } from '../../src/write-model/novel-tracking/index.js';
import { workflowExecutionAggregate, type workflowExecutionDecider, type CollectedItem } from '../../src/write-model/workflow-execution/index.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';

const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

const snapshotItem = (novelId: string, capturedAt: string, over: Record<string, unknown> = {}): CollectedItem => ({
  platformContentId: `${novelId}@${capturedAt}`,
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

const rankingItem = (rank: number, novelId: string, title: string, capturedAt: string, ranking = '热销榜'): CollectedItem => ({
  platformContentId: `${ranking}:${novelId}`,
  kind: 'qidian.ranking_entry',
  data: { ranking, rank, novelId, title, author: '天蚕土豆', category: '玄幻', score: 12000 - rank, scoreLabel: '月票', capturedAt },
});

describe('qidian-data-v1 projection (trackings, novel snapshots, rankings)', function () {
  this.timeout(60_000);
  let knex: Knex;
  let store: PostgresEventStore;
  let name: string;

  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 5 } });
    store = createPostgresEventStore({ connectionString: testDatabaseUrl, poolSize: 5 });
  });
  after(async () => {
    await store.close();
    await knex.destroy();
  });
  beforeEach(() => {
    name = `${QIDIAN_DATA_PROJECTION}-test-${randomUUID().slice(0, 8)}`;
  });
  afterEach(async () => {
    await knex('consumer_checkpoints').where({ consumer: name }).delete();
  });

  /** Runs one execution of `ownerId` that collects these batches. */
  async function collect(ownerId: string, batches: CollectedItem[][], at: string): Promise<void> {
    const executionId = randomUUID();
    const send = (command: Parameters<typeof workflowExecutionDecider.decide>[0]) =>
      handle(store, workflowExecutionAggregate, executionId, command, { context });
    await send({
      type: 'RequestExecution',
      executionId,
      workflowId: randomUUID(),
      ownerId,
      platform: 'qidian',
      workflowType: 'qidian.novels',
      config: { novelIds: ['1010868264'] },
      platformAccountId: null,
      trigger: 'schedule',
      requestedBy: null,
      now: at,
    });
    await send({ type: 'StartExecution', executionId, workerId: 'worker-1', now: at });
    for (const [i, items] of batches.entries()) await send({ type: 'CollectItems', executionId, batchId: `b${i}`, items, cursor: null, now: at });
  }

  async function tracking(commands: NovelTrackingCommand[]): Promise<void> {
    for (const command of commands) await handle(store, novelTrackingAggregate, command.trackingId, command, { context });
  }

  async function tables(ownerId: string) {
    const trackings = await knex('qidian_trackings')
      .where({ user_id: ownerId })
      .orderBy('novel_id')
      .select('id', 'novel_id', 'title', 'settings', 'status', 'last_revision');
    const snapshots = await knex('qidian_novel_snapshots')
      .where({ owner_id: ownerId })
      .orderBy(['novel_id', 'captured_at'])
      .select('novel_id', 'captured_at', 'word_count', 'collections', 'clicks');
    const novels = await knex('qidian_novels')
      .where({ owner_id: ownerId })
      .orderBy('novel_id')
      .select('novel_id', 'title', 'word_count', 'status', 'last_captured_at');
    const rankings = await knex('qidian_rankings')
      .where({ owner_id: ownerId })
      .orderBy(['ranking', 'day', 'rank'])
      .select('ranking', knex.raw(`to_char(day, 'YYYY-MM-DD') AS day`), 'rank', 'novel_id', 'title', 'score');
    return { trackings, snapshots, novels, rankings };
  }

  it('projects trackings, snapshots and rankings, and a replay from before them changes nothing', async () => {
    const owner = randomUUID();
    const other = randomUUID();
    const from: Position = await store.headPosition();
    const t1 = randomUUID();
    const t2 = randomUUID();
    const settings = { notifyOnUpdate: true, notifyOnCompletion: false, wordCountThreshold: null };
    await tracking([
      { type: 'TrackNovel', trackingId: t1, userId: owner, novelId: '1010868264', title: null, settings, now: '2026-03-01T01:00:00.000Z' },
      { type: 'TrackNovel', trackingId: t2, userId: owner, novelId: '1035420986', title: '宿命之环', settings, now: '2026-03-01T01:05:00.000Z' },
      {
        type: 'UpdateNovelTracking',
        trackingId: t1,
        requestedBy: owner,
        title: '诡秘',
        settings: { ...settings, wordCountThreshold: 5000 },
        now: '2026-03-01T02:00:00.000Z',
      },
      { type: 'UntrackNovel', trackingId: t2, requestedBy: owner, now: '2026-03-01T03:00:00.000Z' },
    ]);
    // day 1 (China), a later capture of day 2, then day 2's earlier capture arriving late; a bad item and a foreign kind are skipped
    await collect(
      owner,
      [
        [
          snapshotItem('1010868264', '2026-03-01T02:00:00.000Z'),
          rankingItem(1, '1', '斗破苍穹', '2026-03-01T02:00:00.000Z'),
          rankingItem(2, '2', '武动乾坤', '2026-03-01T02:00:00.000Z'),
        ],
      ],
      '2026-03-01T02:10:00.000Z',
    );
    await collect(
      owner,
      [
        [
          snapshotItem('1010868264', '2026-03-02T09:00:00.000Z', {
            wordCount: 4_470_000,
            status: 'completed',
            stats: { clicks: 5, recommendations: 1, collections: 1_201_000, monthlyTickets: 9000 },
          }),
        ],
        [rankingItem(1, '2', '武动乾坤', '2026-03-02T09:00:00.000Z')],
        [
          { platformContentId: 'bad', kind: 'qidian.novel_snapshot', data: { novelId: 'not digits' } },
          { platformContentId: 'note-1', kind: 'xiaohongshu.note', data: { title: 'x' } },
        ],
      ],
      '2026-03-02T09:10:00.000Z',
    );
    await collect(
      owner,
      [[snapshotItem('1010868264', '2026-03-02T01:00:00.000Z', { wordCount: 4_468_000 }), rankingItem(1, '3', '元尊', '2026-03-02T01:00:00.000Z')]],
      '2026-03-02T09:20:00.000Z',
    );
    await collect(other, [[snapshotItem('1010868264', '2026-03-01T02:00:00.000Z')]], '2026-03-01T02:10:00.000Z');

    await resetCheckpoint(knex, name, from);
    await runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, createQidianDataProjection(name));
    const first = await tables(owner);

    expect(first.trackings.map((t: any) => [t.id === t1 ? 't1' : 't2', t.title, t.status, t.settings.wordCountThreshold, t.last_revision])).to.deep.equal([
      ['t1', '诡秘', 'tracking', 5000, '1'],
      ['t2', '宿命之环', 'untracked', null, '1'],
    ]);
    expect(first.snapshots.map((s: any) => [s.captured_at.toISOString(), s.word_count, s.collections, s.clicks])).to.deep.equal([
      ['2026-03-01T02:00:00.000Z', '4465000', '1200000', null],
      ['2026-03-02T01:00:00.000Z', '4468000', '1200000', null],
      ['2026-03-02T09:00:00.000Z', '4470000', '1201000', '5'],
    ]);
    // the late, earlier capture did not overwrite the latest
    expect(first.novels.map((n: any) => [n.novel_id, n.word_count, n.status, n.last_captured_at.toISOString()])).to.deep.equal([
      ['1010868264', '4470000', 'completed', '2026-03-02T09:00:00.000Z'],
    ]);
    // day 2's rank 1 is the later capture's (武动乾坤), not the late earlier one's (元尊)
    expect(first.rankings.map((r: any) => [r.ranking, r.day, r.rank, r.title])).to.deep.equal([
      ['热销榜', '2026-03-01', 1, '斗破苍穹'],
      ['热销榜', '2026-03-01', 2, '武动乾坤'],
      ['热销榜', '2026-03-02', 1, '武动乾坤'],
    ]);
    expect((await tables(other)).snapshots).to.have.length(1);

    // replay everything from before the scenario
    await resetCheckpoint(knex, name, from);
    await runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, createQidianDataProjection(name));
    expect(await tables(owner)).to.deep.equal(first);
    expect((await readCheckpoint(knex, name)).commit >= from.commit).to.equal(true);
  });

  it('applies a redelivered event once, and a re-track revives the row', async () => {
    const owner = randomUUID();
    const id = randomUUID();
    const stream = novelTrackingAggregate.streamName(id);
    const settings = { notifyOnUpdate: false, notifyOnCompletion: true, wordCountThreshold: null };
    await tracking([
      { type: 'TrackNovel', trackingId: id, userId: owner, novelId: '107580', title: null, settings, now: '2026-03-01T01:00:00.000Z' },
      { type: 'UntrackNovel', trackingId: id, requestedBy: owner, now: '2026-03-01T02:00:00.000Z' },
      { type: 'TrackNovel', trackingId: id, userId: owner, novelId: '107580', title: '凡人修仙传', settings, now: '2026-03-03T01:00:00.000Z' },
    ]);
    const events = await store.readStream(stream);
    for (const e of [...events, ...events]) await knex.transaction((tx) => applyEvent(tx, e));
    // an old event again after the newer ones: ignored
    await knex.transaction((tx) => applyEvent(tx, events[1]!));
    const row = await knex('qidian_trackings').where({ id }).first();
    expect(row).to.include({ status: 'tracking', title: '凡人修仙传', last_revision: '2', untracked_at: null });
    expect(row.created_at.toISOString()).to.equal('2026-03-03T01:00:00.000Z');
  });

  it('dates rankings by the Qidian (China) day', () => {
    expect(qidianDay('2026-03-01T15:59:59.000Z')).to.equal('2026-03-01');
    expect(qidianDay('2026-03-01T16:00:00.000Z')).to.equal('2026-03-02');
  });
});

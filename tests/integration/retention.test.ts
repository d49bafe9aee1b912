import { expect } from 'chai';
import { Command } from 'commander';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { QueueEvents, type Queue, type Worker } from 'bullmq';
import { up as xiaohongshuTables } from '../../migrations/20261123000900_xiaohongshu_read_model.js';
import { up as qidianTables } from '../../migrations/20261123001000_qidian_read_model.js';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import {
  createMaintenanceQueue,
  createMaintenanceWorker,
  MAINTENANCE_QUEUE,
  RETENTION_JOB_NAME,
  RETENTION_SCHEDULER_ID,
  upsertRetentionScheduler,
  type RetentionJobData,
} from '../../src/adapters/queue/maintenance.js';
import { QueueFactory } from '../../src/adapters/queue/queues.js';
import { runRetention, type RetentionReport } from '../../src/application/retention.js';
import { registerRetentionCommand } from '../../src/cli/retention.js';
import { subscriptionIdFor } from '../../src/process-managers/shared.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { subscriptionAggregate, subscriptionKey } from '../../src/write-model/subscription/index.js';
import type { PlanCode, Service } from '../../src/write-model/subscription/plans.js';
import { testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';

const DAY = 86_400_000;
const NOW = new Date();
const ago = (days: number) => new Date(NOW.getTime() - days * DAY);

/** Every table the job touches, in the order of a report. */
const TABLES = [
  'xiaohongshu_contents',
  'xiaohongshu_content_history',
  'xiaohongshu_messages',
  'qidian_novels',
  'qidian_novel_snapshots',
  'qidian_rankings',
  'xiaohongshu_processed_batches',
];

describe("retention job: rows past the owner's plan's data_retention_days", function () {
  this.timeout(30_000);
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  let knex: Knex;
  let store: PostgresEventStore;
  // A: xiaohongshu free (7 days), qidian pro (90); B: xiaohongshu pro (90), qidian free (7)
  const A = `user-a-${randomUUID()}`;
  const B = `user-b-${randomUUID()}`;
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(async () => {
    // a schema of its own (event store + read tables): the job sees only this test's owners and rows
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 4 });
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, searchPath: [iso.schema], pool: { min: 0, max: 4 } });
    await xiaohongshuTables(knex);
    await qidianTables(knex);
    await subscribe(A, 'qidian', 'pro');
    await subscribe(B, 'xiaohongshu', 'pro');
    await subscribe(B, 'qidian', 'free');
    // A has no xiaohongshu subscription at all: free, like every user before the free-plans PM ran
  });
  after(async () => {
    await store.close();
    await knex.destroy();
    await iso.drop();
  });
  beforeEach(async () => {
    for (const t of TABLES) await knex(t).truncate();
    await seed();
  });

  async function subscribe(userId: string, service: Service, plan: PlanCode): Promise<void> {
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
        periodEnd: plan === 'free' ? null : new Date(NOW.getTime() + 30 * DAY).toISOString(),
        now: NOW.toISOString(),
      },
      { context },
    );
  }

  const note = (owner: string, noteId: string, at: Date) => ({
    owner_id: owner,
    note_id: noteId,
    content_type: 'note',
    title: 't',
    content: 'c',
    author_id: 'a',
    author_name: 'n',
    like_count: 1,
    comment_count: 1,
    share_count: 1,
    collect_count: 1,
    images: '[]',
    tags: [],
    url: `https://x/${noteId}`,
    workflow_ids: ['wf'],
    last_workflow_id: 'wf',
    last_execution_id: 'ex',
    first_collected_at: at,
    last_collected_at: at,
  });
  const history = (owner: string, noteId: string, executionId: string, at: Date) => ({
    owner_id: owner,
    note_id: noteId,
    execution_id: executionId,
    workflow_id: 'wf',
    collected_at: at,
    like_count: 1,
    comment_count: 1,
    share_count: 1,
    collect_count: 1,
  });
  const message = (owner: string, messageId: string, at: Date) => ({
    owner_id: owner,
    conversation_id: 'c1',
    message_id: messageId,
    direction: 'received',
    content: 'hi',
    from_user_id: 'u',
    sent_at: at,
    workflow_id: 'wf',
    execution_id: 'ex',
    collected_at: at,
  });
  const novel = (owner: string, novelId: string, at: Date) => ({
    owner_id: owner,
    novel_id: novelId,
    title: 't',
    author: 'a',
    category: 'c',
    status: 's',
    word_count: 1,
    chapters: 1,
    last_captured_at: at,
  });
  const snapshot = (owner: string, novelId: string, at: Date) => ({
    owner_id: owner,
    novel_id: novelId,
    captured_at: at,
    title: 't',
    author: 'a',
    category: 'c',
    status: 's',
    word_count: 1,
    chapters: 1,
    execution_id: 'ex',
    workflow_id: 'wf',
  });
  const ranking = (owner: string, rank: number, at: Date) => ({
    owner_id: owner,
    ranking: '热销榜',
    day: at.toISOString().slice(0, 10),
    rank,
    captured_at: at,
    novel_id: `n${rank}`,
    title: 't',
    author: 'a',
    category: 'c',
    execution_id: 'ex',
  });

  /** Old rows are named `old…`, rows within retention `keep…`; EXPECTED counts the old ones. */
  async function seed(): Promise<void> {
    await knex('xiaohongshu_contents').insert([
      note(A, 'old-a1', ago(10)), // free: 7 days
      note(A, 'keep-a2', ago(3)),
      note(B, 'keep-b1', ago(10)), // pro: 90 days
      note(B, 'old-b2', ago(100)),
    ]);
    await knex('xiaohongshu_content_history').insert([
      history(A, 'old-a1', 'old-e1', ago(10)),
      history(A, 'keep-a2', 'old-e2', ago(8)),
      history(A, 'keep-a2', 'keep-e3', ago(7)), // exactly at the cutoff: still shown, so kept
      history(A, 'keep-a2', 'keep-e4', ago(3)),
      ...[1, 2, 3, 4, 5].map((i) => history(B, 'old-b2', `old-e${i}`, ago(100 + i))), // more than a batch
      history(B, 'keep-b1', 'keep-e1', ago(10)),
    ]);
    await knex('xiaohongshu_messages').insert([message(A, 'old-m1', ago(10)), message(A, 'keep-m2', ago(1)), message(B, 'keep-m3', ago(60))]);
    await knex('qidian_novels').insert([novel(A, 'old-n1', ago(100)), novel(A, 'keep-n2', ago(30)), novel(B, 'old-n3', ago(10)), novel(B, 'keep-n4', ago(3))]);
    await knex('qidian_novel_snapshots').insert([
      snapshot(A, 'old-n1', ago(100)),
      snapshot(A, 'keep-n2', ago(30)),
      snapshot(B, 'old-n3', ago(10)),
      snapshot(B, 'old-n3', ago(9)),
      snapshot(B, 'keep-n4', ago(3)),
    ]);
    await knex('qidian_rankings').insert([ranking(A, 1, ago(100)), ranking(A, 2, ago(30)), ranking(B, 3, ago(10)), ranking(B, 4, ago(2))]);
    await knex('xiaohongshu_processed_batches').insert([
      { execution_id: 'old-x', batch_id: 'b1', processed_at: ago(400) }, // past the longest retention of any plan (365)
      { execution_id: 'keep-x', batch_id: 'b1', processed_at: ago(100) },
    ]);
  }

  const EXPECTED: Record<string, number> = {
    xiaohongshu_contents: 2,
    xiaohongshu_content_history: 7,
    xiaohongshu_messages: 1,
    qidian_novels: 2,
    qidian_novel_snapshots: 3,
    qidian_rankings: 2,
    xiaohongshu_processed_batches: 1,
  };

  async function counts(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const t of TABLES) out[t] = Number(((await knex(t).count({ n: '*' })) as [{ n: string }])[0].n);
    return out;
  }

  /** Every key column of every row left; none may be named `old…`. */
  async function leftovers(): Promise<string[]> {
    const left: string[] = [];
    const pick = async (t: string, cols: string[]) => {
      for (const row of await knex(t).select(cols)) left.push(`${t}:${cols.map((c) => row[c]).join('/')}`);
    };
    await pick('xiaohongshu_contents', ['owner_id', 'note_id']);
    await pick('xiaohongshu_content_history', ['owner_id', 'execution_id']);
    await pick('xiaohongshu_messages', ['owner_id', 'message_id']);
    await pick('qidian_novels', ['owner_id', 'novel_id']);
    await pick('qidian_novel_snapshots', ['owner_id', 'novel_id', 'captured_at']);
    await pick('qidian_rankings', ['owner_id', 'rank']);
    await pick('xiaohongshu_processed_batches', ['execution_id']);
    return left;
  }

  const run = (dryRun = false) => runRetention({ knex, store, now: NOW, dryRun, batchSize: 2 });

  it("deletes exactly the old rows of each owner, by each owner's plan per service", async () => {
    const before = await counts();
    const report = await run();
    expect(report.deleted).to.deep.equal(EXPECTED);
    expect(report.total).to.equal(18);
    expect(report.owners).to.deep.equal({ xiaohongshu: 2, qidian: 2 });
    const after = await counts();
    for (const t of TABLES) expect(after[t], t).to.equal(before[t]! - EXPECTED[t]!);
    const left = await leftovers();
    expect(left.filter((row) => row.includes('old'))).to.deep.equal([]);
    // what is left within retention: A's note at exactly 7 days, B's note at 10 days (pro), A's snapshot at 30 days (pro)
    expect(left).to.include.members([`xiaohongshu_content_history:${A}/keep-e3`, `xiaohongshu_contents:${B}/keep-b1`, `qidian_novels:${A}/keep-n2`]);
  });

  it('a dry run counts the same rows and deletes nothing; a second real run deletes nothing more', async () => {
    const before = await counts();
    const dry = await run(true);
    expect(dry.dryRun).to.equal(true);
    expect(dry.deleted).to.deep.equal(EXPECTED);
    expect(await counts()).to.deep.equal(before);

    await run();
    const afterFirst = await counts();
    const second = await run();
    expect(second.total).to.equal(0);
    expect(Object.values(second.deleted).every((n) => n === 0)).to.equal(true);
    expect(await counts()).to.deep.equal(afterFirst);
  });

  it('CLI: `retention run --dry-run --json` prints the counts; without --dry-run it deletes and prints per table', async () => {
    const lines: string[] = [];
    const program = () => {
      const p = new Command('cli').exitOverride();
      registerRetentionCommand(p, { out: (l) => lines.push(l), now: () => NOW, withServices: (fn) => fn({ knex, store }) });
      return p;
    };
    await program().parseAsync(['node', 'cli', 'retention', 'run', '--dry-run', '--json']);
    const report = JSON.parse(lines.at(-1)!) as RetentionReport;
    expect(report).to.deep.include({ dryRun: true, total: 18 });
    expect(report.deleted).to.deep.equal(EXPECTED);
    expect((await counts()).xiaohongshu_content_history).to.equal(10);

    lines.length = 0;
    await program().parseAsync(['node', 'cli', 'retention', 'run']);
    expect(lines.join('\n'))
      .to.match(/xiaohongshu_content_history\s+deleted 7/)
      .and.match(/total: deleted 18 rows/);
    expect((await counts()).xiaohongshu_content_history).to.equal(3);
  });

  describe('the maintenance queue (BullMQ)', () => {
    let factory: QueueFactory;
    let queue: Queue<RetentionJobData>;
    let worker: Worker | undefined;
    let events: QueueEvents | undefined;

    beforeEach(async () => {
      factory = new QueueFactory({ redisUrl: testRedisUrl, prefix: `test-${randomUUID()}` });
      queue = createMaintenanceQueue(factory);
      await queue.waitUntilReady();
    });
    afterEach(async () => {
      await worker?.close();
      await events?.close();
      await queue.obliterate({ force: true });
      await queue.close();
    });

    it('upserting the scheduler twice keeps one, daily at 04:00 in the quota time zone', async () => {
      await upsertRetentionScheduler(queue, { timeZone: 'Asia/Shanghai' });
      await upsertRetentionScheduler(queue, { timeZone: 'Asia/Shanghai' });
      expect(await queue.getJobSchedulersCount()).to.equal(1);
      const scheduler = (await queue.getJobScheduler(RETENTION_SCHEDULER_ID))!;
      expect(scheduler).to.deep.include({ pattern: '0 4 * * *', tz: 'Asia/Shanghai', name: RETENTION_JOB_NAME });
      // 04:00 in Shanghai (UTC+8) is 20:00 UTC, within the next day
      const next = new Date(scheduler.next!);
      expect([next.getUTCHours(), next.getUTCMinutes()]).to.deep.equal([20, 0]);
      expect(next.getTime() - Date.now()).to.be.within(0, DAY);
      expect(await queue.getJobs(['delayed', 'waiting'])).to.have.length(1);
    });

    it('a worker runs a retention job: the report is its return value', async () => {
      worker = createMaintenanceWorker(factory, { knex, store, now: () => NOW });
      events = new QueueEvents(MAINTENANCE_QUEUE, { connection: factory.connection('worker'), prefix: factory.prefix });
      await events.waitUntilReady();
      const job = await queue.add(RETENTION_JOB_NAME, {});
      const report = (await job.waitUntilFinished(events, 15_000)) as RetentionReport;
      expect(report.deleted).to.deep.equal(EXPECTED);
      expect(report.dryRun).to.equal(false);
      expect((await counts()).xiaohongshu_contents).to.equal(2);
    });
  });
});

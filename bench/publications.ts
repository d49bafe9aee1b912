/**
 * Publication dispatch benchmark: `tsx bench/publications.ts [-- --json]`,
 * and part of `npm run bench:pipeline` (benchPublicationDispatch). Progress
 * goes to stderr, the tables (or JSON) to stdout.
 *
 * A backlog of publications requested first (PublicationRequested appended
 * as the API does, no consumer running), then the real pm-publications
 * drains it: the automatic pre-review on each content snapshot (against a
 * platform rule set of BENCH_PUBLICATION_PHRASES phrases, read and compiled
 * as in production), RecordPreReview (PreReviewPassed + PublicationQueued),
 * and the `publish` job in BullMQ: from its start to the last job waiting in
 * the queue. Beside it, the requests alone (the backlog's appends).
 * Target: ≥ 1,000 publications dispatched/s on a backlog of 10,000. Fresh
 * database `bench_publications`, a queue prefix of its own in REDIS_URL.
 *
 * Env: BENCH_PUBLICATIONS (backlog, default 10000), BENCH_CONCURRENCY
 * (appends at once, default 8), BENCH_PUBLICATION_PHRASES (default 2000),
 * BENCH_PG, REDIS_URL.
 */
import { Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { BullMqPublicationJobs, type PublishJobData } from '../src/adapters/queue/publish-queue.js';
import { QUEUE_NAMES } from '../src/adapters/queue/queues.js';
import { loadConfig } from '../src/config.js';
import { ConsumerRunner } from '../src/consumers/consumer-runner.js';
import { buildContainer, disposeContainer } from '../src/container.js';
import { batchPreReview } from '../src/process-managers/publication-pre-review.js';
import { createPublications } from '../src/process-managers/publications.js';
import { TOKENS } from '../src/tokens.js';
import { handle } from '../src/write-model/core/command-handler.js';
import { publicationAggregate } from '../src/write-model/publication/decider.js';
import { reviewRuleSetAggregate } from '../src/write-model/review-rules/decider.js';
import { PLATFORM_SCOPE } from '../src/write-model/review-rules/events.js';
import { migrate, recreateDatabase } from './lib/db.js';
import { envNumber } from './lib/env.js';
import { fmtRate, fmtRatio, renderTable } from './lib/table.js';
import { progress } from './lib/timing.js';

export const TARGET_PUBLICATIONS_PER_SECOND = 1_000;
export const TARGET_PUBLICATION_BACKLOG = 10_000;

export interface PublicationDispatchResult {
  publications: number;
  concurrency: number;
  phrases: number;
  /** PublicationRequested appended per second (the API side, no consumer running) */
  requestsPerSecond: number;
  /** PublicationRequested → pre-review → publish job enqueued, per second */
  dispatchedPerSecond: number;
  target: { wanted: string; met: boolean };
}

/** Text that passes the rules (no banned phrase), about `chars` characters. */
function cleanText(chars: number, seed: number): string {
  const words = ['今天', '西湖', '散步', '天气', '很好', '咖啡', '读书', '朋友', '周末', '旅行', 'morning', 'walk', 'notes', '2026'];
  let text = '';
  for (let i = 0; text.length < chars; i++) text += words[(seed + i * 7) % words.length] + (i % 9 === 8 ? '。\n' : '，');
  return text;
}

export async function benchPublicationDispatch(
  options: { publications?: number; concurrency?: number; phrases?: number; log?: (message: string) => void; print?: boolean } = {},
): Promise<PublicationDispatchResult> {
  const count = options.publications ?? Math.round(envNumber('BENCH_PUBLICATIONS', TARGET_PUBLICATION_BACKLOG, { integer: true }));
  const concurrency = options.concurrency ?? Math.round(envNumber('BENCH_CONCURRENCY', 8, { integer: true }));
  const phraseCount = options.phrases ?? Math.round(envNumber('BENCH_PUBLICATION_PHRASES', 2_000, { integer: true }));
  const log = options.log ?? progress;

  const databaseUrl = await recreateDatabase('bench_publications');
  await migrate(databaseUrl);
  const config = loadConfig({
    ...process.env,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl,
    QUEUE_PREFIX: `bench-publish-${randomUUID().slice(0, 8)}`,
  });
  const container = await buildContainer(config, { processName: 'bench' });
  const store = container.get(TOKENS.EventStore);
  const knex = container.get(TOKENS.Knex);
  const queue = new Queue<PublishJobData>(QUEUE_NAMES.publish, { connection: { url: config.REDIS_URL }, prefix: config.QUEUE_PREFIX });
  const context = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'bench' };
  try {
    log(`publications: a platform rule set of ${phraseCount} phrases`);
    const phrases = Array.from({ length: phraseCount }, (_, i) => `禁词${i.toString(36)}号`);
    await handle(
      store,
      reviewRuleSetAggregate,
      PLATFORM_SCOPE,
      {
        type: 'AddReviewRule',
        scope: PLATFORM_SCOPE,
        rule: { ruleId: 'bench', kind: 'banned_phrase', name: 'bench', phrases, category: null, platforms: [], regions: [], params: {}, enabled: true },
        by: 'bench',
        now: new Date().toISOString(),
      },
      { context },
    );

    // 1. the requests alone: appended with no consumer running
    log(`publications: appending ${count} requests (c=${concurrency})`);
    const owners = Array.from({ length: 50 }, () => randomUUID());
    const bodies = Array.from({ length: 20 }, (_, i) => cleanText(1_000, i));
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < count; i = next++) {
          const publicationId = randomUUID();
          await handle(
            store,
            publicationAggregate,
            publicationId,
            {
              type: 'RequestPublication',
              publicationId,
              ownerId: owners[i % owners.length]!,
              articleId: randomUUID(),
              articleVersion: 1,
              accountId: randomUUID(),
              platform: i % 2 === 0 ? 'baidu' : 'xiaohongshu',
              region: 'CN',
              content: {
                title: `第${i}篇笔记`,
                body: bodies[i % bodies.length]!,
                summary: null,
                tags: ['日常', '旅行'],
                coverMediaId: null,
                imageMediaIds: [],
              },
              scheduledAt: null,
              now: new Date().toISOString(),
            },
            { context: { correlationId: publicationId, causationId: publicationId, actor: 'bench' }, expectedRevision: 'no_stream' },
          );
        }
      }),
    );
    const requestsPerSecond = count / ((performance.now() - started) / 1000);

    // 2. pm-publications catches up on them: request → pre-review → job
    log('publications: running pm-publications until every request has its publish job');
    const consumer = createPublications({ store, preReviews: batchPreReview(store), jobs: new BullMqPublicationJobs(queue, 60_000) });
    const runner = new ConsumerRunner({ store, knex, databaseUrl }, consumer, { idleCheckpointMs: 100 });
    const dispatchStart = performance.now();
    let lastJobAt = dispatchStart;
    runner.start();
    try {
      for (let jobs = 0; jobs < count; ) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        jobs = (await queue.getJobCounts('waiting')).waiting ?? 0;
        lastJobAt = performance.now();
        if (lastJobAt - dispatchStart > 600_000) throw new Error(`only ${jobs} of ${count} publish jobs after 10 minutes`);
      }
    } finally {
      await runner.stop();
    }
    const dispatchedPerSecond = count / ((lastJobAt - dispatchStart) / 1000);
    const result: PublicationDispatchResult = {
      publications: count,
      concurrency,
      phrases: phraseCount,
      requestsPerSecond,
      dispatchedPerSecond,
      target: {
        wanted: `>= ${TARGET_PUBLICATIONS_PER_SECOND} publications dispatched/s on a ${TARGET_PUBLICATION_BACKLOG}-publication backlog`,
        met: dispatchedPerSecond >= TARGET_PUBLICATIONS_PER_SECOND && count >= TARGET_PUBLICATION_BACKLOG,
      },
    };
    if (options.print ?? true) printPublicationDispatch(result);
    return result;
  } finally {
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    await disposeContainer(container);
  }
}

/** The figures and the target, as bench/pipeline.ts prints its own. */
export function printPublicationDispatch(result: PublicationDispatchResult): void {
  const backlogMet = result.publications >= TARGET_PUBLICATION_BACKLOG;
  console.log(
    `\nPublication dispatch (a backlog of ${fmtRate(result.publications)} publications requested, then drained by pm-publications with the pre-review against ${fmtRate(result.phrases)} phrases):\n`,
  );
  console.log(
    renderTable(
      ['figure', 'per second', 'vs dispatch'],
      [
        ['dispatched: request → pre-review → publish job enqueued (backlog)', fmtRate(result.dispatchedPerSecond), '1.00×'],
        [
          `requests appended (building the backlog, c=${result.concurrency})`,
          fmtRate(result.requestsPerSecond),
          fmtRatio(result.requestsPerSecond, result.dispatchedPerSecond),
        ],
      ],
    ),
  );
  console.log('');
  console.log(
    renderTable(
      ['target', 'wanted', 'got', 'met'],
      [
        [
          `publications dispatched/s on a ${fmtRate(TARGET_PUBLICATION_BACKLOG)}-publication backlog`,
          `≥ ${fmtRate(TARGET_PUBLICATIONS_PER_SECOND)}`,
          `${fmtRate(result.dispatchedPerSecond)}${backlogMet ? '' : ` (backlog of ${fmtRate(result.publications)})`}`,
          result.target.met ? 'yes' : 'NO',
        ],
      ],
    ),
  );
}

async function main(): Promise<void> {
  const asJson = process.argv.includes('--json');
  const result = await benchPublicationDispatch({ print: !asJson });
  if (asJson) console.log(JSON.stringify(result, null, 2));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();

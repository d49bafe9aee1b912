import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import { application } from './dispatch-app.js';
import { QUEUE_NAMES, type ScrapeJobData } from '../../src/adapters/queue/queues.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { workflowExecutionAggregate } from '../../src/write-model/workflow-execution/decider.js';
import { progress } from './timing.js';

/**
 * Dispatch throughput: a backlog of executions requested first
 * (ExecutionRequested appended, as the API does, no consumer running), then
 * the real pm-dispatch-executions consumer drains it (plan check, proxy
 * choice + ProxyAssigned, BullMQ job): from its start to the last job
 * waiting in the scrape queue. Beside it, on the same Postgres and Redis in
 * the same run: the requests alone (event store appends) and the jobs alone
 * (BullMQ adds), the two halves' ceilings.
 */

export interface DispatchFigures {
  executions: number;
  /** requests appended, and BullMQ adds, this many at once */
  concurrency: number;
  /** requests appended per second (the API side, no consumer running) */
  requestsPerSecond: number;
  /** ExecutionRequested → job enqueued, end to end, per second */
  dispatchedPerSecond: number;
  /** live: requests at `liveRate`/s with the consumer running, append → job in the queue, ms */
  liveRate: number;
  latencyP50Ms: number;
  latencyP95Ms: number;
  /** BullMQ adds per second, one at a time, at the same concurrency (the enqueue ceiling) */
  rawEnqueuePerSecond: number;
}

export async function measureDispatch(options: {
  executions: number;
  concurrency: number;
  liveRate: number;
  liveExecutions: number;
}): Promise<DispatchFigures> {
  const app = await application();
  try {
    const { store, config, users } = app;
    const requests = Array.from({ length: options.executions }, (_, i) => ({ executionId: randomUUID(), ownerId: users[i % users.length]! }));

    // 1. the requests alone: appended with no consumer running
    progress(`dispatch: appending ${options.executions} execution requests (c=${options.concurrency})`);
    const request = (r: { executionId: string; ownerId: string }) =>
      handle(
        store,
        workflowExecutionAggregate,
        r.executionId,
        {
          type: 'RequestExecution',
          executionId: r.executionId,
          workflowId: randomUUID(),
          ownerId: r.ownerId,
          platform: 'qidian',
          workflowType: 'qidian.rankings',
          config: { rankings: ['热销榜'] },
          platformAccountId: null,
          trigger: 'manual',
          requestedBy: r.ownerId,
          now: new Date().toISOString(),
        },
        { context: { correlationId: r.executionId, causationId: r.executionId, actor: r.ownerId } },
      );
    const started = performance.now();
    await inLanes(requests, options.concurrency, request);
    const requestsPerSecond = options.executions / ((performance.now() - started) / 1000);

    // 2. the dispatch consumer catches up on them: request → job
    progress('dispatch: running pm-dispatch-executions until every request has its job');
    const queue = new Queue<ScrapeJobData>(QUEUE_NAMES.scrape, { connection: { url: config.REDIS_URL }, prefix: config.QUEUE_PREFIX });
    const dispatchStart = performance.now();
    let lastJobAt = dispatchStart;
    const runner = app.startDispatcher();
    try {
      // the queue's counts, not its jobs: cheap enough to ask every few ms without slowing the dispatcher
      for (let jobs = 0; jobs < options.executions; ) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        const counts = await queue.getJobCounts('waiting', 'delayed', 'prioritized');
        jobs = (counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0);
        lastJobAt = performance.now();
        if (lastJobAt - dispatchStart > 600_000) throw new Error(`only ${jobs} of ${options.executions} jobs after 10 minutes`);
      }
    } finally {
      await runner.stop();
    }
    const dispatchSeconds = (lastJobAt - dispatchStart) / 1000;

    // 3. live: the consumer running, requests arriving at a steady rate; append → job
    progress(`dispatch: live, ${options.liveExecutions} requests at ${options.liveRate}/s`);
    const live = Array.from({ length: options.liveExecutions }, (_, i) => ({ executionId: randomUUID(), ownerId: users[i % users.length]! }));
    const appended = new Map<string, number>();
    const latencies: number[] = [];
    // BullMQ's own event stream says when each job was added: no polling in the measurement
    const events = new QueueEvents(QUEUE_NAMES.scrape, { connection: { url: config.REDIS_URL }, prefix: config.QUEUE_PREFIX });
    await events.waitUntilReady();
    const ids = new Set<string>(live.map((r) => r.executionId));
    let allAdded!: () => void;
    const added = new Promise<void>((resolve) => (allAdded = resolve));
    const addedAt = new Map<string, number>();
    events.on('added', ({ jobId }) => {
      if (!ids.has(jobId) || addedAt.has(jobId)) return;
      addedAt.set(jobId, performance.now());
      if (addedAt.size === ids.size) allAdded();
    });
    const liveRunner = app.startDispatcher();
    try {
      const liveStart = performance.now();
      for (const [i, r] of live.entries()) {
        const wait = liveStart + (i * 1000) / options.liveRate - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        appended.set(r.executionId, performance.now());
        await request(r);
      }
      await Promise.race([added, new Promise((_, reject) => setTimeout(() => reject(new Error('live dispatch did not finish in 2 minutes')), 120_000))]);
      for (const [id, at] of addedAt) latencies.push(at - appended.get(id)!);
    } finally {
      await liveRunner.stop();
      await events.close();
    }
    latencies.sort((a, b) => a - b);

    // 4. the enqueue ceiling: the same number of jobs added straight to BullMQ
    progress('dispatch: raw BullMQ adds for comparison');
    const raw = new Queue(`${QUEUE_NAMES.scrape}-raw`, { connection: { url: config.REDIS_URL }, prefix: config.QUEUE_PREFIX });
    const rawStart = performance.now();
    await inLanes(requests, options.concurrency, async (r) => {
      await raw.add('scrape', { executionId: r.executionId }, { jobId: r.executionId, attempts: 4, backoff: { type: 'exponential', delay: 30_000 } });
    });
    const rawEnqueuePerSecond = options.executions / ((performance.now() - rawStart) / 1000);
    await raw.obliterate({ force: true });
    await raw.close();
    await queue.obliterate({ force: true });
    await queue.close();

    return {
      executions: options.executions,
      concurrency: options.concurrency,
      requestsPerSecond,
      dispatchedPerSecond: options.executions / dispatchSeconds,
      liveRate: options.liveRate,
      latencyP50Ms: latencies[Math.floor(latencies.length * 0.5)]!,
      latencyP95Ms: latencies[Math.floor(latencies.length * 0.95)]!,
      rawEnqueuePerSecond,
    };
  } finally {
    await app.close();
  }
}

async function inLanes<T>(items: readonly T[], lanes: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { Job, Queue } from 'bullmq';
import { QueueFactory, QUEUE_NAMES, type ScrapeJobData } from '../../src/adapters/queue/queues.js';
import { ScrapeDispatcher } from '../../src/adapters/queue/scrape-dispatcher.js';
import { WorkerRuntime, type WorkerRuntimeOptions } from '../../src/adapters/queue/worker-runtime.js';
import { waitFor } from '../support/wait-for.js';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/1';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const scrapeData = (platformAccountId = 'acct-1', executionId = randomUUID()): ScrapeJobData => ({
  executionId,
  workflowId: 'wf-1',
  ownerId: 'user-1',
  platform: 'xiaohongshu',
  type: 'xiaohongshu.notes',
  config: {},
  platformAccountId,
  cursor: null,
  attempt: 1,
});

describe('worker runtime (BullMQ)', () => {
  let factory: QueueFactory;
  let queue: Queue<ScrapeJobData>;
  let dispatcher: ScrapeDispatcher;
  let runtimes: WorkerRuntime<ScrapeJobData, unknown>[] = [];

  beforeEach(async () => {
    factory = new QueueFactory({ redisUrl, prefix: `test-${randomUUID()}` });
    queue = factory.queue<ScrapeJobData>(QUEUE_NAMES.scrape);
    await queue.waitUntilReady();
    dispatcher = new ScrapeDispatcher(queue, { retry: { attempts: 3, backoffMs: 100 } });
  });
  afterEach(async () => {
    await Promise.all(runtimes.map((r) => r.stop({ timeoutMs: 100 })));
    runtimes = [];
    await queue.obliterate({ force: true });
    await queue.close();
  });

  const run = async (options: Omit<WorkerRuntimeOptions<ScrapeJobData, unknown>, 'factory' | 'queue'>) => {
    const runtime = new WorkerRuntime<ScrapeJobData, unknown>({ factory, queue: QUEUE_NAMES.scrape, ...options });
    runtimes.push(runtime);
    await runtime.start();
    return runtime;
  };

  it('retries with exponential back-off, then dead-letters exactly once', async () => {
    const starts: number[] = [];
    const deadLetters: { job: Job<ScrapeJobData>; error: Error }[] = [];
    await run({
      handler: async () => {
        starts.push(Date.now());
        throw new Error(`boom ${starts.length}`);
      },
      onDeadLetter: (job, error) => {
        deadLetters.push({ job, error });
      },
    });
    const data = scrapeData();
    await dispatcher.enqueue(data);
    await waitFor('the dead letter', () => deadLetters.length > 0, 5000);
    await sleep(400); // nothing more comes
    expect(starts).to.have.length(3);
    // delays of 100 ms, then 200 ms (delay · 2^(n-1))
    expect(starts[1]! - starts[0]!).to.be.at.least(95);
    expect(starts[2]! - starts[1]!).to.be.at.least(195);
    expect(deadLetters).to.have.length(1);
    expect(deadLetters[0]!.job.id).to.equal(data.executionId);
    expect(deadLetters[0]!.job.data.executionId).to.equal(data.executionId);
    expect(deadLetters[0]!.error.message).to.equal('boom 3');
    const job = await queue.getJob(data.executionId);
    expect(await job!.getState()).to.equal('failed');
    expect(job!.attemptsMade).to.equal(3);
  });

  it('a job that succeeds on a retry is not dead-lettered; an UnrecoverableError is, at once', async () => {
    const { UnrecoverableError } = await import('bullmq');
    const deadLetters: string[] = [];
    const tries = new Map<string, number>();
    await run({
      handler: async (job) => {
        const n = (tries.get(job.id!) ?? 0) + 1;
        tries.set(job.id!, n);
        if (job.data.platformAccountId === 'fatal') throw new UnrecoverableError('account gone');
        if (n < 2) throw new Error('flaky');
        return 'done';
      },
      onDeadLetter: (job) => {
        deadLetters.push(job.id!);
      },
    });
    const flaky = scrapeData('acct-1');
    const fatal = scrapeData('fatal');
    await dispatcher.enqueue(flaky);
    await dispatcher.enqueue(fatal);
    await waitFor('both settled', async () => (await queue.getJob(flaky.executionId))!.finishedOn !== undefined && deadLetters.length === 1, 5000);
    expect(await (await queue.getJob(flaky.executionId))!.getState()).to.equal('completed');
    expect(deadLetters).to.deep.equal([fatal.executionId]);
    expect(tries.get(fatal.executionId)).to.equal(1);
  });

  it('rate-limits per platform account: jobs over the limit are delayed, not failed', async () => {
    const started: { account: string; at: number }[] = [];
    await run({
      concurrency: 6,
      rateLimit: { key: (job) => job.data.platformAccountId, max: 2, windowMs: 600 },
      handler: async (job) => {
        started.push({ account: job.data.platformAccountId!, at: Date.now() });
      },
    });
    const t0 = Date.now();
    const limited = [scrapeData('acct-1'), scrapeData('acct-1'), scrapeData('acct-1'), scrapeData('acct-1')];
    for (const data of limited) await dispatcher.enqueue(data);
    await dispatcher.enqueue(scrapeData('acct-2'));
    await waitFor('all five ran', () => started.length === 5, 8000);
    const acct1 = started.filter((s) => s.account === 'acct-1').map((s) => s.at - t0);
    const acct2 = started.filter((s) => s.account === 'acct-2').map((s) => s.at - t0);
    expect(acct1.slice(0, 2).every((ms) => ms < 400)).to.equal(true, `first two at once: ${acct1}`);
    expect(acct1.slice(2).every((ms) => ms >= 550)).to.equal(true, `the rest after the window: ${acct1}`);
    expect(acct2[0]).to.be.below(400); // another account is not held up
    // in any 600 ms, at most 2 starts of acct-1
    for (const at of acct1) expect(acct1.filter((other) => other >= at && other < at + 590)).to.have.length.at.most(2);
    for (const data of limited) {
      const job = await queue.getJob(data.executionId);
      expect(await job!.getState()).to.equal('completed');
      expect(job!.attemptsMade).to.equal(1); // the run that completed; none spent on the delay
    }
    expect(await queue.getFailedCount()).to.equal(0);
  });

  it('graceful stop waits for a job that finishes in time', async () => {
    const runtime = await run({
      handler: async () => {
        await sleep(200);
        return 'ok';
      },
    });
    const data = scrapeData();
    await dispatcher.enqueue(data);
    await waitFor('the job is active', () => runtime.activeJobIds.length === 1, 3000);
    const report = await runtime.stop({ timeoutMs: 2000 });
    expect(report).to.deep.equal({ finished: [data.executionId], released: [] });
    expect(await (await queue.getJob(data.executionId))!.getState()).to.equal('completed');
  });

  it('graceful stop mid-job releases the job (not failed, no attempt spent) and a new worker completes it', async () => {
    let aborted = false;
    const first = await run({
      handler: (_job, { signal }) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('aborted'));
          });
        }),
    });
    const data = scrapeData();
    await dispatcher.enqueue(data);
    await waitFor('the job is active', () => first.activeJobIds.length === 1, 3000);
    const report = await first.stop({ timeoutMs: 200 });
    expect(report).to.deep.equal({ finished: [], released: [data.executionId] });
    expect(aborted).to.equal(true);
    const job = await queue.getJob(data.executionId);
    expect(await job!.getState()).to.equal('waiting');
    expect(job!.attemptsMade).to.equal(0);
    expect(job!.failedReason ?? null).to.equal(null);
    expect(await queue.getFailedCount()).to.equal(0);

    const completedBy: string[] = [];
    await run({
      handler: async (j) => {
        completedBy.push(j.id!);
        return 'done';
      },
    });
    await waitFor('the second worker completed it', async () => (await (await queue.getJob(data.executionId))!.getState()) === 'completed', 5000);
    expect(completedBy).to.deep.equal([data.executionId]);
  });

  it('a duplicate enqueue of the same execution runs once', async () => {
    const ran: string[] = [];
    await run({
      concurrency: 4,
      handler: async (job) => {
        ran.push(job.id!);
        await sleep(50);
      },
    });
    const data = scrapeData();
    await Promise.all([dispatcher.enqueue(data), dispatcher.enqueue(data), dispatcher.enqueue(data)]);
    await waitFor('completed', async () => (await queue.getJob(data.executionId))?.finishedOn !== undefined, 3000);
    await dispatcher.enqueue(data); // a late redelivery: the finished job is kept, so still nothing
    await sleep(200);
    expect(ran).to.deep.equal([data.executionId]);
  });
});

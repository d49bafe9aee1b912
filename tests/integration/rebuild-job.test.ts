import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { QueueFactory } from '../../src/adapters/queue/queues.js';
import { enqueueRebuild, REBUILD_QUEUE } from '../../src/adapters/queue/rebuild-job.js';
import { waitFor } from '../support/wait-for.js';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/1';

/** enqueueRebuild against a real Redis: one pending rebuild per projection, however many ask at once. */
describe('rebuild jobs on the maintenance queue (BullMQ)', () => {
  let factory: QueueFactory;
  let queue: Queue;
  let worker: Worker | undefined;

  beforeEach(async () => {
    factory = new QueueFactory({ redisUrl, prefix: `test-${randomUUID()}` });
    queue = new Queue(REBUILD_QUEUE, { connection: factory.connection('queue'), prefix: factory.prefix });
    await queue.waitUntilReady();
  });
  afterEach(async () => {
    await worker?.close();
    worker = undefined;
    await queue.obliterate({ force: true });
    await queue.close();
  });

  it('adds one job for calls at the same time, answers it while it waits, and adds a new one once it has finished', async () => {
    const answers = await Promise.all(Array.from({ length: 5 }, () => enqueueRebuild(queue, 'users-v1')));
    const ids = new Set(answers.map((a) => a.jobId));
    expect(ids.size, 'one job id for every call').to.equal(1);
    const other = await enqueueRebuild(queue, 'proxies-v1');
    expect(ids.has(other.jobId), 'another projection has its own').to.equal(false);
    const waiting = await queue.getJobs(['waiting']);
    expect(waiting.map((j) => j.data.projection).sort()).to.deep.equal(['proxies-v1', 'users-v1']);

    // the job runs to its end (what it does is the processor's business): the next call starts a new one
    const [first] = ids;
    worker = new Worker(REBUILD_QUEUE, async () => 'done', { connection: factory.connection('worker'), prefix: factory.prefix });
    await waitFor('both jobs completed', async () => (await queue.getJobCounts('completed')).completed === 2);
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // job ids carry the time in ms
    const next = await enqueueRebuild(queue, 'users-v1');
    expect(next.jobId).to.not.equal(first);
  });
});

import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { parseScrapeJobId, QueueFactory, QUEUE_NAMES, scrapeJobId, type ScrapeJobData } from '../../src/adapters/queue/queues.js';
import { ScrapeDispatcher } from '../../src/adapters/queue/scrape-dispatcher.js';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/1';

const scrapeData = (executionId = randomUUID(), attempt = 1): ScrapeJobData => ({
  executionId,
  workflowId: 'wf-1',
  ownerId: 'user-1',
  platform: 'xiaohongshu',
  type: 'xiaohongshu.notes',
  config: { keyword: 'tea' },
  platformAccountId: 'acct-1',
  cursor: null,
  attempt,
});

describe('scrape dispatcher (BullMQ)', () => {
  let factory: QueueFactory;
  let queue: Queue<ScrapeJobData>;
  let dispatcher: ScrapeDispatcher;

  // a fresh prefix per test: each test sees only its own jobs
  beforeEach(async () => {
    factory = new QueueFactory({ redisUrl, prefix: `test-${randomUUID()}` });
    queue = factory.queue<ScrapeJobData>(QUEUE_NAMES.scrape);
    await queue.waitUntilReady();
    dispatcher = new ScrapeDispatcher(queue, { retry: { attempts: 3, backoffMs: 10 } });
  });
  afterEach(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
  });

  it('job id is the execution id for attempt 1 and {executionId}.{n} after; parse inverts it', () => {
    expect(scrapeJobId('e-1')).to.equal('e-1');
    expect(scrapeJobId('e-1', 1)).to.equal('e-1');
    expect(scrapeJobId('e-1', 3)).to.equal('e-1.3');
    expect(parseScrapeJobId('e-1.3')).to.deep.equal({ executionId: 'e-1', attempt: 3 });
    expect(parseScrapeJobId('e-1')).to.deep.equal({ executionId: 'e-1', attempt: 1 });
    expect(() => scrapeJobId('a:b')).to.throw(/invalid execution id/);
    expect(() => scrapeJobId('e', 0)).to.throw(/invalid attempt/);
  });

  it('a duplicate enqueue of the same execution is one job', async () => {
    const data = scrapeData();
    const first = await dispatcher.enqueue(data);
    const second = await dispatcher.enqueue({ ...data, cursor: 'changed' });
    const [third, fourth] = await Promise.all([dispatcher.enqueue(data), dispatcher.enqueue(data)]);
    expect(first).to.deep.equal({ jobId: data.executionId, created: true });
    expect(second.created).to.equal(false);
    expect(third!.jobId).to.equal(data.executionId);
    expect(fourth!.jobId).to.equal(data.executionId);
    const jobs = await queue.getJobs(['waiting', 'delayed', 'active']);
    expect(jobs.filter((j) => j.data.executionId === data.executionId)).to.have.length(1);
    const job = await queue.getJob(data.executionId);
    expect(job!.data.cursor).to.equal(null); // the first payload stays
    expect(job!.opts.attempts).to.equal(3);
    expect(job!.opts.backoff).to.deep.include({ type: 'exponential', delay: 10 });
  });

  it('enqueueMany adds a batch of jobs (delayed ones delayed) with the same options; ids that exist are left as they are', async () => {
    const now = [scrapeData(), scrapeData(), scrapeData(randomUUID(), 2)];
    const later = scrapeData();
    await dispatcher.enqueueMany([...now.map((data) => ({ data })), { data: later, delayMs: 60_000 }]);
    // handed again (a redelivered batch), changed payloads and one new job among them
    const extra = scrapeData();
    await dispatcher.enqueueMany([...now.map((data) => ({ data: { ...data, cursor: 'changed' } })), { data: later }, { data: extra }]);

    const jobs = await queue.getJobs(['waiting', 'delayed']);
    expect(jobs.map((j) => j.id).sort()).to.deep.equal([...now.map((d) => scrapeJobId(d.executionId, d.attempt)), later.executionId, extra.executionId].sort());
    for (const data of now) expect((await queue.getJob(scrapeJobId(data.executionId, data.attempt)))!.data.cursor).to.equal(null);
    const delayed = await queue.getJob(later.executionId);
    expect(await delayed!.getState()).to.equal('delayed');
    expect(delayed!.opts.delay).to.equal(60_000);
    expect(delayed!.opts.attempts).to.equal(3);
    expect(delayed!.opts.backoff).to.deep.include({ type: 'exponential', delay: 10 });
    expect(await (await queue.getJob(now[0]!.executionId))!.getState()).to.equal('waiting');
  });

  it('a deliberate re-enqueue from a cursor adds attempt n+1 once the first has started; its redelivery adds nothing', async () => {
    const data = scrapeData();
    await dispatcher.enqueue(data);
    // the worker took attempt 1 (it runs on the proxy that then fails)
    const token = 'test-token';
    const worker = factory.worker<ScrapeJobData>(QUEUE_NAMES.scrape, null as never, { autorun: false });
    const taken = await worker.getNextJob(token);
    expect(taken!.id).to.equal(data.executionId);

    const moved = await dispatcher.reenqueue(data.executionId, 'page-7', 'proxy_failed', { attempt: 2, proxyId: 'px-9' });
    const again = await dispatcher.reenqueue(data.executionId, 'page-7', 'proxy_failed', { attempt: 2, proxyId: 'px-9' });
    expect(moved).to.deep.equal({ jobId: `${data.executionId}.2`, created: true });
    expect(again).to.deep.equal({ jobId: `${data.executionId}.2`, created: false });
    const job = await queue.getJob(`${data.executionId}.2`);
    expect(job!.data).to.deep.include({
      executionId: data.executionId,
      cursor: 'page-7',
      attempt: 2,
      proxyId: 'px-9',
      reason: 'proxy_failed',
      workflowId: 'wf-1',
    });

    // without an explicit attempt: the next number, unless the latest has not started yet
    const pending = await dispatcher.reenqueue(data.executionId, 'page-8', 'retry');
    expect(pending).to.deep.equal({ jobId: `${data.executionId}.2`, created: false });
    expect((await queue.getJob(`${data.executionId}.2`))!.data.cursor).to.equal('page-8');
    await worker.close();
  });

  it('re-enqueue without an explicit attempt takes the next number once the latest started', async () => {
    const data = scrapeData();
    await dispatcher.enqueue(data);
    const worker = factory.worker<ScrapeJobData>(QUEUE_NAMES.scrape, null as never, { autorun: false });
    const taken = await worker.getNextJob('t');
    expect(taken!.id).to.equal(data.executionId);
    const next = await dispatcher.reenqueue(data.executionId, 'c-1', 'proxy_failed');
    expect(next).to.deep.equal({ jobId: `${data.executionId}.2`, created: true });
    await worker.close();
  });

  it('re-enqueue of an unknown execution is an error', async () => {
    let error: unknown;
    try {
      await dispatcher.reenqueue(randomUUID(), null, 'x');
    } catch (e) {
      error = e;
    }
    expect(String(error)).to.match(/no scrape job/);
  });

  it('removeJob removes a waiting job, not an active one', async () => {
    const waiting = scrapeData();
    const active = scrapeData();
    await dispatcher.enqueue(active);
    const worker = factory.worker<ScrapeJobData>(QUEUE_NAMES.scrape, null as never, { autorun: false });
    const taken = await worker.getNextJob('t');
    expect(taken!.id).to.equal(active.executionId);
    await dispatcher.enqueue(waiting, { delayMs: 60_000 });
    expect(await dispatcher.removeJob(waiting.executionId)).to.equal(true);
    expect(await queue.getJob(waiting.executionId)).to.equal(undefined);
    expect(await dispatcher.removeJob(active.executionId)).to.equal(false);
    expect(await dispatcher.removeJob('nope')).to.equal(false);
    await worker.close();
  });
});

import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { Job, Queue, Worker } from 'bullmq';
import { QueueFactory, QUEUE_NAMES, WORKFLOW_TICK_JOB_NAME, type WorkflowTickJobData } from '../../src/adapters/queue/queues.js';
import { DEFAULT_INTERVAL_MS, WorkflowSchedulers, workflowSchedulerId } from '../../src/adapters/queue/workflow-schedulers.js';
import { waitFor } from '../support/wait-for.js';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/1';

describe('workflow job schedulers (BullMQ)', () => {
  let factory: QueueFactory;
  let queue: Queue<WorkflowTickJobData>;
  let schedulers: WorkflowSchedulers;
  let worker: Worker | null = null;

  beforeEach(async () => {
    factory = new QueueFactory({ redisUrl, prefix: `test-${randomUUID()}` });
    queue = factory.queue<WorkflowTickJobData>(QUEUE_NAMES.workflowTick);
    await queue.waitUntilReady();
    schedulers = new WorkflowSchedulers(queue, { timeZone: 'Asia/Shanghai' });
  });
  afterEach(async () => {
    await worker?.close();
    worker = null;
    await queue.obliterate({ force: true });
    await queue.close();
  });

  const pendingTicks = async (workflowId: string) =>
    (await queue.getJobs(['delayed', 'waiting', 'prioritized'])).filter((j) => j.data.workflowId === workflowId);

  it('maps intervals to every: daily 24 h, hourly 1 h, realtime 5 min; cron to a pattern in the time zone', () => {
    expect(DEFAULT_INTERVAL_MS).to.deep.equal({ daily: 86_400_000, hourly: 3_600_000, realtime: 300_000 });
    expect(schedulers.repeatOptions({ kind: 'interval', every: 'hourly' })).to.deep.equal({ every: 3_600_000 });
    expect(schedulers.repeatOptions({ kind: 'cron', expression: '0 9 * * *' })).to.deep.equal({ pattern: '0 9 * * *', tz: 'Asia/Shanghai' });
  });

  it('upsert is idempotent: one scheduler per workflow, one pending tick', async () => {
    const wf = randomUUID();
    const schedule = { kind: 'interval', every: 'hourly' } as const;
    await schedulers.upsertJobScheduler(wf, 'user-1', schedule);
    await schedulers.upsertJobScheduler(wf, 'user-1', schedule);
    await schedulers.sync(wf, 'user-1', schedule, 'active');
    expect(await queue.getJobSchedulersCount()).to.equal(1);
    const scheduler = await schedulers.get(wf);
    expect(scheduler).to.deep.include({ every: 3_600_000 });
    expect(scheduler!.data).to.deep.equal({ workflowId: wf, ownerId: 'user-1', schedule });
    const ticks = await pendingTicks(wf);
    expect(ticks).to.have.length(1);
    expect(ticks[0]!.name).to.equal(WORKFLOW_TICK_JOB_NAME);
    expect((await queue.getJobScheduler(workflowSchedulerId(wf)))!.key).to.equal(workflowSchedulerId(wf));
  });

  it('a changed schedule replaces the old one (cron in the configured zone)', async () => {
    const wf = randomUUID();
    await schedulers.upsertJobScheduler(wf, 'user-1', { kind: 'interval', every: 'daily' });
    await schedulers.upsertJobScheduler(wf, 'user-1', { kind: 'cron', expression: '30 8 * * 1-5' });
    expect(await queue.getJobSchedulersCount()).to.equal(1);
    const scheduler = await schedulers.get(wf);
    expect(scheduler).to.deep.include({ pattern: '30 8 * * 1-5', tz: 'Asia/Shanghai' });
    expect(scheduler!.every ?? null).to.equal(null);
    expect(scheduler!.data!.schedule).to.deep.equal({ kind: 'cron', expression: '30 8 * * 1-5' });
    expect(await pendingTicks(wf)).to.have.length(1);
  });

  it('pause removes the scheduler and its pending tick; resume brings it back; removing twice is fine', async () => {
    const wf = randomUUID();
    const other = randomUUID();
    const schedule = { kind: 'interval', every: 'realtime' } as const;
    await schedulers.upsertJobScheduler(wf, 'user-1', schedule);
    await schedulers.upsertJobScheduler(other, 'user-2', schedule);
    expect(await schedulers.pause(wf)).to.equal(true);
    expect(await schedulers.pause(wf)).to.equal(false);
    expect(await schedulers.get(wf)).to.equal(undefined);
    expect(await pendingTicks(wf)).to.have.length(0);
    expect(await schedulers.get(other)).to.not.equal(undefined); // others untouched
    await schedulers.resume(wf, 'user-1', schedule);
    expect(await schedulers.get(wf)).to.deep.include({ every: 300_000 });
    expect(await pendingTicks(wf)).to.have.length(1);
  });

  it('sync: scheduler exists exactly when the workflow is active with a schedule', async () => {
    const wf = randomUUID();
    const schedule = { kind: 'interval', every: 'daily' } as const;
    expect(await schedulers.sync(wf, 'u', schedule, 'paused')).to.equal('removed');
    expect(await schedulers.get(wf)).to.equal(undefined);
    expect(await schedulers.sync(wf, 'u', schedule, 'active')).to.equal('upserted');
    expect(await schedulers.get(wf)).to.not.equal(undefined);
    expect(await schedulers.sync(wf, 'u', null, 'active')).to.equal('removed');
    expect(await schedulers.get(wf)).to.equal(undefined);
    await schedulers.sync(wf, 'u', schedule, 'active');
    expect(await schedulers.sync(wf, 'u', schedule, 'deleted')).to.equal('removed');
    expect(await queue.getJobSchedulersCount()).to.equal(0);
  });

  it('ticks reach a worker as workflow-tick jobs with distinct ids, at the interval', async () => {
    const fast = new WorkflowSchedulers(queue, { intervals: { realtime: 300 } });
    const wf = randomUUID();
    const seen: Job<WorkflowTickJobData>[] = [];
    worker = factory.worker<WorkflowTickJobData>(QUEUE_NAMES.workflowTick, async (job) => {
      seen.push(job);
    });
    await fast.upsertJobScheduler(wf, 'user-1', { kind: 'interval', every: 'realtime' });
    await waitFor('three ticks', () => seen.length >= 3, 5000);
    await fast.removeJobScheduler(wf);
    const ids = seen.map((j) => j.id);
    expect(new Set(ids).size).to.equal(ids.length);
    for (const job of seen) {
      expect(job.name).to.equal(WORKFLOW_TICK_JOB_NAME);
      expect(job.data).to.deep.equal({ workflowId: wf, ownerId: 'user-1', schedule: { kind: 'interval', every: 'realtime' } });
    }
    const count = seen.length;
    await new Promise((r) => setTimeout(r, 700));
    expect(seen.length).to.be.at.most(count + 1); // removed: at most a tick already in flight
  });
});

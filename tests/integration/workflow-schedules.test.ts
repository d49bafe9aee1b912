import { expect } from 'chai';
import type { Queue } from 'bullmq';
import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { QueueFactory, QUEUE_NAMES, type WorkflowTickJobData } from '../../src/adapters/queue/queues.js';
import { WorkflowSchedulers } from '../../src/adapters/queue/workflow-schedulers.js';
import { START } from '../../src/event-store/position.js';
import { createWorkflowSchedules } from '../../src/process-managers/workflow-schedules.js';
import { resetCheckpoint } from '../../src/consumers/checkpoints.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { workflowAggregate, type WorkflowCommand, type WorkflowSchedule } from '../../src/write-model/workflow/index.js';
import { testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { runConsumerToHead } from '../support/run-consumer-to-head.js';

/** Omit over each member of a union (a command without the fields the helper fills in). */
type Without<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const silent = { info() {}, warn() {}, error() {} };

describe('pm-workflow-schedules: one BullMQ job scheduler per workflow, kept in step with its events', function () {
  this.timeout(40_000);
  let knex: Knex;
  let store: PostgresEventStore;
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  let queue: Queue<WorkflowTickJobData>;
  let schedulers: WorkflowSchedulers;
  const name = `pm-workflow-schedules-test-${randomUUID().slice(0, 8)}`;
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  const owner = randomUUID();

  before(async () => {
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 5 });
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 5 } });
    queue = new QueueFactory({ redisUrl: testRedisUrl, prefix: `test-${randomUUID()}` }).queue<WorkflowTickJobData>(QUEUE_NAMES.workflowTick);
    await queue.waitUntilReady();
    schedulers = new WorkflowSchedulers(queue, { timeZone: 'Asia/Shanghai' });
  });
  after(async () => {
    await knex('consumer_checkpoints').where({ consumer: name }).delete();
    await queue.obliterate({ force: true });
    await queue.close();
    await store.close();
    await knex.destroy();
    await iso.drop();
  });

  const runToHead = () =>
    runConsumerToHead({ store, knex, databaseUrl: testDatabaseUrl }, createWorkflowSchedules({ store, schedulers, logger: silent }, name));
  const wf = (id: string, command: Without<WorkflowCommand, 'workflowId' | 'now'>) =>
    handle(store, workflowAggregate, id, { workflowId: id, now: new Date().toISOString(), ...command } as WorkflowCommand, { context });
  async function createWorkflow(schedule: WorkflowSchedule | null): Promise<string> {
    const id = randomUUID();
    await wf(id, {
      type: 'CreateWorkflow',
      ownerId: owner,
      platform: 'qidian',
      workflowType: 'qidian.rankings',
      name: 'w',
      config: {},
      platformAccountId: null,
      schedule,
    });
    return id;
  }
  const pendingTicks = async (workflowId: string) =>
    (await queue.getJobs(['delayed', 'waiting', 'prioritized'])).filter((j) => j.data.workflowId === workflowId).length;

  it('creates, changes, removes and restores schedulers as workflows are scheduled, paused, resumed and deleted; a replay changes nothing', async () => {
    const hourly = await createWorkflow({ kind: 'interval', every: 'hourly' });
    const manual = await createWorkflow(null);
    const toDelete = await createWorkflow({ kind: 'cron', expression: '0 8 * * *' });
    await runToHead();
    expect(await schedulers.get(hourly)).to.deep.include({
      every: 3_600_000,
      data: { workflowId: hourly, ownerId: owner, schedule: { kind: 'interval', every: 'hourly' } },
    });
    expect(await schedulers.get(manual)).to.equal(undefined);
    expect(await schedulers.get(toDelete)).to.deep.include({ pattern: '0 8 * * *', tz: 'Asia/Shanghai' });
    expect(await queue.getJobSchedulersCount()).to.equal(2);

    // a manual workflow gets a schedule; a scheduled one changes it; one is deleted
    await wf(manual, { type: 'ScheduleWorkflow', requestedBy: owner, schedule: { kind: 'cron', expression: '30 9 * * 1-5' } });
    await wf(hourly, { type: 'ScheduleWorkflow', requestedBy: owner, schedule: { kind: 'interval', every: 'daily' } });
    await wf(toDelete, { type: 'DeleteWorkflow', requestedBy: owner });
    await runToHead();
    expect(await schedulers.get(manual)).to.deep.include({ pattern: '30 9 * * 1-5' });
    expect(await schedulers.get(hourly)).to.deep.include({ every: 86_400_000 });
    expect(await schedulers.get(toDelete)).to.equal(undefined);
    expect(await pendingTicks(toDelete)).to.equal(0);

    // paused (by anyone, for any reason): no scheduler, no pending tick; resumed: back
    await wf(hourly, { type: 'PauseWorkflow', reason: 'user', requestedBy: owner, until: null });
    await wf(manual, { type: 'PauseWorkflow', reason: 'quota_exceeded', requestedBy: null, until: new Date(Date.now() + 3_600_000).toISOString() });
    await runToHead();
    expect(await schedulers.get(hourly)).to.equal(undefined);
    expect(await schedulers.get(manual)).to.equal(undefined);
    expect(await pendingTicks(hourly)).to.equal(0);
    expect(await queue.getJobSchedulersCount()).to.equal(0);

    await wf(hourly, { type: 'ResumeWorkflow', requestedBy: owner });
    await wf(manual, { type: 'PauseWorkflow', reason: 'user', requestedBy: owner, until: null });
    await wf(manual, { type: 'ResumeWorkflow', requestedBy: null, reason: 'quota_exceeded' }); // still paused by the user
    await runToHead();
    expect(await schedulers.get(hourly)).to.deep.include({ every: 86_400_000 });
    expect(await pendingTicks(hourly)).to.equal(1); // an interval schedule ticks once on resume
    expect(await schedulers.get(manual)).to.equal(undefined);

    // a schedule removed: the scheduler goes
    await wf(hourly, { type: 'ScheduleWorkflow', requestedBy: owner, schedule: null });
    await runToHead();
    expect(await schedulers.get(hourly)).to.equal(undefined);
    await wf(hourly, { type: 'ScheduleWorkflow', requestedBy: owner, schedule: { kind: 'interval', every: 'realtime' } });
    await runToHead();

    // everything redelivered: the same schedulers, one pending tick each
    const snapshot = async () => ({
      count: await queue.getJobSchedulersCount(),
      hourly: await schedulers.get(hourly),
      manual: await schedulers.get(manual),
      ticks: await pendingTicks(hourly),
    });
    const before = await snapshot();
    expect(before.count).to.equal(1);
    expect(before.ticks).to.equal(1);
    await resetCheckpoint(knex, name, START);
    await runToHead();
    expect(await snapshot()).to.deep.equal(before);
  });
});

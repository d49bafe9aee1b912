import { expect } from 'chai';
import type { Job, Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import { QueueFactory, QUEUE_NAMES, type WorkflowTickJobData } from '../../src/adapters/queue/queues.js';
import { WorkflowSchedulers } from '../../src/adapters/queue/workflow-schedulers.js';
import { createWorkflowTickWorker, workflowTickHandler, type TickJobResult } from '../../src/adapters/queue/workflow-tick-worker.js';
import { requestScheduledExecution, tickExecutionId } from '../../src/application/scheduled-executions.js';
import { StreamNotFoundError } from '../../src/event-store/errors.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { workflowExecutionStream } from '../../src/write-model/workflow-execution/decider.js';
import { workflowAggregate, type WorkflowCommand, type WorkflowSchedule } from '../../src/write-model/workflow/index.js';
import { testDatabaseUrl, testRedisUrl } from '../setup/test-env.js';
import { isolatedEventStoreSchema } from '../support/isolated-event-store.js';
import { waitFor } from '../support/wait-for.js';

/** Omit over each member of a union (a command without the fields the helper fills in). */
type Without<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const HOURLY: WorkflowSchedule = { kind: 'interval', every: 'hourly' };

describe('scheduled executions: a workflow tick becomes one execution request', function () {
  this.timeout(40_000);
  let store: PostgresEventStore;
  let iso: Awaited<ReturnType<typeof isolatedEventStoreSchema>>;
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };
  const owner = randomUUID();
  const deps = () => ({ store, now: () => new Date() });

  before(async () => {
    iso = await isolatedEventStoreSchema(testDatabaseUrl);
    store = createPostgresEventStore({ connectionString: iso.connectionString, poolSize: 5 });
  });
  after(async () => {
    await store.close();
    await iso.drop();
  });

  const wf = (id: string, command: Without<WorkflowCommand, 'workflowId' | 'now'>) =>
    handle(store, workflowAggregate, id, { workflowId: id, now: new Date().toISOString(), ...command } as WorkflowCommand, { context });
  async function createWorkflow(schedule: WorkflowSchedule | null = HOURLY): Promise<string> {
    const id = randomUUID();
    await wf(id, {
      type: 'CreateWorkflow',
      ownerId: owner,
      platform: 'xiaohongshu',
      workflowType: 'xiaohongshu.notes',
      name: 'w',
      config: { keyword: '咖啡' },
      platformAccountId: 'acct-1',
      schedule,
    });
    return id;
  }
  const tick = (workflowId: string, tickJobId = `repeat:workflow-${workflowId}:${Date.now()}`) => ({ workflowId, ownerId: owner, schedule: HOURLY, tickJobId });
  async function executionEvents(executionId: string) {
    try {
      return await store.readStream(workflowExecutionStream(executionId));
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
  }

  it("requests a scheduled run with the workflow's config; the same tick again requests nothing more", async () => {
    const workflowId = await createWorkflow();
    const t = tick(workflowId);
    const first = await requestScheduledExecution(deps(), t);
    expect(first).to.include({ status: 'requested', executionId: tickExecutionId(t.tickJobId) });
    const events = await executionEvents(first.executionId);
    expect(events.map((e) => e.type)).to.deep.equal(['ExecutionRequested']);
    expect(events[0]!.data).to.deep.include({
      workflowId,
      ownerId: owner,
      platform: 'xiaohongshu',
      type: 'xiaohongshu.notes',
      config: { keyword: '咖啡' },
      platformAccountId: 'acct-1',
      trigger: 'schedule',
      requestedBy: null,
    });
    expect(events[0]!.metadata).to.include({ $causationId: t.tickJobId, $correlationId: first.executionId, userId: 'scheduler' });

    expect(await requestScheduledExecution(deps(), t)).to.deep.equal({ status: 'already_requested', executionId: first.executionId });
    // two deliveries of one tick at once: one request (both may answer `requested`: the store took the second append for a repeat of the first)
    const again = tick(workflowId);
    const both = await Promise.all([requestScheduledExecution(deps(), again), requestScheduledExecution(deps(), again)]);
    expect(both.map((o) => o.executionId)).to.deep.equal([tickExecutionId(again.tickJobId), tickExecutionId(again.tickJobId)]);
    expect(await executionEvents(tickExecutionId(again.tickJobId))).to.have.length(1);
    // another tick is another run
    expect(tickExecutionId(again.tickJobId)).to.not.equal(first.executionId);
  });

  it('skips a paused, deleted, unscheduled or unknown workflow without recording anything', async () => {
    const paused = await createWorkflow();
    await wf(paused, { type: 'PauseWorkflow', reason: 'quota_exceeded', requestedBy: null, until: new Date(Date.now() + 60_000).toISOString() });
    const deleted = await createWorkflow();
    await wf(deleted, { type: 'DeleteWorkflow', requestedBy: owner });
    const unscheduled = await createWorkflow();
    await wf(unscheduled, { type: 'ScheduleWorkflow', requestedBy: owner, schedule: null });
    const cases: [string, string][] = [
      [paused, 'workflow_paused'],
      [deleted, 'workflow_deleted'],
      [unscheduled, 'not_scheduled'],
      [randomUUID(), 'workflow_not_found'],
    ];
    for (const [workflowId, reason] of cases) {
      const outcome = await requestScheduledExecution(deps(), tick(workflowId));
      expect(outcome, reason).to.include({ status: 'skipped', reason });
      expect(await executionEvents(outcome.executionId)).to.deep.equal([]);
    }
  });

  it("the workflow-tick worker turns a real job scheduler's tick into a request", async () => {
    const factory = new QueueFactory({ redisUrl: testRedisUrl, prefix: `test-${randomUUID()}` });
    const queue: Queue<WorkflowTickJobData> = factory.queue<WorkflowTickJobData>(QUEUE_NAMES.workflowTick);
    const worker = createWorkflowTickWorker({ factory, deps: deps(), concurrency: 2 });
    try {
      const workflowId = await createWorkflow();
      // an interval scheduler ticks once at once
      await new WorkflowSchedulers(queue).upsertJobScheduler(workflowId, owner, HOURLY);
      await worker.start();
      let done: Job<WorkflowTickJobData, TickJobResult> | undefined;
      await waitFor('the tick is processed', async () => {
        done = (await queue.getJobs(['completed'])).find((j) => j.data.workflowId === workflowId) as typeof done;
        return done !== undefined;
      });
      const executionId = tickExecutionId(done!.id!);
      expect(done!.returnvalue).to.deep.equal({ status: 'requested', executionId });
      expect((await executionEvents(executionId)).map((e) => e.type)).to.deep.equal(['ExecutionRequested']);

      // the same tick delivered again (a stalled job run twice) requests nothing
      const redelivered = await workflowTickHandler(deps())(done!, { signal: new AbortController().signal });
      expect(redelivered).to.deep.equal({ status: 'already_requested', executionId });
      expect(await executionEvents(executionId)).to.have.length(1);
    } finally {
      await worker.stop({ timeoutMs: 5_000 });
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});

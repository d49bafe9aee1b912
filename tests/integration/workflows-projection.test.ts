import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import knexFactory, { type Knex } from 'knex';
import { createPostgresEventStore, type PostgresEventStore } from '../../src/adapters/event-store/postgres/index.js';
import type { RecordedEvent } from '../../src/event-store/port.js';
import { comparePositions, type Position } from '../../src/event-store/position.js';
import { createWorkflowsProjection, WORKFLOWS_PROJECTION, workflowsProjection } from '../../src/projections/workflows.js';
import { resetCheckpoint, waitForCheckpoint } from '../../src/consumers/checkpoints.js';
import { ConsumerRunner } from '../../src/consumers/consumer-runner.js';
import type { Consumer } from '../../src/consumers/consumer.js';
import type { CommandContext } from '../../src/write-model/core/command-context.js';
import { handle } from '../../src/write-model/core/command-handler.js';
import { workflowExecutionAggregate, workflowExecutionStream, type WorkflowExecutionCommand } from '../../src/write-model/workflow-execution/index.js';
import { workflowAggregate, workflowStream, type WorkflowCommand } from '../../src/write-model/workflow/index.js';
import { testDatabaseUrl } from '../setup/test-env.js';

const at = (hhmm: string) => `2026-03-01T${hhmm}:00.000Z`;
const note = (id: string) => ({ platformContentId: id, kind: 'xiaohongshu.note', data: { noteId: id } });

describe('workflows-v1 projection (workflows, workflow_executions)', function () {
  this.timeout(60_000);
  let knex: Knex;
  let store: PostgresEventStore;
  let name: string;
  const runners: ConsumerRunner[] = [];
  const context: CommandContext = { correlationId: randomUUID(), causationId: randomUUID(), actor: 'test' };

  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 5 } });
    store = createPostgresEventStore({ connectionString: testDatabaseUrl, poolSize: 5 });
  });
  after(async () => {
    await store.close();
    await knex.destroy();
  });
  beforeEach(() => {
    // a checkpoint of its own: never contends with a projector running on this database
    name = `${WORKFLOWS_PROJECTION}-test-${randomUUID().slice(0, 8)}`;
  });
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.stop()));
    await knex('consumer_checkpoints').where({ consumer: name }).delete();
  });

  const runner = (consumer: Consumer) => {
    const r = new ConsumerRunner({ store, knex, databaseUrl: testDatabaseUrl }, consumer, { lockRetryMs: 50, minBackoffMs: 20, maxBackoffMs: 200 });
    runners.push(r);
    return r;
  };

  /** One workflow, a completed run (two batches) and a newer run cancelled after a retry; answers the ids and the last position. */
  async function scenario() {
    const ownerId = randomUUID();
    const workflowId = randomUUID();
    const first = randomUUID();
    const second = randomUUID();
    let last: Position | undefined;
    const wf = async (command: WorkflowCommand) => {
      last = (await handle(store, workflowAggregate, workflowId, command, { context })).position ?? last;
    };
    const ex = async (executionId: string, command: WorkflowExecutionCommand) => {
      last = (await handle(store, workflowExecutionAggregate, executionId, command, { context })).position ?? last;
    };
    const request = (executionId: string, now: string): WorkflowExecutionCommand => ({
      type: 'RequestExecution',
      executionId,
      workflowId,
      ownerId,
      platform: 'xiaohongshu',
      workflowType: 'xiaohongshu.notes',
      config: { mode: 'keyword', keyword: '咖啡', maxItems: 20 },
      platformAccountId: null,
      trigger: 'manual',
      requestedBy: ownerId,
      now,
    });

    await wf({
      type: 'CreateWorkflow',
      workflowId,
      ownerId,
      platform: 'xiaohongshu',
      workflowType: 'xiaohongshu.notes',
      name: 'coffee',
      config: { mode: 'keyword', keyword: '咖啡', maxItems: 20 },
      platformAccountId: null,
      schedule: { kind: 'interval', every: 'daily' },
      now: at('01:00'),
    });
    await wf({
      type: 'UpdateWorkflow',
      workflowId,
      requestedBy: ownerId,
      name: 'coffee notes',
      config: { mode: 'keyword', keyword: '咖啡', maxItems: 10 },
      now: at('01:10'),
    });
    await wf({ type: 'PauseWorkflow', workflowId, reason: 'user', requestedBy: ownerId, now: at('01:20') });
    await wf({ type: 'PauseWorkflow', workflowId, reason: 'quota_exceeded', requestedBy: null, until: at('16:00'), now: at('01:30') });
    await wf({ type: 'ResumeWorkflow', workflowId, requestedBy: null, reason: 'quota_exceeded', now: at('01:40') });

    await ex(first, request(first, at('02:00')));
    await ex(first, { type: 'StartExecution', executionId: first, workerId: 'w1', now: at('02:01') });
    await ex(first, { type: 'AssignProxy', executionId: first, proxyId: 'proxy-1', reason: 'initial', now: at('02:02') });
    await ex(first, { type: 'CollectItems', executionId: first, batchId: 'b1', items: [note('n1'), note('n2')], cursor: 'c1', now: at('02:03') });
    await ex(first, { type: 'CollectItems', executionId: first, batchId: 'b2', items: [note('n2'), note('n3')], cursor: 'c2', now: at('02:04') });
    await ex(first, { type: 'CompleteExecution', executionId: first, now: at('02:05') });

    await ex(second, request(second, at('03:00')));
    await ex(second, { type: 'StartExecution', executionId: second, workerId: 'w2', now: at('03:01') });
    await ex(second, { type: 'PauseExecution', executionId: second, reason: 'captcha', now: at('03:02') });
    await ex(second, { type: 'RetryExecution', executionId: second, attempt: 2, reason: 'captcha solved', now: at('03:03') });
    await ex(second, { type: 'StartExecution', executionId: second, workerId: 'w3', now: at('03:04') });
    await ex(second, { type: 'CancelExecution', executionId: second, requestedBy: ownerId, now: at('03:05') });
    return { ownerId, workflowId, first, second, last: last! };
  }

  const snapshot = async (workflowId: string) => ({
    workflow: await knex('workflows').where({ id: workflowId }).first(),
    executions: await knex('workflow_executions').where({ workflow_id: workflowId }).orderBy('requested_at'),
  });

  it('projects the workflow and its executions, and a replay from the start changes nothing', async () => {
    const s = await scenario();
    const first = runner(createWorkflowsProjection(name));
    first.start();
    expect(await waitForCheckpoint(knex, name, s.last, 20_000), 'projection caught up').to.equal(true);

    const before = await snapshot(s.workflowId);
    expect(before.workflow).to.include({
      id: s.workflowId,
      stream_name: workflowStream(s.workflowId),
      owner_id: s.ownerId,
      platform: 'xiaohongshu',
      type: 'xiaohongshu.notes',
      name: 'coffee notes',
      status: 'paused',
      last_execution_id: s.second,
      last_revision: '5',
    });
    expect(before.workflow.config).to.deep.equal({ mode: 'keyword', keyword: '咖啡', maxItems: 10 });
    expect(before.workflow.schedule).to.deep.equal({ kind: 'interval', every: 'daily' });
    // the system pause was lifted, the user's stays
    expect(before.workflow.paused_for).to.deep.equal(['user']);
    expect(before.workflow.pauses.map((p: any) => p.reason)).to.deep.equal(['user']);
    expect(before.workflow.last_run_at.toISOString()).to.equal(at('03:04'));

    const [done, cancelled] = before.executions;
    expect(done).to.include({
      id: s.first,
      owner_id: s.ownerId,
      status: 'completed',
      attempt: 1,
      worker_id: 'w1',
      proxy_id: 'proxy-1',
      item_count: 3,
      cursor: 'c2',
      trigger: 'manual',
      last_revision: '5',
    });
    expect(done.started_at.toISOString()).to.equal(at('02:01'));
    expect(done.finished_at.toISOString()).to.equal(at('02:05'));
    expect(cancelled).to.include({ id: s.second, status: 'cancelled', attempt: 2, worker_id: 'w3', item_count: 0, pause_reason: null });
    // the first start stays the start of the execution
    expect(cancelled.started_at.toISOString()).to.equal(at('03:01'));
    expect(cancelled.finished_at.toISOString()).to.equal(at('03:05'));

    // replay everything from the start: every event is delivered again
    await first.stop();
    await resetCheckpoint(knex, name);
    const second = runner(createWorkflowsProjection(name));
    second.start();
    expect(await waitForCheckpoint(knex, name, s.last, 20_000), 'replay caught up').to.equal(true);
    expect(await snapshot(s.workflowId)).to.deep.equal(before);
  });

  it('ignores old events delivered again after later ones (the revision guard), also within one transaction', async () => {
    const s = await scenario();
    const events: RecordedEvent[] = [
      ...(await store.readStream(workflowStream(s.workflowId))),
      ...(await store.readStream(workflowExecutionStream(s.first))),
      ...(await store.readStream(workflowExecutionStream(s.second))),
    ].sort((a, b) => comparePositions(a.position, b.position));
    expect(events).to.have.length(18);

    const consumer = createWorkflowsProjection(name);
    await knex.transaction(async (tx) => consumer.handle(events, { tx }));
    const once = await snapshot(s.workflowId);
    expect(once.workflow).to.include({ status: 'paused', last_execution_id: s.second });

    // old batches again: without the guard the workflow would be active again and the first run would be "requested"
    await knex.transaction(async (tx) => consumer.handle(events.slice(0, 8), { tx }));
    expect(await snapshot(s.workflowId)).to.deep.equal(once);
    await knex.transaction(async (tx) => {
      await consumer.handle(events, { tx });
      await consumer.handle(events.slice(3, 12), { tx });
      await consumer.handle(events.slice(10), { tx });
    });
    expect(await snapshot(s.workflowId)).to.deep.equal(once);
  });

  it('is named workflows-v1 and reads only workflow and execution streams', () => {
    expect(workflowsProjection.name).to.equal('workflows-v1');
    expect(workflowsProjection.filter).to.deep.equal({ streamPrefixes: ['workflow-', 'workflow_execution-'] });
  });
});

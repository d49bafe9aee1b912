import knexFactory, { type Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import type { RecordedEvent } from '../../src/event-store/port.js';
import { workflowsProjection } from '../../src/projections/workflows.js';
import { testDatabaseUrl } from '../setup/test-env.js';
import { expect } from 'chai';
import { asRebuildReads, projectionSpec, recorded } from '../support/projection-spec.js';

/** One batch, every event alone, and small batches: a row's events folded in one batch or split across batches leave the same row. */
const BATCH_SIZES = [500, 1, 2, 3];

describe('workflows-v1 projection (given events, then rows)', () => {
  let knex: Knex;
  before(() => {
    knex = knexFactory({ client: 'pg', connection: testDatabaseUrl, pool: { min: 0, max: 2 } });
  });
  after(() => knex.destroy());

  const at = (minute: number) => new Date(Date.UTC(2026, 11, 1, 0, minute)).toISOString();

  const workflowEvents = (workflowId: string, ownerId: string) => {
    const ref = { workflowId, ownerId };
    const e = (type: string, data: Record<string, unknown>) => recorded(`workflow-${workflowId}`, type, { ...ref, ...data });
    return {
      created: e('WorkflowCreated', {
        platform: 'xiaohongshu',
        type: 'xiaohongshu.notes',
        name: 'coffee',
        config: { keyword: '咖啡' },
        platformAccountId: 'acc-1',
        createdAt: at(0),
      }),
      updated: e('WorkflowUpdated', {
        name: 'coffee notes',
        config: { keyword: '咖啡', maxItems: 10 },
        platformAccountId: null,
        changed: ['name', 'config', 'platformAccountId'],
        updatedAt: at(1),
      }),
      scheduled: e('WorkflowScheduled', { schedule: { kind: 'interval', every: 'daily' }, previous: null, status: 'active', scheduledAt: at(2) }),
      pausedByUser: e('WorkflowPaused', { reason: 'user', until: null, by: ownerId, pausedFor: ['user'], pausedAt: at(3) }),
      pausedForQuota: e('WorkflowPaused', { reason: 'quota_exceeded', until: at(60), by: null, pausedFor: ['user', 'quota_exceeded'], pausedAt: at(4) }),
      pausedForQuotaAgain: e('WorkflowPaused', { reason: 'quota_exceeded', until: at(90), by: null, pausedFor: ['user', 'quota_exceeded'], pausedAt: at(5) }),
      resumedUser: e('WorkflowResumed', { lifted: ['user'], pausedFor: ['quota_exceeded'], status: 'paused', by: ownerId, resumedAt: at(6) }),
      unscheduled: e('WorkflowScheduled', { schedule: null, previous: { kind: 'interval', every: 'daily' }, status: 'paused', scheduledAt: at(7) }),
      deleted: e('WorkflowDeleted', { platform: 'xiaohongshu', type: 'xiaohongshu.notes', schedule: null, deletedAt: at(8) }),
    };
  };

  const WORKFLOW_COLUMNS = [
    'name',
    'config',
    'platform_account_id',
    'schedule',
    'status',
    'paused_for',
    'pauses',
    'created_at',
    'updated_at',
    'deleted_at',
    'last_revision',
  ];

  it('applies every workflow event, in one batch or split across batches', async () => {
    const id = randomUUID();
    const owner = randomUUID();
    const w = workflowEvents(id, owner);
    const events = [w.created, w.updated, w.scheduled, w.pausedByUser, w.pausedForQuota, w.pausedForQuotaAgain, w.resumedUser];
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, workflowsProjection, { batchSize })
        .given(events)
        .then('workflows', { where: { id }, columns: WORKFLOW_COLUMNS }, [
          {
            name: 'coffee notes',
            config: { keyword: '咖啡', maxItems: 10 },
            platform_account_id: null,
            schedule: { kind: 'interval', every: 'daily' },
            status: 'paused',
            paused_for: ['quota_exceeded'],
            // the second quota pause replaced the first in place
            pauses: [{ reason: 'quota_exceeded', until: at(90), by: null, paused_at: at(5) }],
            created_at: at(0),
            updated_at: at(6),
            deleted_at: null,
            last_revision: '6',
          },
        ]);
    }
  });

  it('keeps the order of the pauses and removes a lifted one (pauses folded within a batch and across batches)', async () => {
    const id = randomUUID();
    const owner = randomUUID();
    const w = workflowEvents(id, owner);
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, workflowsProjection, { batchSize })
        .given([w.created, w.updated, w.scheduled, w.pausedByUser, w.pausedForQuota])
        .then('workflows', { where: { id }, columns: ['status', 'paused_for', 'pauses'] }, [
          {
            status: 'paused',
            paused_for: ['user', 'quota_exceeded'],
            pauses: [
              { reason: 'user', until: null, by: owner, paused_at: at(3) },
              { reason: 'quota_exceeded', until: at(60), by: null, paused_at: at(4) },
            ],
          },
        ]);
    }
  });

  it('removes the schedule and marks a deleted workflow', async () => {
    const id = randomUUID();
    const w = workflowEvents(id, randomUUID());
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, workflowsProjection, { batchSize })
        .given(Object.values(w))
        .then('workflows', { where: { id }, columns: ['schedule', 'status', 'updated_at', 'deleted_at', 'last_revision'] }, [
          { schedule: null, status: 'deleted', updated_at: at(8), deleted_at: at(8), last_revision: '8' },
        ]);
    }
  });

  it('does not move a workflow back when older events come again after later ones', async () => {
    const id = randomUUID();
    const owner = randomUUID();
    const w = workflowEvents(id, owner);
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, workflowsProjection, { batchSize })
        .given([w.created, w.updated, w.scheduled, w.pausedByUser, w.updated, w.created, w.pausedByUser])
        .then('workflows', { where: { id }, columns: ['name', 'status', 'pauses', 'updated_at', 'last_revision'] }, [
          {
            name: 'coffee notes',
            status: 'paused',
            pauses: [{ reason: 'user', until: null, by: owner, paused_at: at(3) }],
            updated_at: at(3),
            last_revision: '3',
          },
        ]);
    }
  });

  // ------------------------------------------------------------ executions

  const executionEvents = (executionId: string, workflowId: string, ownerId: string, minute0 = 10) => {
    const ref = { executionId, workflowId };
    const t = (m: number) => at(minute0 + m);
    const e = (type: string, data: Record<string, unknown>) => recorded(`workflow_execution-${executionId}`, type, { ...ref, ...data });
    const items = [{ platformContentId: 'n1', kind: 'xiaohongshu.note', data: { noteId: 'n1' } }];
    const collected = (batch: number, itemCount: number, minute: number) =>
      e('ItemsCollected', {
        ownerId,
        platform: 'xiaohongshu',
        type: 'xiaohongshu.notes',
        platformAccountId: null,
        batchId: `b${batch}`,
        attempt: 1,
        items,
        cursor: `c${batch}`,
        itemCount,
        collectedAt: t(minute),
      });
    return {
      requested: e('ExecutionRequested', {
        ownerId,
        platform: 'xiaohongshu',
        type: 'xiaohongshu.notes',
        config: { keyword: '咖啡' },
        platformAccountId: 'acc-1',
        trigger: 'manual',
        requestedBy: ownerId,
        requestedAt: t(0),
      }),
      assigned: e('ProxyAssigned', { proxyId: 'proxy-1', leaseId: 'lease-1', reason: 'initial', previous: null, assignedAt: t(1) }),
      started: e('ExecutionStarted', { workerId: 'w1', attempt: 1, startedAt: t(2) }),
      collected1: collected(1, 20, 3),
      paused: e('ExecutionPaused', { reason: 'captcha', attempt: 1, cursor: 'c1', pausedAt: t(4) }),
      retried: e('ExecutionRetried', { attempt: 2, reason: 'captcha solved', resumeFrom: 'c1', retriedAt: t(5) }),
      restarted: e('ExecutionStarted', { workerId: 'w2', attempt: 2, startedAt: t(6) }),
      collected2: collected(2, 35, 7),
      completed: e('ExecutionCompleted', { ownerId, itemCount: 35, attempt: 2, proxy: { proxyId: 'proxy-1', leaseId: 'lease-1' }, completedAt: t(8) }),
    };
  };

  const EXECUTION_COLUMNS = [
    'workflow_id',
    'owner_id',
    'platform',
    'type',
    'platform_account_id',
    'trigger',
    'status',
    'attempt',
    'worker_id',
    'proxy_id',
    'item_count',
    'cursor',
    'pause_reason',
    'rejection_reason',
    'rejection_details',
    'failure_reason',
    'requested_at',
    'started_at',
    'finished_at',
    'updated_at',
    'last_revision',
  ];
  const requestedRow = (workflowId: string, ownerId: string) => ({
    workflow_id: workflowId,
    owner_id: ownerId,
    platform: 'xiaohongshu',
    type: 'xiaohongshu.notes',
    platform_account_id: 'acc-1',
    trigger: 'manual',
    status: 'requested',
    attempt: 0,
    worker_id: null,
    proxy_id: null,
    item_count: 0,
    cursor: null,
    pause_reason: null,
    rejection_reason: null,
    rejection_details: null,
    failure_reason: null,
    requested_at: at(10),
    started_at: null,
    finished_at: null,
    updated_at: at(10),
    last_revision: '0',
  });

  it("applies a run from request to completion (paused, retried, started again), and sets the workflow's last execution and run, from the whole events or what a rebuild reads", async () => {
    const workflowId = randomUUID();
    const owner = randomUUID();
    const executionId = randomUUID();
    const w = workflowEvents(workflowId, owner);
    const x = executionEvents(executionId, workflowId, owner);
    const whole = [w.created, ...Object.values(x)];
    // a rebuild reads the batches without their items
    const read = await asRebuildReads(knex, workflowsProjection, whole);
    const collected = read.filter((e) => e.type === 'ItemsCollected');
    expect(collected).to.have.length.above(0);
    for (const e of collected) expect((e.data as { items: unknown[] }).items).to.deep.equal([]);
    for (const [given, batchSize] of [whole, read].flatMap((g) => BATCH_SIZES.map((size) => [g, size] as const))) {
      await projectionSpec(knex, workflowsProjection, { batchSize })
        .given(given)
        .thenAll([
          {
            table: 'workflow_executions',
            query: { where: { id: executionId }, columns: EXECUTION_COLUMNS },
            expected: [
              {
                ...requestedRow(workflowId, owner),
                status: 'completed',
                attempt: 2,
                worker_id: 'w2',
                proxy_id: 'proxy-1',
                item_count: 35,
                cursor: 'c2',
                // the pause reason was cleared by the retry; the first start stays
                started_at: at(12),
                finished_at: at(18),
                updated_at: at(18),
                last_revision: '8',
              },
            ],
          },
          {
            table: 'workflows',
            query: { where: { id: workflowId }, columns: ['last_execution_id', 'last_run_at', 'updated_at', 'last_revision'] },
            expected: [{ last_execution_id: executionId, last_run_at: at(16), updated_at: at(0), last_revision: '0' }],
          },
        ]);
    }
  });

  it('stops where the events stop: a paused run keeps its cursor and reason', async () => {
    const workflowId = randomUUID();
    const owner = randomUUID();
    const executionId = randomUUID();
    const x = executionEvents(executionId, workflowId, owner);
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, workflowsProjection, { batchSize })
        .given([x.requested, x.assigned, x.started, x.collected1, x.paused])
        .then(
          'workflow_executions',
          {
            where: { id: executionId },
            columns: ['status', 'attempt', 'worker_id', 'item_count', 'cursor', 'pause_reason', 'started_at', 'updated_at', 'last_revision'],
          },
          [
            {
              status: 'paused',
              attempt: 1,
              worker_id: 'w1',
              item_count: 20,
              cursor: 'c1',
              pause_reason: 'captcha',
              started_at: at(12),
              updated_at: at(14),
              last_revision: '4',
            },
          ],
        );
    }
  });

  it('records a rejected, a failed and a cancelled run', async () => {
    const workflowId = randomUUID();
    const owner = randomUUID();
    const [rejected, failed, cancelled] = [randomUUID(), randomUUID(), randomUUID()];
    const r = executionEvents(rejected, workflowId, owner);
    const f = executionEvents(failed, workflowId, owner);
    const c = executionEvents(cancelled, workflowId, owner);
    const events: RecordedEvent[] = [
      r.requested,
      recorded(
        `workflow_execution-${rejected}`,
        'ExecutionRejected',
        { executionId: rejected, workflowId, ownerId: owner, reason: 'QUOTA_EXCEEDED', details: { feature: 'daily_api_calls' }, rejectedAt: at(11) },
        { revision: 1n },
      ),
      f.requested,
      f.started,
      f.collected1,
      recorded(
        `workflow_execution-${failed}`,
        'ExecutionFailed',
        { executionId: failed, workflowId, ownerId: owner, reason: 'blocked', attempt: 1, itemCount: 20, proxy: null, failedAt: at(15) },
        { revision: 4n },
      ),
      c.requested,
      recorded(
        `workflow_execution-${cancelled}`,
        'ExecutionCancelled',
        { executionId: cancelled, workflowId, ownerId: owner, by: owner, itemCount: 0, proxy: null, cancelledAt: at(12) },
        { revision: 1n },
      ),
    ];
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, workflowsProjection, { batchSize })
        .given(events)
        .thenQuery(
          async (tx) =>
            (await tx('workflow_executions').whereIn('id', [rejected, failed, cancelled]).select(EXECUTION_COLUMNS.concat('id')))
              .map((row: Record<string, unknown>) => [row.id === rejected ? 'rejected' : row.id === failed ? 'failed' : 'cancelled', row])
              .sort(),
          [
            [
              'cancelled',
              { ...requestedRow(workflowId, owner), id: cancelled, status: 'cancelled', finished_at: at(12), updated_at: at(12), last_revision: '1' },
            ],
            [
              'failed',
              {
                ...requestedRow(workflowId, owner),
                id: failed,
                status: 'failed',
                attempt: 1,
                worker_id: 'w1',
                item_count: 20,
                cursor: 'c1',
                failure_reason: 'blocked',
                started_at: at(12),
                finished_at: at(15),
                updated_at: at(15),
                last_revision: '4',
              },
            ],
            [
              'rejected',
              {
                ...requestedRow(workflowId, owner),
                id: rejected,
                status: 'rejected',
                rejection_reason: 'QUOTA_EXCEEDED',
                rejection_details: { feature: 'daily_api_calls' },
                finished_at: at(11),
                updated_at: at(11),
                last_revision: '1',
              },
            ],
          ],
        );
    }
  });

  it("does not move a run back when older events come again after later ones, nor the workflow's last execution", async () => {
    const workflowId = randomUUID();
    const owner = randomUUID();
    const [first, second] = [randomUUID(), randomUUID()];
    const w = workflowEvents(workflowId, owner);
    const a = executionEvents(first, workflowId, owner, 10);
    const b = executionEvents(second, workflowId, owner, 30);
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, workflowsProjection, { batchSize })
        .given([w.created, a.requested, a.started, a.completed, b.requested, b.started, a.requested, a.started, a.assigned, b.requested])
        .thenAll([
          {
            table: 'workflow_executions',
            query: { where: { id: first }, columns: ['status', 'proxy_id', 'updated_at', 'last_revision'] },
            expected: [{ status: 'completed', proxy_id: null, updated_at: at(18), last_revision: '8' }],
          },
          {
            table: 'workflows',
            query: { where: { id: workflowId }, columns: ['last_execution_id', 'last_run_at'] },
            expected: [{ last_execution_id: second, last_run_at: at(32) }],
          },
        ]);
    }
  });

  it("keeps the latest start as the workflow's last run when an earlier one is applied later", async () => {
    const workflowId = randomUUID();
    const owner = randomUUID();
    const [early, late] = [randomUUID(), randomUUID()];
    const w = workflowEvents(workflowId, owner);
    const a = executionEvents(early, workflowId, owner, 10);
    const b = executionEvents(late, workflowId, owner, 30);
    for (const batchSize of BATCH_SIZES) {
      await projectionSpec(knex, workflowsProjection, { batchSize })
        .given([w.created, b.requested, b.started, a.requested, a.started])
        .then('workflows', { where: { id: workflowId }, columns: ['last_execution_id', 'last_run_at'] }, [{ last_execution_id: early, last_run_at: at(32) }]);
    }
  });

  it('ignores events of a run whose request it never saw, and a request of an unknown workflow touches no workflow', async () => {
    const workflowId = randomUUID();
    const owner = randomUUID();
    const [seen, unseen] = [randomUUID(), randomUUID()];
    const a = executionEvents(seen, workflowId, owner);
    const b = executionEvents(unseen, workflowId, owner);
    await projectionSpec(knex, workflowsProjection)
      .given([a.requested, a.started, b.started, b.completed])
      .thenQuery(
        async (tx) => ({
          executions: await tx('workflow_executions').whereIn('id', [seen, unseen]).select('id', 'status'),
          workflows: await tx('workflows').where({ id: workflowId }).select('id'),
        }),
        { executions: [{ id: seen, status: 'running' }], workflows: [] },
      );
  });
});

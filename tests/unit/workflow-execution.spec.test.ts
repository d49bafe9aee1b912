import { expect } from 'chai';
import { fold } from '../../src/write-model/core/decider.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { EventDecodeError } from '../../src/write-model/core/event-codec.js';
import { domainEvents } from '../../src/write-model/events.js';
import {
  workflowExecutionAggregate,
  workflowExecutionEvents,
  workflowExecutionDecider as decider,
  workflowExecutionStream,
  type CollectedItem,
  type RequestExecution,
  type WorkflowExecutionCommand,
  type WorkflowExecutionEvent,
} from '../../src/write-model/workflow-execution/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(decider);
const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;
type Event = WorkflowExecutionEvent;

const EX = 'ex-1';
const WF = 'wf-1';
const OWNER = 'user-1';
const T0 = '2025-03-01T10:00:00.000Z';
const T1 = '2025-03-01T10:01:00.000Z';
const T2 = '2025-03-01T10:02:00.000Z';
const CONFIG = { rankings: ['热销榜'] };

const requestCmd: RequestExecution = {
  type: 'RequestExecution',
  executionId: EX,
  workflowId: WF,
  ownerId: OWNER,
  platform: 'qidian',
  workflowType: 'qidian.rankings',
  config: CONFIG,
  platformAccountId: null,
  trigger: 'manual',
  requestedBy: OWNER,
  now: T0,
};

const requested: Event = {
  type: 'ExecutionRequested',
  data: {
    executionId: EX,
    workflowId: WF,
    ownerId: OWNER,
    platform: 'qidian',
    type: 'qidian.rankings',
    config: CONFIG,
    platformAccountId: null,
    trigger: 'manual',
    requestedBy: OWNER,
    requestedAt: T0,
  },
};
const proxied: Event = {
  type: 'ProxyAssigned',
  data: { executionId: EX, workflowId: WF, proxyId: 'px-1', leaseId: 'lease-1', reason: 'initial', previous: null, assignedAt: T0 },
};
const started = (attempt = 1, workerId: string | null = 'worker-a'): Event => ({
  type: 'ExecutionStarted',
  data: { executionId: EX, workflowId: WF, workerId, attempt, startedAt: T1 },
});
const item = (id: string): CollectedItem => ({ platformContentId: `热销榜:${id}`, kind: 'qidian.ranking_entry', data: { novelId: id } });
const collected = (batchId: string, items: CollectedItem[], itemCount: number, cursor: string | null, attempt = 1): Event => ({
  type: 'ItemsCollected',
  data: {
    executionId: EX,
    workflowId: WF,
    ownerId: OWNER,
    platform: 'qidian',
    type: 'qidian.rankings',
    platformAccountId: null,
    batchId,
    attempt,
    items,
    cursor,
    itemCount,
    collectedAt: T2,
  },
});
const retried = (attempt: number, resumeFrom: string | null): Event => ({
  type: 'ExecutionRetried',
  data: { executionId: EX, workflowId: WF, attempt, reason: 'timeout', resumeFrom, retriedAt: T2 },
});
const LEASE = { proxyId: 'px-1', leaseId: 'lease-1' };
const completed: Event = {
  type: 'ExecutionCompleted',
  data: { executionId: EX, workflowId: WF, ownerId: OWNER, itemCount: 2, attempt: 1, proxy: LEASE, completedAt: T2 },
};
const failed: Event = {
  type: 'ExecutionFailed',
  data: { executionId: EX, workflowId: WF, ownerId: OWNER, reason: 'blocked', attempt: 1, itemCount: 0, proxy: LEASE, failedAt: T2 },
};
const cancelled: Event = {
  type: 'ExecutionCancelled',
  data: { executionId: EX, workflowId: WF, ownerId: OWNER, by: OWNER, itemCount: 0, proxy: LEASE, cancelledAt: T2 },
};
const rejected: Event = {
  type: 'ExecutionRejected',
  data: { executionId: EX, workflowId: WF, ownerId: OWNER, reason: 'QUOTA_EXCEEDED', details: { feature: 'daily_api_calls' }, rejectedAt: T1 },
};
const pausedEv = (reason: 'account_invalidated' | 'rate_limited', cursor: string | null = null): Event => ({
  type: 'ExecutionPaused',
  data: { executionId: EX, workflowId: WF, reason, attempt: 1, cursor, pausedAt: T2 },
});

const running = [requested, proxied, started()];
const terminals: [string, Event[]][] = [
  ['rejected', [requested, rejected]],
  ['completed', [...running, collected('b1', [item('1'), item('2')], 2, 'p2'), completed]],
  ['failed', [...running, failed]],
  ['cancelled', [...running, cancelled]],
];

describe('WorkflowExecution', () => {
  it('names its stream workflow_execution-{id}', () => {
    expect(workflowExecutionStream(EX)).to.equal('workflow_execution-ex-1');
  });

  describe('RequestExecution', () => {
    it('records a manual run by the owner', () => {
      spec.given([]).when(requestCmd).then([requested]);
    });

    it('records a scheduled run without a user', () => {
      spec
        .given([])
        .when({ ...requestCmd, trigger: 'schedule', requestedBy: null })
        .then([{ ...requested, data: { ...requested.data, trigger: 'schedule', requestedBy: null } } as Event]);
    });

    it('is a no-op when repeated (even later)', () => {
      spec
        .given([requested])
        .when({ ...requestCmd, now: T2 })
        .then([]);
    });

    it('refuses another request under the same id (CONFLICT)', () => {
      spec
        .given([requested])
        .when({ ...requestCmd, config: { rankings: ['收藏榜'] } })
        .thenThrows(DomainError, code('CONFLICT'));
    });

    it("refuses a manual run nobody asked for (VALIDATION_ERROR); who may run whose workflow is the access policy's", () => {
      spec
        .given([])
        .when({ ...requestCmd, requestedBy: null })
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
    });

    const invalid: [string, Record<string, unknown>][] = [
      ['a scheduled run naming a user', { trigger: 'schedule' }],
      ['an unknown trigger', { trigger: 'webhook' }],
      ['an empty executionId', { executionId: '' }],
      ['an empty workflowId', { workflowId: '' }],
      ['an empty type', { workflowType: '' }],
      ['a config that is not an object', { config: 'x' }],
      ['a bad now', { now: 'now' }],
    ];
    for (const [what, change] of invalid) {
      it(`refuses ${what} (VALIDATION_ERROR)`, () => {
        spec
          .given([])
          .when({ ...requestCmd, ...change } as WorkflowExecutionCommand)
          .thenThrows(DomainError, code('VALIDATION_ERROR'));
      });
    }
  });

  describe('RejectExecution', () => {
    const cmd = { type: 'RejectExecution', executionId: EX, reason: 'QUOTA_EXCEEDED', details: { feature: 'daily_api_calls' }, now: T1 } as const;

    it('rejects a requested run', () => {
      spec.given([requested]).when(cmd).then([rejected]);
    });

    it('is a no-op when repeated', () => {
      spec.given([requested, rejected]).when(cmd).then([]);
    });

    it('refuses a run that already started (CONFLICT)', () => {
      spec.given(running).when(cmd).thenThrows(DomainError, code('CONFLICT'));
    });

    it('refuses an unknown reason (VALIDATION_ERROR) and an unknown execution (NOT_FOUND)', () => {
      spec
        .given([requested])
        .when({ ...cmd, reason: 'BORED' as never })
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
      spec.given([]).when(cmd).thenThrows(DomainError, code('NOT_FOUND'));
    });
  });

  describe('StartExecution', () => {
    const cmd = { type: 'StartExecution', executionId: EX, workerId: 'worker-a', now: T1 } as const;

    it('starts attempt 1', () => {
      spec.given([requested, proxied]).when(cmd).then([started()]);
    });

    it('starts the retried attempt', () => {
      spec
        .given([...running, retried(2, null)])
        .when({ ...cmd, workerId: 'worker-b' })
        .then([started(2, 'worker-b')]);
    });

    it('is a no-op for the same worker', () => {
      spec.given(running).when(cmd).then([]);
    });

    it('refuses another worker on a running attempt (CONFLICT)', () => {
      spec
        .given(running)
        .when({ ...cmd, workerId: 'worker-b' })
        .thenThrows(DomainError, code('CONFLICT'));
    });

    it('refuses a paused run: it goes on through a retry (CONFLICT)', () => {
      spec
        .given([...running, pausedEv('rate_limited')])
        .when(cmd)
        .thenThrows(DomainError, code('CONFLICT'));
    });

    for (const [status, history] of terminals) {
      it(`refuses a ${status} run (CONFLICT)`, () => {
        spec.given(history).when(cmd).thenThrows(DomainError, code('CONFLICT'));
      });
    }

    it('refuses an unknown execution (NOT_FOUND)', () => {
      spec.given([]).when(cmd).thenThrows(DomainError, code('NOT_FOUND'));
    });
  });

  describe('AssignProxy', () => {
    const cmd = { type: 'AssignProxy', executionId: EX, proxyId: 'px-1', leaseId: 'lease-1', reason: 'initial', now: T0 } as const;

    it('assigns the first proxy', () => {
      spec.given([requested]).when(cmd).then([proxied]);
    });

    it('moves to another proxy, naming the one it replaces', () => {
      spec
        .given(running)
        .when({ ...cmd, proxyId: 'px-2', leaseId: 'lease-2', reason: 'proxy_failed', now: T2 })
        .then([
          {
            type: 'ProxyAssigned',
            data: { executionId: EX, workflowId: WF, proxyId: 'px-2', leaseId: 'lease-2', reason: 'proxy_failed', previous: LEASE, assignedAt: T2 },
          },
        ]);
    });

    it('is a no-op for the proxy and lease in place', () => {
      spec
        .given(running)
        .when({ ...cmd, reason: 'retry' })
        .then([]);
    });

    it('is a no-op for the proxy in place under another lease or none: a move is recorded once, whoever asks for it', () => {
      spec
        .given(running)
        .when({ ...cmd, leaseId: null, reason: 'proxy_failed' })
        .then([]);
      spec
        .given(running)
        .when({ ...cmd, leaseId: 'lease-9', reason: 'proxy_failed' })
        .then([]);
    });

    for (const [status, history] of terminals) {
      it(`refuses a ${status} run (CONFLICT)`, () => {
        spec.given(history).when(cmd).thenThrows(DomainError, code('CONFLICT'));
      });
    }

    it('refuses an unknown reason and an empty proxy id (VALIDATION_ERROR)', () => {
      spec
        .given([requested])
        .when({ ...cmd, reason: 'whim' as never })
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
      spec
        .given([requested])
        .when({ ...cmd, proxyId: '' })
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('CollectItems', () => {
    const cmd = (batchId: string, items: CollectedItem[], cursor: string | null = 'p2') =>
      ({ type: 'CollectItems', executionId: EX, batchId, items, cursor, now: T2 }) as const;

    it('records a batch with the cursor and the running count', () => {
      spec
        .given(running)
        .when(cmd('b1', [item('1'), item('2')]))
        .then([collected('b1', [item('1'), item('2')], 2, 'p2')]);
    });

    it('drops items already collected in this execution, and repeats within the batch', () => {
      spec
        .given([...running, collected('b1', [item('1'), item('2')], 2, 'p2')])
        .when(cmd('b2', [item('2'), item('3'), item('3')], 'p3'))
        .then([collected('b2', [item('3')], 3, 'p3')]);
    });

    it('is a no-op when every item is a duplicate', () => {
      spec
        .given([...running, collected('b1', [item('1')], 1, 'p2')])
        .when(cmd('b2', [item('1')], 'p3'))
        .then([]);
    });

    it('is a no-op for a batch id seen before, even after the end', () => {
      spec
        .given([...running, collected('b1', [item('1')], 1, 'p2')])
        .when(cmd('b1', [item('9')]))
        .then([]);
      spec
        .given(terminals[1]![1])
        .when(cmd('b1', [item('9')]))
        .then([]);
    });

    it('still takes a late batch while retrying, with the new attempt', () => {
      spec
        .given([...running, retried(2, null)])
        .when(cmd('b1', [item('1')]))
        .then([collected('b1', [item('1')], 1, 'p2', 2)]);
    });

    it('keeps counts, cursor and seen ids in state', () => {
      const state = fold(decider, [...running, collected('b1', [item('1'), item('2')], 2, 'p2'), collected('b2', [item('3')], 3, null)]);
      expect(state.itemCount).to.equal(3);
      expect(state.cursor).to.equal(null);
      expect(Object.keys(state.seenItems)).to.deep.equal(['热销榜:1', '热销榜:2', '热销榜:3']);
      expect(Object.keys(state.batches)).to.deep.equal(['b1', 'b2']);
      expect(state.proxy).to.deep.equal(LEASE);
      expect(state.attempt).to.equal(1);
    });

    it('refuses items before the run started (CONFLICT)', () => {
      spec
        .given([requested])
        .when(cmd('b1', [item('1')]))
        .thenThrows(DomainError, code('CONFLICT'));
    });

    for (const [status, history] of terminals) {
      it(`refuses a new batch of a ${status} run (CONFLICT)`, () => {
        spec
          .given(history)
          .when(cmd('b9', [item('9')]))
          .thenThrows(DomainError, code('CONFLICT'));
      });
    }

    it('refuses malformed items (VALIDATION_ERROR)', () => {
      for (const bad of [
        { kind: 'x', data: {} },
        { platformContentId: 'a', data: {} },
        { platformContentId: 'a', kind: 'x', data: [] },
      ]) {
        spec
          .given(running)
          .when(cmd('b1', [bad as never]))
          .thenThrows(DomainError, code('VALIDATION_ERROR'));
      }
      spec
        .given(running)
        .when(cmd('', [item('1')]))
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
      spec
        .given(running)
        .when({ ...cmd('b1', []), items: 'x' as never })
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('RetryExecution', () => {
    const cmd = { type: 'RetryExecution', executionId: EX, attempt: 2, reason: 'timeout', now: T2 } as const;

    it('retries from the last cursor', () => {
      spec
        .given([...running, collected('b1', [item('1')], 1, 'p2')])
        .when(cmd)
        .then([retried(2, 'p2')]);
    });

    it('goes on from a pause', () => {
      spec
        .given([...running, pausedEv('rate_limited')])
        .when(cmd)
        .then([retried(2, null)]);
    });

    it('is a no-op for an attempt already reached', () => {
      spec
        .given([...running, retried(2, null)])
        .when(cmd)
        .then([]);
      spec
        .given([...running, retried(2, null), started(2)])
        .when(cmd)
        .then([]);
    });

    it('refuses to skip an attempt (CONFLICT)', () => {
      spec
        .given(running)
        .when({ ...cmd, attempt: 3 })
        .thenThrows(DomainError, code('CONFLICT'));
    });

    it('refuses a run that never started (CONFLICT)', () => {
      spec.given([requested]).when(cmd).thenThrows(DomainError, code('CONFLICT'));
    });

    for (const [status, history] of terminals) {
      it(`refuses a ${status} run (CONFLICT)`, () => {
        spec.given(history).when(cmd).thenThrows(DomainError, code('CONFLICT'));
      });
    }

    it('refuses a bad attempt or an empty reason (VALIDATION_ERROR)', () => {
      spec
        .given(running)
        .when({ ...cmd, attempt: 0 })
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
      spec
        .given(running)
        .when({ ...cmd, attempt: 1.5 })
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
      spec
        .given(running)
        .when({ ...cmd, reason: '' })
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('CompleteExecution', () => {
    const cmd = { type: 'CompleteExecution', executionId: EX, now: T2 } as const;

    it('completes a running execution with its count and lease', () => {
      spec
        .given([...running, collected('b1', [item('1'), item('2')], 2, 'p2')])
        .when(cmd)
        .then([completed]);
    });

    it('is a no-op when already completed', () => {
      spec.given(terminals[1]![1]).when(cmd).then([]);
    });

    it('refuses a run that is not running (CONFLICT)', () => {
      for (const history of [[requested], [...running, retried(2, null)], [...running, pausedEv('rate_limited')]]) {
        spec.given(history).when(cmd).thenThrows(DomainError, code('CONFLICT'));
      }
    });

    for (const [status, history] of terminals.filter(([s]) => s !== 'completed')) {
      it(`refuses a ${status} run (CONFLICT)`, () => {
        spec.given(history).when(cmd).thenThrows(DomainError, code('CONFLICT'));
      });
    }
  });

  describe('FailExecution', () => {
    const cmd = { type: 'FailExecution', executionId: EX, reason: 'blocked', now: T2 } as const;

    it('fails a running execution', () => {
      spec.given(running).when(cmd).then([failed]);
    });

    it('fails a paused execution', () => {
      spec
        .given([...running, pausedEv('account_invalidated')])
        .when(cmd)
        .then([failed]);
    });

    it('is a no-op when already failed', () => {
      spec
        .given([...running, failed])
        .when({ ...cmd, reason: 'other' })
        .then([]);
    });

    it('refuses a request that never started: it is rejected instead (CONFLICT)', () => {
      spec.given([requested]).when(cmd).thenThrows(DomainError, code('CONFLICT'));
    });

    for (const [status, history] of terminals.filter(([s]) => s !== 'failed')) {
      it(`refuses a ${status} run (CONFLICT)`, () => {
        spec.given(history).when(cmd).thenThrows(DomainError, code('CONFLICT'));
      });
    }

    it('refuses an empty reason (VALIDATION_ERROR)', () => {
      spec
        .given(running)
        .when({ ...cmd, reason: '' })
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('CancelExecution', () => {
    const cmd = { type: 'CancelExecution', executionId: EX, requestedBy: OWNER, now: T2 } as const;

    it('cancels a running execution, handing back the lease', () => {
      spec.given(running).when(cmd).then([cancelled]);
    });

    it('cancels a request before it runs', () => {
      spec
        .given([requested])
        .when(cmd)
        .then([{ ...cancelled, data: { ...cancelled.data, proxy: null } } as Event]);
    });

    it('is a no-op when already cancelled', () => {
      spec
        .given([...running, cancelled])
        .when(cmd)
        .then([]);
    });

    it("needs someone who asked (VALIDATION_ERROR); who may cancel whose execution is the access policy's", () => {
      spec
        .given(running)
        .when({ ...cmd, requestedBy: null as never })
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
    });

    for (const [status, history] of terminals.filter(([s]) => s !== 'cancelled')) {
      it(`refuses a ${status} run (CONFLICT)`, () => {
        spec.given(history).when(cmd).thenThrows(DomainError, code('CONFLICT'));
      });
    }

    it('refuses an unknown execution (NOT_FOUND)', () => {
      spec.given([]).when(cmd).thenThrows(DomainError, code('NOT_FOUND'));
    });
  });

  describe('PauseExecution', () => {
    const cmd = { type: 'PauseExecution', executionId: EX, reason: 'rate_limited', now: T2 } as const;

    it('pauses a running execution at its cursor', () => {
      spec
        .given([...running, collected('b1', [item('1')], 1, 'p2')])
        .when(cmd)
        .then([pausedEv('rate_limited', 'p2')]);
    });

    it('records a new reason for a paused execution', () => {
      spec
        .given([...running, pausedEv('rate_limited')])
        .when({ ...cmd, reason: 'account_invalidated' })
        .then([pausedEv('account_invalidated')]);
    });

    it('is a no-op for the same reason', () => {
      spec
        .given([...running, pausedEv('rate_limited')])
        .when(cmd)
        .then([]);
    });

    it('refuses a run that never started (CONFLICT)', () => {
      spec.given([requested]).when(cmd).thenThrows(DomainError, code('CONFLICT'));
    });

    for (const [status, history] of terminals) {
      it(`refuses a ${status} run (CONFLICT)`, () => {
        spec.given(history).when(cmd).thenThrows(DomainError, code('CONFLICT'));
      });
    }

    it('refuses an unknown reason (VALIDATION_ERROR)', () => {
      spec
        .given(running)
        .when({ ...cmd, reason: 'tired' as never })
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('binding and decoding', () => {
    const asStored = (event: Event) => ({ type: event.type, data: JSON.parse(JSON.stringify(event.data)) as unknown, metadata: { schemaVersion: 1 } });
    const every: Event[] = [
      requested,
      rejected,
      proxied,
      started(),
      collected('b1', [item('1')], 1, 'p2'),
      retried(2, 'p2'),
      completed,
      failed,
      cancelled,
      pausedEv('rate_limited'),
    ];

    it('binds the stream workflow_execution-{id}, short-lived: no snapshots', () => {
      expect(workflowExecutionAggregate.streamName(EX)).to.equal('workflow_execution-ex-1');
      expect(workflowExecutionAggregate.decider).to.equal(decider);
      expect(workflowExecutionAggregate.events).to.equal(workflowExecutionEvents);
      expect(workflowExecutionAggregate.snapshot).to.equal(undefined);
    });

    it('decodes every event type as stored, alone and through the registry', () => {
      expect(new Set(every.map((e) => e.type))).to.deep.equal(new Set(workflowExecutionEvents.types));
      for (const event of every) {
        expect(workflowExecutionEvents.decode(asStored(event))).to.deep.equal(event);
        expect(domainEvents.decode(asStored(event))).to.deep.equal(event);
      }
    });

    it('refuses data that does not fit, and foreign types (EventDecodeError)', () => {
      const bad = (type: string, data: unknown) => () => workflowExecutionEvents.decode({ type, data });
      expect(bad('ExecutionRequested', { ...requested.data, trigger: 'cron' })).to.throw(EventDecodeError);
      expect(bad('ItemsCollected', { ...collected('b1', [item('1')], 1, null).data, items: [{ kind: 'x' }] })).to.throw(EventDecodeError);
      expect(bad('ExecutionRejected', { ...rejected.data, reason: 'TIRED' })).to.throw(EventDecodeError);
      expect(bad('ExecutionStarted', { ...started().data, attempt: 1.5 })).to.throw(EventDecodeError);
      expect(bad('WorkflowCreated', {})).to.throw(EventDecodeError);
    });

    it('folds in place without changing the events it folds', () => {
      const history = [
        ...running,
        collected('b1', [item('1'), item('2')], 2, 'p2'),
        retried(2, 'p2'),
        started(2, 'worker-b'),
        collected('b2', [item('3')], 3, 'p3'),
      ];
      const before = JSON.stringify(history);
      const state = fold(decider, history);
      expect(JSON.stringify(history)).to.equal(before);
      expect(Object.keys(state.seenItems)).to.deep.equal(['热销榜:1', '热销榜:2', '热销榜:3']);
      expect(Object.keys(state.batches)).to.deep.equal(['b1', 'b2']);
      expect(state).to.include({ status: 'running', attempt: 2, itemCount: 3, cursor: 'p3', workerId: 'worker-b' });
    });

    it('decides without changing the state it decides on', () => {
      const state = fold(decider, [...running, collected('b1', [item('1')], 1, 'p1')]);
      decider.decide({ type: 'CollectItems', executionId: EX, batchId: 'b2', items: [item('1'), item('2'), item('2')], cursor: 'p2', now: T2 }, state);
      expect(Object.keys(state.seenItems)).to.deep.equal(['热销榜:1']);
      expect(Object.keys(state.batches)).to.deep.equal(['b1']);
    });
  });
});

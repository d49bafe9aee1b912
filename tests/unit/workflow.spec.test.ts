import { SNAPSHOT_EVERY } from '../../src/write-model/core/aggregate.js';
import { expect } from 'chai';
import { fold } from '../../src/write-model/core/decider.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import { EventDecodeError } from '../../src/write-model/core/event-codec.js';
import { domainEvents } from '../../src/write-model/events.js';
import {
  workflowAggregate,
  workflowEvents,
  workflowDecider,
  workflowStream,
  type CreateWorkflow,
  type WorkflowCommand,
  type WorkflowEvent,
} from '../../src/write-model/workflow/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(workflowDecider);
const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;

const WF = 'wf-1';
const OWNER = 'user-1';
const T0 = '2025-03-01T10:00:00.000Z';
const T1 = '2025-03-01T11:00:00.000Z';
const T2 = '2025-03-01T12:00:00.000Z';
const CONFIG = { mode: 'keyword', keyword: '露营', maxItems: 40 };
const DAILY = { kind: 'interval', every: 'daily' } as const;
const CRON = { kind: 'cron', expression: '0 8 * * *' } as const;

const create: CreateWorkflow = {
  type: 'CreateWorkflow',
  workflowId: WF,
  ownerId: OWNER,
  platform: 'xiaohongshu',
  workflowType: 'xiaohongshu.notes',
  name: '露营笔记',
  config: CONFIG,
  platformAccountId: 'acc-1',
  schedule: null,
  now: T0,
};

const created: WorkflowEvent = {
  type: 'WorkflowCreated',
  data: {
    workflowId: WF,
    ownerId: OWNER,
    platform: 'xiaohongshu',
    type: 'xiaohongshu.notes',
    name: '露营笔记',
    config: CONFIG,
    platformAccountId: 'acc-1',
    createdAt: T0,
  },
};

const scheduledDaily: WorkflowEvent = {
  type: 'WorkflowScheduled',
  data: { workflowId: WF, ownerId: OWNER, schedule: DAILY, previous: null, status: 'active', scheduledAt: T0 },
};

const paused = (reason: 'user' | 'quota_exceeded' | 'account_invalidated', pausedFor = [reason], until: string | null = null): WorkflowEvent => ({
  type: 'WorkflowPaused',
  data: { workflowId: WF, ownerId: OWNER, reason, until, by: reason === 'user' ? OWNER : null, pausedFor, pausedAt: T1 },
});

const deleted: WorkflowEvent = {
  type: 'WorkflowDeleted',
  data: { workflowId: WF, ownerId: OWNER, platform: 'xiaohongshu', type: 'xiaohongshu.notes', schedule: null, deletedAt: T1 },
};

describe('WorkflowDefinition', () => {
  it('names its stream workflow-{id}', () => {
    expect(workflowStream(WF)).to.equal('workflow-wf-1');
  });

  describe('CreateWorkflow', () => {
    it('records the workflow', () => {
      spec.given([]).when(create).then([created]);
    });

    it('records a given schedule as WorkflowScheduled right after', () => {
      spec
        .given([])
        .when({ ...create, schedule: DAILY })
        .then([created, scheduledDaily]);
    });

    it('keeps a 5-field cron expression, whitespace normalised', () => {
      spec
        .given([])
        .when({ ...create, schedule: { kind: 'cron', expression: ' */15  9-18 * * MON-FRI ' } })
        .then([
          created,
          {
            type: 'WorkflowScheduled',
            data: { ...scheduledDaily.data, schedule: { kind: 'cron', expression: '*/15 9-18 * * MON-FRI' } },
          } as WorkflowEvent,
        ]);
    });

    it('is a no-op when repeated with the same terms (config keys in another order, later now)', () => {
      spec
        .given([created])
        .when({ ...create, config: { maxItems: 40, keyword: '露营', mode: 'keyword' }, now: T1 })
        .then([]);
    });

    it('is a no-op when repeated after the schedule changed', () => {
      spec
        .given([created, scheduledDaily])
        .when({ ...create, schedule: DAILY })
        .then([]);
    });

    it('refuses other terms for an existing id (CONFLICT)', () => {
      spec
        .given([created])
        .when({ ...create, name: 'other' })
        .thenThrows(DomainError, code('CONFLICT'));
    });

    it('refuses a repeat after deletion (CONFLICT)', () => {
      spec.given([created, deleted]).when(create).thenThrows(DomainError, code('CONFLICT'));
    });

    const invalid: [string, Partial<CreateWorkflow> & Record<string, unknown>][] = [
      ['an empty workflowId', { workflowId: '' }],
      ['an empty ownerId', { ownerId: ' ' }],
      ['an empty platform', { platform: '' }],
      ['a type of another platform', { workflowType: 'qidian.rankings' }],
      ['an empty name', { name: '  ' }],
      ['a name over 200 characters', { name: 'x'.repeat(201) }],
      ['a config that is an array', { config: [] as unknown as Record<string, unknown> }],
      ['a null config', { config: null as unknown as Record<string, unknown> }],
      ['an empty account id', { platformAccountId: '' }],
      ['a cron of 6 fields', { schedule: { kind: 'cron', expression: '0 0 8 * * *' } }],
      ['a cron with a bad character', { schedule: { kind: 'cron', expression: '0 8 * * $' } }],
      ['an unknown interval', { schedule: { kind: 'interval', every: 'weekly' } as never }],
      ['an unknown schedule kind', { schedule: { kind: 'once' } as never }],
      ['a now without a zone', { now: '2025-03-01T10:00:00' }],
    ];
    for (const [what, change] of invalid) {
      it(`refuses ${what} (VALIDATION_ERROR)`, () => {
        spec
          .given([])
          .when({ ...create, ...change } as WorkflowCommand)
          .thenThrows(DomainError, code('VALIDATION_ERROR'));
      });
    }
  });

  describe('UpdateWorkflow', () => {
    const base = { type: 'UpdateWorkflow', workflowId: WF, requestedBy: OWNER, now: T1 } as const;

    it('records the changed fields with the values after the change', () => {
      spec
        .given([created])
        .when({ ...base, name: '露营 2', platformAccountId: null })
        .then([
          {
            type: 'WorkflowUpdated',
            data: {
              workflowId: WF,
              ownerId: OWNER,
              name: '露营 2',
              config: CONFIG,
              platformAccountId: null,
              changed: ['name', 'platformAccountId'],
              updatedAt: T1,
            },
          },
        ]);
    });

    it('records a config change', () => {
      const config = { ...CONFIG, maxItems: 100 };
      spec
        .given([created])
        .when({ ...base, config })
        .then([
          {
            type: 'WorkflowUpdated',
            data: { workflowId: WF, ownerId: OWNER, name: '露营笔记', config, platformAccountId: 'acc-1', changed: ['config'], updatedAt: T1 },
          },
        ]);
    });

    it('records a schedule change as WorkflowScheduled only', () => {
      spec
        .given([created, scheduledDaily])
        .when({ ...base, schedule: CRON })
        .then([
          {
            type: 'WorkflowScheduled',
            data: { workflowId: WF, ownerId: OWNER, schedule: CRON, previous: DAILY, status: 'active', scheduledAt: T1 },
          },
        ]);
    });

    it('is a no-op when nothing changes', () => {
      spec
        .given([created, scheduledDaily])
        .when({ ...base, name: '露营笔记', config: { ...CONFIG }, platformAccountId: 'acc-1', schedule: DAILY })
        .then([]);
    });

    it('keeps the new values in state', () => {
      spec
        .given([created])
        .when({ ...base, name: 'renamed' })
        .thenState({
          status: 'active',
          workflow: { ...created.data, name: 'renamed' } as never,
          createdWith: created.data as never,
          schedule: null,
          pauses: [],
          deletedAt: null,
        });
    });

    it("needs someone who asked (PERMISSION_DENIED); whose workflows they may change is the access policy's", () => {
      spec
        .given([created])
        .when({ ...base, requestedBy: null as never, name: 'x' })
        .thenThrows(DomainError, code('PERMISSION_DENIED'));
    });

    it('refuses an unknown workflow (NOT_FOUND)', () => {
      spec
        .given([])
        .when({ ...base, name: 'x' })
        .thenThrows(DomainError, code('NOT_FOUND'));
    });

    it('refuses a deleted workflow (CONFLICT)', () => {
      spec
        .given([created, deleted])
        .when({ ...base, name: 'x' })
        .thenThrows(DomainError, code('CONFLICT'));
    });

    it('refuses an empty name and a non-object config (VALIDATION_ERROR)', () => {
      spec
        .given([created])
        .when({ ...base, name: '' })
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
      spec
        .given([created])
        .when({ ...base, config: 'x' as never })
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('proxy region', () => {
    const base = { type: 'UpdateWorkflow', workflowId: WF, requestedBy: OWNER, now: T1 } as const;
    const inGuangdong: WorkflowEvent = { ...created, data: { ...(created.data as object), proxyRegion: 'guangdong' } } as WorkflowEvent;

    it('is recorded at creation only when asked for, and part of a repeat', () => {
      spec
        .given([])
        .when({ ...create, proxyRegion: 'guangdong' })
        .then([inGuangdong]);
      spec
        .given([])
        .when({ ...create, proxyRegion: null })
        .then([created]);
      spec
        .given([inGuangdong])
        .when({ ...create, proxyRegion: 'guangdong', now: T2 })
        .then([]);
      spec.given([inGuangdong]).when(create).thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('changes, is carried by later updates while set, and clears with null', () => {
      const updated = (data: Record<string, unknown>, changed: string[]) => ({
        type: 'WorkflowUpdated',
        data: { workflowId: WF, ownerId: OWNER, name: '露营笔记', config: CONFIG, platformAccountId: 'acc-1', ...data, changed, updatedAt: T1 },
      });
      spec
        .given([created])
        .when({ ...base, proxyRegion: 'CN' })
        .then([updated({ proxyRegion: 'CN' }, ['proxyRegion']) as WorkflowEvent]);
      spec
        .given([inGuangdong])
        .when({ ...base, name: 'x' })
        .then([updated({ name: 'x', proxyRegion: 'guangdong' }, ['name']) as WorkflowEvent]);
      spec
        .given([inGuangdong])
        .when({ ...base, proxyRegion: null })
        .then([updated({ proxyRegion: null }, ['proxyRegion']) as WorkflowEvent]);
      spec
        .given([inGuangdong])
        .when({ ...base, proxyRegion: 'guangdong' })
        .then([]);
      spec
        .given([created])
        .when({ ...base, proxyRegion: null })
        .then([]);
    });

    it('refuses what is not a region or country code', () => {
      for (const proxyRegion of ['', ' cn', 'a/b', 'x'.repeat(65)]) {
        spec
          .given([created])
          .when({ ...base, proxyRegion })
          .thenThrows<DomainError>(DomainError, code('VALIDATION_ERROR'));
      }
    });
  });

  describe('ScheduleWorkflow', () => {
    const base = { type: 'ScheduleWorkflow', workflowId: WF, requestedBy: OWNER, now: T1 } as const;

    it('sets a schedule', () => {
      spec
        .given([created])
        .when({ ...base, schedule: CRON })
        .then([{ type: 'WorkflowScheduled', data: { workflowId: WF, ownerId: OWNER, schedule: CRON, previous: null, status: 'active', scheduledAt: T1 } }]);
    });

    it('removes the schedule with null', () => {
      spec
        .given([created, scheduledDaily])
        .when({ ...base, schedule: null })
        .then([{ type: 'WorkflowScheduled', data: { workflowId: WF, ownerId: OWNER, schedule: null, previous: DAILY, status: 'active', scheduledAt: T1 } }]);
    });

    it('says the workflow is paused when it is (the scheduler must not run it)', () => {
      spec
        .given([created, paused('user')])
        .when({ ...base, schedule: DAILY })
        .then([{ type: 'WorkflowScheduled', data: { workflowId: WF, ownerId: OWNER, schedule: DAILY, previous: null, status: 'paused', scheduledAt: T1 } }]);
    });

    it('is a no-op for the schedule in force', () => {
      spec
        .given([created, scheduledDaily])
        .when({ ...base, schedule: { kind: 'interval', every: 'daily' } })
        .then([]);
      spec
        .given([created])
        .when({ ...base, schedule: null })
        .then([]);
    });

    it("needs someone who asked (PERMISSION_DENIED); whose workflows they may change is the access policy's", () => {
      spec
        .given([created])
        .when({ ...base, requestedBy: null as never, schedule: DAILY })
        .thenThrows(DomainError, code('PERMISSION_DENIED'));
    });

    it('refuses an unknown workflow (NOT_FOUND), a deleted one (CONFLICT), a bad cron (VALIDATION_ERROR)', () => {
      spec
        .given([])
        .when({ ...base, schedule: DAILY })
        .thenThrows(DomainError, code('NOT_FOUND'));
      spec
        .given([created, deleted])
        .when({ ...base, schedule: DAILY })
        .thenThrows(DomainError, code('CONFLICT'));
      spec
        .given([created])
        .when({ ...base, schedule: { kind: 'cron', expression: '* * *' } })
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
    });
  });

  describe('PauseWorkflow', () => {
    const base = { type: 'PauseWorkflow', workflowId: WF, now: T1 } as const;

    it("pauses for the owner's reason", () => {
      spec
        .given([created])
        .when({ ...base, reason: 'user', requestedBy: OWNER })
        .then([paused('user')]);
    });

    it('pauses for a system reason with its end', () => {
      spec
        .given([created])
        .when({ ...base, reason: 'quota_exceeded', requestedBy: null, until: T2 })
        .then([paused('quota_exceeded', ['quota_exceeded'], T2)]);
    });

    it('adds a second reason to a paused workflow', () => {
      spec
        .given([created, paused('quota_exceeded')])
        .when({ ...base, reason: 'account_invalidated', requestedBy: null })
        .then([paused('account_invalidated', ['quota_exceeded', 'account_invalidated'])]);
    });

    it('is a no-op for the same reason and end', () => {
      spec
        .given([created, paused('user')])
        .when({ ...base, reason: 'user', requestedBy: OWNER })
        .then([]);
      spec
        .given([created, paused('quota_exceeded', ['quota_exceeded'], T2)])
        .when({ ...base, reason: 'quota_exceeded', requestedBy: null, until: T2 })
        .then([]);
    });

    it('records a new end for the same reason, keeping the order of reasons', () => {
      const later = '2025-03-02T16:00:00.000Z';
      spec
        .given([created, paused('quota_exceeded', ['quota_exceeded'], T2), paused('user', ['quota_exceeded', 'user'])])
        .when({ ...base, reason: 'quota_exceeded', requestedBy: null, until: later })
        .then([paused('quota_exceeded', ['quota_exceeded', 'user'], later)]);
    });

    it("refuses a user pause nobody asked for (PERMISSION_DENIED); whose workflows a user may pause is the access policy's", () => {
      spec
        .given([created])
        .when({ ...base, reason: 'user', requestedBy: null })
        .thenThrows(DomainError, code('PERMISSION_DENIED'));
    });

    it('refuses a system reason claimed by a user (VALIDATION_ERROR)', () => {
      spec
        .given([created])
        .when({ ...base, reason: 'quota_exceeded', requestedBy: OWNER })
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
    });

    it('refuses an unknown reason and a bad until (VALIDATION_ERROR)', () => {
      spec
        .given([created])
        .when({ ...base, reason: 'bored' as never, requestedBy: null })
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
      spec
        .given([created])
        .when({ ...base, reason: 'quota_exceeded', requestedBy: null, until: 'tomorrow' })
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
    });

    it('refuses an unknown workflow (NOT_FOUND) and a deleted one (CONFLICT)', () => {
      spec
        .given([])
        .when({ ...base, reason: 'user', requestedBy: OWNER })
        .thenThrows(DomainError, code('NOT_FOUND'));
      spec
        .given([created, deleted])
        .when({ ...base, reason: 'quota_exceeded', requestedBy: null })
        .thenThrows(DomainError, code('CONFLICT'));
    });
  });

  describe('ResumeWorkflow', () => {
    const base = { type: 'ResumeWorkflow', workflowId: WF, now: T2 } as const;
    const resumed = (lifted: string[], pausedFor: string[], by: string | null): WorkflowEvent =>
      ({
        type: 'WorkflowResumed',
        data: { workflowId: WF, ownerId: OWNER, lifted, pausedFor, status: pausedFor.length ? 'paused' : 'active', by, resumedAt: T2 },
      }) as WorkflowEvent;

    it('the owner lifts every reason, system ones included', () => {
      spec
        .given([created, paused('quota_exceeded'), paused('user', ['quota_exceeded', 'user'])])
        .when({ ...base, requestedBy: OWNER })
        .then([resumed(['quota_exceeded', 'user'], [], OWNER)]);
    });

    it('a process manager lifts only its own reason', () => {
      spec
        .given([created, paused('quota_exceeded'), paused('user', ['quota_exceeded', 'user'])])
        .when({ ...base, requestedBy: null, reason: 'quota_exceeded' })
        .then([resumed(['quota_exceeded'], ['user'], null)]);
    });

    it('a process manager never resumes what the user paused: a no-op', () => {
      spec
        .given([created, paused('user')])
        .when({ ...base, requestedBy: null, reason: 'quota_exceeded' })
        .then([]);
    });

    it('is a no-op on an active workflow (already resumed)', () => {
      spec
        .given([created])
        .when({ ...base, requestedBy: OWNER })
        .then([]);
      spec
        .given([created, paused('user'), resumed(['user'], [], OWNER)])
        .when({ ...base, requestedBy: OWNER })
        .then([]);
    });

    it('makes the workflow active again in state', () => {
      spec
        .given([created, paused('account_invalidated')])
        .when({ ...base, requestedBy: null, reason: 'account_invalidated' })
        .thenState({
          status: 'active',
          workflow: { ...created.data } as never,
          createdWith: created.data as never,
          schedule: null,
          pauses: [],
          deletedAt: null,
        });
    });

    it("refuses a resume by no user (PERMISSION_DENIED); whose workflows a user may resume is the access policy's", () => {
      spec
        .given([created, paused('user')])
        .when({ ...base, requestedBy: '' })
        .thenThrows(DomainError, code('PERMISSION_DENIED'));
    });

    it("refuses a process manager's resume without a system reason (VALIDATION_ERROR)", () => {
      spec
        .given([created, paused('user')])
        .when({ ...base, requestedBy: null })
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
      spec
        .given([created, paused('user')])
        .when({ ...base, requestedBy: null, reason: 'user' as never })
        .thenThrows(DomainError, code('VALIDATION_ERROR'));
    });

    it('refuses an unknown workflow (NOT_FOUND) and a deleted one (CONFLICT)', () => {
      spec
        .given([])
        .when({ ...base, requestedBy: OWNER })
        .thenThrows(DomainError, code('NOT_FOUND'));
      spec
        .given([created, paused('user'), deleted])
        .when({ ...base, requestedBy: OWNER })
        .thenThrows(DomainError, code('CONFLICT'));
    });
  });

  describe('DeleteWorkflow', () => {
    const del = { type: 'DeleteWorkflow', workflowId: WF, requestedBy: OWNER, now: T1 } as const;

    it('records the deletion with the schedule to remove', () => {
      spec
        .given([created, scheduledDaily])
        .when(del)
        .then([{ ...deleted, data: { ...deleted.data, schedule: DAILY } } as WorkflowEvent]);
    });

    it('is a no-op when repeated', () => {
      spec
        .given([created, deleted])
        .when({ ...del, now: T2 })
        .then([]);
    });

    it('refuses a deletion nobody asked for (PERMISSION_DENIED), even once deleted', () => {
      spec
        .given([created])
        .when({ ...del, requestedBy: null as never })
        .thenThrows(DomainError, code('PERMISSION_DENIED'));
      spec
        .given([created, deleted])
        .when({ ...del, requestedBy: null as never })
        .thenThrows(DomainError, code('PERMISSION_DENIED'));
    });

    it('refuses an unknown workflow (NOT_FOUND)', () => {
      spec.given([]).when(del).thenThrows(DomainError, code('NOT_FOUND'));
    });

    it('leaves the stream final', () => {
      const state = fold(workflowDecider, [created, deleted]);
      expect(state.status).to.equal('deleted');
      expect(state.deletedAt).to.equal(T1);
    });
  });

  describe('binding and decoding', () => {
    const asStored = (event: WorkflowEvent) => ({ type: event.type, data: JSON.parse(JSON.stringify(event.data)) as unknown, metadata: { schemaVersion: 1 } });
    const updated: WorkflowEvent = {
      type: 'WorkflowUpdated',
      data: {
        workflowId: WF,
        ownerId: OWNER,
        name: 'tea',
        config: { ...CONFIG, keyword: 'tea' },
        platformAccountId: null,
        changed: ['name', 'config', 'platformAccountId'],
        updatedAt: T1,
      },
    };
    const cron: WorkflowEvent = {
      type: 'WorkflowScheduled',
      data: { workflowId: WF, ownerId: OWNER, schedule: CRON, previous: DAILY, status: 'paused', scheduledAt: T1 },
    };
    const resumed: WorkflowEvent = {
      type: 'WorkflowResumed',
      data: { workflowId: WF, ownerId: OWNER, lifted: ['user'], pausedFor: ['quota_exceeded'], status: 'paused', by: OWNER, resumedAt: T2 },
    };
    const every: WorkflowEvent[] = [created, updated, scheduledDaily, cron, paused('quota_exceeded', ['user', 'quota_exceeded'], T2), resumed, deleted];

    it('binds the stream workflow-{id}, snapshotted: the stream stays long', () => {
      expect(workflowAggregate.streamName(WF)).to.equal('workflow-wf-1');
      expect(workflowAggregate.decider).to.equal(workflowDecider);
      expect(workflowAggregate.events).to.equal(workflowEvents);
      expect(workflowAggregate.snapshot).to.deep.equal({ version: 1, every: SNAPSHOT_EVERY.lifecycle });
    });

    it('decodes every event type as stored, alone and through the registry', () => {
      expect(new Set(every.map((e) => e.type))).to.deep.equal(new Set(workflowEvents.types));
      for (const event of every) {
        expect(workflowEvents.decode(asStored(event))).to.deep.equal(event);
        expect(domainEvents.decode(asStored(event))).to.deep.equal(event);
      }
    });

    it('refuses data that does not fit, and foreign types (EventDecodeError)', () => {
      const bad = (type: string, data: unknown) => () => workflowEvents.decode({ type, data });
      expect(bad('WorkflowCreated', { ...created.data, config: 'x' })).to.throw(EventDecodeError);
      expect(bad('WorkflowScheduled', { ...scheduledDaily.data, schedule: { kind: 'interval', every: 'weekly' } })).to.throw(EventDecodeError);
      expect(bad('WorkflowPaused', { ...paused('user').data, reason: 'bored' })).to.throw(EventDecodeError);
      expect(bad('ExecutionRequested', {})).to.throw(EventDecodeError);
    });

    it('folds in place into plain JSON, without changing the events it folds', () => {
      const history = [
        created,
        scheduledDaily,
        paused('user'),
        paused('quota_exceeded', ['user', 'quota_exceeded'], T1),
        updated,
        paused('quota_exceeded', ['user', 'quota_exceeded'], T2),
        resumed,
      ];
      const before = JSON.stringify(history);
      const state = fold(workflowDecider, history);
      expect(JSON.stringify(history)).to.equal(before);
      expect(JSON.parse(JSON.stringify(state))).to.deep.equal(state);
      expect(state.workflow).to.include({ name: 'tea', platformAccountId: null });
      expect(state.createdWith).to.deep.equal(created.data);
      expect(state.pauses).to.deep.equal([{ reason: 'quota_exceeded', until: T2, by: null, pausedAt: T1 }]);
      expect(state.status).to.equal('paused');
    });
  });
});

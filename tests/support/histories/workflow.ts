import fc from 'fast-check';
import { workflowAggregate, type WorkflowCommand, type WorkflowSchedule } from '../../../src/write-model/workflow/index.js';
import { historySource, sequence } from './harness.js';

const schedule: fc.Arbitrary<WorkflowSchedule | null> = fc.oneof(
  fc.constant(null),
  fc.constantFrom<WorkflowSchedule>({ kind: 'interval', every: 'daily' }, { kind: 'interval', every: 'hourly' }, { kind: 'cron', expression: '0 8 * * *' }),
);
const config = fc.record({ keyword: fc.constantFrom('露营', 'tea'), maxItems: fc.integer({ min: 1, max: 100 }) });
const systemReason = fc.constantFrom('quota_exceeded' as const, 'account_invalidated' as const);

/** A workflow's life: the owner's edits, pauses and resumes, a stranger's attempts, the process managers' pauses. */
export const workflowHistories = historySource(
  workflowAggregate,
  sequence(
    fc.record({
      kind: fc.constantFrom('create', 'update', 'schedule', 'pause', 'systemPause', 'resume', 'systemResume', 'delete'),
      who: fc.constantFrom('u1', 'u1', 'u2'),
      name: fc.constantFrom('notes', 'tea notes'),
      config,
      account: fc.option(fc.constantFrom('a1', 'a2'), { nil: null }),
      region: fc.constantFrom<string | null | undefined>(undefined, undefined, null, 'CN', 'guangdong'),
      schedule,
      reason: systemReason,
      until: fc.option(fc.constantFrom('2026-02-01T00:00:00.000Z', '2026-02-02T00:00:00.000Z'), { nil: null }),
    }),
    (c, now): WorkflowCommand => {
      const workflowId = 'w1';
      switch (c.kind) {
        case 'create':
          return {
            type: 'CreateWorkflow',
            workflowId,
            ownerId: c.who,
            platform: 'xiaohongshu',
            workflowType: 'xiaohongshu.notes',
            name: c.name,
            config: c.config,
            platformAccountId: c.account,
            schedule: c.schedule,
            ...(c.region !== undefined ? { proxyRegion: c.region } : {}),
            now,
          };
        case 'update':
          return {
            type: 'UpdateWorkflow',
            workflowId,
            requestedBy: c.who,
            name: c.name,
            config: c.config,
            platformAccountId: c.account,
            schedule: c.schedule,
            ...(c.region !== undefined ? { proxyRegion: c.region } : {}),
            now,
          };
        case 'schedule':
          return { type: 'ScheduleWorkflow', workflowId, requestedBy: c.who, schedule: c.schedule, now };
        case 'pause':
          return { type: 'PauseWorkflow', workflowId, reason: 'user', requestedBy: c.who, now };
        case 'systemPause':
          return { type: 'PauseWorkflow', workflowId, reason: c.reason, requestedBy: null, until: c.until, now };
        case 'resume':
          return { type: 'ResumeWorkflow', workflowId, requestedBy: c.who, now };
        case 'systemResume':
          return { type: 'ResumeWorkflow', workflowId, requestedBy: null, reason: c.reason, now };
        case 'delete':
          return { type: 'DeleteWorkflow', workflowId, requestedBy: c.who, now };
      }
    },
  ),
);

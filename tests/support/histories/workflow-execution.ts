import fc from 'fast-check';
import {
  EXECUTION_PAUSE_REASONS,
  PROXY_ASSIGNMENT_REASONS,
  REJECTION_CODES,
  workflowExecutionAggregate,
  type CollectedItem,
  type WorkflowExecutionCommand,
} from '../../../src/write-model/workflow-execution/index.js';
import { noteItems, qidianEntry, qidianSnapshot, sampleNote } from '../collected.js';
import { historySource, minutesAfterStart, sequence } from './harness.js';
import { XIAOHONGSHU_NOTES } from './xiaohongshu-content.js';

/**
 * JSON objects as the workflow's config, the rejection details and the
 * items' data hold them: a few keys, own keys named like Object.prototype's
 * (`__proto__`, `constructor`: JSON.parse and Object.fromEntries make those) now and then.
 */
const jsonObject = (keys: readonly string[]): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .array(
      fc.tuple(
        fc.oneof({ arbitrary: fc.constantFrom(...keys), weight: 12 }, { arbitrary: fc.constantFrom('__proto__', 'constructor'), weight: 1 }),
        fc.constantFrom<unknown>('露营', 'tea', 20, 0, true, null, ['a', 'b'], { depth: 2 }),
      ),
      { maxLength: 3 },
    )
    .map((entries) => Object.fromEntries(entries));

type Kind = 'request' | 'reject' | 'start' | 'assign' | 'collect' | 'retry' | 'complete' | 'fail' | 'cancel' | 'pause';
type Status = 'none' | 'requested' | 'running' | 'waiting' | 'ended';

/** What the process manager and the workers send next in each status the run is believed in (the first: when the drawn one does not fit). */
const NEXT: Record<Exclude<Status, 'ended'>, readonly Kind[]> = {
  none: ['request'],
  requested: ['start', 'assign', 'request', 'reject', 'cancel'],
  running: ['collect', 'assign', 'start', 'retry', 'pause', 'complete', 'fail', 'cancel'],
  waiting: ['start', 'collect', 'retry', 'pause', 'assign', 'fail', 'cancel'],
};
const AFTER: Partial<Record<Kind, (s: Status) => Status>> = {
  request: (s) => (s === 'none' ? 'requested' : s),
  start: () => 'running',
  retry: () => 'waiting',
  pause: () => 'waiting',
  reject: () => 'ended',
  complete: () => 'ended',
  fail: () => 'ended',
  cancel: () => 'ended',
};

/** Items as the collectors parse them: what the read models keep (they skip data that does not fit its schema). */
const at = fc.constantFrom(0, 60, 60, 120).map(minutesAfterStart);
const novel = fc.constantFrom('1010', '1011');
const parsedItem: fc.Arbitrary<CollectedItem> = fc.oneof(
  fc
    .record({ noteId: fc.constantFrom(...XIAOHONGSHU_NOTES), likes: fc.nat(3) })
    .map(({ noteId, likes }) => noteItems([{ ...sampleNote(noteId, '露营', likes), author: { id: 'au1', nickname: '安' } }])[0]!),
  fc.record({ messageId: fc.constantFrom('msg-1', 'msg-2'), sentAt: at, peer: fc.boolean() }).map(({ messageId, sentAt, peer }) => ({
    platformContentId: `conv-1:${messageId}`,
    kind: 'xiaohongshu.message',
    data: {
      conversationId: 'conv-1',
      messageId,
      direction: 'received',
      from: { id: 'peer-1', nickname: null },
      text: '在吗',
      sentAt,
      ...(peer ? { peer: { id: 'peer-1', nickname: '小林' } } : {}),
    },
  })),
  fc.record({ novel, at, words: fc.nat(3) }).map(({ novel, at, words }) => qidianSnapshot(novel, at, words, 10, words, 1)),
  fc.record({ novel, rank: fc.integer({ min: 1, max: 2 }), at }).map(({ novel, rank, at }) => qidianEntry('热销榜', rank, novel, '诡秘之主', '乌贼', at)),
);

const item: fc.Arbitrary<CollectedItem> = fc.oneof(
  fc.record({
    platformContentId: fc.constantFrom('note-1', 'note-2', 'note-3', 'note-4', 'note-5', 'note-6'),
    kind: fc.constant('xiaohongshu.note'),
    data: jsonObject(['title', 'likes', 'author', 'tags']),
  }),
  parsedItem,
);

/**
 * One run (`workflow_execution-e1`): requested manually by the owner (a
 * stranger is refused) or by the scheduler, and its retried request; then
 * rejected, or started by a worker (again by the same one: a no-op; by
 * another: CONFLICT), proxies assigned and replaced, batches collected (re-sent
 * batches, items seen before, within-batch repeats), paused, retried (the next
 * attempt, one already reached, one skipped), and ended: completed, failed or
 * cancelled (the owner; a stranger is refused), the ending repeated.
 */
export const workflowExecutionHistories = historySource(
  workflowExecutionAggregate,
  (() => {
    // where the generated process manager and workers believe the run is, assuming their commands were taken
    // (reset on each new history: index 0)
    let attempt = 1;
    let believed: Status = 'none';
    return sequence(
      fc.record({
        kind: fc.oneof(
          {
            arbitrary: fc.constantFrom<Kind>(
              'request',
              'request',
              'start',
              'start',
              'assign',
              'assign',
              'collect',
              'collect',
              'collect',
              'collect',
              'retry',
              'retry',
              'pause',
            ),
            weight: 26,
          },
          { arbitrary: fc.constantFrom<Kind>('reject', 'complete', 'complete', 'fail', 'cancel'), weight: 2 },
        ),
        // mostly the command that fits where the run is believed to be; one in eight whatever was drawn
        wild: fc.oneof({ arbitrary: fc.constant(false), weight: 7 }, { arbitrary: fc.constant(true), weight: 1 }),
        trigger: fc.constantFrom('manual' as const, 'schedule' as const),
        requester: fc.oneof({ arbitrary: fc.constant('u1'), weight: 10 }, { arbitrary: fc.constant('u2'), weight: 1 }),
        config: fc.oneof(
          { arbitrary: fc.constant({ keyword: '露营', maxItems: 20 }), weight: 6 },
          { arbitrary: jsonObject(['keyword', 'maxItems', 'sort']), weight: 1 },
        ),
        account: fc.constantFrom<string | null>('a1', 'a1', null),
        rejection: fc.constantFrom(...REJECTION_CODES),
        details: fc.option(jsonObject(['limit', 'used', 'feature']), { nil: undefined }),
        worker: fc.oneof(
          { arbitrary: fc.constant<string | null>('worker-a'), weight: 8 },
          { arbitrary: fc.constantFrom<string | null>('worker-b', null), weight: 1 },
        ),
        proxy: fc.constantFrom('p1', 'p1', 'p2'),
        lease: fc.constantFrom<string | null>('lease-1', 'lease-2', null),
        assignReason: fc.constantFrom(...PROXY_ASSIGNMENT_REASONS),
        batch: fc.constantFrom('b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7', 'b8'),
        items: fc.array(item, { maxLength: 4 }),
        cursor: fc.option(fc.constantFrom('cursor-20', 'cursor-40', 'cursor-60'), { nil: null }),
        attemptStep: fc.constantFrom(1, 1, 1, 0, 2),
        reason: fc.constantFrom('HTTP 429', 'proxy failed', 'worker lost'),
        pauseReason: fc.constantFrom(...EXECUTION_PAUSE_REASONS),
      }),
      (c, now, index): WorkflowExecutionCommand => {
        if (index === 0) {
          attempt = 1;
          believed = 'none';
        }
        const executionId = 'e1';
        const fits = believed !== 'ended' && NEXT[believed].includes(c.kind);
        const kind = c.wild || fits || believed === 'ended' ? c.kind : NEXT[believed as Exclude<Status, 'ended'>][0]!;
        if (believed !== 'ended' && NEXT[believed].includes(kind)) believed = AFTER[kind]?.(believed) ?? believed;
        switch (kind) {
          case 'request':
            return {
              type: 'RequestExecution',
              executionId,
              workflowId: 'w1',
              ownerId: 'u1',
              platform: 'xiaohongshu',
              workflowType: 'xiaohongshu.notes',
              config: c.config,
              platformAccountId: c.account,
              trigger: c.trigger,
              requestedBy: c.trigger === 'manual' ? c.requester : null,
              now,
            };
          case 'reject':
            return { type: 'RejectExecution', executionId, reason: c.rejection, ...(c.details !== undefined ? { details: c.details } : {}), now };
          case 'start':
            return { type: 'StartExecution', executionId, workerId: c.worker, now };
          case 'assign':
            return { type: 'AssignProxy', executionId, proxyId: c.proxy, leaseId: c.lease, reason: c.assignReason, now };
          case 'collect':
            return { type: 'CollectItems', executionId, batchId: c.batch, items: c.items, cursor: c.cursor, now };
          case 'retry': {
            const next = attempt + c.attemptStep;
            if (c.attemptStep === 1) attempt = next;
            return { type: 'RetryExecution', executionId, attempt: next, reason: c.reason, now };
          }
          case 'complete':
            return { type: 'CompleteExecution', executionId, now };
          case 'fail':
            return { type: 'FailExecution', executionId, reason: c.reason, now };
          case 'cancel':
            return { type: 'CancelExecution', executionId, requestedBy: c.requester, now };
          case 'pause':
            return { type: 'PauseExecution', executionId, reason: c.pauseReason, now };
        }
      },
    );
  })(),
);

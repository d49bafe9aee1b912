import fc from 'fast-check';
import { xiaohongshuContentAggregate, type XiaohongshuContentCommand } from '../../../src/write-model/xiaohongshu-content/index.js';
import { historySource, sequence } from './harness.js';

/** Note ids the collectors' items carry (workflow-execution.ts): the first is the one these histories delete. */
export const XIAOHONGSHU_NOTES = ['65f1a2b3c4d5e6f7a8b9c0d1', '65f1a2b3c4d5e6f7a8b9c0d2'] as const;
const NOTE = XIAOHONGSHU_NOTES[0];

export const xiaohongshuContentHistories = historySource(
  xiaohongshuContentAggregate,
  sequence(
    fc.record({ who: fc.constantFrom('u1', 'u2'), collected: fc.boolean() }),
    (c, now): XiaohongshuContentCommand => ({ type: 'DeleteCollectedContent', contentId: 'c1', ownerId: c.who, noteId: NOTE, collected: c.collected, now }),
  ),
);

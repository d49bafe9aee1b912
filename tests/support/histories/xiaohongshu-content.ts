import fc from 'fast-check';
import { xiaohongshuContentAggregate, type XiaohongshuContentCommand } from '../../../src/write-model/xiaohongshu-content/index.js';
import { historySource, sequence } from './harness.js';

const NOTE = '65f1a2b3c4d5e6f7a8b9c0d1';

export const xiaohongshuContentHistories = historySource(
  xiaohongshuContentAggregate,
  sequence(
    fc.record({ who: fc.constantFrom('u1', 'u2'), collected: fc.boolean() }),
    (c, now): XiaohongshuContentCommand => ({ type: 'DeleteCollectedContent', contentId: 'c1', ownerId: c.who, noteId: NOTE, collected: c.collected, now }),
  ),
);

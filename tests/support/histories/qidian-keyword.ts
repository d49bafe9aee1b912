import fc from 'fast-check';
import { keywordWatchAggregate, type KeywordWatchCommand } from '../../../src/write-model/qidian-keyword/index.js';
import { historySource, sequence } from './harness.js';

export const keywordWatchHistories = historySource(
  keywordWatchAggregate,
  sequence(
    fc.record({ kind: fc.constantFrom('watch', 'unwatch'), who: fc.constantFrom('u1', 'u2'), keyword: fc.constantFrom('诡秘', '诡秘 ', 'Dao') }),
    (c, now): KeywordWatchCommand =>
      c.kind === 'watch'
        ? { type: 'WatchKeyword', watchId: 'w1', userId: c.who, keyword: c.keyword, now }
        : { type: 'UnwatchKeyword', watchId: 'w1', requestedBy: c.who, now },
  ),
);

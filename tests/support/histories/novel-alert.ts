import fc from 'fast-check';
import { NOVEL_ALERT_KINDS, novelAlertAggregate, type NovelAlertCommand } from '../../../src/write-model/novel-alert/index.js';
import { historySource, sequence } from './harness.js';

export const novelAlertHistories = historySource(
  novelAlertAggregate,
  sequence(
    fc.record({
      kind: fc.constantFrom('create', 'change', 'delete'),
      who: fc.constantFrom('u1', 'u2'),
      rule: fc.constantFrom(...NOVEL_ALERT_KINDS),
      words: fc.option(fc.integer({ min: 1, max: 1_000_000 }), { nil: null }),
    }),
    (c, now): NovelAlertCommand =>
      c.kind === 'create'
        ? { type: 'CreateNovelAlert', alertId: 'a1', userId: c.who, novelId: '1010', kind: c.rule, words: c.words, now }
        : c.kind === 'change'
          ? { type: 'ChangeNovelAlert', alertId: 'a1', requestedBy: c.who, kind: c.rule, words: c.words, now }
          : { type: 'DeleteNovelAlert', alertId: 'a1', requestedBy: c.who, now },
  ),
);

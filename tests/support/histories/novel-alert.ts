import fc from 'fast-check';
import {
  NOVEL_ALERT_KINDS,
  novelAlertAggregate,
  novelAlertRuleAggregate,
  type NovelAlertCommand,
  type NovelAlertRuleCommand,
} from '../../../src/write-model/novel-alert/index.js';
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

/**
 * One rule's reservation passing between alerts: taken, taken again at a
 * later revision, taken from a holder named as read (or, refused, as it is
 * not), given back by its holder (or, to no effect, by another or up to an
 * earlier revision).
 */
export const novelAlertRuleHistories = historySource(
  novelAlertRuleAggregate,
  sequence(
    fc.record({
      release: fc.boolean(),
      alertId: fc.constantFrom('a1', 'a2'),
      alertRevision: fc.integer({ min: -1, max: 3 }),
      replaces: fc.option(fc.record({ alertId: fc.constantFrom('a1', 'a2'), alertRevision: fc.integer({ min: -1, max: 3 }) }), { nil: undefined }),
      upTo: fc.option(fc.integer({ min: -1, max: 3 }), { nil: undefined }),
    }),
    (c): NovelAlertRuleCommand =>
      c.release
        ? { type: 'ReleaseNovelAlertRule', ruleId: 'r1', alertId: c.alertId, ...(c.upTo !== undefined ? { upTo: c.upTo } : {}) }
        : {
            type: 'ReserveNovelAlertRule',
            ruleId: 'r1',
            alertId: c.alertId,
            alertRevision: c.alertRevision,
            userId: 'u1',
            novelId: '1010',
            kind: 'word_count_threshold',
            words: 500_000,
            ...(c.replaces ? { replaces: c.replaces } : {}),
          },
    20,
  ),
);

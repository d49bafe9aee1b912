import { expect } from 'chai';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  novelAlertRuleDecider,
  novelAlertRuleStream,
  type NovelAlertRuleEvent,
  type ReleaseNovelAlertRule,
  type ReserveNovelAlertRule,
} from '../../src/write-model/novel-alert/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(novelAlertRuleDecider);
const RULE = 'rule-1';
const rule = { userId: 'user-1', novelId: '1036370336', kind: 'word_count_threshold', words: 500_000 } as const;

const reserve = (alertId: string, alertRevision = -1, replaces?: ReserveNovelAlertRule['replaces']): ReserveNovelAlertRule => ({
  type: 'ReserveNovelAlertRule',
  ruleId: RULE,
  alertId,
  alertRevision,
  ...rule,
  ...(replaces ? { replaces } : {}),
});
const release = (alertId: string, upTo?: number): ReleaseNovelAlertRule => ({
  type: 'ReleaseNovelAlertRule',
  ruleId: RULE,
  alertId,
  ...(upTo !== undefined ? { upTo } : {}),
});
const reserved = (alertId: string, alertRevision = -1, replaced: string | null = null): NovelAlertRuleEvent => ({
  type: 'NovelAlertRuleReserved',
  data: { ruleId: RULE, alertId, alertRevision, ...rule, replaced },
});
const released = (alertId: string): NovelAlertRuleEvent => ({ type: 'NovelAlertRuleReleased', data: { ruleId: RULE, alertId } });
const duplicateOf = (alertId: string) => (e: DomainError) => e.code === 'CONFLICT' && e.details.reason === 'duplicate_alert' && e.details.alertId === alertId;

describe('NovelAlert rule reservation', () => {
  it('lives in novel_alert_rule-{ruleId} and starts free', () => {
    expect(novelAlertRuleStream('abc')).to.equal('novel_alert_rule-abc');
    expect(novelAlertRuleDecider.initialState()).to.deep.equal({ holder: null });
  });

  describe('ReserveNovelAlertRule', () => {
    it('takes a free rule; the same alert at the same revision again is a no-op', () => {
      spec
        .given([])
        .when(reserve('a1'))
        .then([reserved('a1')]);
      spec
        .given([reserved('a1')])
        .when(reserve('a1'))
        .then([]);
    });

    it('refuses the rule another alert holds: duplicate_alert, naming that alert', () => {
      spec
        .given([reserved('a1')])
        .when(reserve('a2'))
        .thenThrows<DomainError>(DomainError, duplicateOf('a1'));
      // also a change of another alert into the rule
      spec
        .given([reserved('a1')])
        .when(reserve('a2', 4))
        .thenThrows<DomainError>(DomainError, duplicateOf('a1'));
    });

    it('is free again once its holder gives it back: the same rule may be set again', () => {
      spec
        .given([reserved('a1'), released('a1')])
        .when(reserve('a2'))
        .then([reserved('a2')]);
      spec
        .given([reserved('a1'), released('a1')])
        .when(reserve('a1', 2))
        .then([reserved('a1', 2)]);
    });

    it('is taken from a holder that no longer has it only as that holder was read', () => {
      spec
        .given([reserved('a1', 0)])
        .when(reserve('a2', -1, { alertId: 'a1', alertRevision: 0 }))
        .then([reserved('a2', -1, 'a1')]);
      // the holder took it again since (a change back into the rule): it has it
      spec
        .given([reserved('a1', 0), reserved('a1', 3)])
        .when(reserve('a2', -1, { alertId: 'a1', alertRevision: 0 }))
        .thenThrows<DomainError>(DomainError, duplicateOf('a1'));
      spec
        .given([reserved('a3')])
        .when(reserve('a2', -1, { alertId: 'a1', alertRevision: 0 }))
        .thenThrows<DomainError>(DomainError, duplicateOf('a3'));
    });

    it('records the revision its holder took it at again', () => {
      spec
        .given([reserved('a1', 0)])
        .when(reserve('a1', 2))
        .then([reserved('a1', 2)]);
    });

    it('refuses a malformed reservation', () => {
      spec
        .given([])
        .when({ ...reserve('a1'), alertRevision: -2 })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'alertRevision');
      spec
        .given([])
        .when({ ...reserve('a1'), words: 0 })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'words');
      spec
        .given([])
        .when({ ...reserve(' ') })
        .thenThrows<DomainError>(DomainError, (e) => e.code === 'VALIDATION_ERROR' && e.details.field === 'alertId');
    });
  });

  describe('ReleaseNovelAlertRule', () => {
    it('gives the rule back for its holder only', () => {
      spec
        .given([reserved('a1')])
        .when(release('a1'))
        .then([released('a1')]);
      spec
        .given([reserved('a1')])
        .when(release('a2'))
        .then([]);
      spec.given([]).when(release('a1')).then([]);
      spec
        .given([reserved('a1'), released('a1')])
        .when(release('a1'))
        .then([]);
    });

    it('up to a revision: keeps a reservation the holder took later (a concurrent change back into the rule)', () => {
      spec
        .given([reserved('a1', 2)])
        .when(release('a1', 2))
        .then([released('a1')]);
      spec
        .given([reserved('a1', 3)])
        .when(release('a1', 2))
        .then([]);
    });
  });
});

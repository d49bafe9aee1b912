import { expect } from 'chai';
import { fold } from '../../src/write-model/core/decider.js';
import { DomainError } from '../../src/write-model/core/domain-error.js';
import {
  MAX_PHRASES_PER_SET,
  MAX_RULES_PER_SET,
  normalizeRule,
  reviewRuleSetAggregate,
  reviewRuleSetDecider,
  reviewRuleSetStream,
  type ReviewRule,
  type ReviewRuleSetEvent,
} from '../../src/write-model/review-rules/index.js';
import { deciderSpec } from '../support/decider-spec.js';

const spec = deciderSpec(reviewRuleSetDecider);
const code = (c: DomainError['code']) => (e: DomainError) => e.code === c;
const field = (f: string) => (e: DomainError) => e.code === 'VALIDATION_ERROR' && e.details.field === f;

const ADMIN = 'admin-1';
const T0 = '2026-12-09T08:00:00.000Z';
const T1 = '2026-12-09T09:00:00.000Z';

const phrases: ReviewRule = {
  ruleId: 'r-ads',
  kind: 'banned_phrase',
  name: 'Advertising',
  phrases: ['加微信', 'Free Money'],
  category: null,
  platforms: [],
  regions: [],
  params: {},
  enabled: true,
};
const added: ReviewRuleSetEvent = { type: 'ReviewRuleAdded', data: { scope: 'platform', rule: phrases, by: ADMIN, addedAt: T0 } };
const add = (rule: ReviewRule) => ({ type: 'AddReviewRule' as const, scope: 'platform', rule, by: ADMIN, now: T0 });

describe('review rule set decider (stream review_rule_set-{scope})', () => {
  it('names its stream and snapshots like a lifecycle stream', () => {
    expect(reviewRuleSetStream('platform')).to.equal('review_rule_set-platform');
    expect(reviewRuleSetAggregate.snapshot?.every).to.equal(10);
  });

  describe('AddReviewRule', () => {
    it('adds a rule as normalized', () => {
      spec
        .given([])
        .when(add({ ...phrases, name: '  Advertising ', phrases: [' 加微信', 'Free Money', '加微信'], platforms: ['Xiaohongshu'], regions: ['cn'] }))
        .then([
          { type: 'ReviewRuleAdded', data: { scope: 'platform', rule: { ...phrases, platforms: ['xiaohongshu'], regions: ['CN'] }, by: ADMIN, addedAt: T0 } },
        ]);
    });

    it('is a no-op for the same rule, CONFLICT for another under the same id', () => {
      spec.given([added]).when(add(phrases)).then([]);
      spec
        .given([added])
        .when(add({ ...phrases, name: 'Other' }))
        .thenThrows<DomainError>(DomainError, code('CONFLICT'));
    });

    it('keeps only the params of the kind and normalizes domains', () => {
      const link: ReviewRule = {
        ...phrases,
        ruleId: 'r-link',
        kind: 'link',
        phrases: [],
        params: { allowedDomains: ['https://Example.COM/path', '*.xhs.cn'] },
      };
      spec
        .given([])
        .when(add(link))
        .then([
          {
            type: 'ReviewRuleAdded',
            data: { scope: 'platform', rule: { ...link, params: { allowedDomains: ['example.com', 'xhs.cn'] } }, by: ADMIN, addedAt: T0 },
          },
        ]);
    });

    it('refuses ill-formed rules, naming the field', () => {
      const bad = (rule: Partial<ReviewRule>, f: string) =>
        spec
          .given([])
          .when(add({ ...phrases, ...rule } as ReviewRule))
          .thenThrows<DomainError>(DomainError, field(f));
      bad({ kind: 'red_line' }, 'rule.category');
      bad({ kind: 'red_line', category: 'weather' as 'fraud' }, 'rule.category');
      bad({ phrases: [] }, 'rule.phrases');
      bad({ phrases: ['  '] }, 'rule.phrases');
      bad({ phrases: ['x'.repeat(101)] }, 'rule.phrases');
      bad({ name: '' }, 'rule.name');
      bad({ kind: 'contact', phrases: [], params: { contactTypes: ['fax' as 'qq'] } }, 'rule.params.contactTypes');
      bad({ kind: 'contact' }, 'rule.phrases');
      bad({ kind: 'contact', phrases: [], category: 'fraud' }, 'rule.category');
      bad({ kind: 'length', phrases: [], params: { field: 'body' } }, 'rule.params');
      bad({ kind: 'length', phrases: [], params: { field: 'body', min: 10, max: 5 } }, 'rule.params.min');
      bad({ kind: 'length', phrases: [], params: { min: 1 } }, 'rule.params.field');
      bad({ kind: 'image', phrases: [], params: { max: -1 } }, 'rule.params.max');
      bad({ kind: 'link', phrases: [], params: { allowedDomains: ['not a domain'] } }, 'rule.params.allowedDomains');
      bad({ params: { max: 3 } }, 'rule.params.max');
      bad({ platforms: ['Not A Platform!'] }, 'rule.platforms');
      bad({ enabled: 'yes' as unknown as boolean }, 'rule.enabled');
    });

    it('bounds the set: rules and phrases', () => {
      const full: ReviewRuleSetEvent[] = Array.from({ length: MAX_RULES_PER_SET }, (_, i) => ({
        type: 'ReviewRuleAdded',
        data: { scope: 'platform', rule: { ...phrases, ruleId: `r${i}`, phrases: ['x'] }, by: ADMIN, addedAt: T0 },
      }));
      spec
        .given(full)
        .when(add(phrases))
        .thenThrows<DomainError>(DomainError, (e) => e.details.limit === MAX_RULES_PER_SET);
      const big: ReviewRuleSetEvent[] = Array.from({ length: 3 }, (_, i) => ({
        type: 'ReviewRuleAdded',
        data: {
          scope: 'platform',
          rule: { ...phrases, ruleId: `big${i}`, phrases: Array.from({ length: 20_000 }, (_, j) => `p${i}-${j}`) },
          by: ADMIN,
          addedAt: T0,
        },
      }));
      expect(fold(reviewRuleSetDecider, big).phraseCount).to.equal(60_000);
      spec
        .given(big.slice(0, 2))
        .when(add({ ...phrases, phrases: Array.from({ length: 10_001 }, (_, j) => `q${j}`) }))
        .thenThrows<DomainError>(DomainError, (e) => e.details.limit === MAX_PHRASES_PER_SET);
    });

    it("refuses another scope's commands on this stream", () => {
      spec
        .given([added])
        .when({ ...add({ ...phrases, ruleId: 'r2' }), scope: 'tenant-1' })
        .thenThrows<DomainError>(DomainError, field('scope'));
    });
  });

  describe('ChangeReviewRule', () => {
    const change = (rule: ReviewRule) => ({ type: 'ChangeReviewRule' as const, scope: 'platform', rule, by: 'admin-2', now: T1 });

    it('replaces the rule', () => {
      const next = { ...phrases, phrases: ['加微信', '私聊'], enabled: false };
      spec
        .given([added])
        .when(change(next))
        .then([{ type: 'ReviewRuleChanged', data: { scope: 'platform', rule: next, by: 'admin-2', changedAt: T1 } }]);
    });

    it('is a no-op when nothing changes', () => spec.given([added]).when(change(phrases)).then([]));

    it('refuses an unknown rule and a change of kind', () => {
      spec.given([]).when(change(phrases)).thenThrows<DomainError>(DomainError, code('NOT_FOUND'));
      spec
        .given([added])
        .when(change({ ...phrases, kind: 'red_line', category: 'fraud' }))
        .thenThrows<DomainError>(DomainError, field('rule.kind'));
    });
  });

  describe('RemoveReviewRule', () => {
    const remove = { type: 'RemoveReviewRule' as const, scope: 'platform', ruleId: 'r-ads', by: ADMIN, now: T1 };

    it('removes the rule (and its phrases from the count)', () => {
      spec
        .given([added])
        .when(remove)
        .then([{ type: 'ReviewRuleRemoved', data: { scope: 'platform', ruleId: 'r-ads', by: ADMIN, removedAt: T1 } }]);
      const removed: ReviewRuleSetEvent = { type: 'ReviewRuleRemoved', data: { scope: 'platform', ruleId: 'r-ads', by: ADMIN, removedAt: T1 } };
      const state = fold(reviewRuleSetDecider, [added, removed]);
      expect(state.rules).to.deep.equal({});
      expect(state.phraseCount).to.equal(0);
    });

    it('is a no-op for a rule that is not there', () => spec.given([]).when(remove).then([]));
  });

  it('normalizeRule keeps a rule id like __proto__ an ordinary key of the state', () => {
    const rule = normalizeRule({ ...phrases, ruleId: '__proto__' });
    const state = fold(reviewRuleSetDecider, [{ type: 'ReviewRuleAdded', data: { scope: 'platform', rule, by: ADMIN, addedAt: T0 } }]);
    expect(Object.keys(state.rules)).to.deep.equal(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(JSON.parse(JSON.stringify(state)).rules, '__proto__')?.value.name).to.equal('Advertising');
  });
});

import fc from 'fast-check';
import { reviewRuleSetAggregate, type ReviewRule, type ReviewRuleSetCommand } from '../../../src/write-model/review-rules/index.js';
import { reviewAggregate, type ReviewCommand } from '../../../src/write-model/review/index.js';
import { historySource, sequence } from './harness.js';

const rules: ReviewRule[] = [
  {
    ruleId: 'r1',
    kind: 'banned_phrase',
    name: 'ads',
    phrases: ['加微信', 'free money'],
    category: null,
    platforms: [],
    regions: [],
    params: {},
    enabled: true,
  },
  {
    ruleId: 'r1',
    kind: 'banned_phrase',
    name: 'ads',
    phrases: ['加微信'],
    category: 'fraud',
    platforms: ['xiaohongshu'],
    regions: [],
    params: {},
    enabled: false,
  },
  {
    ruleId: 'r2',
    kind: 'red_line',
    name: 'gambling',
    phrases: ['赌博', '博彩'],
    category: 'gambling',
    platforms: [],
    regions: ['CN'],
    params: {},
    enabled: true,
  },
  {
    ruleId: 'r3',
    kind: 'link',
    name: 'links',
    phrases: [],
    category: null,
    platforms: [],
    regions: [],
    params: { allowedDomains: ['example.com'] },
    enabled: true,
  },
  {
    ruleId: 'r4',
    kind: 'length',
    name: 'short',
    phrases: [],
    category: null,
    platforms: [],
    regions: [],
    params: { field: 'body', min: 10, max: null },
    enabled: true,
  },
  // refused: a red line without a category
  { ruleId: 'r5', kind: 'red_line', name: 'bad', phrases: ['x'], category: null, platforms: [], regions: [], params: {}, enabled: true },
];

/** A rule set's edits: adds, changes (some refused) and removals, by admins. */
export const reviewRuleSetHistories = historySource(
  reviewRuleSetAggregate,
  sequence(
    fc.record({ kind: fc.constantFrom('add', 'change', 'remove'), rule: fc.constantFrom(...rules), who: fc.constantFrom('admin-1', 'admin-2') }),
    (c, now): ReviewRuleSetCommand =>
      c.kind === 'add'
        ? { type: 'AddReviewRule', scope: 'platform', rule: c.rule, by: c.who, now }
        : c.kind === 'change'
          ? { type: 'ChangeReviewRule', scope: 'platform', rule: c.rule, by: c.who, now }
          : { type: 'RemoveReviewRule', scope: 'platform', ruleId: c.rule.ruleId, by: c.who, now },
  ),
);

/** A review's life: opened, claims by reviewers (and the author, refused), releases, decisions, withdrawal. */
export const reviewHistories = historySource(
  reviewAggregate,
  sequence(
    fc.record({
      kind: fc.constantFrom('open', 'claim', 'release', 'approve', 'reject', 'withdraw'),
      who: fc.constantFrom('reviewer-1', 'reviewer-2', 'author'),
      comment: fc.constantFrom(null, '', 'contact details in the body'),
    }),
    (c, now): ReviewCommand => {
      const reviewId = 'rv1';
      switch (c.kind) {
        case 'open':
          return {
            type: 'OpenReview',
            reviewId,
            publicationId: 'p1',
            articleId: 'a1',
            articleVersion: 1,
            ownerId: 'author',
            platform: 'xiaohongshu',
            region: 'CN',
            title: '露营装备',
            hits: [{ ruleId: 'r1', ruleName: 'ads', kind: 'banned_phrase', category: null, field: 'body', start: 3, end: 6, match: '加微信' }],
            now,
          };
        case 'claim':
          return { type: 'ClaimReview', reviewId, reviewerId: c.who, claimTtlMinutes: 30, now };
        case 'release':
          return { type: 'ReleaseReview', reviewId, reviewerId: c.who, now };
        case 'approve':
          return { type: 'ApproveReview', reviewId, reviewerId: c.who, comment: c.comment, now };
        case 'reject':
          return { type: 'RejectReview', reviewId, reviewerId: c.who, comment: c.comment ?? '', now };
        case 'withdraw':
          return { type: 'WithdrawReview', reviewId, now };
      }
    },
    30,
  ),
);

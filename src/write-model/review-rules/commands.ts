import type { ReviewRule } from './events.js';

/** Commands of one rule set (stream `review_rule_set-{scope}`); `by` is the acting user, checked by the caller. */

/** A new rule (the caller picks the id); the same rule again is a no-op. */
export interface AddReviewRule {
  type: 'AddReviewRule';
  scope: string;
  rule: ReviewRule;
  by: string;
  now: string;
}

/** The whole rule as it should stand (its kind never changes). */
export interface ChangeReviewRule {
  type: 'ChangeReviewRule';
  scope: string;
  rule: ReviewRule;
  by: string;
  now: string;
}

/** The rule goes; one that is not there is a no-op. */
export interface RemoveReviewRule {
  type: 'RemoveReviewRule';
  scope: string;
  ruleId: string;
  by: string;
  now: string;
}

export type ReviewRuleSetCommand = AddReviewRule | ChangeReviewRule | RemoveReviewRule;

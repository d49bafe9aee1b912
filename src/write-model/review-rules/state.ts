import type { ReviewRule } from './events.js';

/**
 * A rule set as decisions need it: every rule by id (a plain object, updated
 * in place: O(1) per event) and the phrase count, which bounds the set.
 */
export interface ReviewRuleSetState {
  /** null until the first rule is added */
  scope: string | null;
  rules: Record<string, ReviewRule>;
  phraseCount: number;
}

export function initialState(): ReviewRuleSetState {
  return { scope: null, rules: {}, phraseCount: 0 };
}

import { z } from 'zod';
import type { DomainEvent } from '../core/decider.js';
import { eventCodec } from '../core/event-codec.js';

/**
 * A set of content-review rules: stream `review_rule_set-{scope}`, where the
 * scope is `platform` (the platform-wide set, kept by admins) or a tenant's
 * user id (an enterprise customer's own set, applied to their content on top
 * of the platform's). Every change is one event carrying the whole rule as
 * it now stands, so a reader never has to merge partial changes. The stream
 * grows with edits only and carries a snapshot policy.
 */

/** The scope of the platform-wide set. */
export const PLATFORM_SCOPE = 'platform';

/**
 * What a rule checks:
 * - `banned_phrase`: words and phrases that must not appear (optionally with a category);
 * - `red_line`: phrases of a red-line category (political, pornography, …): always with a category;
 * - `contact`: contact details (mobile and landline numbers, emails, QQ / WeChat ids);
 * - `link`: URLs and bare domains, except those of `allowedDomains`;
 * - `length`: a field's length outside `min`..`max` characters;
 * - `image`: the image count outside `min`..`max`.
 */
export const RULE_KINDS = ['banned_phrase', 'red_line', 'contact', 'link', 'length', 'image'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

/** The closed list of red-line categories a phrase rule may name. */
export const RED_LINE_CATEGORIES = [
  'political',
  'pornography',
  'violence',
  'gambling',
  'drugs',
  'fraud',
  'terrorism',
  'discrimination',
  'superstition',
  'privacy',
  'minors',
  'other',
] as const;
export type RedLineCategory = (typeof RED_LINE_CATEGORIES)[number];

/** Contact details a `contact` rule looks for (none listed: all of them). */
export const CONTACT_TYPES = ['mobile', 'landline', 'email', 'qq', 'wechat'] as const;
export type ContactType = (typeof CONTACT_TYPES)[number];

/** The fields a `length` rule measures. */
export const LENGTH_FIELDS = ['title', 'summary', 'body'] as const;
export type LengthField = (typeof LENGTH_FIELDS)[number];

/** Bounds that keep one set compilable in well under a second and its events within the body limit. */
export const MAX_RULES_PER_SET = 500;
export const MAX_PHRASES_PER_RULE = 20_000;
export const MAX_PHRASES_PER_SET = 50_000;
export const MAX_PHRASE_LENGTH = 100;
export const MAX_RULE_NAME = 100;
export const MAX_RULE_TARGETS = 50;
export const MAX_ALLOWED_DOMAINS = 200;

/** A kind's own settings; only those of the rule's kind are present. */
export interface ReviewRuleParams {
  /** length: the field measured */
  field?: LengthField;
  /** length: fewest characters; image: fewest images */
  min?: number | null;
  /** length: most characters; image: most images */
  max?: number | null;
  /** link: domains (and their subdomains) a link may point to; empty: every link is a hit */
  allowedDomains?: string[];
  /** contact: the kinds of contact detail looked for; empty: all */
  contactTypes?: ContactType[];
}

export interface ReviewRule {
  ruleId: string;
  kind: RuleKind;
  name: string;
  /** banned_phrase and red_line: the phrases (trimmed, unique); empty for other kinds */
  phrases: string[];
  /** red_line: always; banned_phrase: optional; other kinds: null */
  category: RedLineCategory | null;
  /** platform ids the rule applies to; empty: every platform */
  platforms: string[];
  /** regions the rule applies to; empty: every region (content with no region only meets rules without regions) */
  regions: string[];
  params: ReviewRuleParams;
  enabled: boolean;
}

export interface ReviewRuleAddedData {
  scope: string;
  rule: ReviewRule;
  /** the user who added it */
  by: string;
  addedAt: string;
}

export interface ReviewRuleChangedData {
  scope: string;
  /** the whole rule as it now stands */
  rule: ReviewRule;
  by: string;
  changedAt: string;
}

export interface ReviewRuleRemovedData {
  scope: string;
  ruleId: string;
  by: string;
  removedAt: string;
}

export type ReviewRuleSetEvent =
  | DomainEvent<'ReviewRuleAdded', ReviewRuleAddedData>
  | DomainEvent<'ReviewRuleChanged', ReviewRuleChangedData>
  | DomainEvent<'ReviewRuleRemoved', ReviewRuleRemovedData>;

export type ReviewRuleSetEventType = ReviewRuleSetEvent['type'];

// ---------------------------------------------------------------- decoding

const paramsSchema = z.object({
  field: z.enum(LENGTH_FIELDS).optional(),
  min: z.number().int().nullable().optional(),
  max: z.number().int().nullable().optional(),
  allowedDomains: z.array(z.string()).optional(),
  contactTypes: z.array(z.enum(CONTACT_TYPES)).optional(),
});

export const reviewRuleSchema = z.object({
  ruleId: z.string(),
  kind: z.enum(RULE_KINDS),
  name: z.string(),
  phrases: z.array(z.string()),
  category: z.enum(RED_LINE_CATEGORIES).nullable(),
  platforms: z.array(z.string()),
  regions: z.array(z.string()),
  params: paramsSchema,
  enabled: z.boolean(),
});

/** The decode boundary of this aggregate's stored events (see core/event-codec.ts). */
export const reviewRuleSetEvents = eventCodec<ReviewRuleSetEvent>({
  ReviewRuleAdded: { schema: z.object({ scope: z.string(), rule: reviewRuleSchema, by: z.string(), addedAt: z.string() }) },
  ReviewRuleChanged: { schema: z.object({ scope: z.string(), rule: reviewRuleSchema, by: z.string(), changedAt: z.string() }) },
  ReviewRuleRemoved: { schema: z.object({ scope: z.string(), ruleId: z.string(), by: z.string(), removedAt: z.string() }) },
});

import { z } from 'zod';
import { featureLimit, hasFeature, type Feature, type Plan } from '../../write-model/subscription/plans.js';
import type { Refusal, RunNeeds, WorkflowTypeSpec } from '../registry.js';

/**
 * Xiaohongshu workflow types. Every platform request of a run counts against
 * the plan's daily_api_calls ("每日N次API调用", N calls a day): listing pages
 * (search: 20 notes a page, a user's notes: 30) plus one detail call per note,
 * since only /feed gives the text, time and all counts (docs/platforms.md,
 * Xiaohongshu: search cards, note detail, pagination).
 */

const SEARCH_PAGE_SIZE = 20;
const USER_PAGE_SIZE = 30;
/** conversations per listing page (an estimate: the web client's page) */
const CONVERSATION_PAGE_SIZE = 20;

/** the search API's `sort` values */
export const NOTE_SORTS = ['general', 'popularity_descending', 'time_descending', 'comment_descending', 'collect_descending'] as const;

const maxItems = z.number().int().min(1).max(1000);

export const notesConfigSchema = z.discriminatedUnion('mode', [
  z.strictObject({
    mode: z.literal('keyword'),
    keyword: z.string().trim().min(1).max(100),
    maxItems,
    sort: z.enum(NOTE_SORTS).optional(),
  }),
  // a user's notes come in the profile's order: user_posted has no sort
  z.strictObject({
    mode: z.literal('user'),
    userId: z.string().regex(/^[0-9a-f]{24}$/, 'a Xiaohongshu user id is 24 hex characters'),
    maxItems,
  }),
]);
export type NotesConfig = z.infer<typeof notesConfigSchema>;

export const messagesConfigSchema = z.strictObject({
  maxConversations: z.number().int().min(1).max(500),
});
export type MessagesConfig = z.infer<typeof messagesConfigSchema>;

function dailyCalls(plan: Plan<'xiaohongshu'>, requests: number): RunNeeds {
  return { feature: 'daily_api_calls', use: 'consume', amount: requests, limit: featureLimit(plan, 'daily_api_calls'), requests, needsAccount: true };
}

/** The flag the type needs, and whether one run fits in a whole day's calls. */
function refusals(plan: Plan<'xiaohongshu'>, flag: Feature, needs: RunNeeds): Refusal[] {
  const out: Refusal[] = [];
  if (!hasFeature(plan, flag)) {
    out.push({ feature: flag, reason: 'not_in_plan', message: `${plan.name} does not include ${flag}` });
  }
  const limit = needs.limit;
  if (limit?.kind === 'not_in_plan') {
    out.push({ feature: needs.feature, reason: 'not_in_plan', message: `${plan.name} has no ${needs.feature}` });
  } else if (limit?.kind === 'limited' && needs.amount > limit.limit) {
    out.push({
      feature: needs.feature,
      reason: 'over_limit',
      message: `one run needs ${needs.amount} API calls; ${plan.name} allows ${limit.limit} a day`,
      details: { limit: limit.limit, requested: needs.amount },
    });
  }
  return out;
}

export const notes: WorkflowTypeSpec<NotesConfig, 'xiaohongshu'> = {
  description: 'Notes found by a keyword search, or posted by one user',
  configSchema: notesConfigSchema,
  quotaFeature: 'daily_api_calls',
  itemKinds: ['xiaohongshu.note'],
  defaultSchedule: { kind: 'interval', every: 'daily' },
  limits(plan, config) {
    const pageSize = config.mode === 'keyword' ? SEARCH_PAGE_SIZE : USER_PAGE_SIZE;
    return dailyCalls(plan, Math.ceil(config.maxItems / pageSize) + config.maxItems);
  },
  check(plan, config) {
    return refusals(plan, 'content_collection', notes.limits(plan, config));
  },
};

export const messages: WorkflowTypeSpec<MessagesConfig, 'xiaohongshu'> = {
  description: "The connected account's private messages",
  configSchema: messagesConfigSchema,
  quotaFeature: 'daily_api_calls',
  itemKinds: ['xiaohongshu.message'],
  defaultSchedule: { kind: 'interval', every: 'hourly' },
  limits(plan, config) {
    return dailyCalls(plan, Math.ceil(config.maxConversations / CONVERSATION_PAGE_SIZE) + config.maxConversations);
  },
  check(plan, config) {
    return refusals(plan, 'private_messaging', messages.limits(plan, config));
  },
};

import { z } from 'zod';
import { allowsRanking, featureLimit, QIDIAN_RANKINGS, type QidianRanking } from '../../write-model/subscription/plans.js';
import type { Refusal, WorkflowTypeSpec } from '../registry.js';

/**
 * Qidian workflow types. Qidian plans have no daily counter: a rankings run
 * is checked against ranking_access, a novels workflow against
 * novel_tracking_limit (the novels it tracks). Pages are public, so no
 * account is needed.
 */

/** The plan catalogue's ranking names → the board in `/rank/<board>/` (docs/platforms.md, Qidian: rank boards). */
export const RANKING_BOARDS: { readonly [R in QidianRanking]: string } = {
  热销榜: 'hotsales',
  收藏榜: 'collect',
  推荐榜: 'recom',
  月票榜: 'yuepiao',
  阅读指数榜: 'readIndex',
  签约作者新书榜: 'signnewbook',
  公众作者新书榜: 'pubnewbook',
  新人签约新书榜: 'newsign',
  新人作者新书榜: 'newauthor',
};

const RANK_PAGE_SIZE = 20;
/** top 100 of each ranking unless the config asks otherwise */
export const DEFAULT_MAX_RANK = 100;

const unique = (values: readonly string[]) => new Set(values).size === values.length;

export const rankingsConfigSchema = z.strictObject({
  rankings: z.array(z.enum(QIDIAN_RANKINGS)).min(1).refine(unique, { message: 'each ranking once' }),
  /** how deep into each ranking (20 a page; the boards go to about 500) */
  maxRank: z.number().int().min(1).max(500).optional(),
});
export type RankingsConfig = z.infer<typeof rankingsConfigSchema>;

export const novelsConfigSchema = z.strictObject({
  /** book ids (`data-bid`, digits) */
  novelIds: z
    .array(z.string().regex(/^\d{1,20}$/, 'a Qidian book id is digits'))
    .min(1)
    .max(10000)
    .refine(unique, { message: 'each novel once' }),
});
export type NovelsConfig = z.infer<typeof novelsConfigSchema>;

export const rankings: WorkflowTypeSpec<RankingsConfig, 'qidian'> = {
  description: 'Qidian rankings (热销榜, 收藏榜, 推荐榜, 月票榜, 阅读指数榜 and the new-book boards), top entries of each',
  configSchema: rankingsConfigSchema,
  quotaFeature: 'ranking_access',
  itemKinds: ['qidian.ranking_entry'],
  defaultSchedule: { kind: 'interval', every: 'daily' },
  limits(_plan, config) {
    const pages = Math.ceil((config.maxRank ?? DEFAULT_MAX_RANK) / RANK_PAGE_SIZE);
    return {
      feature: 'ranking_access',
      use: 'access',
      amount: config.rankings.length,
      limit: null,
      requests: pages * config.rankings.length,
      needsAccount: false,
    };
  },
  check(plan, config) {
    return config.rankings
      .filter((ranking) => !allowsRanking(plan, ranking))
      .map(
        (ranking): Refusal => ({
          feature: 'ranking_access',
          reason: 'ranking_not_in_plan',
          message: `${plan.name} does not include ${ranking}`,
          details: { ranking, allowed: plan.features.ranking_access },
        }),
      );
  },
};

export const novels: WorkflowTypeSpec<NovelsConfig, 'qidian'> = {
  description: 'Snapshots of tracked novels (words, chapters, status, stats)',
  configSchema: novelsConfigSchema,
  quotaFeature: 'novel_tracking_limit',
  itemKinds: ['qidian.novel_snapshot'],
  defaultSchedule: { kind: 'interval', every: 'daily' },
  limits(plan, config) {
    const count = config.novelIds.length;
    return {
      feature: 'novel_tracking_limit',
      use: 'hold',
      amount: count,
      limit: featureLimit(plan, 'novel_tracking_limit'),
      requests: count,
      needsAccount: false,
    };
  },
  check(plan, config) {
    const { amount, limit } = novels.limits(plan, config);
    if (limit?.kind === 'not_in_plan') {
      return [{ feature: 'novel_tracking_limit', reason: 'not_in_plan', message: `${plan.name} tracks no novels` }];
    }
    if (limit?.kind === 'limited' && amount > limit.limit) {
      return [
        {
          feature: 'novel_tracking_limit',
          reason: 'over_limit',
          message: `${amount} novels; ${plan.name} tracks at most ${limit.limit}`,
          details: { limit: limit.limit, requested: amount },
        },
      ];
    }
    return [];
  },
};

/** Keywords one watch-list run searches at most (the first ones watched). */
export const MAX_WATCHED_KEYWORDS = 50;

/**
 * A watch-list workflow holds `{}`: what a run collects is resolved when
 * the run is requested (src/application/qidian-watchlist.ts) and recorded
 * with the execution: the owner's tracked novels (at most the plan's
 * novel_tracking_limit) and, with custom_keywords, their watched keywords.
 */
export const watchlistConfigSchema = z.strictObject({
  novelIds: z
    .array(z.string().regex(/^\d{1,20}$/, 'a Qidian book id is digits'))
    .max(100000)
    .refine(unique, { message: 'each novel once' })
    .optional(),
  keywords: z.array(z.string().min(1).max(30)).max(MAX_WATCHED_KEYWORDS).refine(unique, { message: 'each keyword once' }).optional(),
});
export type WatchlistConfig = z.infer<typeof watchlistConfigSchema>;

export const watchlist: WorkflowTypeSpec<WatchlistConfig, 'qidian'> = {
  description: "The owner's tracked novels and watched keywords, kept by the platform and run at the plan's data_collection_frequency",
  configSchema: watchlistConfigSchema,
  quotaFeature: 'novel_tracking_limit',
  itemKinds: ['qidian.novel_snapshot', 'qidian.keyword_match'],
  defaultSchedule: { kind: 'interval', every: 'daily' },
  managed: true,
  limits(plan, config) {
    const count = config.novelIds?.length ?? 0;
    const keywords = config.keywords?.length ?? 0;
    return {
      feature: 'novel_tracking_limit',
      use: 'hold',
      amount: count,
      limit: featureLimit(plan, 'novel_tracking_limit'),
      requests: count + keywords,
      needsAccount: false,
    };
  },
  check(plan, config) {
    const refusals: Refusal[] = [];
    const { amount, limit } = watchlist.limits(plan, config);
    if (amount > 0 && limit?.kind === 'not_in_plan')
      refusals.push({ feature: 'novel_tracking_limit', reason: 'not_in_plan', message: `${plan.name} tracks no novels` });
    if (limit?.kind === 'limited' && amount > limit.limit) {
      refusals.push({
        feature: 'novel_tracking_limit',
        reason: 'over_limit',
        message: `${amount} novels; ${plan.name} tracks at most ${limit.limit}`,
        details: { limit: limit.limit, requested: amount },
      });
    }
    if ((config.keywords?.length ?? 0) > 0 && plan.features.custom_keywords !== true) {
      refusals.push({ feature: 'custom_keywords', reason: 'not_in_plan', message: `${plan.name} does not include custom keywords` });
    }
    return refusals;
  },
};

import { z } from 'zod';
import { QIDIAN_RANKINGS } from '../../write-model/subscription/plans.js';
import { int32Count, itemInstant } from '../item-fields.js';
import type { ItemSpec } from '../registry.js';

/**
 * What a Qidian run collects, after parsing (docs/platforms.md, Qidian): numbers
 * with 万/亿 multiplied out, font-obfuscated digits decoded (or null when
 * they could not be). Shapes fit the read tables qidian_rankings and
 * qidian_novel_snapshots (docs/platforms.md, Qidian: items and read tables).
 */

const novelId = z.string().regex(/^\d{1,20}$/);
/** word counts and stats: bigint columns */
const count = z.number().int().nonnegative();
const isoTime = itemInstant;
/** 连载 → serializing, 完本 → completed */
const status = z.enum(['serializing', 'completed']);

export const rankingEntrySchema = z.object({
  ranking: z.enum(QIDIAN_RANKINGS),
  /** 1-based position (`li@data-rid`) */
  rank: int32Count.min(1),
  novelId,
  title: z.string().min(1),
  author: z.string(),
  category: z.string(),
  subCategory: z.string().nullable().optional(),
  status: status.nullable().optional(),
  /** the board's number (月票, 推荐, …); null when not shown or not decoded */
  score: z.number().nonnegative().nullable(),
  /** the unit label next to the score, e.g. 月票 */
  scoreLabel: z.string().nullable().optional(),
  capturedAt: isoTime,
});
export type QidianRankingEntry = z.infer<typeof rankingEntrySchema>;

export const novelSnapshotSchema = z.object({
  novelId,
  title: z.string().min(1),
  author: z.string(),
  category: z.string(),
  wordCount: count,
  /** an integer column */
  chapters: int32Count,
  status,
  /** the book page does not always show each of them (docs/platforms.md, Qidian: book page): null = not seen */
  stats: z.object({
    clicks: count.nullable(),
    recommendations: count.nullable(),
    collections: count.nullable(),
    monthlyTickets: count.nullable(),
  }),
  lastUpdatedAt: isoTime.nullable().optional(),
  capturedAt: isoTime,
});
export type QidianNovelSnapshot = z.infer<typeof novelSnapshotSchema>;

/** One book a Qidian search (`/so/<keyword>.html`) found for a watched keyword. */
export const keywordMatchSchema = z.object({
  /** the watched keyword as normalised (what was searched) */
  keyword: z.string().min(1).max(30),
  /** 1-based position in the results */
  rank: int32Count.min(1),
  novelId,
  title: z.string().min(1),
  author: z.string(),
  category: z.string(),
  status: status.nullable().optional(),
  capturedAt: isoTime,
});
export type QidianKeywordMatch = z.infer<typeof keywordMatchSchema>;

export const itemSchemas: Record<string, ItemSpec> = {
  // a novel may stand in several rankings of one run; across days the read model adds the date
  'qidian.ranking_entry': {
    schema: rankingEntrySchema,
    key: (item) => `${(item as QidianRankingEntry).ranking}:${(item as QidianRankingEntry).novelId}`,
  },
  'qidian.novel_snapshot': { schema: novelSnapshotSchema, key: (item) => (item as QidianNovelSnapshot).novelId },
  'qidian.keyword_match': {
    schema: keywordMatchSchema,
    key: (item) => `${(item as QidianKeywordMatch).keyword}:${(item as QidianKeywordMatch).novelId}`,
  },
};

import type { Knex } from 'knex';
import { QIDIAN_TIME_ZONE } from '../projections/qidian-data.js';
import type { Period } from './qidian-analytics.js';
import { collectorsCondition, rankingRowsCondition, type Collectors } from './qidian.js';

/**
 * Competitor analysis over the `qidian-data-v1` read model: one novel against
 * its peers — the other novels of its category (and sub-category, when
 * known) in the owner's own collected data (novel snapshots and board
 * entries captured within retention and in the period). Like every Qidian
 * read, only the owner's rows count.
 *
 * Per metric: the novel's value, the peers' median, 25th and 75th
 * percentile (continuous), the novel's percentile among the peers (the share
 * of peers with a value it beats, ties counting half) and its rank among
 * them (1 = best; `of` = the peers with a value + the novel).
 *
 * Metrics, per novel, from its snapshots of the period:
 * - word_count, chapters, collections, monthly_tickets: at its last snapshot;
 * - <metric>_weekly_growth: (last − first snapshot of the period) per 7 days
 *   of time between them; null with one snapshot, or two less than a day apart;
 * and from its board entries of the period:
 * - best_rank:<board>: its best (lowest) rank on that board — lower is better.
 *
 * Two statements whatever the number of books (set-based; the peers' values
 * are folded in SQL), the top-peers list bounded by `limit`.
 */

const DAY_START = `(CAST(? AS date)::timestamp AT TIME ZONE '${QIDIAN_TIME_ZONE}')`;
const DAY_END = `((CAST(? AS date) + 1)::timestamp AT TIME ZONE '${QIDIAN_TIME_ZONE}')`;

export const FIGURES = ['word_count', 'chapters', 'collections', 'monthly_tickets'] as const;
export type Figure = (typeof FIGURES)[number];
/** The metrics the top-peers list may sort by. */
export const PEER_SORTS = [...FIGURES, ...FIGURES.map((f) => `${f}_weekly_growth` as const)] as const;
export type PeerSort = (typeof PEER_SORTS)[number];

export interface CompetitorOptions {
  since: Date;
  period: Period;
  /** the boards whose ranks count (the plan's ranking_access) */
  boards: readonly string[];
  /** `category`: compare with the whole category even when the sub-category is known */
  level: 'auto' | 'category';
  /** top peers at most */
  limit: number;
  sort: PeerSort;
}

export interface MetricComparison {
  metric: string;
  /** for best_rank:<board>: the board */
  ranking: string | null;
  /** true for ranks: a lower value is better */
  lower_is_better: boolean;
  value: number | null;
  /** peers with a value of this metric */
  peers: number;
  median: number | null;
  p25: number | null;
  p75: number | null;
  /** 0–100: the share of peers (with a value) the novel beats, ties counting half; null without a value or peers */
  percentile: number | null;
  /** 1 = best among the novel and its peers with a value; null without a value */
  rank: number | null;
  /** the novel + its peers with a value */
  of: number;
}

export interface PeerView {
  novel_id: string;
  title: string;
  author: string;
  sub_category: string | null;
  word_count: number | null;
  chapters: number | null;
  collections: number | null;
  monthly_tickets: number | null;
  word_count_weekly_growth: number | null;
  chapters_weekly_growth: number | null;
  collections_weekly_growth: number | null;
  monthly_tickets_weekly_growth: number | null;
  /** its best placement on a board in the period (lowest rank, then the board order) */
  best_rank: { ranking: string; rank: number } | null;
}

export interface CompetitorAnalysis {
  novel: { novel_id: string; title: string; author: string; category: string; sub_category: string | null; last_captured_at: string };
  from: string;
  to: string;
  days: number;
  /** what the peers share with the novel: its category, and its sub-category when the comparison is by it */
  peer_group: { category: string; sub_category: string | null; level: 'category' | 'sub_category'; peers: number };
  metrics: MetricComparison[];
  /** the first `limit` peers by `sort` (descending; nulls last) */
  top_peers: PeerView[];
  sort: PeerSort;
}

const iso = (value: unknown): string => (value instanceof Date ? value : new Date(String(value))).toISOString();
const numOrNull = (value: unknown): number | null => (value == null ? null : Number(value));
const round2 = (value: number | null): number | null => (value == null ? null : Math.round(value * 100) / 100);

/**
 * The novel as the owner last saw it within retention (its latest snapshot or
 * board entry, whichever is later), and its sub-category (the latest board
 * entry that shows one); undefined when the owner has nothing of it.
 */
async function target(knex: Knex, collectors: Collectors, novelId: string, since: Date) {
  const own = collectorsCondition(collectors);
  const ranked = rankingRowsCondition(collectors);
  const { rows } = (await knex.raw(
    `WITH s AS (
       SELECT title, author, category, captured_at FROM qidian_novel_snapshots
        WHERE ${own.sql} AND novel_id = ? AND captured_at >= ? ORDER BY captured_at DESC LIMIT 1),
     r AS (
       SELECT title, author, category, captured_at FROM qidian_rankings
        WHERE ${ranked.sql} AND novel_id = ? AND captured_at >= ? ORDER BY day DESC, captured_at DESC LIMIT 1),
     sub AS (
       SELECT sub_category FROM qidian_rankings
        WHERE ${ranked.sql} AND novel_id = ? AND captured_at >= ? AND sub_category IS NOT NULL ORDER BY day DESC, captured_at DESC LIMIT 1)
     SELECT x.*, (SELECT sub_category FROM sub) AS sub_category
       FROM (SELECT * FROM s UNION ALL SELECT * FROM r) x
      ORDER BY captured_at DESC LIMIT 1`,
    [own.binding, novelId, since, ...ranked.bindings, novelId, since, ...ranked.bindings, novelId, since],
  )) as { rows: Record<string, any>[] };
  return rows[0];
}

/**
 * The CTEs of a comparison: `m` one row per member novel (the novel and its
 * peers) with its figures and growths, `rb` its best rank per board, and
 * `v` every (novel, metric, value).
 */
function members(collectors: Collectors, novelId: string, category: string, subCategory: string | null, options: CompetitorOptions) {
  const { since, period, boards } = options;
  const own = collectorsCondition(collectors);
  const ranked = rankingRowsCondition(collectors);
  const figures = FIGURES.map((f) => `l.${f}`).join(', ');
  const growth = (f: Figure) =>
    `CASE WHEN l.captured_at - f.captured_at >= interval '1 day' THEN (l.${f} - f.${f})::float8 / (extract(epoch FROM l.captured_at - f.captured_at) / 604800) END AS ${f}_weekly_growth`;
  const sql = `
    s AS (
      SELECT novel_id, captured_at, title, author, word_count, chapters, collections, monthly_tickets
        FROM qidian_novel_snapshots
       WHERE ${own.sql} AND category = ? AND captured_at >= ? AND captured_at >= ${DAY_START} AND captured_at < ${DAY_END}),
    l AS (SELECT DISTINCT ON (novel_id) * FROM s ORDER BY novel_id, captured_at DESC),
    f AS (SELECT DISTINCT ON (novel_id) * FROM s ORDER BY novel_id, captured_at),
    e AS (
      SELECT novel_id, ranking, rank, title, author, sub_category, day, captured_at
        FROM qidian_rankings
       WHERE ${ranked.sql} AND category = ? AND ranking = ANY(?) AND captured_at >= ? AND day BETWEEN CAST(? AS date) AND CAST(? AS date)),
    rb AS (SELECT novel_id, ranking, min(rank) AS rank FROM e GROUP BY novel_id, ranking),
    ri AS (
      SELECT novel_id, (array_agg(title ORDER BY day DESC, captured_at DESC))[1] AS title,
             (array_agg(author ORDER BY day DESC, captured_at DESC))[1] AS author,
             (array_agg(sub_category ORDER BY day DESC, captured_at DESC) FILTER (WHERE sub_category IS NOT NULL))[1] AS sub_category
        FROM e GROUP BY novel_id),
    m AS (
      SELECT coalesce(l.novel_id, ri.novel_id) AS novel_id, coalesce(l.title, ri.title) AS title, coalesce(l.author, ri.author) AS author,
             ri.sub_category, ${figures},
             ${FIGURES.map(growth).join(',\n             ')}
        FROM l JOIN f USING (novel_id) FULL JOIN ri ON ri.novel_id = l.novel_id
       WHERE ${subCategory === null ? 'true' : 'coalesce(l.novel_id, ri.novel_id) = ? OR ri.sub_category = ?'}),
    v AS (
      SELECT m.novel_id, x.metric, x.value
        FROM m, LATERAL (VALUES ${PEER_SORTS.map((metric) => `('${metric}', m.${metric}::float8)`).join(', ')}) x(metric, value)
      UNION ALL
      SELECT rb.novel_id, 'best_rank:' || rb.ranking, rb.rank::float8 FROM rb JOIN m USING (novel_id))`;
  const bindings: Knex.RawBinding[] = [
    own.binding,
    category,
    since,
    period.from,
    period.to,
    ...ranked.bindings,
    category,
    [...boards],
    since,
    period.from,
    period.to,
  ];
  if (subCategory !== null) bindings.push(novelId, subCategory);
  return { sql, bindings };
}

/** The novel against its peers; undefined when the owner has no data of the novel within retention. */
export async function competitorAnalysis(
  knex: Knex,
  collectors: Collectors,
  novelId: string,
  options: CompetitorOptions,
): Promise<CompetitorAnalysis | undefined> {
  const found = await target(knex, collectors, novelId, options.since);
  if (!found) return undefined;
  const category = found.category as string;
  const knownSub = (found.sub_category as string | null) ?? null;
  const subCategory = options.level === 'auto' ? knownSub : null;
  const group = members(collectors, novelId, category, subCategory, options);

  const metricRows = (
    await knex.raw(
      `WITH ${group.sql},
       t AS (SELECT metric, value AS tv FROM v WHERE novel_id = ?),
       p AS (SELECT v.metric, v.value, t.tv FROM v LEFT JOIN t USING (metric) WHERE v.novel_id <> ? AND v.value IS NOT NULL)
       SELECT metric, max(tv) AS value, count(*) AS peers,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY value) AS median,
              percentile_cont(0.25) WITHIN GROUP (ORDER BY value) AS p25,
              percentile_cont(0.75) WITHIN GROUP (ORDER BY value) AS p75,
              count(*) FILTER (WHERE value < tv) AS below, count(*) FILTER (WHERE value = tv) AS ties, count(*) FILTER (WHERE value > tv) AS above
         FROM p GROUP BY metric
       UNION ALL
       SELECT metric, tv, 0, NULL, NULL, NULL, 0, 0, 0 FROM t WHERE NOT EXISTS (SELECT 1 FROM p WHERE p.metric = t.metric)`,
      [...group.bindings, novelId, novelId],
    )
  ).rows as Record<string, any>[];

  const peerCount = (await knex.raw(`WITH ${group.sql} SELECT count(*) FILTER (WHERE novel_id <> ?) AS peers FROM m`, [...group.bindings, novelId]))
    .rows[0] as Record<string, any>;

  const sort = options.sort;
  const peerRows = (
    await knex.raw(
      `WITH ${group.sql},
       best AS (SELECT DISTINCT ON (novel_id) novel_id, ranking, rank FROM rb ORDER BY novel_id, rank, array_position(?::text[], ranking))
       SELECT m.*, best.ranking AS best_ranking, best.rank AS best_rank
         FROM m LEFT JOIN best USING (novel_id)
        WHERE m.novel_id <> ?
        ORDER BY m.${sort} DESC NULLS LAST, best.rank NULLS LAST, m.novel_id
        LIMIT ?`,
      [...group.bindings, [...options.boards], novelId, options.limit],
    )
  ).rows as Record<string, any>[];

  const byMetric = new Map(metricRows.map((r) => [r.metric as string, r]));
  const metricNames = [...PEER_SORTS, ...options.boards.map((b) => `best_rank:${b}`)];
  const metrics: MetricComparison[] = [];
  for (const metric of metricNames) {
    const r = byMetric.get(metric);
    const isRank = metric.startsWith('best_rank:');
    const ranking = isRank ? metric.slice('best_rank:'.length) : null;
    // a board neither the novel nor a peer is on says nothing: left out
    if (isRank && !r) continue;
    const value = numOrNull(r?.value);
    const peers = Number(r?.peers ?? 0);
    const better = Number((isRank ? r?.below : r?.above) ?? 0);
    const worse = Number((isRank ? r?.above : r?.below) ?? 0);
    const ties = Number(r?.ties ?? 0);
    metrics.push({
      metric,
      ranking,
      lower_is_better: isRank,
      value: round2(value),
      peers,
      median: round2(numOrNull(r?.median)),
      p25: round2(numOrNull(r?.p25)),
      p75: round2(numOrNull(r?.p75)),
      percentile: value === null || peers === 0 ? null : Math.round(((worse + ties / 2) / peers) * 10_000) / 100,
      rank: value === null ? null : better + 1,
      of: value === null ? peers : peers + 1,
    });
  }

  const days = Math.round((Date.parse(`${options.period.to}T00:00:00Z`) - Date.parse(`${options.period.from}T00:00:00Z`)) / 86_400_000) + 1;
  return {
    novel: { novel_id: novelId, title: found.title, author: found.author, category, sub_category: knownSub, last_captured_at: iso(found.captured_at) },
    from: options.period.from,
    to: options.period.to,
    days,
    peer_group: { category, sub_category: subCategory, level: subCategory === null ? 'category' : 'sub_category', peers: Number(peerCount.peers ?? 0) },
    metrics,
    top_peers: peerRows.map((r) => ({
      novel_id: r.novel_id,
      title: r.title,
      author: r.author,
      sub_category: r.sub_category ?? null,
      word_count: numOrNull(r.word_count),
      chapters: numOrNull(r.chapters),
      collections: numOrNull(r.collections),
      monthly_tickets: numOrNull(r.monthly_tickets),
      word_count_weekly_growth: round2(numOrNull(r.word_count_weekly_growth)),
      chapters_weekly_growth: round2(numOrNull(r.chapters_weekly_growth)),
      collections_weekly_growth: round2(numOrNull(r.collections_weekly_growth)),
      monthly_tickets_weekly_growth: round2(numOrNull(r.monthly_tickets_weekly_growth)),
      best_rank: r.best_rank == null ? null : { ranking: r.best_ranking, rank: Number(r.best_rank) },
    })),
    sort,
  };
}

import type { Knex } from 'knex';
import { addDays } from '../application/quota-day.js';
import type { Scope } from './xiaohongshu.js';

/**
 * Statistical insights over the `xiaohongshu-content-v1` read model: tag and
 * title-keyword trends and anomalies, computed with plain statistics from the
 * owner's collected notes (within retention). Nothing here is a learned
 * model: counts, least-squares slopes, medians and median absolute
 * deviations.
 *
 * - A note's day is its publish day (days in the scope's time zone), or the
 *   day it was first collected when the publish time is unknown. A note
 *   counts in the period when that day is in it. Its engagement is likes +
 *   comments + collects + shares at its latest collection.
 * - Keywords are extracted from titles: every pair of adjacent CJK
 *   characters (a character bigram, e.g. 咖啡店 → 咖啡, 啡店) and every Latin
 *   word of 2+ letters or digits (lower case); a note counts once per keyword.
 *   No dictionary, no stop words: a keyword must be in `minNotes` notes.
 * - Trend of a series (the notes per day of a tag over the period, zero-filled):
 *   the least-squares slope (notes per day, per day) and the notes of the
 *   period's first half against its second half (an odd middle day in
 *   neither). Computed in SQL from the days with notes only (Σxy − x̄Σy)/Σ(x−x̄)².
 * - Anomalies of a series: the days whose value's robust z-score
 *   (value − median) / (1.4826 · MAD) is beyond ±3, i.e. outside
 *   median ± 3 scaled MADs; when the MAD is 0 (a mostly-empty series) the
 *   scale is 1.2533 · the mean absolute deviation from the median; a series
 *   with no spread has none.
 * - Unusual notes: notes whose engagement is beyond ±3 robust z-scores of
 *   their author's notes in the period (authors with at least 3 notes there).
 *
 * A handful of set-based statements, each list bounded (`limit`, the
 * period's days).
 */

export const ANOMALY_THRESHOLD = 3;
/** 1/Φ⁻¹(3/4): the MAD of a normal sample times this estimates its standard deviation. */
const MAD_SCALE = 1.4826;
/** √(π/2): the mean absolute deviation of a normal sample times this estimates its standard deviation. */
const MEAN_AD_SCALE = 1.2533;
/** Authors need this many notes in the period for their notes to be judged against them. */
export const MIN_AUTHOR_NOTES = 3;

export interface InsightOptions {
  /** YYYY-MM-DD: the last day of the period (today) */
  today: string;
  days: number;
  /** entries per list */
  limit: number;
  /** a tag or keyword needs this many notes in the period to be listed */
  minNotes: number;
}

export interface DayPoint {
  day: string;
  notes: number;
  engagement: number;
}

export interface Anomaly {
  day: string;
  metric: 'notes' | 'engagement';
  value: number;
  /** the series' median */
  median: number;
  /** robust z-score of the value */
  score: number;
  direction: 'spike' | 'drop';
}

export interface Trend {
  /** least-squares slope of the notes per day (notes per day, per day) */
  slope: number;
  /** least-squares slope of the engagement per day */
  engagement_slope: number;
  first_half_notes: number;
  second_half_notes: number;
  /** second half − first half */
  change: number;
  /** change / first half; null when the first half had none */
  change_ratio: number | null;
}

export interface TermSeries {
  term: string;
  notes: number;
  engagement: number;
  trend: Trend;
  series: DayPoint[];
  anomalies: Anomaly[];
}

export interface TermMove {
  term: string;
  notes: number;
  engagement: number;
  trend: Trend;
}

export interface UnusualNote {
  note_id: string;
  title: string;
  author_id: string;
  author_name: string;
  day: string;
  engagement: number;
  /** the author's notes in the period, their median engagement */
  author_notes: number;
  author_median: number;
  score: number;
  direction: 'high' | 'low';
}

export interface Insights {
  from: string;
  to: string;
  days: number;
  time_zone: string;
  retention_days: number;
  method: {
    trend: string;
    anomaly: string;
    keywords: string;
    threshold: number;
  };
  overall: { notes: number; engagement: number; trend: Trend; series: DayPoint[]; anomalies: Anomaly[] };
  tags: TermSeries[];
  keywords: TermSeries[];
  rising_tags: TermMove[];
  falling_tags: TermMove[];
  rising_keywords: TermMove[];
  falling_keywords: TermMove[];
  unusual_notes: UnusualNote[];
}

const ENGAGEMENT = '(like_count + comment_count + collect_count + share_count)';

// ---------------------------------------------------------------- statistics (pure)

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The robust scale of a series around its median: 1.4826 · MAD, or 1.2533 · mean absolute deviation when the MAD is 0; 0 without spread. */
export function robustScale(values: readonly number[], center: number): number {
  const deviations = values.map((v) => Math.abs(v - center));
  const mad = median(deviations);
  if (mad > 0) return MAD_SCALE * mad;
  const meanAd = deviations.reduce((a, b) => a + b, 0) / Math.max(1, deviations.length);
  return MEAN_AD_SCALE * meanAd;
}

/** The days of a series whose robust z-score is beyond ±threshold. */
export function anomalies(series: readonly DayPoint[], threshold = ANOMALY_THRESHOLD): Anomaly[] {
  const out: Anomaly[] = [];
  for (const metric of ['notes', 'engagement'] as const) {
    const values = series.map((p) => p[metric]);
    const center = median(values);
    const scale = robustScale(values, center);
    if (scale === 0) continue;
    series.forEach((p, i) => {
      const score = (values[i]! - center) / scale;
      if (Math.abs(score) > threshold)
        out.push({ day: p.day, metric, value: values[i]!, median: center, score: round2(score), direction: score > 0 ? 'spike' : 'drop' });
    });
  }
  return out.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : a.metric < b.metric ? -1 : 1));
}

/** Least-squares slope of y over x = 0…n−1. */
export function slope(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return 0;
  const xMean = (n - 1) / 2;
  const yMean = values.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  values.forEach((y, x) => {
    num += (x - xMean) * (y - yMean);
    den += (x - xMean) ** 2;
  });
  return num / den;
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}
function round4(v: number): number {
  return Math.round(v * 10_000) / 10_000;
}

/** The trend of a zero-filled daily series. */
export function trendOf(series: readonly DayPoint[]): Trend {
  const n = series.length;
  const half = Math.floor(n / 2);
  const first = series.slice(0, half).reduce((a, p) => a + p.notes, 0);
  const second = series.slice(n - half).reduce((a, p) => a + p.notes, 0);
  return trendFrom(slope(series.map((p) => p.notes)), slope(series.map((p) => p.engagement)), first, second);
}

function trendFrom(notesSlope: number, engagementSlope: number, first: number, second: number): Trend {
  return {
    slope: round4(notesSlope),
    engagement_slope: round4(engagementSlope),
    first_half_notes: first,
    second_half_notes: second,
    change: second - first,
    change_ratio: first === 0 ? null : round4((second - first) / first),
  };
}

// ---------------------------------------------------------------- queries

/**
 * `n`: the owner's retained notes of the period, each with its day index
 * (0 = the period's first day), day and engagement. Bindings: tz, from, tz,
 * owner, cutoff, from, days.
 */
const NOTES_SQL = `
  n AS (
    SELECT note_id, title, tags, author_id, author_name, engagement, day, (day - CAST(? AS date)) AS x
      FROM (SELECT note_id, title, tags, author_id, author_name, ${ENGAGEMENT} AS engagement,
                   (coalesce(published_at, first_collected_at) AT TIME ZONE ?)::date AS day
              FROM xiaohongshu_contents
             WHERE owner_id = ? AND last_collected_at >= ?) c
     WHERE day >= CAST(? AS date) AND day < CAST(? AS date) + CAST(? AS integer))`;

/** `k`: (note, keyword) pairs of the period's notes, one per note and keyword. */
const KEYWORDS_SQL = `
  runs AS (SELECT n.note_id, n.x, n.engagement, r[1] AS run FROM n, regexp_matches(left(n.title, 200), '[一-鿿㐀-䶿]+|[A-Za-z0-9]+', 'g') r),
  k AS (
    SELECT DISTINCT note_id, x, engagement, term FROM (
      SELECT note_id, x, engagement, substr(run, i, 2) AS term
        FROM runs, generate_series(1, char_length(run) - 1) i
       WHERE run ~ '^[一-鿿㐀-䶿]'
      UNION ALL
      SELECT note_id, x, engagement, lower(run) FROM runs WHERE run !~ '^[一-鿿㐀-䶿]' AND char_length(run) BETWEEN 2 AND 40 AND run !~ '^[0-9]+$') b)`;

/** `tg`: (note, tag) pairs of the period's notes. */
const TAGS_SQL = `tg AS (SELECT DISTINCT note_id, x, engagement, tag AS term FROM n, unnest(tags) tag)`;

/**
 * Per term (of `source`, the CTE of (note, x, engagement, term) pairs): notes,
 * engagement, the least-squares slopes and the halves — set-based, from the
 * days with notes only.
 */
function termStats(source: string, n: number): string {
  const half = Math.floor(n / 2);
  const xMean = (n - 1) / 2;
  const sxx = (n * (n * n - 1)) / 12;
  return `
    st AS (
      SELECT term, count(*) AS notes, sum(engagement) AS engagement,
             sum(x * 1.0) AS sum_x, sum(x * engagement * 1.0) AS sum_xe,
             count(*) FILTER (WHERE x < ${half}) AS first_half, count(*) FILTER (WHERE x >= ${n - half}) AS second_half
        FROM ${source} GROUP BY term),
    sl AS (
      SELECT st.*, ${sxx > 0 ? `(sum_x - ${xMean} * notes) / ${sxx}` : '0'} AS slope,
             ${sxx > 0 ? `(sum_xe - ${xMean} * engagement) / ${sxx}` : '0'} AS engagement_slope
        FROM st)`;
}

function termMove(r: Record<string, any>): TermMove {
  return {
    term: r.term,
    notes: Number(r.notes),
    engagement: Number(r.engagement),
    trend: trendFrom(Number(r.slope), Number(r.engagement_slope), Number(r.first_half), Number(r.second_half)),
  };
}

export async function insights(knex: Knex, scope: Scope & { retentionDays: number }, options: InsightOptions): Promise<Insights> {
  const { days, limit, minNotes } = options;
  const from = addDays(options.today, -(days - 1));
  const tz = scope.timeZone;
  const nb: Knex.RawBinding[] = [from, tz, scope.ownerId, scope.cutoff, from, from, days];
  const dayList = Array.from({ length: days }, (_, i) => addDays(from, i));

  // overall: notes and engagement per day
  const overallRows = (await knex.raw(`WITH ${NOTES_SQL} SELECT x, count(*) AS notes, sum(engagement) AS engagement FROM n GROUP BY x`, nb)).rows as Record<
    string,
    any
  >[];
  const overallSeries = fill(dayList, overallRows as { x: unknown; notes: unknown; engagement: unknown }[]);

  async function terms(source: 'tg' | 'k', sql: string) {
    const stats = termStats(source, days);
    // the most frequent terms, with their per-day series (bounded: limit × days)
    const top = (
      await knex.raw(
        `WITH ${NOTES_SQL}, ${sql}, ${stats},
         t AS (SELECT * FROM sl WHERE notes >= ? ORDER BY notes DESC, engagement DESC, term LIMIT ?),
         d AS (SELECT ${source}.term, ${source}.x, count(*) AS notes, sum(${source}.engagement) AS engagement FROM ${source} JOIN t USING (term) GROUP BY 1, 2)
         SELECT t.*, coalesce(json_agg(json_build_array(d.x, d.notes, d.engagement)) FILTER (WHERE d.x IS NOT NULL), '[]') AS points
           FROM t LEFT JOIN d USING (term)
          GROUP BY t.term, t.notes, t.engagement, t.sum_x, t.sum_xe, t.first_half, t.second_half, t.slope, t.engagement_slope
          ORDER BY t.notes DESC, t.engagement DESC, t.term`,
        [...nb, minNotes, limit],
      )
    ).rows as Record<string, any>[];
    // rising and falling: by slope, among the terms with enough notes whose halves moved the same way
    const moves = (
      await knex.raw(
        `WITH ${NOTES_SQL}, ${sql}, ${stats},
         r AS (SELECT *, 'rising' AS kind FROM sl WHERE notes >= ? AND slope > 0 AND second_half > first_half ORDER BY slope DESC, notes DESC, term LIMIT ?),
         f AS (SELECT *, 'falling' AS kind FROM sl WHERE notes >= ? AND slope < 0 AND second_half < first_half ORDER BY slope, notes DESC, term LIMIT ?)
         SELECT * FROM r UNION ALL SELECT * FROM f`,
        [...nb, minNotes, limit, minNotes, limit],
      )
    ).rows as Record<string, any>[];
    const series: TermSeries[] = top.map((r) => {
      const points = (typeof r.points === 'string' ? JSON.parse(r.points) : r.points) as [number, number, number][];
      const s = fill(
        dayList,
        points.map(([x, notes, engagement]) => ({ x, notes, engagement })),
      );
      return { ...termMove(r), series: s, anomalies: anomalies(s) };
    });
    const rising = moves
      .filter((r) => r.kind === 'rising')
      .sort((a, b) => Number(b.slope) - Number(a.slope) || Number(b.notes) - Number(a.notes) || (a.term < b.term ? -1 : 1));
    const falling = moves
      .filter((r) => r.kind === 'falling')
      .sort((a, b) => Number(a.slope) - Number(b.slope) || Number(b.notes) - Number(a.notes) || (a.term < b.term ? -1 : 1));
    return { series, rising: rising.map(termMove), falling: falling.map(termMove) };
  }

  const tags = await terms('tg', TAGS_SQL);
  const keywords = await terms('k', KEYWORDS_SQL);

  // notes far from their author's usual engagement (robust z against the author's notes of the period)
  const unusual = (
    await knex.raw(
      `WITH ${NOTES_SQL},
       a AS (
         SELECT author_id, count(*) AS notes, percentile_cont(0.5) WITHIN GROUP (ORDER BY engagement) AS med
           FROM n GROUP BY author_id HAVING count(*) >= ?),
       dev AS (SELECT n.author_id, abs(n.engagement - a.med) AS d FROM n JOIN a USING (author_id)),
       sc AS (
         SELECT author_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY d) AS mad, avg(d) AS mean_ad FROM dev GROUP BY author_id),
       z AS (
         SELECT n.note_id, n.title, n.author_id, n.author_name, to_char(n.day, 'YYYY-MM-DD') AS day, n.engagement, a.notes AS author_notes, a.med,
                (n.engagement - a.med) / CASE WHEN sc.mad > 0 THEN ${MAD_SCALE} * sc.mad ELSE ${MEAN_AD_SCALE} * sc.mean_ad END AS score
           FROM n JOIN a USING (author_id) JOIN sc USING (author_id)
          WHERE sc.mad > 0 OR sc.mean_ad > 0)
       SELECT * FROM z WHERE abs(score) > ? ORDER BY abs(score) DESC, note_id LIMIT ?`,
      [...nb, MIN_AUTHOR_NOTES, ANOMALY_THRESHOLD, limit],
    )
  ).rows as Record<string, any>[];

  return {
    from,
    to: options.today,
    days,
    time_zone: tz,
    retention_days: scope.retentionDays,
    method: {
      trend: 'least-squares slope of the zero-filled daily series; notes of the first half of the period against the second',
      anomaly: 'robust z-score (value − median) / (1.4826 · MAD), or 1.2533 · mean absolute deviation when the MAD is 0; beyond ±threshold',
      keywords: 'CJK character bigrams and Latin words (2+ letters or digits, lower case) of the note titles, once per note',
      threshold: ANOMALY_THRESHOLD,
    },
    overall: {
      notes: overallSeries.reduce((a, p) => a + p.notes, 0),
      engagement: overallSeries.reduce((a, p) => a + p.engagement, 0),
      trend: trendOf(overallSeries),
      series: overallSeries,
      anomalies: anomalies(overallSeries),
    },
    tags: tags.series,
    keywords: keywords.series,
    rising_tags: tags.rising,
    falling_tags: tags.falling,
    rising_keywords: keywords.rising,
    falling_keywords: keywords.falling,
    unusual_notes: unusual.map((r) => {
      const score = round2(Number(r.score));
      return {
        note_id: r.note_id,
        title: r.title,
        author_id: r.author_id,
        author_name: r.author_name,
        day: r.day,
        engagement: Number(r.engagement),
        author_notes: Number(r.author_notes),
        author_median: round2(Number(r.med)),
        score,
        direction: score > 0 ? ('high' as const) : ('low' as const),
      };
    }),
  };
}

/** A zero-filled series over the period's days from (x, notes, engagement) rows. */
function fill(dayList: readonly string[], rows: readonly { x: unknown; notes: unknown; engagement: unknown }[]): DayPoint[] {
  const byX = new Map(rows.map((r) => [Number(r.x), r]));
  return dayList.map((day, x) => {
    const r = byX.get(x);
    return { day, notes: r ? Number(r.notes) : 0, engagement: r ? Number(r.engagement) : 0 };
  });
}

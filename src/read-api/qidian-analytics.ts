import type { Knex } from 'knex';
import { QIDIAN_TIME_ZONE } from '../projections/qidian-data.js';
import { collectorsCondition, rankingRowsCondition, type Collectors } from './qidian.js';

/**
 * Market and author analytics over the `qidian-data-v1` read model
 * (qidian_rankings, qidian_novel_snapshots, qidian_novels). Like every
 * Qidian read they are the owner's: the rankings and snapshots the owner's
 * own workflows collected, rows captured before `since` (the plan's
 * retention) left out. A period is a range of Qidian days (Asia/Shanghai),
 * both ends included. Each answer is a handful of set-based statements,
 * whatever the number of books, and every list in it is bounded.
 */

const iso = (value: unknown): string => (value instanceof Date ? value : new Date(String(value))).toISOString();
const isoOrNull = (value: unknown): string | null => (value == null ? null : iso(value));
const num = (value: unknown): number => Number(value);
const numOrNull = (value: unknown): number | null => (value == null ? null : Number(value));

/** The instant a Qidian day starts (SQL, one `?` binding: the day). */
const DAY_START = `(CAST(? AS date)::timestamp AT TIME ZONE '${QIDIAN_TIME_ZONE}')`;
/** The instant the day after a Qidian day starts (SQL, one `?` binding: the day). */
const DAY_END = `((CAST(? AS date) + 1)::timestamp AT TIME ZONE '${QIDIAN_TIME_ZONE}')`;
const LOCAL_DAY = `to_char(captured_at AT TIME ZONE '${QIDIAN_TIME_ZONE}', 'YYYY-MM-DD')`;

export interface Period {
  /** first Qidian day, YYYY-MM-DD */
  from: string;
  /** last Qidian day, YYYY-MM-DD (included) */
  to: string;
}

// ---------------------------------------------------------------- market

export interface MarketOptions {
  since: Date;
  period: Period;
  /** the boards to look at (already limited to the plan's ranking_access) */
  boards: readonly string[];
  category?: string;
  /** entries per list */
  limit: number;
  /** categories at most */
  maxCategories: number;
}

export interface BoardBook {
  novel_id: string;
  title: string;
  author: string;
  category: string;
}

export interface Movement extends BoardBook {
  start_rank: number;
  end_rank: number;
  /** places gained (positive: rose, negative: fell) */
  change: number;
}

export interface NewEntry extends BoardBook {
  rank: number;
  score: number | null;
  score_label: string | null;
}

export interface Exit extends BoardBook {
  /** the rank it had at the start */
  rank: number;
}

export interface BoardMarket {
  ranking: string;
  /** the first and last day of the period with a capture of the board; null: none */
  start_day: string | null;
  end_day: string | null;
  days_captured: number;
  /** entries (of the category, when filtered) on the start and end captures */
  entries_start: number;
  entries_end: number;
  risers: Movement[];
  fallers: Movement[];
  new_entries: NewEntry[];
  exits: Exit[];
  /** how many of each there are (the lists hold at most `limit`) */
  totals: { risers: number; fallers: number; steady: number; new_entries: number; exits: number };
}

export interface WordGrowth extends BoardBook {
  start_word_count: number;
  end_word_count: number;
  growth: number;
  start_captured_at: string;
  end_captured_at: string;
}

export interface CategoryTotals {
  category: string;
  /** books with a snapshot in the period */
  books: number;
  /** their word counts at their last snapshot of the period */
  word_count: number;
  /** their word growth between their first and last snapshot of the period */
  word_growth: number;
  /** entries of the category on the boards' start and end captures */
  ranked_start: number;
  ranked_end: number;
}

export interface MarketAnalytics {
  from: string;
  to: string;
  days: number;
  boards: BoardMarket[];
  word_growth: WordGrowth[];
  categories: CategoryTotals[];
}

/**
 * The boards' start and end captures of the period: `b` per board (first
 * and last captured day, days captured; the category filter does not move
 * them), `r` the entries of those two days, one per book (its best rank,
 * should a stale row of an earlier capture of the day hold it twice).
 */
function boardCaptures(collectors: Collectors, options: MarketOptions): { sql: string; bindings: Knex.RawBinding[] } {
  const { since, period, boards, category } = options;
  const own = rankingRowsCondition(collectors);
  const ownQ = rankingRowsCondition(collectors, 'q');
  const sql = `
    b AS (
      SELECT ranking, min(day) AS start_day, max(day) AS end_day, count(DISTINCT day) AS days_captured
        FROM qidian_rankings
       WHERE ${own.sql} AND ranking = ANY(?) AND day BETWEEN CAST(? AS date) AND CAST(? AS date) AND captured_at >= ?
       GROUP BY ranking),
    r AS (
      SELECT DISTINCT ON (q.ranking, q.day, q.novel_id)
             q.ranking, q.day, q.rank, q.novel_id, q.title, q.author, q.category, q.score, q.score_label,
             q.day = b.start_day AS is_start, q.day = b.end_day AS is_end, b.end_day > b.start_day AS moved
        FROM b JOIN qidian_rankings q
          ON ${ownQ.sql} AND q.ranking = b.ranking AND q.day IN (b.start_day, b.end_day) AND q.captured_at >= ?
       ${category !== undefined ? 'WHERE q.category = ?' : ''}
       ORDER BY q.ranking, q.day, q.novel_id, q.rank)`;
  const bindings: Knex.RawBinding[] = [...own.bindings, [...boards], period.from, period.to, since, ...ownQ.bindings, since];
  if (category !== undefined) bindings.push(category);
  return { sql, bindings };
}

/**
 * `g`: per book with a snapshot in the period (of the category, by its last
 * snapshot), its first and last snapshot of the period and the growth
 * between them.
 */
function bookGrowth(collectors: Collectors, options: MarketOptions): { sql: string; bindings: Knex.RawBinding[] } {
  const { since, period, category } = options;
  const own = collectorsCondition(collectors);
  const sql = `
    p AS (
      SELECT novel_id, captured_at, title, author, category, word_count
        FROM qidian_novel_snapshots
       WHERE ${own.sql} AND captured_at >= ? AND captured_at >= ${DAY_START} AND captured_at < ${DAY_END}),
    f AS (SELECT DISTINCT ON (novel_id) novel_id, word_count, captured_at FROM p ORDER BY novel_id, captured_at),
    l AS (SELECT DISTINCT ON (novel_id) * FROM p ORDER BY novel_id, captured_at DESC),
    g AS (
      SELECT l.novel_id, l.title, l.author, l.category, f.word_count AS start_word_count, l.word_count AS end_word_count,
             l.word_count - f.word_count AS growth, f.captured_at AS start_captured_at, l.captured_at AS end_captured_at
        FROM l JOIN f USING (novel_id)
       ${category !== undefined ? 'WHERE l.category = ?' : ''})`;
  const bindings: Knex.RawBinding[] = [own.binding, since, period.from, period.to];
  if (category !== undefined) bindings.push(category);
  return { sql, bindings };
}

const KINDS = ['riser', 'faller', 'steady', 'new', 'exit'] as const;
type Kind = (typeof KINDS)[number];

/** Risers, fallers, new entries and exits per board, word growth and category totals over the period. */
export async function marketAnalytics(knex: Knex, collectors: Collectors, options: MarketOptions): Promise<MarketAnalytics> {
  const { period, limit } = options;
  const days = Math.round((Date.parse(`${period.to}T00:00:00Z`) - Date.parse(`${period.from}T00:00:00Z`)) / 86_400_000) + 1;
  const captures = boardCaptures(collectors, options);

  // per board: its bounds and how many entries (of the category) each end holds
  const counts = (
    await knex.raw(
      `WITH ${captures.sql}
       SELECT b.ranking, to_char(b.start_day, 'YYYY-MM-DD') AS start_day, to_char(b.end_day, 'YYYY-MM-DD') AS end_day, b.days_captured,
              count(r.novel_id) FILTER (WHERE r.is_start) AS at_start, count(r.novel_id) FILTER (WHERE r.is_end) AS at_end
         FROM b LEFT JOIN r ON r.ranking = b.ranking
        GROUP BY b.ranking, b.start_day, b.end_day, b.days_captured`,
      captures.bindings,
    )
  ).rows as Record<string, any>[];

  // the books on both ends (risers, fallers, steady), only at the start (exits), only at the end (new entries): the first `limit` of each
  const moves = (
    await knex.raw(
      `WITH ${captures.sql},
       s AS (SELECT * FROM r WHERE is_start AND moved),
       e AS (SELECT * FROM r WHERE is_end AND moved),
       m AS (
         SELECT coalesce(e.ranking, s.ranking) AS ranking, coalesce(e.novel_id, s.novel_id) AS novel_id,
                coalesce(e.title, s.title) AS title, coalesce(e.author, s.author) AS author, coalesce(e.category, s.category) AS category,
                s.rank AS start_rank, e.rank AS end_rank, e.score, e.score_label,
                CASE WHEN s.rank IS NULL THEN 'new' WHEN e.rank IS NULL THEN 'exit'
                     WHEN e.rank < s.rank THEN 'riser' WHEN e.rank > s.rank THEN 'faller' ELSE 'steady' END AS kind
           FROM s FULL JOIN e ON e.ranking = s.ranking AND e.novel_id = s.novel_id),
       n AS (
         SELECT m.*, count(*) OVER w AS total,
                row_number() OVER (w ORDER BY abs(start_rank - end_rank) DESC NULLS LAST, coalesce(end_rank, start_rank), novel_id) AS n
           FROM m WINDOW w AS (PARTITION BY ranking, kind))
       SELECT * FROM n WHERE n <= ? ORDER BY ranking, kind, n`,
      [...captures.bindings, limit],
    )
  ).rows as Record<string, any>[];

  const growth = bookGrowth(collectors, options);
  // the fastest growing books of the period
  const top = (await knex.raw(`WITH ${growth.sql} SELECT * FROM g WHERE growth > 0 ORDER BY growth DESC, novel_id LIMIT ?`, [...growth.bindings, limit]))
    .rows as Record<string, any>[];

  // per category: its books' words and growth (snapshots), its entries at the boards' two ends (rankings)
  const categoryRows = (
    await knex.raw(
      `WITH ${captures.sql}, ${growth.sql},
       gc AS (SELECT category, count(*) AS books, sum(end_word_count) AS word_count, sum(growth) AS word_growth FROM g GROUP BY category),
       rc AS (SELECT category, count(*) FILTER (WHERE is_start) AS ranked_start, count(*) FILTER (WHERE is_end) AS ranked_end FROM r GROUP BY category)
       SELECT coalesce(gc.category, rc.category) AS category, coalesce(gc.books, 0) AS books, coalesce(gc.word_count, 0) AS word_count,
              coalesce(gc.word_growth, 0) AS word_growth, coalesce(rc.ranked_start, 0) AS ranked_start, coalesce(rc.ranked_end, 0) AS ranked_end
         FROM gc FULL JOIN rc ON rc.category = gc.category
        ORDER BY 4 DESC, 2 DESC, 6 DESC, 1
        LIMIT ?`,
      [...captures.bindings, ...growth.bindings, options.maxCategories],
    )
  ).rows as Record<string, any>[];

  const boards = new Map<string, BoardMarket>();
  for (const ranking of options.boards) {
    boards.set(ranking, {
      ranking,
      start_day: null,
      end_day: null,
      days_captured: 0,
      entries_start: 0,
      entries_end: 0,
      risers: [],
      fallers: [],
      new_entries: [],
      exits: [],
      totals: { risers: 0, fallers: 0, steady: 0, new_entries: 0, exits: 0 },
    });
  }
  for (const row of counts) {
    const board = boards.get(row.ranking);
    if (board) {
      Object.assign(board, {
        start_day: row.start_day,
        end_day: row.end_day,
        days_captured: num(row.days_captured),
        entries_start: num(row.at_start),
        entries_end: num(row.at_end),
      });
    }
  }
  const totalKey: Record<Kind, keyof BoardMarket['totals']> = { riser: 'risers', faller: 'fallers', steady: 'steady', new: 'new_entries', exit: 'exits' };
  for (const row of moves) {
    const board = boards.get(row.ranking);
    if (!board) continue;
    const kind = row.kind as Kind;
    board.totals[totalKey[kind]] = num(row.total);
    const book: BoardBook = { novel_id: row.novel_id, title: row.title, author: row.author, category: row.category };
    if (kind === 'riser' || kind === 'faller') {
      (kind === 'riser' ? board.risers : board.fallers).push({
        ...book,
        start_rank: row.start_rank,
        end_rank: row.end_rank,
        change: row.start_rank - row.end_rank,
      });
    } else if (kind === 'new') {
      board.new_entries.push({ ...book, rank: row.end_rank, score: numOrNull(row.score), score_label: row.score_label ?? null });
    } else if (kind === 'exit') {
      board.exits.push({ ...book, rank: row.start_rank });
    }
  }
  return {
    from: period.from,
    to: period.to,
    days,
    boards: [...boards.values()],
    word_growth: top.map((row) => ({
      novel_id: row.novel_id,
      title: row.title,
      author: row.author,
      category: row.category,
      start_word_count: num(row.start_word_count),
      end_word_count: num(row.end_word_count),
      growth: num(row.growth),
      start_captured_at: iso(row.start_captured_at),
      end_captured_at: iso(row.end_captured_at),
    })),
    categories: categoryRows.map((row) => ({
      category: row.category,
      books: num(row.books),
      word_count: num(row.word_count),
      word_growth: num(row.word_growth),
      ranked_start: num(row.ranked_start),
      ranked_end: num(row.ranked_end),
    })),
  };
}

// ---------------------------------------------------------------- author

export interface AuthorOptions {
  since: Date;
  period: Period;
  /** the boards whose placements count (the plan's ranking_access) */
  boards: readonly string[];
  /** books at most */
  maxBooks: number;
}

export interface AuthorBook {
  novel_id: string;
  title: string;
  category: string;
  status: string | null;
  /** at the latest visible snapshot; null when the book is known from rankings only */
  word_count: number | null;
  chapters: number | null;
  collections: number | null;
  monthly_tickets: number | null;
  last_updated_at: string | null;
  last_captured_at: string;
  /** growth between its first and last snapshot of the period; null without a snapshot in it */
  word_growth: number | null;
  /** its best placement on a board in the period (lowest rank, then latest day) */
  best_rank: { ranking: string; rank: number; day: string } | null;
}

export interface AuthorPoint {
  day: string;
  /** books captured that day, and the sums of their last capture of the day (null: none of them showed the figure) */
  books: number;
  word_count: number | null;
  chapters: number | null;
  collections: number | null;
  monthly_tickets: number | null;
  /** the author's entries on the boards that day, and the best rank among them */
  ranking_entries: number;
  best_rank: number | null;
}

export interface AuthorAnalytics {
  author: string;
  from: string;
  to: string;
  days: number;
  totals: {
    books: number;
    /** sum of the books' latest visible word counts */
    total_words: number;
    /** sum of the books' word growth over the period */
    word_growth: number;
    /** the latest update time (the book page's) among the books; null: none seen */
    latest_update: string | null;
    last_captured_at: string;
  };
  /** most recently updated first, at most `maxBooks` (totals cover all) */
  books: AuthorBook[];
  /** per Qidian day of the period with a capture, oldest first */
  trends: AuthorPoint[];
}

/** An author's books, totals and daily trends; null when nothing visible is known of the author. */
export async function authorAnalytics(knex: Knex, collectors: Collectors, author: string, options: AuthorOptions): Promise<AuthorAnalytics | null> {
  const { since, period, boards, maxBooks } = options;
  const boardList = [...boards];
  const own = collectorsCondition(collectors);
  const ownN = collectorsCondition(collectors, 'n.owner_id');
  const ranked = rankingRowsCondition(collectors);

  const rows = (
    await knex.raw(
      `WITH nb AS (
         SELECT DISTINCT ON (n.novel_id) n.novel_id, n.title, n.category, n.status, n.word_count, n.chapters, n.last_captured_at,
                s.collections, s.monthly_tickets, s.last_updated_at
           FROM qidian_novels n
           LEFT JOIN qidian_novel_snapshots s ON s.owner_id = n.owner_id AND s.novel_id = n.novel_id AND s.captured_at = n.last_captured_at
          WHERE ${ownN.sql} AND n.author = ? AND n.last_captured_at >= ?
          ORDER BY n.novel_id, n.last_captured_at DESC),
       rb AS (
         SELECT DISTINCT ON (novel_id) novel_id, title, category, status, captured_at
           FROM qidian_rankings
          WHERE ${ranked.sql} AND author = ? AND ranking = ANY(?) AND captured_at >= ?
          ORDER BY novel_id, captured_at DESC),
       best AS (
         SELECT DISTINCT ON (novel_id) novel_id, ranking, rank, to_char(day, 'YYYY-MM-DD') AS day
           FROM qidian_rankings
          WHERE ${ranked.sql} AND author = ? AND ranking = ANY(?) AND captured_at >= ? AND day BETWEEN CAST(? AS date) AND CAST(? AS date)
          ORDER BY novel_id, rank, day DESC, ranking),
       g AS (
         SELECT novel_id,
                (array_agg(word_count ORDER BY captured_at DESC))[1] - (array_agg(word_count ORDER BY captured_at))[1] AS word_growth
           FROM qidian_novel_snapshots
          WHERE ${own.sql} AND author = ? AND captured_at >= ? AND captured_at >= ${DAY_START} AND captured_at < ${DAY_END}
          GROUP BY novel_id),
       books AS (
         SELECT coalesce(nb.novel_id, rb.novel_id) AS novel_id, coalesce(nb.title, rb.title) AS title,
                coalesce(nb.category, rb.category) AS category, coalesce(nb.status, rb.status) AS status,
                nb.word_count, nb.chapters, nb.collections, nb.monthly_tickets, nb.last_updated_at,
                greatest(nb.last_captured_at, rb.captured_at) AS last_captured_at
           FROM nb FULL JOIN rb ON rb.novel_id = nb.novel_id)
       SELECT books.*, g.word_growth, best.ranking AS best_ranking, best.rank AS best_rank, best.day AS best_day,
              count(*) OVER () AS total_books, sum(books.word_count) OVER () AS total_words, sum(g.word_growth) OVER () AS total_growth,
              max(books.last_updated_at) OVER () AS latest_update, max(books.last_captured_at) OVER () AS latest_capture
         FROM books
         LEFT JOIN g USING (novel_id)
         LEFT JOIN best USING (novel_id)
        ORDER BY books.last_updated_at DESC NULLS LAST, books.last_captured_at DESC, books.novel_id
        LIMIT ?`,
      [
        ownN.binding,
        author,
        since,
        ...ranked.bindings,
        author,
        boardList,
        since,
        ...ranked.bindings,
        author,
        boardList,
        since,
        period.from,
        period.to,
        own.binding,
        author,
        since,
        period.from,
        period.to,
        maxBooks,
      ],
    )
  ).rows as Record<string, any>[];
  if (rows.length === 0) return null;

  // per day: the last capture of each of the author's books, summed; and the author's board entries
  const points = (
    await knex.raw(
      `WITH sd AS (
         SELECT DISTINCT ON (novel_id, day) novel_id, day, word_count, chapters, collections, monthly_tickets
           FROM (SELECT ${LOCAL_DAY} AS day, novel_id, captured_at, word_count, chapters, collections, monthly_tickets
                   FROM qidian_novel_snapshots
                  WHERE ${own.sql} AND author = ? AND captured_at >= ? AND captured_at >= ${DAY_START} AND captured_at < ${DAY_END}) x
          ORDER BY novel_id, day, captured_at DESC),
       sa AS (
         SELECT day, count(*) AS books, sum(word_count) AS word_count, sum(chapters) AS chapters,
                sum(collections) AS collections, sum(monthly_tickets) AS monthly_tickets
           FROM sd GROUP BY day),
       ra AS (
         SELECT to_char(day, 'YYYY-MM-DD') AS day, count(DISTINCT (ranking, rank)) AS ranking_entries, min(rank) AS best_rank
           FROM qidian_rankings
          WHERE ${ranked.sql} AND author = ? AND ranking = ANY(?) AND captured_at >= ? AND day BETWEEN CAST(? AS date) AND CAST(? AS date)
          GROUP BY day)
       SELECT coalesce(sa.day, ra.day) AS day, coalesce(sa.books, 0) AS books, sa.word_count, sa.chapters, sa.collections, sa.monthly_tickets,
              coalesce(ra.ranking_entries, 0) AS ranking_entries, ra.best_rank
         FROM sa FULL JOIN ra ON ra.day = sa.day
        ORDER BY 1`,
      [own.binding, author, since, period.from, period.to, ...ranked.bindings, author, boardList, since, period.from, period.to],
    )
  ).rows as Record<string, any>[];

  const first = rows[0]!;
  return {
    author,
    from: period.from,
    to: period.to,
    days: Math.round((Date.parse(`${period.to}T00:00:00Z`) - Date.parse(`${period.from}T00:00:00Z`)) / 86_400_000) + 1,
    totals: {
      books: num(first.total_books),
      total_words: num(first.total_words ?? 0),
      word_growth: num(first.total_growth ?? 0),
      latest_update: isoOrNull(first.latest_update),
      last_captured_at: iso(first.latest_capture),
    },
    books: rows.map((row) => ({
      novel_id: row.novel_id,
      title: row.title,
      category: row.category,
      status: row.status ?? null,
      word_count: numOrNull(row.word_count),
      chapters: numOrNull(row.chapters),
      collections: numOrNull(row.collections),
      monthly_tickets: numOrNull(row.monthly_tickets),
      last_updated_at: isoOrNull(row.last_updated_at),
      last_captured_at: iso(row.last_captured_at),
      word_growth: numOrNull(row.word_growth),
      best_rank: row.best_rank == null ? null : { ranking: row.best_ranking, rank: num(row.best_rank), day: row.best_day },
    })),
    trends: points.map((row) => ({
      day: row.day,
      books: num(row.books),
      word_count: numOrNull(row.word_count),
      chapters: numOrNull(row.chapters),
      collections: numOrNull(row.collections),
      monthly_tickets: numOrNull(row.monthly_tickets),
      ranking_entries: num(row.ranking_entries),
      best_rank: numOrNull(row.best_rank),
    })),
  };
}

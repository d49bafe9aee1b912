import type { Knex } from 'knex';
import { offsetOf, pageOf, type Page, type PageRequest } from './page.js';
import { addDays } from '../application/quota-day.js';
import { QIDIAN_TIME_ZONE } from '../projections/qidian-data.js';
import type { NovelTrackingSettings } from '../write-model/novel-tracking/events.js';

/**
 * Queries of the `qidian-data-v1` read model. Every query is the owner's
 * and takes `since`: rows captured before it (the plan's retention) are not
 * shown. Days are Qidian's (Asia/Shanghai).
 */

const iso = (value: unknown): string => (value instanceof Date ? value : new Date(String(value))).toISOString();
const isoOrNull = (value: unknown): string | null => (value == null ? null : iso(value));
const num = (value: unknown): number => Number(value);
const numOrNull = (value: unknown): number | null => (value == null ? null : Number(value));
const LOCAL_DAY = `to_char(captured_at AT TIME ZONE '${QIDIAN_TIME_ZONE}', 'YYYY-MM-DD')`;

// ---------------------------------------------------------------- trackings

export interface TrackingView {
  id: string;
  /** who tracks it */
  owner_id: string;
  novel_id: string;
  /** the owner's label, else the platform's title (null until collected) */
  title: string | null;
  novel_title: string | null;
  author: string | null;
  category: string | null;
  novel_status: string | null;
  word_count: number | null;
  chapters: number | null;
  last_captured_at: string | null;
  settings: { notify_on_update: boolean; notify_on_completion: boolean; word_count_threshold: number | null };
  status: string;
  created_at: string;
  updated_at: string;
  revision: string;
}

function settingsView(s: NovelTrackingSettings) {
  return { notify_on_update: s.notifyOnUpdate, notify_on_completion: s.notifyOnCompletion, word_count_threshold: s.wordCountThreshold };
}

function toTracking(row: Record<string, any>): TrackingView {
  return {
    id: row.id,
    owner_id: row.user_id,
    novel_id: row.novel_id,
    title: row.title ?? row.novel_title ?? null,
    novel_title: row.novel_title ?? null,
    author: row.author ?? null,
    category: row.category ?? null,
    novel_status: row.novel_status ?? null,
    word_count: numOrNull(row.word_count),
    chapters: numOrNull(row.chapters),
    last_captured_at: isoOrNull(row.last_captured_at),
    settings: settingsView(row.settings as NovelTrackingSettings),
    status: row.status,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    revision: String(row.last_revision),
  };
}

/** Whose collection a read reaches: one collector, or the members of a data scope. */
export type Collectors = string | readonly string[];
const idsOf = (collectors: Collectors): readonly string[] => (typeof collectors === 'string' ? [collectors] : collectors);

/**
 * A raw SQL condition on `column` (an owner id) for the collectors, and its
 * one binding: one collector keeps the plain equality (and its plans), several
 * are `= ANY(?)`.
 */
export function collectorsCondition(collectors: Collectors, column = 'owner_id'): { sql: string; binding: Knex.RawBinding } {
  const ids = idsOf(collectors);
  return ids.length === 1 ? { sql: `${column} = ?`, binding: ids[0]! } : { sql: `${column} = ANY(?)`, binding: [...ids] };
}

/**
 * The raw SQL condition on `qidian_rankings` rows (under `alias`) of the
 * collectors, and its bindings: several collectors' captures of a board's
 * day keep one entry per rank, the latest capture's (as the board reads do).
 */
export function rankingRowsCondition(collectors: Collectors, alias = 'qidian_rankings'): { sql: string; bindings: Knex.RawBinding[] } {
  const ids = idsOf(collectors);
  if (ids.length === 1) return { sql: `${alias}.owner_id = ?`, bindings: [ids[0]!] };
  const later =
    `SELECT 1 FROM qidian_rankings o WHERE o.owner_id = ANY(?) AND o.ranking = ${alias}.ranking AND o.day = ${alias}.day AND o.rank = ${alias}.rank ` +
    `AND (o.captured_at > ${alias}.captured_at OR (o.captured_at = ${alias}.captured_at AND o.owner_id < ${alias}.owner_id))`;
  return { sql: `${alias}.owner_id = ANY(?) AND NOT EXISTS (${later})`, bindings: [[...ids], [...ids]] };
}

function trackingsQuery(knex: Knex, userId: Collectors, since: Date) {
  return knex('qidian_trackings as t')
    .leftJoin('qidian_novels as n', function () {
      this.on('n.owner_id', '=', 't.user_id')
        .andOn('n.novel_id', '=', 't.novel_id')
        .andOn('n.last_captured_at', '>=', knex.raw('?', [since]));
    })
    .whereIn('t.user_id', idsOf(userId))
    .andWhere('t.status', 'tracking');
}

/** The current trackings of the owner (or of the members of a data scope), newest first, with the latest visible data of each novel (its tracker's). */
export async function listTrackings(knex: Knex, userId: Collectors, since: Date, page: PageRequest): Promise<Page<TrackingView>> {
  const [{ total }] = (await trackingsQuery(knex, userId, since).count({ total: '*' })) as [{ total: string }];
  const rows = await trackingsQuery(knex, userId, since)
    .select('t.*', 'n.title as novel_title', 'n.author', 'n.category', 'n.status as novel_status', 'n.word_count', 'n.chapters', 'n.last_captured_at')
    .orderBy([{ column: 't.created_at', order: 'desc' }, { column: 't.id' }])
    .offset(offsetOf(page))
    .limit(page.per_page);
  return pageOf(rows.map(toTracking), page, Number(total));
}

/** Whether the owner (or any of the collectors) tracks the novel now. */
export async function isTracked(knex: Knex, userId: Collectors, novelId: string): Promise<boolean> {
  return (await knex('qidian_trackings').whereIn('user_id', idsOf(userId)).andWhere({ novel_id: novelId, status: 'tracking' }).first('id')) !== undefined;
}

// ---------------------------------------------------------------- novel data

export interface SnapshotView {
  captured_at: string;
  day: string;
  title: string;
  author: string;
  category: string;
  status: string;
  word_count: number;
  chapters: number;
  clicks: number | null;
  recommendations: number | null;
  collections: number | null;
  monthly_tickets: number | null;
  last_updated_at: string | null;
}

function toSnapshot(row: Record<string, any>): SnapshotView {
  return {
    captured_at: iso(row.captured_at),
    day: row.day,
    title: row.title,
    author: row.author,
    category: row.category,
    status: row.status,
    word_count: num(row.word_count),
    chapters: num(row.chapters),
    clicks: numOrNull(row.clicks),
    recommendations: numOrNull(row.recommendations),
    collections: numOrNull(row.collections),
    monthly_tickets: numOrNull(row.monthly_tickets),
    last_updated_at: isoOrNull(row.last_updated_at),
  };
}

const SNAPSHOT_COLUMNS = [
  'captured_at',
  'title',
  'author',
  'category',
  'status',
  'word_count',
  'chapters',
  'clicks',
  'recommendations',
  'collections',
  'monthly_tickets',
  'last_updated_at',
];

/** The novel's visible snapshots of the collectors, as the table's rows: one per capture instant (several collectors may hold it). */
function snapshots(knex: Knex, collectors: Collectors, novelId: string, since: Date): Knex.QueryBuilder {
  const owners = idsOf(collectors);
  const rows = knex('qidian_novel_snapshots').whereIn('owner_id', owners).andWhere('novel_id', novelId).andWhere('captured_at', '>=', since);
  if (owners.length === 1) return rows;
  return knex.from(rows.select(knex.raw('DISTINCT ON (captured_at) *')).orderByRaw('captured_at, owner_id').as('qidian_novel_snapshots'));
}

export interface NovelData extends Page<SnapshotView> {
  novel_id: string;
  /** the latest visible snapshot (whatever the range asked for) */
  latest: SnapshotView | null;
}

/** The latest snapshot and a page of the history (newest first), `from`/`to` being Qidian days, both included. */
export async function novelData(
  knex: Knex,
  ownerId: Collectors,
  novelId: string,
  options: { since: Date; from?: string; to?: string; page: PageRequest },
): Promise<NovelData> {
  const latestRow = await snapshots(knex, ownerId, novelId, options.since)
    .orderBy('captured_at', 'desc')
    .first([...SNAPSHOT_COLUMNS, knex.raw(`${LOCAL_DAY} AS day`)]);
  const ranged = () => {
    const q = snapshots(knex, ownerId, novelId, options.since);
    if (options.from) q.andWhereRaw(`${LOCAL_DAY} >= ?`, [options.from]);
    if (options.to) q.andWhereRaw(`${LOCAL_DAY} <= ?`, [options.to]);
    return q;
  };
  const [{ total }] = (await ranged().count({ total: '*' })) as [{ total: string }];
  const rows = await ranged()
    .select([...SNAPSHOT_COLUMNS, knex.raw(`${LOCAL_DAY} AS day`)])
    .orderBy('captured_at', 'desc')
    .offset(offsetOf(options.page))
    .limit(options.page.per_page);
  return { novel_id: novelId, latest: latestRow ? toSnapshot(latestRow) : null, ...pageOf(rows.map(toSnapshot), options.page, Number(total)) };
}

/** Every snapshot of the range, oldest first, a page at a time (keyset on captured_at): for exports. */
export async function* snapshotPages(
  knex: Knex,
  ownerId: Collectors,
  novelId: string,
  options: { since: Date; from?: string; to?: string; pageSize?: number },
): AsyncIterable<SnapshotView[]> {
  let after: Date | null = null;
  for (;;) {
    const q = snapshots(knex, ownerId, novelId, options.since);
    if (options.from) q.andWhereRaw(`${LOCAL_DAY} >= ?`, [options.from]);
    if (options.to) q.andWhereRaw(`${LOCAL_DAY} <= ?`, [options.to]);
    if (after) q.andWhere('captured_at', '>', after);
    const rows: Record<string, any>[] = await q
      .select([...SNAPSHOT_COLUMNS, knex.raw(`${LOCAL_DAY} AS day`)])
      .orderBy('captured_at', 'asc')
      .limit(options.pageSize ?? 500);
    if (rows.length === 0) return;
    yield rows.map(toSnapshot);
    after = rows.at(-1)!.captured_at as Date;
  }
}

// ---------------------------------------------------------------- trends

const TREND_FIELDS = ['word_count', 'chapters', 'collections', 'monthly_tickets'] as const;
type TrendField = (typeof TREND_FIELDS)[number];
type Figures = Record<TrendField, number | null>;

export interface TrendPoint extends Figures {
  day: string;
  captured_at: string;
  /** against the previous captured day (which may lie before the range); null without one or without the figure */
  deltas: Figures;
}

export interface NovelTrends {
  novel_id: string;
  days: number;
  from: string;
  to: string;
  points: TrendPoint[];
  /** the last point against the first point's baseline: the range's growth */
  change: Figures;
}

function delta(now: number | null, before: number | null | undefined): number | null {
  return now === null || before === null || before === undefined ? null : now - before;
}

/**
 * Per Qidian day of the last `days` (today included), the day's last
 * snapshot and its deltas against the previous captured day. A day without
 * a capture has no point.
 */
export async function novelTrends(
  knex: Knex,
  ownerId: Collectors,
  novelId: string,
  options: { since: Date; days: number; today: string },
): Promise<NovelTrends> {
  const from = addDays(options.today, -(options.days - 1));
  const baselineFrom = addDays(from, -1);
  const owners = idsOf(ownerId);
  // the last capture of each day, the day before the range included (the first point's baseline)
  const rows = (
    await knex.raw(
      `SELECT DISTINCT ON (day) day, captured_at, word_count, chapters, collections, monthly_tickets
         FROM (SELECT ${LOCAL_DAY} AS day, * FROM qidian_novel_snapshots
                WHERE owner_id IN (${owners.map(() => '?').join(', ')}) AND novel_id = ? AND captured_at >= ?) s
        WHERE day BETWEEN ? AND ?
        ORDER BY day, captured_at DESC`,
      [...owners, novelId, options.since, baselineFrom, options.today],
    )
  ).rows as Record<string, any>[];
  const figures = (row: Record<string, any>): Figures => ({
    word_count: numOrNull(row.word_count),
    chapters: numOrNull(row.chapters),
    collections: numOrNull(row.collections),
    monthly_tickets: numOrNull(row.monthly_tickets),
  });
  const points: TrendPoint[] = [];
  let previous: Figures | undefined;
  let baseline: Figures | undefined;
  for (const row of rows) {
    const f = figures(row);
    if (row.day >= from) {
      if (points.length === 0) baseline = previous ?? f;
      const deltas = Object.fromEntries(TREND_FIELDS.map((k) => [k, delta(f[k], previous?.[k])])) as Figures;
      points.push({ day: row.day, captured_at: iso(row.captured_at), ...f, deltas });
    }
    previous = f;
  }
  const last = points.at(-1);
  const change = Object.fromEntries(TREND_FIELDS.map((k) => [k, last ? delta(last[k], baseline?.[k]) : null])) as Figures;
  return { novel_id: novelId, days: options.days, from, to: options.today, points, change };
}

// ---------------------------------------------------------------- rankings

export interface RankingEntryView {
  rank: number;
  novel_id: string;
  title: string;
  author: string;
  category: string;
  sub_category: string | null;
  status: string | null;
  score: number | null;
  score_label: string | null;
  captured_at: string;
}

function toEntry(row: Record<string, any>): RankingEntryView {
  return {
    rank: row.rank,
    novel_id: row.novel_id,
    title: row.title,
    author: row.author,
    category: row.category,
    sub_category: row.sub_category,
    status: row.status,
    score: numOrNull(row.score),
    score_label: row.score_label,
    captured_at: iso(row.captured_at),
  };
}

const ENTRY_COLUMNS = ['rank', 'novel_id', 'title', 'author', 'category', 'sub_category', 'status', 'score', 'score_label', 'captured_at'];

function rankingRows(knex: Knex, ownerId: Collectors, ranking: string, since: Date): Knex.QueryBuilder {
  return knex('qidian_rankings').whereIn('owner_id', idsOf(ownerId)).andWhere({ ranking }).andWhere('captured_at', '>=', since);
}

/** A day's capture of the ranking, one row per rank (several collectors: the one captured last), as the table's rows. */
function dayEntries(knex: Knex, ownerId: Collectors, ranking: string, since: Date, day: string): Knex.QueryBuilder {
  const rows = rankingRows(knex, ownerId, ranking, since).andWhere({ day });
  if (idsOf(ownerId).length === 1) return rows;
  return knex.from(rows.select(knex.raw('DISTINCT ON (rank) *')).orderByRaw('rank, captured_at DESC, owner_id').as('qidian_rankings'));
}

/** The latest visible day the collectors have a capture of the ranking. */
async function latestDay(knex: Knex, ownerId: Collectors, ranking: string, since: Date): Promise<string | null> {
  const row = (await rankingRows(knex, ownerId, ranking, since)
    .max({ day: knex.raw(`to_char(day, 'YYYY-MM-DD')`) })
    .first()) as { day: string | null } | undefined;
  return row?.day ?? null;
}

export interface RankingCapture {
  ranking: string;
  /** the Qidian day of the capture; null when there is none (visible) */
  day: string | null;
  entries: RankingEntryView[];
}

/** The latest capture of each ranking, its top `top` entries. */
export async function latestRankings(
  knex: Knex,
  ownerId: Collectors,
  rankings: readonly string[],
  options: { since: Date; top: number },
): Promise<RankingCapture[]> {
  const out: RankingCapture[] = [];
  for (const ranking of rankings) {
    const day = await latestDay(knex, ownerId, ranking, options.since);
    const rows = day ? await dayEntries(knex, ownerId, ranking, options.since, day).orderBy('rank').limit(options.top).select(ENTRY_COLUMNS) : [];
    out.push({ ranking, day, entries: rows.map(toEntry) });
  }
  return out;
}

export interface RankingPage extends Page<RankingEntryView> {
  ranking: string;
  day: string | null;
}

/** One ranking's capture of `day` (default: the latest), by rank. */
export async function rankingCapture(
  knex: Knex,
  ownerId: Collectors,
  ranking: string,
  options: { since: Date; day?: string; page: PageRequest },
): Promise<RankingPage> {
  const day = options.day ?? (await latestDay(knex, ownerId, ranking, options.since));
  if (!day) return { ranking, day: null, ...pageOf([], options.page, 0) };
  const [{ total }] = (await dayEntries(knex, ownerId, ranking, options.since, day).count({ total: '*' })) as [{ total: string }];
  const rows = await dayEntries(knex, ownerId, ranking, options.since, day)
    .orderBy('rank')
    .offset(offsetOf(options.page))
    .limit(options.page.per_page)
    .select(ENTRY_COLUMNS);
  return { ranking, day, ...pageOf(rows.map(toEntry), options.page, Number(total)) };
}

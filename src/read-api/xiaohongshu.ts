import type { Knex } from 'knex';
import { offsetOf, pageOf, type Page, type PageRequest } from './page.js';
import { addDays } from '../application/quota-day.js';
import { selectPage } from './page-query.js';

/**
 * Queries of the `xiaohongshu-content-v1` read model (xiaohongshu_contents,
 * xiaohongshu_content_history). Every query is scoped to its collectors
 * (the caller, or the members their data scope reaches) and to the caller's
 * retention: a note last collected before the cutoff, and a history row
 * collected before it, are not there. A note several collectors hold is
 * shown once, as the one who collected it last has it. Days (date filters,
 * trend buckets) are days in `timeZone` (config QUOTA_TIME_ZONE).
 */

export interface Scope {
  /** the caller: whose notes, unless ownerIds names more */
  ownerId: string;
  /** the collectors the caller's data scope reaches (an organization's members); default: ownerId alone */
  ownerIds?: readonly string[];
  /** retention: rows collected before this are hidden */
  cutoff: Date;
  timeZone: string;
}

export const CONTENT_TYPES = ['note', 'video'] as const;
export const CONTENT_SORTS = ['published_at', 'likes', 'comments', 'collects', 'collected_at'] as const;
export type ContentSortKey = (typeof CONTENT_SORTS)[number];
export type SortOrder = 'asc' | 'desc';

export interface ContentFilters {
  /** in the title or the text (case-insensitive substring) */
  keyword?: string;
  /** the author's id, or part of the nickname */
  author?: string;
  /** one topic tag, exactly */
  tag?: string;
  type?: (typeof CONTENT_TYPES)[number];
  /** YYYY-MM-DD (a day in timeZone, inclusive) or an ISO instant */
  published_from?: string;
  published_to?: string;
  min_likes?: number;
  /** collected (at least once) by this workflow */
  workflow_id?: string;
}

export interface ContentSort {
  sort: ContentSortKey;
  order: SortOrder;
}

/** Notes without a publish time sort as the oldest. The note id breaks ties, so the order is total (keyset pages). */
const SORT_EXPRESSIONS: { readonly [K in ContentSortKey]: string } = {
  published_at: "COALESCE(published_at, 'epoch'::timestamptz)",
  likes: 'like_count',
  comments: 'comment_count',
  collects: 'collect_count',
  collected_at: 'last_collected_at',
};

/** The SQL type of each sort value: keyset values travel as text, so timestamps keep their microseconds. */
const SORT_TYPES: { readonly [K in ContentSortKey]: string } = {
  published_at: 'timestamptz',
  likes: 'integer',
  comments: 'integer',
  collects: 'integer',
  collected_at: 'timestamptz',
};

export interface ContentView {
  /** the Xiaohongshu note id (24 hex): stable across read-model rebuilds */
  id: string;
  type: (typeof CONTENT_TYPES)[number];
  title: string;
  text: string;
  author_id: string;
  author_name: string;
  published_at: string | null;
  likes: number;
  comments: number;
  shares: number;
  collects: number;
  images: string[];
  tags: string[];
  location: string | null;
  url: string;
  workflow_ids: string[];
  times_collected: number;
  first_collected_at: string;
  last_collected_at: string;
}

export interface SnapshotView {
  execution_id: string;
  workflow_id: string;
  collected_at: string;
  likes: number;
  comments: number;
  shares: number;
  collects: number;
}

export interface ContentDetailView extends ContentView {
  /** the counts of each collection within retention, oldest first (the latest 100) */
  history: SnapshotView[];
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

const iso = (v: unknown): string => (v instanceof Date ? v : new Date(String(v))).toISOString();
const isoOrNull = (v: unknown): string | null => (v == null ? null : iso(v));
const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

export function contentView(r: Record<string, any>): ContentView {
  return {
    id: r.note_id,
    type: r.content_type,
    title: r.title,
    text: r.content,
    author_id: r.author_id,
    author_name: r.author_name,
    published_at: isoOrNull(r.published_at),
    likes: Number(r.like_count),
    comments: Number(r.comment_count),
    shares: Number(r.share_count),
    collects: Number(r.collect_count),
    images: (r.images ?? []) as string[],
    tags: (r.tags ?? []) as string[],
    location: r.location ?? null,
    url: r.url,
    workflow_ids: (r.workflow_ids ?? []) as string[],
    times_collected: Number(r.times_collected),
    first_collected_at: iso(r.first_collected_at),
    last_collected_at: iso(r.last_collected_at),
  };
}

/** Whose collections a scope reads. */
const collectorsOf = (scope: Scope): readonly string[] => (scope.ownerIds && scope.ownerIds.length > 0 ? scope.ownerIds : [scope.ownerId]);

/** The retained notes of the scope's collectors: one row per note (several collectors: the copy collected last), as the table's rows. */
function retained(knex: Knex, scope: Scope): Knex.QueryBuilder {
  const owners = collectorsOf(scope);
  if (owners.length === 1) return knex('xiaohongshu_contents').where('owner_id', owners[0]!).andWhere('last_collected_at', '>=', scope.cutoff);
  const latest = knex('xiaohongshu_contents')
    .select(knex.raw('DISTINCT ON (note_id) *'))
    .whereIn('owner_id', owners)
    .andWhere('last_collected_at', '>=', scope.cutoff)
    .orderByRaw('note_id, last_collected_at DESC, owner_id');
  return knex.from(latest.as('xiaohongshu_contents'));
}

/** The scope's retained notes matching the filters. */
function filtered(knex: Knex, scope: Scope, f: ContentFilters): Knex.QueryBuilder {
  const q = retained(knex, scope);
  if (f.keyword) {
    const like = `%${escapeLike(f.keyword)}%`;
    q.andWhere((w) => w.whereILike('title', like).orWhereILike('content', like));
  }
  if (f.author) {
    const author = f.author;
    q.andWhere((w) => w.where('author_id', author).orWhereILike('author_name', `%${escapeLike(author)}%`));
  }
  if (f.tag) q.andWhereRaw('? = ANY (tags)', [f.tag]);
  if (f.type) q.andWhere('content_type', f.type);
  if (f.min_likes !== undefined) q.andWhere('like_count', '>=', f.min_likes);
  if (f.workflow_id) q.andWhereRaw('? = ANY (workflow_ids)', [f.workflow_id]);
  if (f.published_from) {
    if (DAY.test(f.published_from)) q.andWhereRaw('published_at >= (?::date)::timestamp AT TIME ZONE ?', [f.published_from, scope.timeZone]);
    else q.andWhere('published_at', '>=', f.published_from);
  }
  if (f.published_to) {
    if (DAY.test(f.published_to)) q.andWhereRaw('published_at < (?::date + 1)::timestamp AT TIME ZONE ?', [f.published_to, scope.timeZone]);
    else q.andWhere('published_at', '<=', f.published_to);
  }
  return q;
}

function ordered(q: Knex.QueryBuilder, sort: ContentSort): Knex.QueryBuilder {
  const dir = sort.order === 'asc' ? 'ASC' : 'DESC';
  return q.orderByRaw(`${SORT_EXPRESSIONS[sort.sort]} ${dir}, note_id ${dir}`);
}

export async function listContents(knex: Knex, scope: Scope, filters: ContentFilters, sort: ContentSort, page: PageRequest): Promise<Page<ContentView>> {
  const [{ n }] = (await filtered(knex, scope, filters).count({ n: '*' })) as [{ n: string | number }];
  const rows = (await ordered(filtered(knex, scope, filters).select('*'), sort)
    .offset(offsetOf(page))
    .limit(page.per_page)) as Record<string, any>[];
  return pageOf(rows.map(contentView), page, Number(n));
}

/** One retained note of the owner by its note id, with its history; undefined for an unknown note or another owner's. */
export async function findContent(knex: Knex, scope: Scope, noteId: string): Promise<ContentDetailView | undefined> {
  const row = (await filtered(knex, scope, {}).andWhere('note_id', noteId).first()) as Record<string, any> | undefined;
  if (!row) return undefined;
  const history = (await knex('xiaohongshu_content_history')
    .whereIn('owner_id', collectorsOf(scope))
    .andWhere('note_id', noteId)
    .andWhere('collected_at', '>=', scope.cutoff)
    .orderBy([
      { column: 'collected_at', order: 'desc' },
      { column: 'execution_id', order: 'desc' },
    ])
    .limit(100)) as Record<string, any>[];
  return {
    ...contentView(row),
    history: history.reverse().map((h) => ({
      execution_id: h.execution_id,
      workflow_id: h.workflow_id,
      collected_at: iso(h.collected_at),
      likes: Number(h.like_count),
      comments: Number(h.comment_count),
      shares: Number(h.share_count),
      collects: Number(h.collect_count),
    })),
  };
}

/** Whether the owner has this note among their retained collected notes (what GET /contents/{id} would show). */
export async function hasContent(knex: Knex, scope: Scope, noteId: string): Promise<boolean> {
  const row = await filtered(knex, scope, {}).andWhere('note_id', noteId).first('note_id');
  return row !== undefined;
}

/**
 * Every matching note in the list's order, a page at a time, by keyset (the
 * last row's sort value and note id): each page is one short query, so an
 * export of any size holds neither the rows nor a connection.
 */
export async function* contentPages(knex: Knex, scope: Scope, filters: ContentFilters, sort: ContentSort, pageSize = 500): AsyncGenerator<ContentView[]> {
  const expression = SORT_EXPRESSIONS[sort.sort];
  let after: { key: string; noteId: string } | undefined;
  for (;;) {
    const q = filtered(knex, scope, filters).select('*', knex.raw(`(${expression})::text AS sort_key`));
    if (after) {
      q.andWhereRaw(`(${expression}, note_id) ${sort.order === 'asc' ? '>' : '<'} (CAST(? AS ${SORT_TYPES[sort.sort]}), ?)`, [after.key, after.noteId]);
    }
    const rows = (await ordered(q, sort).limit(pageSize)) as Record<string, any>[];
    if (rows.length === 0) return;
    const last = rows[rows.length - 1]!;
    after = { key: last.sort_key, noteId: last.note_id };
    yield rows.map(contentView);
    if (rows.length < pageSize) return;
  }
}

// ---------------------------------------------------------------- analytics

export interface OverviewRange {
  /** YYYY-MM-DD in timeZone: notes last collected on or after this day */
  from?: string;
  /** YYYY-MM-DD in timeZone, inclusive */
  to?: string;
}

export interface OverviewView {
  from: string | null;
  to: string | null;
  retention_days: number;
  totals: { notes: number; authors: number; likes: number; comments: number; shares: number; collects: number };
  averages: { likes: number; comments: number; shares: number; collects: number };
  by_type: { type: string; notes: number }[];
  top_authors: { author_id: string; author_name: string; notes: number; likes: number }[];
  top_tags: { tag: string; notes: number; likes: number }[];
}

const TOP = 10;
const round2 = (v: unknown) => Math.round(Number(v ?? 0) * 100) / 100;

/** Totals, averages, counts per type and the top authors and tags of the owner's retained notes (filters and range applied). */
export async function overview(knex: Knex, scope: Scope & { retentionDays: number }, filters: ContentFilters, range: OverviewRange): Promise<OverviewView> {
  const base = () => lastCollectedIn(filtered(knex, scope, filters), scope, range);
  const [totals] = (await base().select(
    knex.raw('count(*) AS notes'),
    knex.raw('count(DISTINCT author_id) AS authors'),
    knex.raw('COALESCE(sum(like_count), 0) AS likes'),
    knex.raw('COALESCE(sum(comment_count), 0) AS comments'),
    knex.raw('COALESCE(sum(share_count), 0) AS shares'),
    knex.raw('COALESCE(sum(collect_count), 0) AS collects'),
    knex.raw('COALESCE(avg(like_count), 0) AS avg_likes'),
    knex.raw('COALESCE(avg(comment_count), 0) AS avg_comments'),
    knex.raw('COALESCE(avg(share_count), 0) AS avg_shares'),
    knex.raw('COALESCE(avg(collect_count), 0) AS avg_collects'),
  )) as Record<string, any>[];
  const byType = (await base().select('content_type').count({ n: '*' }).groupBy('content_type').orderBy('content_type')) as Record<string, any>[];
  const authors = (await base()
    .select('author_id', knex.raw('max(author_name) AS author_name'), knex.raw('count(*) AS notes'), knex.raw('sum(like_count) AS likes'))
    .groupBy('author_id')
    .orderByRaw('count(*) DESC, sum(like_count) DESC, author_id')
    .limit(TOP)) as Record<string, any>[];
  const tags = (await knex
    .select('tag', knex.raw('count(*) AS notes'), knex.raw('sum(like_count) AS likes'))
    .from(base().select('like_count', knex.raw('unnest(tags) AS tag')).as('t'))
    .groupBy('tag')
    .orderByRaw('count(*) DESC, sum(like_count) DESC, tag')
    .limit(TOP)) as Record<string, any>[];
  const t = totals ?? {};
  return {
    from: range.from ?? null,
    to: range.to ?? null,
    retention_days: scope.retentionDays,
    totals: {
      notes: Number(t.notes ?? 0),
      authors: Number(t.authors ?? 0),
      likes: Number(t.likes ?? 0),
      comments: Number(t.comments ?? 0),
      shares: Number(t.shares ?? 0),
      collects: Number(t.collects ?? 0),
    },
    averages: { likes: round2(t.avg_likes), comments: round2(t.avg_comments), shares: round2(t.avg_shares), collects: round2(t.avg_collects) },
    by_type: byType.map((r) => ({ type: r.content_type, notes: Number(r.n) })),
    top_authors: authors.map((r) => ({ author_id: r.author_id, author_name: r.author_name, notes: Number(r.notes), likes: Number(r.likes) })),
    top_tags: tags.map((r) => ({ tag: r.tag, notes: Number(r.notes), likes: Number(r.likes) })),
  };
}

/** Only the notes last collected in the range (days in the scope's zone). */
function lastCollectedIn(q: Knex.QueryBuilder, scope: Scope, range: OverviewRange): Knex.QueryBuilder {
  if (range.from) q.andWhereRaw('last_collected_at >= (?::date)::timestamp AT TIME ZONE ?', [range.from, scope.timeZone]);
  if (range.to) q.andWhereRaw('last_collected_at < (?::date + 1)::timestamp AT TIME ZONE ?', [range.to, scope.timeZone]);
  return q;
}

/** The `limit` notes with the most likes (then comments, then note id) among those the overview counts over the range. */
export async function topContents(knex: Knex, scope: Scope, range: OverviewRange, limit: number): Promise<ContentView[]> {
  const rows = (await lastCollectedIn(filtered(knex, scope, {}), scope, range)
    .select('*')
    .orderByRaw('like_count DESC, comment_count DESC, note_id ASC')
    .limit(limit)) as Record<string, any>[];
  return rows.map(contentView);
}

export interface TrendDay {
  day: string;
  /** distinct notes collected that day */
  notes_collected: number;
  /** notes collected that day for the first time */
  new_notes: number;
  /** sums over the notes collected that day, each at its last collection of the day */
  likes: number;
  comments: number;
  shares: number;
  collects: number;
}

export interface TrendsView {
  days: number;
  from: string;
  to: string;
  time_zone: string;
  retention_days: number;
  series: TrendDay[];
}

/** Per day of the last `days` days (today included, zero-filled), from the collection history within retention. */
export async function trends(knex: Knex, scope: Scope & { retentionDays: number }, options: { days: number; today: string }): Promise<TrendsView> {
  const from = addDays(options.today, -(options.days - 1));
  const tz = scope.timeZone;
  const startRows = (await knex.raw('SELECT GREATEST((?::date)::timestamp AT TIME ZONE ?, ?::timestamptz) AS start', [from, tz, scope.cutoff])) as {
    rows: { start: Date }[];
  };
  const start = startRows.rows[0]!.start;
  const owners = collectorsOf(scope);
  const ownerList = owners.map(() => '?').join(', ');
  const collected = (await knex.raw(
    `SELECT day, count(*) AS notes, sum(like_count) AS likes, sum(comment_count) AS comments, sum(share_count) AS shares, sum(collect_count) AS collects
       FROM (SELECT DISTINCT ON (note_id, day) note_id, to_char(collected_at AT TIME ZONE ?, 'YYYY-MM-DD') AS day,
                    like_count, comment_count, share_count, collect_count
               FROM xiaohongshu_content_history
              WHERE owner_id IN (${ownerList}) AND collected_at >= ?
              ORDER BY note_id, day, collected_at DESC) latest
      GROUP BY day`,
    [tz, ...owners, start],
  )) as { rows: Record<string, any>[] };
  // a note is new on the day its first collector first collected it
  const fresh = (await knex.raw(
    `SELECT to_char(first_at AT TIME ZONE ?, 'YYYY-MM-DD') AS day, count(*) AS n
       FROM (SELECT note_id, min(first_collected_at) AS first_at FROM xiaohongshu_contents
              WHERE owner_id IN (${ownerList}) AND last_collected_at >= ? GROUP BY note_id) f
      WHERE first_at >= ?
      GROUP BY 1`,
    [tz, ...owners, scope.cutoff, start],
  )) as { rows: Record<string, any>[] };
  const byDay = new Map(collected.rows.map((r) => [r.day as string, r]));
  const newByDay = new Map(fresh.rows.map((r) => [r.day as string, Number(r.n)]));
  const series: TrendDay[] = [];
  for (let day = from; day <= options.today; day = addDays(day, 1)) {
    const r = byDay.get(day);
    series.push({
      day,
      notes_collected: r ? Number(r.notes) : 0,
      new_notes: newByDay.get(day) ?? 0,
      likes: r ? Number(r.likes) : 0,
      comments: r ? Number(r.comments) : 0,
      shares: r ? Number(r.shares) : 0,
      collects: r ? Number(r.collects) : 0,
    });
  }
  return { days: options.days, from, to: options.today, time_zone: tz, retention_days: scope.retentionDays, series };
}

// ---------------------------------------------------------------- private messages

/**
 * Collected private messages (xiaohongshu_messages): one row per (owner,
 * conversation, message), within retention by the time they were collected
 * (what the retention job deletes by). A conversation is known by its
 * messages: its peer is the one the collector saw in the conversation list
 * (messages collected before that was recorded: the sender of its latest
 * received message).
 */

export interface MessageFilters {
  /** one conversation, by its platform id */
  conversation_id?: string;
  /** the conversations with this peer (the peer's platform user id) */
  peer_id?: string;
  /** collected through this platform account */
  platform_account_id?: string;
  direction?: 'sent' | 'received';
}

export interface MessageView {
  /** the platform's message id (unique within its conversation) */
  id: string;
  conversation_id: string;
  direction: 'sent' | 'received';
  message_type: string;
  text: string;
  from_id: string;
  from_nickname: string | null;
  peer_id: string | null;
  peer_nickname: string | null;
  sent_at: string;
  platform_account_id: string | null;
  collected_at: string;
}

export interface ConversationView {
  /** the platform's conversation id */
  id: string;
  peer_id: string | null;
  peer_nickname: string | null;
  /** the account of its latest collected message */
  platform_account_id: string | null;
  last_message_text: string;
  last_message_type: string;
  last_message_direction: 'sent' | 'received';
  last_message_at: string;
  first_message_at: string;
  message_count: number;
  received_count: number;
  sent_count: number;
}

const MESSAGE_COLUMNS = [
  'message_id',
  'conversation_id',
  'direction',
  'message_type',
  'content',
  'from_user_id',
  'from_nickname',
  'peer_user_id',
  'peer_nickname',
  'sent_at',
  'platform_account_id',
  'collected_at',
];

/** The owner's retained messages, by account when asked. */
function messagesOf(knex: Knex, scope: Scope, platformAccountId: string | undefined): Knex.QueryBuilder {
  const q = knex('xiaohongshu_messages').whereIn('owner_id', collectorsOf(scope)).andWhere('collected_at', '>=', scope.cutoff);
  if (platformAccountId) q.andWhere('platform_account_id', platformAccountId);
  return q;
}

function messageView(r: Record<string, any>): MessageView {
  return {
    id: r.message_id,
    conversation_id: r.conversation_id,
    direction: r.direction,
    message_type: r.message_type,
    text: r.content,
    from_id: r.from_user_id,
    from_nickname: r.from_nickname ?? null,
    peer_id: r.peer_user_id ?? null,
    peer_nickname: r.peer_nickname ?? null,
    sent_at: iso(r.sent_at),
    platform_account_id: r.platform_account_id ?? null,
    collected_at: iso(r.collected_at),
  };
}

/** The owner's retained messages matching the filters, newest first (by the time sent). */
export async function listMessages(knex: Knex, scope: Scope, f: MessageFilters, page: PageRequest): Promise<Page<MessageView>> {
  const q = messagesOf(knex, scope, f.platform_account_id);
  if (f.conversation_id) q.andWhere('conversation_id', f.conversation_id);
  if (f.direction) q.andWhere('direction', f.direction);
  if (f.peer_id) {
    const peer = f.peer_id;
    q.whereIn(
      'conversation_id',
      knex('xiaohongshu_messages')
        .select('conversation_id')
        .whereIn('owner_id', collectorsOf(scope))
        .andWhere((w) => w.where('peer_user_id', peer).orWhere((r) => r.where('direction', 'received').andWhere('from_user_id', peer))),
    );
  }
  const ordered = q.select(MESSAGE_COLUMNS).orderBy([
    { column: 'sent_at', order: 'desc' },
    { column: 'conversation_id', order: 'desc' },
    { column: 'message_id', order: 'desc' },
  ]);
  const { rows, total } = await selectPage<Record<string, any>>(knex, ordered, page);
  return pageOf(rows.map(messageView), page, total);
}

const LATEST_FIRST = 'ORDER BY sent_at DESC, message_id DESC';

/**
 * The owner's conversations, one row per conversation of their retained
 * messages (by account when asked), the latest message first. Folded from the
 * messages at query time: each count is of the messages within retention.
 */
export async function listConversations(knex: Knex, scope: Scope, f: { platform_account_id?: string }, page: PageRequest): Promise<Page<ConversationView>> {
  const grouped = messagesOf(knex, scope, f.platform_account_id)
    .select(
      'conversation_id',
      knex.raw('count(*)::int AS message_count'),
      knex.raw("(count(*) FILTER (WHERE direction = 'received'))::int AS received_count"),
      knex.raw("(count(*) FILTER (WHERE direction = 'sent'))::int AS sent_count"),
      knex.raw('max(sent_at) AS last_message_at'),
      knex.raw('min(sent_at) AS first_message_at'),
      knex.raw(`(array_agg(content ${LATEST_FIRST}))[1] AS last_message_text`),
      knex.raw(`(array_agg(message_type ${LATEST_FIRST}))[1] AS last_message_type`),
      knex.raw(`(array_agg(direction ${LATEST_FIRST}))[1] AS last_message_direction`),
      knex.raw(`(array_agg(platform_account_id ${LATEST_FIRST}))[1] AS platform_account_id`),
      knex.raw(`(array_agg(peer_user_id ${LATEST_FIRST}) FILTER (WHERE peer_user_id IS NOT NULL))[1] AS peer_user_id`),
      knex.raw(`(array_agg(peer_nickname ${LATEST_FIRST}) FILTER (WHERE peer_nickname IS NOT NULL))[1] AS peer_nickname`),
      knex.raw(`(array_agg(from_user_id ${LATEST_FIRST}) FILTER (WHERE direction = 'received'))[1] AS received_from_id`),
      knex.raw(`(array_agg(from_nickname ${LATEST_FIRST}) FILTER (WHERE direction = 'received' AND from_nickname IS NOT NULL))[1] AS received_from_nickname`),
    )
    .groupBy('conversation_id');
  const ordered = knex
    .from(grouped.as('c'))
    .select(
      'conversation_id',
      'message_count',
      'received_count',
      'sent_count',
      'last_message_at',
      'first_message_at',
      'last_message_text',
      'last_message_type',
      'last_message_direction',
      'platform_account_id',
      'peer_user_id',
      'peer_nickname',
      'received_from_id',
      'received_from_nickname',
    )
    .orderBy([
      { column: 'last_message_at', order: 'desc' },
      { column: 'conversation_id', order: 'desc' },
    ]);
  const { rows, total } = await selectPage<Record<string, any>>(knex, ordered, page);
  return pageOf(
    rows.map((r) => ({
      id: r.conversation_id,
      peer_id: r.peer_user_id ?? r.received_from_id ?? null,
      peer_nickname: r.peer_nickname ?? r.received_from_nickname ?? null,
      platform_account_id: r.platform_account_id ?? null,
      last_message_text: r.last_message_text,
      last_message_type: r.last_message_type,
      last_message_direction: r.last_message_direction,
      last_message_at: iso(r.last_message_at),
      first_message_at: iso(r.first_message_at),
      message_count: Number(r.message_count),
      received_count: Number(r.received_count),
      sent_count: Number(r.sent_count),
    })),
    page,
    total,
  );
}

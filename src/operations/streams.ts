import { EVENT_COLUMNS, likePrefix, toRecordedEvent, type EventRow } from '../adapters/event-store/postgres/rows.js';
import type { Knex } from 'knex';
import type { EventFilter, RecordedEvent } from '../event-store/port.js';
import { formatPosition, parsePosition, START, type Position } from '../event-store/position.js';
import { aggregateFor, categoryOf } from './aggregates.js';
import type { EventView, OpsDeps } from './types.js';

/**
 * Streams and events as operators see them: the CLI's `streams …` and
 * `events …`, the console's stream browser and correlation timeline.
 *
 * On the Postgres store the listings and searches are SQL on es_events /
 * es_streams (the store's own tables, in deps.knex's database); on
 * EventStoreDB they scan $all with readAll (and the store's type / prefix
 * filters) and filter the rest here: correct, but a full scan — there is no
 * server-side metadata index to use.
 *
 * Secrets never leave: password, token, code and API key secret hashes and
 * sealed secrets (credentials, TOTP secrets, OAuth tokens) in event data and
 * folded state are shown as "[redacted]" (the read models never project
 * them either).
 */

const REDACTED = '[redacted]';
/**
 * Hashes of what proves an identity (passwords, session / reset / verify
 * tokens, API key secrets, one-time and recovery codes; a recovery code's
 * `hash` in the user's state) and credentials. Reservation keys (emailHash,
 * usernameHash) are not secrets: they name streams.
 */
const SECRET_KEY = /^(credentials|hash|.*(password|token|code|secret)Hash(es)?)$/i;
const SEALED_BOX_KEYS = ['ciphertext', 'iv', 'keyId', 'tag'];

/** A sealed secret (core/sealed-secret.ts) under any key: a TOTP secret, OAuth tokens, an SMS text. */
function isSealedBox(value: object): boolean {
  const keys = Object.keys(value).sort();
  return keys.length === SEALED_BOX_KEYS.length && keys.every((k, i) => k === SEALED_BOX_KEYS[i]);
}

/** JSON-safe and secret-free: Sets → arrays, Maps → objects, bigints → text, secret keys and sealed boxes redacted. */
export function toPlain(value: unknown): unknown {
  if (value === null || value === undefined) return value ?? null;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Set) return [...value].map(toPlain);
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toPlain(v)]));
  if (Array.isArray(value)) return value.map(toPlain);
  if (typeof value === 'object') {
    if (isSealedBox(value)) return REDACTED;
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, SECRET_KEY.test(k) && v !== null ? REDACTED : toPlain(v)]));
  }
  return value;
}

export function toEventView(event: RecordedEvent): EventView {
  return {
    id: event.id,
    stream: event.streamName,
    revision: event.revision.toString(),
    position: formatPosition(event.position),
    type: event.type,
    created: event.created.toISOString(),
    data: toPlain(event.data),
    metadata: { ...event.metadata } as Record<string, unknown>,
  };
}

const isPostgres = (deps: OpsDeps) => deps.store.kind === 'postgres';

/** Every event of $all (store-internal `$` types excepted) in pages: the EventStoreDB fallback of the listings. */
async function* scanAll(deps: OpsDeps, filter?: EventFilter, pageSize = 1000): AsyncGenerator<RecordedEvent> {
  let from: Position = START;
  for (;;) {
    const page = await deps.store.readAll({ fromPosition: from, maxCount: pageSize, ...(filter ? { filter } : {}) });
    for (const event of page) yield event;
    if (page.length < pageSize) return;
    from = page.at(-1)!.position;
  }
}

export async function listCategories(deps: OpsDeps): Promise<{ category: string; streams: number; events: number; lastEventAt: string | null }[]> {
  if (isPostgres(deps)) {
    const { rows } = await deps.knex.raw<{ rows: { category: string; streams: string; events: string; last_ms: number | null }[] }>(
      `SELECT split_part(e.stream_name, '-', 1) AS category, count(DISTINCT e.stream_name)::text AS streams, count(*)::text AS events,
              (extract(epoch FROM max(e.created_at)) * 1000)::float8 AS last_ms
         FROM es_events e
        WHERE e.event_type NOT LIKE '$%'
          AND NOT EXISTS (SELECT 1 FROM es_streams s WHERE s.stream_name = e.stream_name AND s.deleted)
        GROUP BY 1 ORDER BY 1`,
    );
    return rows.map((r) => ({
      category: r.category,
      streams: Number(r.streams),
      events: Number(r.events),
      lastEventAt: r.last_ms === null ? null : new Date(r.last_ms).toISOString(),
    }));
  }
  // EventStoreDB: one scan of $all (deleted streams' events included: $all keeps them)
  const stats = new Map<string, { streams: Set<string>; events: number; last: Date | null }>();
  for await (const event of scanAll(deps)) {
    const category = categoryOf(event.streamName);
    const s = stats.get(category) ?? { streams: new Set<string>(), events: 0, last: null };
    s.streams.add(event.streamName);
    s.events += 1;
    if (!s.last || event.created > s.last) s.last = event.created;
    stats.set(category, s);
  }
  return [...stats]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([category, s]) => ({ category, streams: s.streams.size, events: s.events, lastEventAt: s.last?.toISOString() ?? null }));
}

export async function listStreams(
  deps: OpsDeps,
  options: { category?: string; prefix?: string; page: number; perPage: number },
): Promise<{ items: { stream: string; revision: string; events: number; lastEventAt: string }[]; total: number }> {
  const page = Math.max(1, Math.floor(options.page));
  const perPage = Math.min(1000, Math.max(1, Math.floor(options.perPage)));
  const prefixes = [options.category !== undefined ? `${options.category}-` : undefined, options.prefix].filter((p): p is string => p !== undefined);
  if (isPostgres(deps)) {
    const conditions = [`e.event_type NOT LIKE '$%'`, 'NOT EXISTS (SELECT 1 FROM es_streams s WHERE s.stream_name = e.stream_name AND s.deleted)'];
    const bindings: Knex.RawBinding[] = [];
    for (const prefix of prefixes) {
      conditions.push(`e.stream_name LIKE ?`);
      bindings.push(likePrefix(prefix));
    }
    const { rows } = await deps.knex.raw<{ rows: { stream_name: string; revision: string; events: string; last_ms: number; total: string }[] }>(
      `SELECT stream_name, revision, events, last_ms, count(*) OVER ()::text AS total FROM (
         SELECT e.stream_name, max(e.stream_revision)::text AS revision, count(*)::text AS events,
                (extract(epoch FROM max(e.created_at)) * 1000)::float8 AS last_ms
           FROM es_events e WHERE ${conditions.join(' AND ')}
          GROUP BY e.stream_name) s
        ORDER BY last_ms DESC, stream_name
        LIMIT ? OFFSET ?`,
      [...bindings, perPage, (page - 1) * perPage],
    );
    let total = rows[0] ? Number(rows[0].total) : 0;
    if (rows.length === 0 && page > 1) {
      const counted = await deps.knex.raw<{ rows: { n: string }[] }>(
        `SELECT count(DISTINCT e.stream_name)::text AS n FROM es_events e WHERE ${conditions.join(' AND ')}`,
        bindings,
      );
      total = Number(counted.rows[0]?.n ?? 0);
    }
    return {
      items: rows.map((r) => ({ stream: r.stream_name, revision: r.revision, events: Number(r.events), lastEventAt: new Date(r.last_ms).toISOString() })),
      total,
    };
  }
  const streams = new Map<string, { revision: bigint; events: number; last: Date }>();
  const filter = prefixes.length > 0 ? { streamPrefixes: [prefixes.reduce((a, b) => (a.length >= b.length ? a : b))] } : undefined;
  for await (const event of scanAll(deps, filter)) {
    if (!prefixes.every((p) => event.streamName.startsWith(p))) continue;
    const s = streams.get(event.streamName) ?? { revision: -1n, events: 0, last: event.created };
    if (event.revision > s.revision) s.revision = event.revision;
    s.events += 1;
    if (event.created > s.last) s.last = event.created;
    streams.set(event.streamName, s);
  }
  const all = [...streams].sort(([a, x], [b, y]) => y.last.getTime() - x.last.getTime() || a.localeCompare(b));
  return {
    items: all
      .slice((page - 1) * perPage, page * perPage)
      .map(([stream, s]) => ({ stream, revision: s.revision.toString(), events: s.events, lastEventAt: s.last.toISOString() })),
    total: all.length,
  };
}

/** A stream's events in order (throws StreamNotFoundError when it does not exist or was deleted). */
export async function streamEvents(deps: OpsDeps, stream: string, options: { fromRevision?: bigint; limit?: number } = {}): Promise<EventView[]> {
  const events = await deps.store.readStream(stream, {
    direction: 'forwards',
    ...(options.fromRevision !== undefined ? { fromRevision: options.fromRevision } : {}),
    ...(options.limit !== undefined ? { maxCount: options.limit } : {}),
  });
  return events.map(toEventView);
}

/**
 * The aggregate's state: revisions 0..atRevision (default: the newest)
 * decoded by its codec and folded with its decider's `evolve` (never a
 * snapshot: this is how one is checked), and the event at that revision.
 * Throws StreamNotFoundError for a missing stream, RangeError for a revision
 * the stream does not have.
 */
export async function streamStateAt(
  deps: OpsDeps,
  stream: string,
  atRevision?: bigint,
): Promise<{ stream: string; aggregate: string | null; revision: string; state: unknown; event: EventView | null; events: number }> {
  if (atRevision !== undefined && atRevision < 0n) throw new RangeError(`revision must be 0 or more, not ${atRevision}`);
  const recorded = await deps.store.readStream(stream, {
    direction: 'forwards',
    // capped: a revision near 2^63 would overflow the store's bigint limit (the range check below answers it)
    ...(atRevision !== undefined ? { maxCount: Math.min(Number(atRevision) + 1, Number.MAX_SAFE_INTEGER) } : {}),
  });
  const last = recorded.at(-1);
  if (!last) throw new RangeError(`stream ${stream} has no events to read`);
  if (atRevision !== undefined && last.revision < atRevision) {
    throw new RangeError(`stream ${stream} has revisions ${recorded[0]!.revision}..${last.revision}, not ${atRevision}`);
  }
  const upTo = recorded.filter((e) => atRevision === undefined || e.revision <= atRevision);
  const at = upTo.at(-1)!;
  const aggregate = aggregateFor(stream);
  const state = aggregate ? toPlain(aggregate.stateAfter(upTo)) : null;
  return { stream, aggregate: aggregate?.aggregate ?? null, revision: at.revision.toString(), state, event: toEventView(at), events: upTo.length };
}

export interface EventQuery {
  correlationId?: string;
  /** who (metadata.userId) or whom it concerns (data.userId / data.ownerId) */
  userId?: string;
  types?: string[];
  streamPrefix?: string;
  /** ISO-8601, inclusive */
  from?: string;
  /** ISO-8601, exclusive */
  to?: string;
  limit?: number;
}

function parseTime(text: string | undefined, what: string): Date | undefined {
  if (text === undefined || text === '') return undefined;
  const time = new Date(text);
  if (Number.isNaN(time.getTime())) throw new RangeError(`${what}: not a time: "${text}" (ISO-8601, e.g. 2026-01-31 or 2026-01-31T08:00:00Z)`);
  return time;
}

function concerns(event: RecordedEvent, userId: string): boolean {
  if (event.metadata.userId === userId) return true;
  // any stream's event, decodable or not: only the two id fields are looked at
  const data: unknown = event.data;
  if (typeof data !== 'object' || data === null) return false;
  return ('userId' in data && data.userId === userId) || ('ownerId' in data && data.ownerId === userId);
}

/**
 * Matching events in $all order, in pages of `pageSize`, from after `after`
 * (a position) on: the engine of searchEvents, correlationTimeline and the
 * audit export (which streams every page). On Postgres only below the
 * delivery horizon, as readAll reads forwards: the next page follows on from
 * the last position, and an append still in flight (a lower transaction id,
 * committed later) would otherwise be left behind a page already read, a
 * hole in an export or in a caller's paging.
 */
export async function* searchEventPages(deps: OpsDeps, query: EventQuery, options: { pageSize?: number; after?: Position } = {}): AsyncGenerator<EventView[]> {
  const pageSize = options.pageSize ?? 500;
  const from = parseTime(query.from, 'from');
  const to = parseTime(query.to, 'to');
  const types = query.types?.filter((t) => t !== '') ?? [];
  let after = options.after ?? START;
  if (isPostgres(deps)) {
    for (;;) {
      const conditions = [
        '(transaction_id, global_position) > (?::text::xid8, ?::bigint)',
        'transaction_id < (SELECT es_horizon())',
        `event_type NOT LIKE '$%'`,
      ];
      const bindings: Knex.RawBinding[] = [after.commit.toString(), after.prepare.toString()];
      if (query.correlationId !== undefined) {
        conditions.push(`metadata->>'$correlationId' = ?`);
        bindings.push(query.correlationId);
      }
      if (query.userId !== undefined) {
        conditions.push(`(metadata->>'userId' = ? OR data->>'userId' = ? OR data->>'ownerId' = ?)`);
        bindings.push(query.userId, query.userId, query.userId);
      }
      if (types.length > 0) {
        conditions.push('event_type = ANY(?::text[])');
        bindings.push(types);
      }
      if (query.streamPrefix) {
        conditions.push(`stream_name LIKE ?`);
        bindings.push(likePrefix(query.streamPrefix));
      }
      if (from) {
        conditions.push('created_at >= ?');
        bindings.push(from.toISOString());
      }
      if (to) {
        conditions.push('created_at < ?');
        bindings.push(to.toISOString());
      }
      const { rows } = await deps.knex.raw<{ rows: EventRow[] }>(
        `SELECT ${EVENT_COLUMNS} FROM es_events WHERE ${conditions.join(' AND ')} ORDER BY transaction_id, global_position LIMIT ?`,
        [...bindings, pageSize],
      );
      const events = rows.map(toRecordedEvent);
      if (events.length > 0) yield events.map(toEventView);
      if (events.length < pageSize) return;
      after = events.at(-1)!.position;
    }
  }
  // EventStoreDB: $all with the store's filters, the rest checked here
  const filter: EventFilter = { ...(types.length ? { eventTypes: types } : {}), ...(query.streamPrefix ? { streamPrefixes: [query.streamPrefix] } : {}) };
  let page: EventView[] = [];
  for (;;) {
    const batch = await deps.store.readAll({ fromPosition: after, maxCount: 1000, filter });
    for (const event of batch) {
      if (query.correlationId !== undefined && event.metadata.$correlationId !== query.correlationId) continue;
      if (query.userId !== undefined && !concerns(event, query.userId)) continue;
      if (from && event.created < from) continue;
      if (to && event.created >= to) continue;
      page.push(toEventView(event));
      if (page.length >= pageSize) {
        yield page;
        page = [];
      }
    }
    if (batch.length < 1000) break;
    after = batch.at(-1)!.position;
  }
  if (page.length > 0) yield page;
}

/** Events matching every given criterion, in $all order; at most `limit` (default 1000). */
export async function searchEvents(deps: OpsDeps, query: EventQuery): Promise<EventView[]> {
  const limit = query.limit ?? 1000;
  const out: EventView[] = [];
  for await (const page of searchEventPages(deps, query, { pageSize: Math.min(limit, 1000) })) {
    out.push(...page.slice(0, limit - out.length));
    if (out.length >= limit) break;
  }
  return out;
}

/**
 * The events with that $correlationId, in $all order: one request and every
 * reaction to it, across aggregates. From after `after` (default the start),
 * at most `limit` (default all of them). Pages follow on from their last
 * event's position without gaps or repeats (the stable history only, on
 * Postgres); one shorter than `limit` is the end for now.
 */
export async function correlationTimeline(deps: OpsDeps, correlationId: string, options: { after?: Position; limit?: number } = {}): Promise<EventView[]> {
  const { limit } = options;
  const out: EventView[] = [];
  const pages = searchEventPages(deps, { correlationId }, { pageSize: Math.min(limit ?? 1000, 1000), ...(options.after ? { after: options.after } : {}) });
  for await (const page of pages) {
    out.push(...(limit === undefined ? page : page.slice(0, limit - out.length)));
    if (limit !== undefined && out.length >= limit) break;
  }
  return out;
}

/**
 * Events as they are written (fromEnd, the default), from the start of
 * $all, or after a given position, filtered; live until the consumer stops iterating (break / return),
 * which closes the subscription.
 */
export function tailEvents(
  deps: OpsDeps,
  options: { types?: string[]; streamPrefix?: string; fromEnd?: boolean /** a position (exclusive): overrides fromEnd */; from?: string },
): AsyncIterable<EventView> {
  const filter: EventFilter = {
    ...(options.types?.length ? { eventTypes: options.types } : {}),
    ...(options.streamPrefix ? { streamPrefixes: [options.streamPrefix] } : {}),
  };
  return {
    async *[Symbol.asyncIterator]() {
      const fromPosition = options.from !== undefined ? parsePosition(options.from) : options.fromEnd === false ? 'start' : 'end';
      const subscription = deps.store.subscribeToAll({ fromPosition, filter, batchSize: 200 });
      try {
        for await (const batch of subscription) for (const event of batch.events) yield toEventView(event);
      } finally {
        await subscription.close();
      }
    },
  };
}

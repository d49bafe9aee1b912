import type pg from 'pg';
import type { EventFilter, RecordedEvent } from '../../../event-store/port.js';
import type { Position } from '../../../event-store/position.js';
import { EVENT_COLUMNS, eventColumns, likePrefix, toRecordedEvent, type EventRow } from './rows.js';

/**
 * Reads a filtered slice of $all in large batches for a replay (a projection
 * rebuild): only the events the filter wants, found straight off the index
 * es_events_category_type (stream category, event type, position), never by
 * scanning the events in between.
 *
 * The (category, type) pairs present in the log are found first by a skip
 * scan of that index (one probe per pair); the filter keeps those it can
 * match. A batch is then one ordered index range per kept pair, merged in
 * global order (Merge Append) and cut at `batchSize`: the first `batchSize`
 * wanted events after the position, each range reading at most that many.
 *
 * As every reader of $all, it reads only below the oldest appending
 * transaction in flight (es_horizon()), where the log can no longer gain an event. A
 * batch that is not full reached that horizon: its checkpoint is the newest
 * event below it, so a replay whose filter matched nothing still moves on.
 * Pairs found at one horizon are complete below it; a read past it finds
 * them again.
 */

/** The category of a stream as the index holds it: the name up to its first dash. */
const CATEGORY = `split_part(stream_name, '-', 1)`;

export interface CatchUpBatch {
  /** the wanted events after the position, in global order */
  events: RecordedEvent[];
  /** resume from here: the last event's position, or the horizon when the batch is not full */
  checkpoint: Position;
  /** fewer than batchSize: the reader is at the horizon */
  reachedHorizon: boolean;
}

interface Pair {
  category: string;
  type: string;
}

export class PostgresCatchUpReader {
  private readonly types: ReadonlySet<string> | undefined;
  private readonly prefixes: readonly string[];
  private pairs: Pair[] | undefined;
  private pairsHorizon: bigint | undefined;

  private readonly configured = new WeakSet<pg.PoolClient>();

  /**
   * @param dataOf per event type, an expression over `data` to read instead
   *   of the whole (Consumer.rebuildData)
   */
  constructor(
    private readonly pool: Pick<pg.Pool, 'connect'>,
    filter: EventFilter | undefined,
    private readonly batchSize: number,
    private readonly dataOf: Readonly<Record<string, string>> = {},
  ) {
    this.types = filter?.eventTypes?.length ? new Set(filter.eventTypes) : undefined;
    this.prefixes = filter?.streamPrefixes ?? [];
  }

  /** Whether the reader uses the index at all: without a filter it reads the log in primary-key order. */
  get filtered(): boolean {
    return this.types !== undefined || this.prefixes.length > 0;
  }

  /** The next batch after `after`. */
  async read(after: Position): Promise<CatchUpBatch> {
    const { rows } = await this.query<EventRow & { horizon: boolean }>(await this.batchQuery(after));
    const events: RecordedEvent[] = [];
    let horizon: Position | undefined;
    for (const row of rows) {
      if (row.horizon) horizon = { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) };
      else events.push(toRecordedEvent(row));
    }
    events.sort(byPosition);
    const full = events.length >= this.batchSize;
    if (!full) this.pairs = undefined; // at the horizon: the next read looks for new pairs
    const last = events.at(-1)?.position;
    const checkpoint = full ? last! : horizon && !isBefore(horizon, after) ? horizon : after;
    return { events, checkpoint, reachedHorizon: !full };
  }

  /** EXPLAIN (ANALYZE) of the batch query after `after`, as Postgres prints it: what a batch reads. */
  async explain(after: Position): Promise<unknown> {
    const query = await this.batchQuery(after);
    const { rows } = await this.query<{ 'QUERY PLAN': unknown }>({ text: `EXPLAIN (ANALYZE, FORMAT JSON) ${query.text}`, values: query.values });
    return rows[0]!['QUERY PLAN'];
  }

  private async batchQuery(after: Position): Promise<{ text: string; values: unknown[] }> {
    const values: unknown[] = [after.commit.toString(), after.prepare.toString(), this.batchSize];
    let ranges: string;
    if (!this.filtered) {
      ranges = `SELECT ${EVENT_COLUMNS}, transaction_id AS t, global_position AS g FROM es_events
                 WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint) AND transaction_id < (SELECT x FROM b)
                 ORDER BY transaction_id, global_position LIMIT $3`;
    } else {
      const { pairs, horizon } = await this.wantedPairs();
      values.push(horizon.toString());
      const residual = this.prefixes.length > 0 ? `AND stream_name LIKE ANY($${values.push(this.prefixes.map(likePrefix))}::text[])` : '';
      // a pair found at the horizon of its discovery is complete only below it
      const bound = `transaction_id < least((SELECT x FROM b), $4::text::xid8)`;
      ranges =
        pairs.length === 0
          ? // no pair wanted yet: nothing to read, but every parameter is still named (Postgres must know their types)
            `SELECT ${EVENT_COLUMNS}, transaction_id AS t, global_position AS g FROM es_events WHERE false AND (transaction_id, global_position) > ($1::text::xid8, $2::bigint) ${residual}`
          : pairs
              .map(
                (
                  p,
                ) => `(SELECT ${eventColumns(Object.hasOwn(this.dataOf, p.type) ? this.dataOf[p.type] : 'data')}, transaction_id AS t, global_position AS g FROM es_events
                  WHERE ${CATEGORY} = $${values.push(p.category)}::text AND event_type = $${values.push(p.type)}::text
                    AND (transaction_id, global_position) > ($1::text::xid8, $2::bigint) AND ${bound} ${residual}
                  ORDER BY transaction_id, global_position LIMIT $3)`,
              )
              .join(' UNION ALL ');
    }
    const horizonBound = this.filtered ? 'least((SELECT x FROM b), $4::text::xid8)' : '(SELECT x FROM b)';
    const text = `WITH b AS MATERIALIZED (SELECT es_horizon() AS x),
       wanted AS (SELECT * FROM (${ranges}) r ORDER BY t, g LIMIT $3)
       SELECT false AS horizon, commit_position, prepare_position, stream_name, stream_revision, event_id, event_type, data, metadata, created_ms FROM wanted
       UNION ALL
       SELECT true, transaction_id::text, global_position::text, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM (
         SELECT transaction_id, global_position FROM es_events WHERE transaction_id < ${horizonBound}
          ORDER BY transaction_id DESC, global_position DESC LIMIT 1) h`;
    return { text, values };
  }

  /**
   * How many wanted events lie after `after` up to and including `upTo`, one
   * count per pair, off the index alone where a prefix names a whole category
   * (a stream named just `user`, without a dash, would then be counted too:
   * this is for progress, not for reading).
   */
  async count(after: Position, upTo: Position): Promise<number> {
    const values: unknown[] = [after.commit.toString(), after.prepare.toString(), upTo.commit.toString(), upTo.prepare.toString()];
    const range = `(transaction_id, global_position) > ($1::text::xid8, $2::bigint) AND (transaction_id, global_position) <= ($3::text::xid8, $4::bigint)`;
    if (!this.filtered) {
      const { rows } = await this.query<{ n: string }>({ text: `SELECT count(*)::text AS n FROM es_events WHERE ${range}`, values });
      return Number(rows[0]!.n);
    }
    const { pairs } = await this.wantedPairs();
    if (pairs.length === 0) return 0;
    let likes: number | undefined;
    const parts = pairs.map((p) => {
      // a prefix that is the category and its dash wants every stream of it: the count needs no row, only the index
      const whole = this.prefixes.length === 0 || this.prefixes.includes(`${p.category}-`);
      const residual = whole ? '' : `AND stream_name LIKE ANY($${(likes ??= values.push(this.prefixes.map(likePrefix)))}::text[])`;
      return `(SELECT count(*) FROM es_events WHERE ${CATEGORY} = $${values.push(p.category)}::text AND event_type = $${values.push(p.type)}::text AND ${range} ${residual})`;
    });
    const { rows } = await this.query<{ n: string }>({ text: `SELECT (${parts.join(' + ')})::text AS n`, values });
    return Number(rows[0]!.n);
  }

  /** The pairs present in the log that the filter can match, and the horizon below which that list is complete. */
  private async wantedPairs(): Promise<{ pairs: Pair[]; horizon: bigint }> {
    if (!this.pairs || this.pairsHorizon === undefined) {
      const { rows } = await this.query<{ category: string | null; type: string | null; x: string }>({ text: PAIRS_QUERY });
      this.pairsHorizon = BigInt(rows[0]!.x);
      this.pairs = rows
        .filter((r) => r.category !== null && r.type !== null)
        .map((r) => ({ category: r.category!, type: r.type! }))
        .filter((p) => this.wants(p));
    }
    return { pairs: this.pairs, horizon: this.pairsHorizon };
  }

  /**
   * Runs a query on a connection told to read every range in index order.
   * Left to itself the planner reads a large pair's remaining events with a
   * bitmap scan and sorts them all for the first few thousand: every batch
   * would then cost the rest of the log. JIT compiling a plan of many
   * ranges costs more than the query.
   */
  private async query<R extends pg.QueryResultRow>(query: { text: string; values?: unknown[] }): Promise<pg.QueryResult<R>> {
    const client = await this.pool.connect();
    try {
      if (!this.configured.has(client)) {
        await client.query('SET enable_bitmapscan = off; SET enable_seqscan = off; SET jit = off');
        this.configured.add(client);
      }
      return await client.query<R>(query);
    } finally {
      client.release();
    }
  }

  private wants(pair: Pair): boolean {
    if (pair.type.startsWith('$')) return false;
    if (this.types && !this.types.has(pair.type)) return false;
    if (this.prefixes.length === 0) return true;
    // a stream `c-…` (or `c` itself) starts with p when p is a prefix of c, or p starts with `c-`
    return this.prefixes.some((p) => pair.category.startsWith(p) || p.startsWith(`${pair.category}-`));
  }
}

/**
 * Every distinct (category, type) pair, by a recursive skip scan of the index,
 * with the horizon they were read at. A pair's events below that horizon were
 * all committed when the list was read, so the list is complete below it.
 */
const PAIRS_QUERY = `
  WITH RECURSIVE b AS MATERIALIZED (SELECT es_horizon() AS x),
  pairs(category, type) AS (
    (SELECT ${CATEGORY}, event_type FROM es_events ORDER BY ${CATEGORY}, event_type LIMIT 1)
    UNION ALL
    SELECT n.category, n.type FROM pairs p CROSS JOIN LATERAL (
      SELECT ${CATEGORY} AS category, event_type AS type FROM es_events
       WHERE (${CATEGORY}, event_type) > (p.category, p.type)
       ORDER BY ${CATEGORY}, event_type LIMIT 1) n)
  SELECT (SELECT x FROM b)::text AS x, p.category, p.type FROM (SELECT 1) one LEFT JOIN pairs p ON true`;

function isBefore(a: Position, b: Position): boolean {
  return a.commit < b.commit || (a.commit === b.commit && a.prepare < b.prepare);
}

function byPosition(a: RecordedEvent, b: RecordedEvent): number {
  return isBefore(a.position, b.position) ? -1 : isBefore(b.position, a.position) ? 1 : 0;
}

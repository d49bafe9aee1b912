import type { Knex } from 'knex';

/**
 * The Postgres event store's scavenge: deletes the events that stream reads
 * already hide — older than the stream's maxAge, beyond its maxCount, below
 * its truncateBefore (a soft delete sets that too) — so that $all reads,
 * subscriptions, replays and rebuilds stop bringing them back, as
 * EventStoreDB's scavenge does for its own store.
 *
 * Two events of every stream are never deleted, whatever their age:
 * - the newest: the stream's revision is the newest event's, so appends go on
 *   from it (`any`, `stream_exists`, an exact expectation) and revisions
 *   never go backwards;
 * - revision 0: the unique (stream, revision) index is what refuses a
 *   `no_stream` append to a stream that exists.
 * For a short-lived stream these are its opening and closing facts (an
 * execution's ExecutionRequested and how it ended); everything between goes.
 *
 * Work: streams come from the queue in es_streams.scavenge_at
 * (migrations/20261205070000_es_scavenge_queue.ts), a page at a time; their
 * events go in bounded DELETEs, each its own short transaction, so appends
 * and readers carry on. After a page, each stream is queued again for when
 * its next event passes the maxAge, or left out of the queue when nothing is
 * left to expire. A stream whose events were deleted loses its snapshot: a
 * snapshot folds the forgotten events. Running twice, or two runs at once,
 * deletes nothing more.
 */

export interface ScavengeOptions {
  /** count what would go, delete nothing */
  dryRun?: boolean;
  /** visit every stream with a retention, due or not (a stream that grew after its last scavenge) */
  all?: boolean;
  /** events per DELETE (default 1000) */
  batchSize?: number;
  /** streams per page (default 200) */
  streamsPerPage?: number;
  /** called after each page with the totals so far */
  onProgress?: (progress: ScavengeProgress) => void;
}

export interface ScavengeProgress {
  /** streams visited */
  streams: number;
  /** events deleted (or, dry, that would be) */
  events: number;
}

export interface ScavengeReport extends ScavengeProgress {
  dryRun: boolean;
  /** the database's clock at the start: what "older than maxAge" was measured from */
  asOf: string;
  /** streams that lost at least one event */
  scavengedStreams: number;
  /** snapshots dropped with their streams' events */
  snapshots: number;
}

interface Page {
  names: string[];
  /** each stream's scavenge_at as read (text keeps the microseconds), null when not queued */
  dueAt: (string | null)[];
}

/** The events of the page's streams that reads hide, revision 0 and the newest excepted. */
const HIDDEN_EVENTS = `
  SELECT e.transaction_id, e.global_position, e.stream_name
    FROM es_streams s
   CROSS JOIN LATERAL (SELECT max(stream_revision) AS last FROM es_events WHERE stream_name = s.stream_name) l
    JOIN es_events e ON e.stream_name = s.stream_name AND e.stream_revision > 0 AND e.stream_revision < l.last
   WHERE s.stream_name = ANY(:names::text[])
     AND ((s.max_age IS NOT NULL AND e.created_at < :asOf::timestamptz - make_interval(secs => s.max_age))
       OR e.stream_revision < coalesce(s.truncate_before, 0)
       OR (s.max_count IS NOT NULL AND e.stream_revision <= l.last - s.max_count))`;

const DELETE_BATCH = `
  DELETE FROM es_events d
   WHERE (d.transaction_id, d.global_position) IN (SELECT h.transaction_id, h.global_position FROM (${HIDDEN_EVENTS}) h LIMIT :limit)
  RETURNING d.stream_name`;

/**
 * Next due: when the oldest event still between the first and the newest
 * passes the maxAge; none when nothing is left there (or there is no maxAge:
 * maxCount and truncateBefore were dealt with in full). Only a stream whose
 * scavenge_at is still the one read is touched: a retention set meanwhile
 * queued it anew.
 */
const RESCHEDULE = `
  UPDATE es_streams s
     SET scavenge_at = CASE WHEN s.max_age IS NULL THEN NULL ELSE (
           SELECT min(e.created_at) + make_interval(secs => s.max_age) FROM es_events e
            WHERE e.stream_name = s.stream_name AND e.stream_revision > 0
              AND e.stream_revision < (SELECT max(stream_revision) FROM es_events WHERE stream_name = s.stream_name)) END
    FROM unnest(:names::text[], :dueAt::text[]) AS p(name, due_at)
   WHERE s.stream_name = p.name AND s.scavenge_at IS NOT DISTINCT FROM p.due_at::timestamptz`;

const RETAINS = '(max_age IS NOT NULL OR max_count IS NOT NULL OR truncate_before IS NOT NULL)';

export async function scavengeEvents(knex: Knex, options: ScavengeOptions = {}): Promise<ScavengeReport> {
  const dryRun = options.dryRun ?? false;
  const batchSize = options.batchSize ?? 1000;
  const streamsPerPage = options.streamsPerPage ?? 200;
  const { rows: clock } = (await knex.raw('SELECT now()::text AS now')) as { rows: { now: string }[] };
  const asOf = clock[0]!.now;
  const report: ScavengeReport = { dryRun, asOf, streams: 0, events: 0, scavengedStreams: 0, snapshots: 0 };

  let after: { name: string; dueAt: string | null } | undefined;
  for (;;) {
    const page = await nextPage(knex, { asOf, all: options.all ?? false, after, limit: streamsPerPage });
    if (page.names.length === 0) break;
    after = { name: page.names.at(-1)!, dueAt: page.dueAt.at(-1)! };
    report.streams += page.names.length;

    const deleted = new Map<string, number>();
    if (dryRun) {
      const { rows } = (await knex.raw(`SELECT stream_name, count(*)::int AS n FROM (${HIDDEN_EVENTS}) h GROUP BY stream_name`, {
        names: page.names,
        asOf,
      })) as {
        rows: { stream_name: string; n: number }[];
      };
      for (const row of rows) deleted.set(row.stream_name, row.n);
    } else {
      for (;;) {
        const { rows } = (await knex.raw(DELETE_BATCH, { names: page.names, asOf, limit: batchSize })) as { rows: { stream_name: string }[] };
        for (const row of rows) deleted.set(row.stream_name, (deleted.get(row.stream_name) ?? 0) + 1);
        if (rows.length < batchSize) break;
      }
      if (deleted.size > 0) {
        const { rowCount } = (await knex.raw('DELETE FROM es_snapshots WHERE stream_name = ANY(?::text[])', [[...deleted.keys()]])) as { rowCount: number };
        report.snapshots += rowCount;
      }
      await knex.raw(RESCHEDULE, { names: page.names, dueAt: page.dueAt });
    }
    for (const n of deleted.values()) report.events += n;
    report.scavengedStreams += deleted.size;
    options.onProgress?.({ streams: report.streams, events: report.events });
    if (page.names.length < streamsPerPage) break;
  }
  return report;
}

/**
 * A page of streams to visit, in a stable order (so a dry run, which changes
 * nothing, still moves on): due ones by (scavenge_at, name), or with `all`
 * every stream with a retention by name.
 */
async function nextPage(
  knex: Knex,
  at: { asOf: string; all: boolean; after: { name: string; dueAt: string | null } | undefined; limit: number },
): Promise<Page> {
  let sql: string;
  let bindings: Record<string, unknown>;
  if (at.all) {
    sql = `SELECT stream_name, scavenge_at::text AS due_at FROM es_streams
            WHERE ${RETAINS} ${at.after ? 'AND stream_name > :name' : ''}
            ORDER BY stream_name LIMIT :limit`;
    bindings = { name: at.after?.name ?? null, limit: at.limit };
  } else {
    sql = `SELECT stream_name, scavenge_at::text AS due_at FROM es_streams
            WHERE scavenge_at < :asOf::timestamptz ${at.after ? 'AND (scavenge_at, stream_name) > (:dueAt::timestamptz, :name)' : ''}
            ORDER BY scavenge_at, stream_name LIMIT :limit`;
    bindings = { asOf: at.asOf, dueAt: at.after?.dueAt ?? null, name: at.after?.name ?? null, limit: at.limit };
  }
  const { rows } = (await knex.raw(sql, bindings)) as { rows: { stream_name: string; due_at: string | null }[] };
  return { names: rows.map((r) => r.stream_name), dueAt: rows.map((r) => r.due_at) };
}

import type pg from 'pg';
import { ConditionFailedError } from '../../../event-store/errors.js';
import type { AppendCondition, AppendResult, EventData, ExpectedRevision } from '../../../event-store/port.js';
import { appendEvents, expectation, priorAppend } from './append.js';
import { refusableQuery } from './refusable-query.js';

/**
 * Several appends to different streams as one INSERT, one transaction, one
 * commit. Each append keeps its own guard (a refused one simply inserts no
 * rows), so the statement lands the appends whose expectations hold; those
 * come back one row per stream. Rows go in in stream-name order: two
 * processes combining overlapping streams then wait on each other's unique
 * index entries in the same order and never deadlock.
 */
const COMBINED_APPEND = `
  WITH appends AS (
    SELECT a.ord AS append_no, a.value->>'stream' AS stream, a.value->>'kind' AS kind,
           (a.value->>'revision')::bigint AS expected, a.value->'events' AS events, a.value->'conditions' AS conditions
      FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS a(value, ord)
  ), based AS (
    SELECT ap.*, CASE ap.kind
                   WHEN 'no_stream' THEN -1
                   WHEN 'exact' THEN ap.expected
                   ELSE coalesce((SELECT max(e.stream_revision) FROM es_events e WHERE e.stream_name = ap.stream), -1)
                 END AS base
      FROM appends ap
     WHERE NOT EXISTS (SELECT 1 FROM es_streams s WHERE s.stream_name = ap.stream AND s.deleted)
       -- the other streams the decision read are still where it read them
       AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(coalesce(ap.conditions, '[]'::jsonb)) c
                        WHERE coalesce((SELECT max(e.stream_revision) FROM es_events e WHERE e.stream_name = c.value->>'stream'), -1)
                              <> (c.value->>'revision')::bigint)
       AND CASE ap.kind
             WHEN 'exact' THEN (SELECT max(e.stream_revision) FROM es_events e WHERE e.stream_name = ap.stream) = ap.expected
             WHEN 'stream_exists' THEN EXISTS (SELECT 1 FROM es_events e WHERE e.stream_name = ap.stream)
             ELSE true
           END
  ), inserted AS (
    INSERT INTO es_events (stream_name, stream_revision, event_id, event_type, data, metadata)
    SELECT b.stream, b.base + x.ord, (x.value->>'id')::uuid, x.value->>'type', x.value->'data',
           coalesce(x.value->'metadata', '{}'::jsonb)
      FROM based b, jsonb_array_elements(b.events) WITH ORDINALITY AS x(value, ord)
     ORDER BY b.stream, x.ord
    RETURNING stream_name, stream_revision, transaction_id, global_position)
  SELECT DISTINCT ON (stream_name) stream_name, stream_revision::text AS revision,
         transaction_id::text AS commit_position, global_position::text AS prepare_position
    FROM inserted ORDER BY stream_name, stream_revision DESC`;

interface Pending {
  streamName: string;
  events: readonly EventData[];
  expected: ExpectedRevision;
  conditions: readonly AppendCondition[];
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

export interface CombinerOptions {
  /** combined writes in flight at once; appends arriving meanwhile wait and go together */
  maxInFlight: number;
  /** most appends in one statement */
  maxGroup: number;
  /** a refused statement's appends retried on their own, at most this many at once */
  maxFallbackConcurrency: number;
}

/**
 * Group commit for concurrent appends. An append goes out at once when fewer
 * than `maxInFlight` writes are in flight; otherwise it waits for one to end
 * and goes out with every append that arrived meanwhile, in one statement.
 * A lone writer sees no added latency; many concurrent writers share commits
 * (one round trip, one WAL flush for the group) instead of queueing for them.
 * Appends to the same stream never share a statement (they would collide on
 * the revision index); a statement that fails is retried append by append, so
 * one append's conflict or bad data never becomes another's.
 */
export class AppendCombiner {
  private readonly queue: Pending[] = [];
  private inFlight = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: CombinerOptions,
  ) {}

  append(streamName: string, events: readonly EventData[], expected: ExpectedRevision, conditions: readonly AppendCondition[] = []): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ streamName, events, expected, conditions, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const group = this.takeGroup();
      this.inFlight++;
      void this.write(group).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  /** The oldest waiting appends, one per stream; the rest keep their place. */
  private takeGroup(): Pending[] {
    const group: Pending[] = [];
    const streams = new Set<string>();
    for (let i = 0; i < this.queue.length && group.length < this.options.maxGroup; ) {
      const pending = this.queue[i]!;
      if (streams.has(pending.streamName)) {
        i++;
        continue;
      }
      streams.add(pending.streamName);
      group.push(pending);
      this.queue.splice(i, 1);
    }
    return group;
  }

  private async write(group: Pending[]): Promise<void> {
    // a lone append takes the fast path, unless it has conditions: only this statement checks those
    if (group.length === 1 && group[0]!.conditions.length === 0) return this.one(group[0]!);
    type Row = { stream_name: string; revision: string; commit_position: string; prepare_position: string };
    let rows: Row[];
    try {
      const payload = group.map((p) => {
        const { kind, revision } = expectation(p.expected);
        const conditions = p.conditions.map((c) => ({ stream: c.streamName, revision: c.revision === 'no_stream' ? '-1' : c.revision.toString() }));
        return { stream: p.streamName, kind, revision, events: p.events, ...(conditions.length > 0 ? { conditions } : {}) };
      });
      rows = (await refusableQuery<Row>(this.pool, { name: 'es_append_combined', text: COMBINED_APPEND, values: [JSON.stringify(payload)] })).rows;
    } catch {
      // A race with another writer, one append's data Postgres refuses (e.g. \u0000 in jsonb), a lost
      // connection: every append on its own finds out how it stands, so the error reaches only its own caller
      // (and one that did commit is recognised by its event ids).
      rows = [];
    }
    const written = new Map(rows.map((row) => [row.stream_name, row]));
    const refused: Pending[] = [];
    for (const p of group) {
      const row = written.get(p.streamName);
      if (!row)
        refused.push(p); // refused here: the single path says why (or lands it)
      else p.resolve({ nextExpectedRevision: BigInt(row.revision), position: { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) } });
    }
    // A failed group of 64 must not become 64 connections at once: a few lanes work through it.
    const lanes = Array.from({ length: Math.min(this.options.maxFallbackConcurrency, refused.length) }, async () => {
      for (let p = refused.shift(); p; p = refused.shift()) await this.one(p);
    });
    await Promise.all(lanes);
  }

  private async one(p: Pending): Promise<void> {
    try {
      if (p.conditions.length > 0) p.resolve(await this.refusedWithConditions(p));
      else p.resolve(await appendEvents(this.pool, p.streamName, p.events, p.expected));
    } catch (error) {
      p.reject(error);
    }
  }

  /**
   * A conditioned append the statement refused: a repeat of one that landed
   * is answered as such; a condition that no longer holds is the caller's to
   * resolve; otherwise the append's own expectation (or a deleted stream to
   * recreate) decides, on the single path. The conditions were checked just
   * before that last step, not in it: a rare path (a conflict or a deleted
   * stream) with a window of one round trip.
   */
  private async refusedWithConditions(p: Pending): Promise<AppendResult> {
    const repeat = await priorAppend(this.pool, p.streamName, p.events);
    if (repeat) return repeat;
    const { rows } = await this.pool.query<{ stream_name: string; revision: string | null }>({
      name: 'es_condition_revisions',
      text: `SELECT s AS stream_name, (SELECT max(stream_revision) FROM es_events WHERE stream_name = s)::text AS revision FROM unnest($1::text[]) s`,
      values: [p.conditions.map((c) => c.streamName)],
    });
    const actual = new Map(rows.map((row) => [row.stream_name, row.revision === null ? ('no_stream' as const) : BigInt(row.revision)]));
    for (const condition of p.conditions) {
      const now = actual.get(condition.streamName) ?? 'no_stream';
      if (now !== condition.revision) throw new ConditionFailedError(condition.streamName, condition.revision, now);
    }
    return appendEvents(this.pool, p.streamName, p.events, p.expected);
  }
}

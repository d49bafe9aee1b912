import type pg from 'pg';
import { refusableQuery } from './refusable-query.js';
import { IdempotencyConflictError, WrongExpectedVersionError } from '../../../event-store/errors.js';
import type { AppendResult, EventData, ExpectedRevision } from '../../../event-store/port.js';

type Kind = 'no_stream' | 'stream_exists' | 'any' | 'exact';

/**
 * The fast path: one INSERT. The revision it writes after is the expected
 * one (exact), -1 (no_stream) or the stream's newest (any, stream_exists);
 * the unique (stream_name, stream_revision) index refuses a concurrent
 * writer. Soft-deleted streams and refused appends go to the slow path.
 * One plain statement per kind and shape (a single event as scalars, a batch
 * as a JSON array), prepared once per connection: a generic CASE-driven
 * statement cost a quarter of the throughput.
 */
function fastAppendSql(kind: Kind, batch: boolean): string {
  const revisionParam = kind === 'exact' ? '$2::bigint' : undefined;
  const first = revisionParam ? 3 : 2; // first parameter of the events
  const base = revisionParam ?? (kind === 'no_stream' ? '-1' : 'coalesce((SELECT max(stream_revision) FROM es_events WHERE stream_name = $1), -1)');
  const guards = ['NOT EXISTS (SELECT 1 FROM es_streams WHERE stream_name = $1 AND deleted)'];
  // the newest revision, not merely an existing one: a scavenge may have emptied the middle of a stream
  if (kind === 'exact') guards.push(`(SELECT max(stream_revision) FROM es_events WHERE stream_name = $1) = ${revisionParam}`);
  if (kind === 'stream_exists') guards.push('EXISTS (SELECT 1 FROM es_events WHERE stream_name = $1)');
  const source = batch
    ? `SELECT $1, ${base} + x.ord, (x.value->>'id')::uuid, x.value->>'type', x.value->'data', coalesce(x.value->'metadata', '{}'::jsonb)
         FROM jsonb_array_elements($${first}::jsonb) WITH ORDINALITY AS x(value, ord)`
    : `SELECT $1, ${base} + 1, $${first}::uuid, $${first + 1}::text, $${first + 2}::jsonb, $${first + 3}::jsonb`;
  return `
    INSERT INTO es_events (stream_name, stream_revision, event_id, event_type, data, metadata)
    ${source}
     WHERE ${guards.join(' AND ')}
    RETURNING stream_revision::text AS revision, transaction_id::text AS commit_position, global_position::text AS prepare_position`;
}

const KINDS: readonly Kind[] = ['no_stream', 'stream_exists', 'any', 'exact'];
const FAST_APPENDS = new Map(KINDS.flatMap((kind) => [false, true].map((batch) => [`${kind}:${batch}`, fastAppendSql(kind, batch)] as const)));

/** The fast-path statement for an append: usable inside a caller's own transaction too. */
export function fastAppendStatement(streamName: string, events: readonly EventData[], expected: ExpectedRevision): pg.QueryConfig {
  const { kind, revision } = expectation(expected);
  const batch = events.length > 1;
  const values: unknown[] = [streamName];
  if (revision !== null) values.push(revision);
  if (batch) values.push(JSON.stringify(events));
  else values.push(events[0]!.id, events[0]!.type, JSON.stringify(events[0]!.data), JSON.stringify(events[0]!.metadata ?? {}));
  return { name: `es_append_${kind}${batch ? '_batch' : ''}`, text: FAST_APPENDS.get(`${kind}:${batch}`)!, values };
}

/** The slow path: locks the stream's metadata row, checks the expectation exactly, recreates a deleted stream. */
const LOCKED_APPEND = `
  SELECT stream_revision::text AS revision, transaction_id::text AS commit_position, global_position::text AS prepare_position
    FROM es_append_recreating($1, $2, $3, $4::jsonb)`;

const PRIOR_APPEND = `
  SELECT event_id, stream_name, stream_revision::text AS revision,
         transaction_id::text AS commit_position, global_position::text AS prepare_position
    FROM es_events WHERE event_id = ANY($1::uuid[])`;

export const WRONG_EXPECTED_VERSION = 'ES001';
const UNIQUE_VIOLATION = '23505';
/** an `any` append that keeps losing races to other writers gives up eventually */
const MAX_ATTEMPTS = 20;

interface ResultRow {
  revision: string;
  commit_position: string;
  prepare_position: string;
}

export interface PgError {
  code?: string;
  detail?: string;
  constraint?: string;
}

export function expectation(expected: ExpectedRevision): { kind: Kind; revision: string | null } {
  return typeof expected === 'bigint' ? { kind: 'exact', revision: expected.toString() } : { kind: expected, revision: null };
}

export function wrongExpectedVersion(error: PgError, streamName: string, expected: ExpectedRevision): WrongExpectedVersionError {
  return new WrongExpectedVersionError(streamName, expected, error.detail === 'no_stream' ? 'no_stream' : BigInt(error.detail ?? '-1'));
}

const toResult = (row: ResultRow): AppendResult => ({
  nextExpectedRevision: BigInt(row.revision),
  position: { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) },
});

/**
 * Appending these ids again answers with the first append's result; a batch
 * of which only some were written (or written elsewhere) is refused.
 */
export async function priorAppend(pool: pg.Pool, streamName: string, events: readonly EventData[]): Promise<AppendResult | undefined> {
  const { rows } = await pool.query<ResultRow & { event_id: string; stream_name: string }>({
    name: 'es_prior_append',
    text: PRIOR_APPEND,
    values: [events.map((e) => e.id)],
  });
  if (rows.length === 0) return undefined;
  const byId = new Map(rows.map((row) => [row.event_id, row]));
  const written = events.map((e) => byId.get(e.id));
  const first = written[0] ? BigInt(written[0].revision) : -1n;
  const whole = written.every((row, i) => row !== undefined && row.stream_name === streamName && BigInt(row.revision) === first + BigInt(i));
  if (!whole)
    throw new IdempotencyConflictError(
      streamName,
      events.map((e) => e.id),
    );
  return toResult(written.at(-1)!);
}

/** The newest of the rows an INSERT … RETURNING gave back. */
function newest(rows: ResultRow[]): ResultRow | undefined {
  return rows.reduce<ResultRow | undefined>((a, b) => (a && BigInt(a.revision) > BigInt(b.revision) ? a : b), undefined);
}

export async function appendEvents(pool: pg.Pool, streamName: string, events: readonly EventData[], expected: ExpectedRevision): Promise<AppendResult> {
  const fastStatement = fastAppendStatement(streamName, events, expected);
  let lastError: unknown;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    try {
      const written = newest((await refusableQuery<ResultRow>(pool, fastStatement)).rows);
      if (written) return toResult(written);
    } catch (error) {
      if ((error as PgError).code !== UNIQUE_VIOLATION) throw error;
    }
    // refused: a repeat, a deleted stream, a race, or a wrong expectation — find out which
    const prior = await priorAppend(pool, streamName, events);
    if (prior) return prior;
    try {
      const { kind, revision } = expectation(expected);
      const values = [streamName, kind, revision, JSON.stringify(events)];
      const locked = await refusableQuery<ResultRow>(pool, { name: 'es_append_locked', text: LOCKED_APPEND, values });
      return toResult(locked.rows[0]!);
    } catch (error) {
      const e = error as PgError;
      if (e.code === WRONG_EXPECTED_VERSION) throw wrongExpectedVersion(e, streamName, expected);
      if (e.code !== UNIQUE_VIOLATION) throw error;
      lastError = error; // a fast-path writer got in between: look again
    }
  }
  throw lastError;
}

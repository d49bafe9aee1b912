import type { Knex } from 'knex';
import { StreamNotFoundError } from '../event-store/errors.js';
import type { EventStore, RecordedEvent } from '../event-store/port.js';
import type { Logger } from '../logger.js';
import type { Consumer } from '../consumers/consumer.js';
import { errorText } from '../consumers/dead-letters.js';
import { isTransientError } from '../consumers/transient-errors.js';

/**
 * Parked events (consumer_dead_letters): what the consumer runner set aside
 * after an event failed maxAttempts times on its own, so the consumer could
 * go on. Operators list them, retry one through its consumer's own handler
 * (once, in a transaction), or skip it. Used by the CLI (`consumers
 * dead-letters …`) and the console's admin API.
 *
 * A retry runs while the projector runs the consumer: its transaction first
 * locks the consumer's checkpoint row, so the running instance's batches
 * commit before or after it, never beside it, and the handler sees the event
 * like any redelivery (projections and process managers are idempotent).
 * The event is handled late, after events that followed it in $all.
 */

export type DeadLetterStatus = 'parked' | 'retried' | 'skipped';
export const DEAD_LETTER_STATUSES: readonly DeadLetterStatus[] = ['parked', 'retried', 'skipped'];

export interface DeadLetter {
  id: string;
  consumer: string;
  eventId: string;
  stream: string;
  /** the event's revision in its stream, decimal */
  revision: string;
  type: string;
  /** `<commit>-<prepare>` */
  position: string;
  /** the last error (with its stack) */
  error: string;
  attempts: number;
  firstFailedAt: string;
  lastFailedAt: string;
  status: DeadLetterStatus;
  /** when it was retried or skipped */
  resolvedAt: string | null;
}

export class DeadLetterNotFoundError extends Error {
  override readonly name = 'DeadLetterNotFoundError';
  constructor(id: string) {
    super(`no dead letter ${id}`);
  }
}

/** Retry and skip apply to parked letters only; a rebuild's letters wait for its swap. */
export class DeadLetterStateError extends Error {
  override readonly name = 'DeadLetterStateError';
}

interface Row {
  id: string;
  consumer: string;
  event_id: string;
  stream_name: string;
  stream_revision: string;
  event_type: string;
  commit_position: string;
  prepare_position: string;
  error: string;
  attempts: number;
  first_failed_at: Date;
  last_failed_at: Date;
  status: DeadLetterStatus;
  resolved_at: Date | null;
}

const COLUMNS = [
  'id',
  'consumer',
  'event_id',
  'stream_name',
  'stream_revision',
  'event_type',
  'commit_position',
  'prepare_position',
  'error',
  'attempts',
  'first_failed_at',
  'last_failed_at',
  'status',
  'resolved_at',
] as const;

const view = (r: Row): DeadLetter => ({
  id: String(r.id),
  consumer: r.consumer,
  eventId: r.event_id,
  stream: r.stream_name,
  revision: String(r.stream_revision),
  type: r.event_type,
  position: `${r.commit_position}-${r.prepare_position}`,
  error: r.error,
  attempts: r.attempts,
  firstFailedAt: r.first_failed_at.toISOString(),
  lastFailedAt: r.last_failed_at.toISOString(),
  status: r.status,
  resolvedAt: r.resolved_at ? r.resolved_at.toISOString() : null,
});

const ID = /^\d{1,18}$/;

function select(db: Knex | Knex.Transaction) {
  return db('consumer_dead_letters').select(
    ...COLUMNS.map((c) =>
      c === 'id' || c === 'stream_revision' || c === 'commit_position' || c === 'prepare_position' ? db.raw(`??::text AS ??`, [c, c]) : c,
    ),
  );
}

export interface DeadLetterQuery {
  consumer?: string;
  /** default parked */
  status?: DeadLetterStatus | 'all';
  /** default 100 */
  limit?: number;
}

/** Dead letters, oldest event first ($all order within a consumer). */
export async function listDeadLetters(knex: Knex, query: DeadLetterQuery = {}): Promise<DeadLetter[]> {
  const status = query.status ?? 'parked';
  const q = select(knex)
    .orderBy([{ column: 'consumer' }, { column: 'commit_position' }, { column: 'prepare_position' }])
    .limit(query.limit ?? 100);
  if (query.consumer) q.where({ consumer: query.consumer });
  if (status !== 'all') q.where({ status });
  return ((await q) as Row[]).map(view);
}

export async function getDeadLetter(db: Knex | Knex.Transaction, id: string): Promise<DeadLetter | undefined> {
  if (!ID.test(id)) return undefined;
  const row = (await select(db).where({ id }).first()) as Row | undefined;
  return row ? view(row) : undefined;
}

/** Parked events per consumer (consumers with none are left out). */
export async function parkedCounts(knex: Knex): Promise<Map<string, number>> {
  const rows = (await knex('consumer_dead_letters').select('consumer').count('* as n').where({ status: 'parked' }).groupBy('consumer')) as {
    consumer: string;
    n: string;
  }[];
  return new Map(rows.map((r) => [r.consumer, Number(r.n)]));
}

/** Gives up on a parked event: status skipped. The consumer went on without it long ago; nothing else changes. */
export async function skipDeadLetter(knex: Knex, id: string): Promise<DeadLetter> {
  const letter = await getDeadLetter(knex, id);
  if (!letter) throw new DeadLetterNotFoundError(id);
  const updated = await knex('consumer_dead_letters').where({ id, status: 'parked' }).update({ status: 'skipped', resolved_at: knex.fn.now() });
  if (updated !== 1) throw new DeadLetterStateError(`dead letter ${id} is ${letter.status}, not parked`);
  return (await getDeadLetter(knex, id))!;
}

export interface RetryDeps {
  knex: Knex;
  store: EventStore;
  /** the consumer of that name as the projector runs it (its real adapters) */
  consumers: (name: string) => Consumer | undefined;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

export interface RetryOutcome {
  letter: DeadLetter;
  /** true: handled, status retried; false: it failed again, or could not be tried, and stays parked (`error`) */
  ok: boolean;
  error: string | null;
  /** false: not handled at all (its event is gone, or another retry or skip got to it first); the letter is unchanged */
  tried: boolean;
}

const REBUILD_SUFFIX = '#rebuild';
const RETRYABLE_CODES = new Set(['40P01', '40001', '55P03']);

/**
 * Handles a parked event once more through its consumer's own handler, in
 * one transaction with the status change: retried on success; on failure it
 * stays parked with the new error and one more attempt counted.
 */
export async function retryDeadLetter(deps: RetryDeps, id: string): Promise<RetryOutcome> {
  const letter = await getDeadLetter(deps.knex, id);
  if (!letter) throw new DeadLetterNotFoundError(id);
  if (letter.status !== 'parked') throw new DeadLetterStateError(`dead letter ${id} is ${letter.status}, not parked`);
  const target = await retryTarget(deps.knex, letter.consumer);
  const consumer = deps.consumers(target);
  if (!consumer) throw new DeadLetterStateError(`dead letter ${id}: no consumer ${target} in this version of the code`);
  const event = await readParkedEvent(deps.store, letter);

  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      const done = await deps.knex.transaction(async (tx) => {
        await tx.raw(`SET LOCAL lock_timeout = '5s'`);
        // the running instance's batch, if one is in flight, commits first; the next waits for this one
        await tx.raw('SELECT 1 FROM consumer_checkpoints WHERE consumer = ? FOR UPDATE', [target]);
        const row = (await tx('consumer_dead_letters').select('status').where({ id }).forUpdate().first()) as { status: DeadLetterStatus } | undefined;
        if (row?.status !== 'parked') throw new DeadLetterStateError(`dead letter ${id} is ${row?.status ?? 'gone'}, not parked`);
        await consumer.handle([event], { tx });
        await tx('consumer_dead_letters').where({ id }).update({ status: 'retried', resolved_at: tx.fn.now() });
        return (await getDeadLetter(tx, id))!;
      });
      deps.logger?.info({ consumer: letter.consumer, deadLetterId: id, eventId: letter.eventId }, 'parked event retried: handled');
      return { letter: done, ok: true, error: null, tried: true };
    } catch (error) {
      if (error instanceof DeadLetterStateError) throw error;
      lastError = error;
      const code = (error as { code?: string }).code;
      if (!(code && RETRYABLE_CODES.has(code)) || attempt === 3) break;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
  // failed again: it stays parked, with the new error (a transient one is not counted as an attempt)
  const transient = isTransientError(lastError);
  await deps
    .knex('consumer_dead_letters')
    .where({ id, status: 'parked' })
    .update({ error: errorText(lastError), last_failed_at: deps.knex.fn.now(), ...(transient ? {} : { attempts: deps.knex.raw('attempts + 1') }) });
  deps.logger?.warn(
    { consumer: letter.consumer, deadLetterId: id, eventId: letter.eventId, err: lastError },
    'parked event retried: failed again; it stays parked',
  );
  return {
    letter: (await getDeadLetter(deps.knex, id))!,
    ok: false,
    error: lastError instanceof Error ? lastError.message : String(lastError),
    tried: true,
  };
}

/**
 * Retries every parked event of a consumer, oldest first, each on its own:
 * one that fails again, or whose event is gone, is reported and the rest
 * are still tried. What holds for all of them (a rebuild still running, a
 * consumer this code does not have) is refused once, before any.
 */
export async function retryDeadLetters(deps: RetryDeps, consumer: string): Promise<RetryOutcome[]> {
  const outcomes: RetryOutcome[] = [];
  let after: DeadLetter | undefined;
  for (;;) {
    const page = await parkedAfter(deps.knex, consumer, after, 100);
    if (page.length === 0) return outcomes;
    if (!after) {
      const target = await retryTarget(deps.knex, consumer);
      if (!deps.consumers(target)) throw new DeadLetterStateError(`no consumer ${target} in this version of the code: skip its parked events`);
    }
    for (const letter of page) {
      try {
        outcomes.push(await retryDeadLetter(deps, letter.id));
      } catch (error) {
        if (!(error instanceof DeadLetterStateError || error instanceof DeadLetterNotFoundError)) throw error;
        // this letter alone: its event is gone, or someone else retried or skipped it meanwhile
        outcomes.push({ letter: (await getDeadLetter(deps.knex, letter.id)) ?? letter, ok: false, error: error.message, tried: false });
      }
    }
    after = page.at(-1);
  }
}

/** A page of a consumer's parked letters after `after`, in $all order: letters that stay parked are not read again. */
async function parkedAfter(knex: Knex, consumer: string, after: DeadLetter | undefined, limit: number): Promise<DeadLetter[]> {
  const q = select(knex)
    .where({ consumer, status: 'parked' })
    .orderBy([{ column: 'commit_position' }, { column: 'prepare_position' }, { column: 'id' }])
    .limit(limit);
  if (after) {
    const [commit = '0', prepare = '0'] = after.position.split('-');
    q.whereRaw('(commit_position, prepare_position, id) > (?::bigint, ?::bigint, ?::bigint)', [commit, prepare, after.id]);
  }
  return ((await q) as Row[]).map(view);
}

/**
 * The consumer a retry goes through. A rebuild's letter (`users-v1#rebuild`)
 * belongs, once the rebuild has swapped its tables in, to the live consumer
 * (`users-v1`), whose tables they are now; while the rebuild still runs it waits.
 */
async function retryTarget(knex: Knex, consumer: string): Promise<string> {
  if (!consumer.endsWith(REBUILD_SUFFIX)) return consumer;
  const running = await knex('consumer_checkpoints').where({ consumer }).first('consumer');
  if (running) throw new DeadLetterStateError(`${consumer} is still rebuilding: retry its parked events once it has swapped in`);
  return consumer.slice(0, -REBUILD_SUFFIX.length);
}

async function readParkedEvent(store: EventStore, letter: DeadLetter): Promise<RecordedEvent> {
  const [event] = await store.readStream(letter.stream, { fromRevision: BigInt(letter.revision), maxCount: 1 }).catch((error: unknown) => {
    if (error instanceof StreamNotFoundError) return [];
    throw error;
  });
  if (!event || event.id !== letter.eventId) {
    throw new DeadLetterStateError(`dead letter ${letter.id}: event ${letter.eventId} is no longer in ${letter.stream} (deleted or truncated); skip it`);
  }
  return event;
}

import { expect } from 'chai';
import type { Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import type { EventMetadata, Json, RecordedEvent } from '../../src/event-store/port.js';
import type { Consumer } from '../../src/consumers/consumer.js';

/**
 * Given events → then rows, for a projection's `handle`. Each spec runs in a
 * transaction that is rolled back, so specs leave no rows behind and may run
 * against a database other tests use. The events are handled twice — once,
 * then again as a redelivery — and the rows must be the same after both:
 * every projection is idempotent.
 *
 *   await projectionSpec(knex, usersProjection)
 *     .given([recorded('user-1', 'UserRegistered', {...})])
 *     .then('users', { where: { id: '1' }, columns: ['email', 'status'] }, [{ email: 'a@b.c', status: 'active' }]);
 */
export function projectionSpec(knex: Knex, consumer: Consumer, options: { batchSize?: number } = {}) {
  return {
    given(events: RecordedEvent[]) {
      return {
        /** The rows `select columns from table where … order by columns` after the events (and after them again). */
        async then(table: string, query: RowQuery, expected: Record<string, unknown>[]): Promise<void> {
          await thenRows(knex, consumer, events, options.batchSize, [{ table, query, expected }]);
        },
        /** Several tables at once. */
        async thenAll(expectations: { table: string; query: RowQuery; expected: Record<string, unknown>[] }[]): Promise<void> {
          await thenRows(knex, consumer, events, options.batchSize, expectations);
        },
        /** Rows read by a function of the transaction (for joins, counts, …). */
        async thenQuery(read: (tx: Knex.Transaction) => Promise<unknown>, expected: unknown): Promise<void> {
          await inRolledBack(knex, async (tx) => {
            await handleAll(consumer, events, tx, options.batchSize);
            expect(normalise(await read(tx)), 'after the events').to.deep.equal(normalise(expected));
            await handleAll(consumer, events, tx, options.batchSize);
            expect(normalise(await read(tx)), 'after the same events again (a redelivery)').to.deep.equal(normalise(expected));
          });
        },
      };
    },
  };
}

export interface RowQuery {
  where?: Record<string, unknown>;
  columns: string[];
  /** default: the columns, in order */
  orderBy?: string[];
}

/**
 * The events as a rebuild on the Postgres store reads them: the data of each
 * type the consumer names in `rebuildData` passed through that expression, in
 * Postgres; the others as they are.
 */
export async function asRebuildReads(knex: Knex, consumer: Consumer, events: RecordedEvent[]): Promise<RecordedEvent[]> {
  const read: RecordedEvent[] = [];
  for (const event of events) {
    const expression = consumer.rebuildData?.[event.type];
    read.push(expression ? { ...event, data: (await throughExpression(knex, expression, event.data)) as Json } : event);
  }
  return read;
}

/** `data` passed through a rebuildData expression (SQL over `data`), in Postgres. */
export async function throughExpression(knex: Knex, expression: string, data: unknown): Promise<Record<string, unknown>> {
  // knex reads a ? as a binding (jsonpath filters have them): escaped as \?
  const { rows } = await knex.raw(`SELECT ${expression.replace(/\?/g, '\\?')} AS data FROM (SELECT ?::jsonb AS data) e`, [JSON.stringify(data)]);
  return rows[0].data;
}

let globalSeq = 1_000_000n;

/**
 * A recorded event as the store delivers it. Revisions count per stream in
 * the order built (pass `revision` to set one); positions rise.
 */
export function recorded(
  streamName: string,
  type: string,
  data: Record<string, unknown>,
  extra: { revision?: bigint; metadata?: EventMetadata; created?: Date } = {},
): RecordedEvent {
  const revision = extra.revision ?? nextRevision(streamName);
  revisions.set(streamName, revision + 1n);
  globalSeq += 1n;
  return {
    id: randomUUID(),
    type,
    streamName,
    revision,
    position: { commit: 1n, prepare: globalSeq },
    data: data as Json,
    metadata: extra.metadata ?? {},
    created: extra.created ?? new Date(),
  };
}

const revisions = new Map<string, bigint>();
const nextRevision = (stream: string) => revisions.get(stream) ?? 0n;

async function thenRows(
  knex: Knex,
  consumer: Consumer,
  events: RecordedEvent[],
  batchSize: number | undefined,
  expectations: { table: string; query: RowQuery; expected: Record<string, unknown>[] }[],
): Promise<void> {
  await inRolledBack(knex, async (tx) => {
    // one after another: a transaction is one connection, which runs one query at a time
    const read = async () => {
      const rows: Record<string, unknown>[][] = [];
      for (const { table, query } of expectations) rows.push(await selectRows(tx, table, query));
      return rows;
    };
    await handleAll(consumer, events, tx, batchSize);
    const once = await read();
    expectations.forEach(({ table, expected }, i) => expect(normalise(once[i]), `${table} after the events`).to.deep.equal(normalise(expected)));
    await handleAll(consumer, events, tx, batchSize);
    const twice = await read();
    expectations.forEach(({ table, expected }, i) =>
      expect(normalise(twice[i]), `${table} after the same events again (a redelivery)`).to.deep.equal(normalise(expected)),
    );
  });
}

/** Handles the events as the runner would: in batches of the consumer's size, filtered by its event types. */
export async function handleAll(consumer: Consumer, events: RecordedEvent[], tx: Knex.Transaction, batchSize = consumer.batchSize ?? 500): Promise<void> {
  const types = consumer.filter?.eventTypes ? new Set(consumer.filter.eventTypes) : undefined;
  const prefixes = consumer.filter?.streamPrefixes;
  const wanted = events.filter((e) => (!types || types.has(e.type)) && (!prefixes || prefixes.some((p) => e.streamName.startsWith(p))));
  for (let i = 0; i < wanted.length; i += batchSize) await consumer.handle(wanted.slice(i, i + batchSize), { tx });
}

const ROLLBACK = Symbol('rollback');

export async function inRolledBack(knex: Knex, body: (tx: Knex.Transaction) => Promise<void>): Promise<void> {
  try {
    await knex.transaction(async (tx) => {
      await body(tx);
      throw ROLLBACK;
    });
  } catch (error) {
    if (error !== ROLLBACK) throw error;
  }
}

async function selectRows(tx: Knex.Transaction, table: string, query: RowQuery): Promise<Record<string, unknown>[]> {
  let q = tx(table).select(query.columns);
  if (query.where) q = q.where(query.where);
  for (const column of query.orderBy ?? query.columns) q = q.orderBy(column);
  return (await q) as Record<string, unknown>[];
}

/** Dates as ISO strings and bigints as strings, so expectations can be written as plain JSON. */
function normalise(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(normalise);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v)]));
  return value;
}

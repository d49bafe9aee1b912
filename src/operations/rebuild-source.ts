import pg from 'pg';
import { survivePoolErrors } from '../adapters/db/pool-errors.js';
import { PostgresCatchUpReader, type CatchUpBatch } from '../adapters/event-store/postgres/catch-up-reader.js';
import type { EventFilter, EventStore } from '../event-store/port.js';
import { maxPosition, type Position } from '../event-store/position.js';

/**
 * Where a rebuild reads its projection's events: batches of wanted events
 * after a position, each with the position to resume from.
 *
 * On the Postgres store, the catch-up reader: only the wanted events, off an
 * index, below the in-flight horizon. On another store, pages of a filtered
 * readAll (EventStoreDB filters on the server and has no in-flight gap).
 */
export interface RebuildSource {
  /** the batch after `after`; reachedHorizon: nothing more was there when it was read */
  read(after: Position): Promise<CatchUpBatch>;
  /** wanted events after `after` up to and including `upTo` */
  count(after: Position, upTo: Position): Promise<number>;
  close(): Promise<void>;
}

export async function openRebuildSource(
  store: EventStore,
  databaseUrl: string,
  filter: EventFilter | undefined,
  batchSize: number,
  /** per event type, the part of its data to read (Consumer.rebuildData; the Postgres reader alone honours it) */
  dataOf: Readonly<Record<string, string>> = {},
): Promise<RebuildSource> {
  if (store.kind === 'postgres') {
    // a batch, the next one read ahead, and the count that runs beside them
    const pool = survivePoolErrors(new pg.Pool({ connectionString: databaseUrl, max: 3, application_name: 'projection-rebuild' }));
    const { rows } = await pool.query<{ t: string | null }>(`SELECT to_regclass('es_events')::text AS t`);
    if (rows[0]?.t) {
      const reader = new PostgresCatchUpReader(pool, filter, batchSize, dataOf);
      return {
        read: (after) => reader.read(after),
        count: (after, upTo) => reader.count(after, upTo),
        close: () => pool.end(),
      };
    }
    await pool.end();
  }
  return pagedSource(store, filter, batchSize);
}

function pagedSource(store: EventStore, filter: EventFilter | undefined, batchSize: number): RebuildSource {
  const withFilter = filter ? { filter } : {};
  return {
    async read(after) {
      // read the head first: every event up to it is in the page or after it
      const head = await store.headPosition();
      const events = await store.readAll({ fromPosition: after, maxCount: batchSize, ...withFilter });
      const full = events.length >= batchSize;
      const last = events.at(-1)?.position;
      const checkpoint = full ? last! : maxPosition(after, last ? maxPosition(last, head) : head);
      return { events, checkpoint, reachedHorizon: !full };
    },
    count: async (after, upTo) => (await store.countEvents(after, upTo, filter)).count,
    close: async () => undefined,
  };
}

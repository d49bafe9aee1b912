import { randomUUID } from 'node:crypto';
import type { Event } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore, type PostgresEventStore as EmmettStore } from '@event-driven-io/emmett-postgresql';
import pg from 'pg';
import type { EventMetadata } from '../../src/event-store/port.js';
import { makeMetadata, makePayload, type Payload } from './payload.js';

type OrderPlaced = Event<'OrderPlaced', Payload, EventMetadata & { messageId: string }>;

export interface OpenedEmmett {
  store: EmmettStore;
  close(): Promise<void>;
}

/**
 * Emmett on its own pg.Pool of the same size as ours (passed in, so we know
 * its size and can end it). Creates its schema before any timing.
 */
export async function openEmmett(connectionString: string, poolSize: number): Promise<OpenedEmmett> {
  const pool = new pg.Pool({ connectionString, max: poolSize });
  // Emmett's dumbo installs process-wide pg type parsers (int8 → BigInt, json/jsonb →
  // its own parser) when a store is created. Put the defaults back so our store, run in
  // the same process, reads exactly as it does in production. Emmett's append path
  // only reads int8 / int8[] / xid8 results, which it passes through BigInt() itself.
  const saved = [20, 114, 3802].map((oid) => [oid, pg.types.getTypeParser(oid, 'text')] as const);
  const store = getPostgreSQLEventStore(connectionString, { connectionOptions: { pool } });
  for (const [oid, parser] of saved) pg.types.setTypeParser(oid, 'text', parser);
  await store.schema.migrate();
  return {
    store,
    async close() {
      await store.close();
      await pool.end();
    },
  };
}

function makeEmmettEvents(n: number): OrderPlaced[] {
  return Array.from({ length: n }, () => ({
    type: 'OrderPlaced' as const,
    data: makePayload(),
    metadata: { ...makeMetadata(), messageId: randomUUID() },
  }));
}

/** Same workload as ours: own streams, exact expected version (0n = new stream in Emmett). */
export function emmettAppendWorker(store: EmmettStore, phase: string, worker: number, batch: number, streams: number): () => Promise<void> {
  const versions = new Map<string, bigint>();
  let i = 0;
  return async () => {
    const stream = `order-${phase}w${worker}s${i++ % streams}`;
    const result = await store.appendToStream(stream, makeEmmettEvents(batch), { expectedStreamVersion: versions.get(stream) ?? 0n });
    versions.set(stream, result.nextExpectedStreamVersion);
  };
}

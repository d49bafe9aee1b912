import pg from 'pg';
import { makePayload } from './payload.js';

/** The floor: a single-row autocommit INSERT, prepared, through a pg.Pool. */
export async function openRaw(connectionString: string, poolSize: number): Promise<pg.Pool> {
  const pool = new pg.Pool({ connectionString, max: poolSize });
  await pool.query(`CREATE TABLE IF NOT EXISTS bench_raw (id bigserial PRIMARY KEY, stream text NOT NULL, payload jsonb NOT NULL)`);
  return pool;
}

export function rawInsertWorker(pool: pg.Pool, phase: string, worker: number, streams: number): () => Promise<void> {
  let i = 0;
  return async () => {
    await pool.query({
      name: 'bench_raw_insert',
      text: 'INSERT INTO bench_raw (stream, payload) VALUES ($1, $2)',
      values: [`order-${phase}w${worker}s${i++ % streams}`, JSON.stringify(makePayload())],
    });
  };
}
